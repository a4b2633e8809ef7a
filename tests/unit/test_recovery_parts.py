"""Accuracy recovery's parts that need no converter: the range rules, the record and its report."""
from __future__ import annotations

import numpy as np

from helpers.core.details import Optimization
from helpers.core.recovery import Recovery, RecoveryAttempt
from helpers.core.results import RunReport, VariantReport
from helpers.recover import ranges
from helpers.render.report_text import recovery_markdown


def test_mse_rule_never_quantizes_a_tensor_worse_than_min_max():
    rng = np.random.default_rng(0)
    samples = {"heavy": rng.standard_t(3, 20_000), "laplace": rng.laplace(0, 1, 20_000),
               "uniform": rng.uniform(-2.0, 3.0, 20_000), "relu": np.maximum(rng.normal(0, 1, 20_000), 0)}
    chosen = ranges.mse_ranges(samples)
    for name, values in samples.items():
        low, high = chosen[name]
        assert low <= 0 <= high and high - low <= values.max() - min(values.min(), 0) + 1e-9
        assert ranges._int8_error(values, low, high) <= ranges._int8_error(values, min(values.min(), 0), values.max())
    # a uniform tensor gains nothing from clipping: its observed range is kept
    assert chosen["uniform"] == (float(samples["uniform"].min()), float(samples["uniform"].max()))
    # a scale 4 times coarser than the bulk needs is what clipping trades against: the rule does
    # clip a tensor whose range a sliver of far values set, once their clipping costs less
    wide = np.concatenate([rng.uniform(-1.0, 1.0, 200_000), np.full(5, 40.0)])
    assert ranges._int8_error(wide, *ranges.mse_ranges({"w": wide})["w"]) < ranges._int8_error(wide, -1.0, 40.0)


def test_percentile_rule_and_the_tuned_step():
    values = np.arange(-100, 10_001, dtype=np.float64)
    low, high = ranges.percentile_ranges({"t": values}, 99.0)["t"]
    assert low == np.percentile(values, 1.0) and high == np.percentile(values, 99.0)
    assert ranges.scaled_range({"t": values}, "t", 0.5) == (-50.0, 5000.0)
    # a range always holds zero, as an int8 zero point needs
    assert ranges.scaled_range({"p": np.array([2.0, 5.0])}, "p", 1.0) == (0.0, 5.0)


def _recovery() -> Recovery:
    return Recovery(validation_rows=226, limit=5.0, before_metrics={"mae": 0.364}, before_drop=8.7,
                    attempts=(RecoveryAttempt("ranges: MSE-optimal clipping", {"mae": 0.366}, 9.1, 2.2, False),
                              RecoveryAttempt("bias correction", note="nothing to change", seconds=0.1),
                              RecoveryAttempt("ranges: tuned on the validation rows", {"mae": 0.324}, -3.3, 3.8,
                                              True)),
                    chosen="ranges: tuned on the validation rows")


def test_the_record_round_trips_through_report_json():
    optimization = Optimization(recovery=_recovery())
    assert Optimization.from_dict(optimization.to_dict()) == optimization
    assert optimization.to_dict()["recovery"]["attempts"][2]["kept"] is True
    assert Optimization().to_dict() == {}   # no search, no key


def test_report_md_shows_each_strategy_and_the_one_kept():
    variant = VariantReport(name="int8", path="int8", format="tflite", quantization="int8", pruned=False, qat=False,
                            metrics={"mae": 0.3656}, size_bytes=5400, optimization=Optimization(recovery=_recovery()))
    report = RunReport(model="co2", task="regression", source="tf_model", primary_metric="mae",
                       evaluation_rows=452, calibration_rows=226, variants=(variant,))
    text = "\n".join(recovery_markdown(report))
    assert "## Accuracy recovery: `int8`" in text and "kept: ranges: tuned on the validation rows" in text
    assert "| ranges: tuned on the validation rows | 0.324 | -3.30 | 3.8 | yes |" in text
    assert "| bias correction | nothing to change | - | 0.1 | no |" in text
    assert "| the converter's model | 0.364 | +8.70 | - | no |" in text
