"""report.json from typed results keeps its keys; budgets judge only what was measured."""
from __future__ import annotations

import json

import pytest

from helpers.core.results import FirmwareResult, RunReport, VariantReport
from helpers.errors import BudgetError
from helpers.measure import budgets

FIRMWARE_KEYS = {"reset_before_invoke", "tflm_runnable", "tflm_reason", "select_ops", "tflm_metrics",
                 "tflm_max_difference", "tflm_difference_unit", "tensor_arena_measured_bytes", "tensor_arena_bytes",
                 "flash_bytes", "flash_note", "mpy_bytes", "mpy_note", "targets", "micropython", "c_engine", "fits_flash", "fits_ram", "budget_note"}


def _row(name: str, **firmware) -> VariantReport:
    return VariantReport(name=name, path=name, format="tflite", quantization="int8", pruned=False, qat=False,
                         metrics={"accuracy": 0.9}, size_bytes=1000, firmware=FirmwareResult(**firmware))


def test_report_json_has_every_variant_key_and_every_firmware_key():
    keras = VariantReport(name="keras", path=None, format="keras", quantization="None", pruned=False, qat=False,
                          metrics={"accuracy": 0.9}, size_bytes=None)
    report = RunReport(model="m", task="classification", source="s", primary_metric="accuracy", evaluation_rows=1,
                       calibration_rows=1, variants=(keras, _row("int8", tflm_runnable=True, select_ops=("FlexA",))))
    data = json.loads(report.to_json())
    keys = {"name", "path", "format", "quantization", "pruned", "qat", "metrics", "size_bytes",
            "compressed_size_bytes", "delta", "input_dtype", "output_dtype", "ops", "evaluation", "firmware",
            "error", "clustered", "optimization", "weights", "compression", "bytes", "strip", "reference_difference",
            "within_tolerance"}
    assert set(data["variants"][1]) == keys
    assert set(data["variants"][1]["firmware"]) == FIRMWARE_KEYS
    assert data["variants"][0]["firmware"] == {}
    assert data["variants"][1]["firmware"]["select_ops"] == ["FlexA"]


def test_budget_is_never_met_by_what_was_not_measured():
    rows = budgets.annotate([_row("float16"), _row("int8", tflm_runnable=True, tensor_arena_bytes=50)], None, 100)
    unmeasured, measured = rows
    assert unmeasured.firmware.fits_ram is None and "not measured" in unmeasured.firmware.budget_note
    assert measured.firmware.fits_ram is True and measured.firmware.budget_note is None
    with pytest.raises(BudgetError, match="not measured"):
        budgets.check_final([measured, unmeasured], None, 100)
    budgets.check_final([unmeasured, measured], None, 100)  # the final one fits: no error


def test_budget_names_a_variant_that_fits():
    rows = budgets.annotate([_row("a", tflm_runnable=True, flash_bytes={"cortex-m4": 10}),
                             _row("b", tflm_runnable=True, flash_bytes={"cortex-m4": 500})], 100, None)
    with pytest.raises(BudgetError, match="use a variant that fits: a"):
        budgets.check_final(rows, 100, None)


def test_a_self_test_the_tool_could_not_build_is_no_verdict_on_the_model_and_exits_4():
    from helpers.config import parse_args
    from helpers.core.checks import Status, TargetResult
    from helpers.errors import CheckNotRunError
    from helpers.pipeline.run import RunSummary, check_outcome
    from helpers.targets.bench import fails_everywhere

    not_built = TargetResult(target="cortex-m4", kernels="cmsis_nn", status=Status.NOT_BUILT,
                             message="not built: TFLM's library: conv.cc: internal compiler error")
    assert not not_built.failed and not fails_everywhere((not_built,))  # the firmware is not taken away
    row = VariantReport(name="int8", path="int8", format="tflite", quantization="int8", pruned=False, qat=False,
                        metrics={"accuracy": 0.9}, size_bytes=100,
                        firmware=FirmwareResult(tflm_runnable=True, targets=(not_built,)))
    report = RunReport(model="m", task="classification", source="m.h5", primary_metric="accuracy",
                       evaluation_rows=10, calibration_rows=10, variants=(row,))
    with pytest.raises(CheckNotRunError, match="the tool's own build, not the model") as raised:
        check_outcome(RunSummary(report=report, export_dir=None), parse_args(["--input_dir", "x"]))
    assert raised.value.exit_code == 4
