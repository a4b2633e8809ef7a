"""--max_drop: every variant judged against the reference; the final one outside exits 3."""
from __future__ import annotations

import pytest

from helpers.config import parse_args
from helpers.core.results import RunReport, VariantReport, with_deltas
from helpers.errors import ConfigError
from helpers.measure import tolerance
from helpers.render.report_text import format_markdown, format_table


def _row(name: str, fmt: str = "tflite", **metrics: float) -> VariantReport:
    return VariantReport(name=name, path=None, format=fmt, quantization="int8", pruned=False, qat=False,
                         metrics=metrics, size_bytes=100)


def test_classification_drop_is_in_accuracy_points():
    rows = [_row("keras", "keras", accuracy=0.95), _row("float32", accuracy=0.95), _row("int8", accuracy=0.925),
            _row("pruned_int8", accuracy=0.30), _row("failed")]
    judged = tolerance.judge(rows, tolerance.tolerance_for("accuracy", None))
    assert [v.within_tolerance for v in judged] == [None, True, False, False, None]
    assert [v.within_tolerance for v in tolerance.judge(rows, tolerance.tolerance_for("accuracy", 3))][2] is True


def test_regression_drop_is_relative_mae():
    rows = [_row("keras", "keras", mae=1.0), _row("int8", mae=1.04), _row("int16x8", mae=1.06)]
    assert [v.within_tolerance for v in tolerance.judge(rows, tolerance.tolerance_for("mae", None))] == [
        None, True, False]


def test_final_variant_outside_names_the_best_within():
    rows = tolerance.judge([_row("keras", "keras", accuracy=0.95), _row("float32", accuracy=0.95),
                            _row("int8", accuracy=0.94), _row("pruned_int8", accuracy=0.50)],
                           tolerance.tolerance_for("accuracy", None))
    with pytest.raises(tolerance.ToleranceError, match="pruned_int8 is outside .* use float32") as raised:
        tolerance.check_final(rows, tolerance.tolerance_for("accuracy", None))
    assert raised.value.exit_code == 3
    tolerance.check_final(rows[:3], tolerance.tolerance_for("accuracy", None))  # int8 within: no error


def test_outside_is_loud_in_the_table_and_report():
    rows = tolerance.judge([_row("keras", "keras", accuracy=0.95), _row("int8", accuracy=0.50)],
                           tolerance.tolerance_for("accuracy", None))
    report = RunReport(model="m", task="classification", source="s", primary_metric="accuracy", evaluation_rows=1,
                       calibration_rows=1, variants=tuple(with_deltas(rows, rows[0])))
    assert "OUTSIDE" in format_table(report)
    assert "Outside the accuracy tolerance: do not ship" in format_markdown(report, plots=[])
    assert '"within_tolerance": false' in report.to_json()


def test_max_drop_flag_is_checked():
    assert parse_args(["--input_dir", "m", "--max_drop", "1.5"]).max_drop == 1.5
    with pytest.raises(ConfigError, match="out of range"):
        parse_args(["--input_dir", "m", "--max_drop", "-1"])


def test_sparsity_flag_takes_a_fraction_or_auto():
    assert parse_args(["--input_dir", "m", "--prune", "--sparsity", "auto"]).sparsity_auto
    config = parse_args(["--input_dir", "m", "--prune", "--sparsity", "0.7"])
    assert (config.sparsity, config.sparsity_auto) == (0.7, False)
    with pytest.raises(ConfigError, match="cannot read --sparsity"):
        parse_args(["--input_dir", "m", "--prune", "--sparsity", "lots"])


def _judged(runnable: dict[str, bool | None]) -> list[VariantReport]:
    from dataclasses import replace

    from helpers.core.results import FirmwareResult

    rows = [_row("keras", "keras", mae=0.365), _row("float32", mae=0.365), _row("float16", mae=0.3649),
            _row("int8", mae=0.389)]
    rows = [replace(r, firmware=FirmwareResult(tflm_runnable=runnable.get(r.name))) for r in rows]
    return tolerance.judge(rows, tolerance.tolerance_for("mae", None))


def test_the_guard_names_a_variant_that_runs_on_tflm():
    # float16 is the closest to the reference, but TFLM cannot run float16 weights
    with pytest.raises(tolerance.ToleranceError, match="use float32, which is within tolerance .* and runs on TFLM"):
        tolerance.check_final(_judged({"float32": True, "float16": False, "int8": True}),
                              tolerance.tolerance_for("mae", None))
    with pytest.raises(tolerance.ToleranceError, match="none of the variants within tolerance runs on TFLM "
                                                       r"\(float16, float32\)"):
        tolerance.check_final(_judged({"float32": False, "float16": False, "int8": True}),
                              tolerance.tolerance_for("mae", None))
    with pytest.raises(tolerance.ToleranceError, match="use float16, .*not checked"):
        tolerance.check_final(_judged({}), tolerance.tolerance_for("mae", None))
