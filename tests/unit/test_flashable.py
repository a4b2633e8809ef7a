"""A run whose every variant is known not to run on a microcontroller exits 3 with one line naming
the ops and the way out (issue 35); a variant nothing is known about, or one an engine takes, keeps
the run from being judged so."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.core.checks import CEngineResult, MicroPythonResult, Status
from helpers.core.results import FirmwareResult, VariantReport, failed_row
from helpers.measure import flashable


def _row(name: str, ops: tuple[str, ...], runnable: bool | None, **firmware) -> VariantReport:
    return VariantReport(name=name, path=name, format="tflite", quantization=name, pruned=False, qat=False,
                         metrics={"accuracy": 0.9}, size_bytes=1000, ops=ops,
                         firmware=FirmwareResult(tflm_runnable=runnable, **firmware))


KERAS = VariantReport(name="keras", path=None, format="keras", quantization="None", pruned=False, qat=False,
                      metrics={"accuracy": 0.9}, size_bytes=None)


def test_every_variant_blocked_names_the_ops_the_variants_and_the_way_out():
    rows = [KERAS, _row("float32", ("FULLY_CONNECTED", "GELU"), False),
            _row("int8", ("FULLY_CONNECTED", "GELU", "TILE", "REDUCE_PROD"), False), failed_row("int16x8", "integer_with_8bits", "x")]
    with pytest.raises(flashable.NothingFlashableError) as raised:
        flashable.check_any_flashable(rows, Path("export/m"), select_ops_allowed=False)
    line = raised.value.one_line()
    assert raised.value.exit_code == 3 and "\n" not in line
    assert "TFLM has no kernel for GELU (float32)" in line and "GELU, TILE, REDUCE_PROD (int8)" in line
    assert "int16x8 could not be built" in line and "(export/m)" in line
    assert "GELU: use activation \"relu\"" in line and "TILE: UpSampling1D/2D (nearest)" in line
    assert "replace the layers that make REDUCE_PROD" in line


def test_one_variant_tflm_runs_or_an_engine_takes_or_nobody_checked_is_enough():
    blocked = _row("float16", ("DEQUANTIZE", "FULLY_CONNECTED"), False, tflm_reason="DEQUANTIZE of float16")
    for other in (_row("float32", ("FULLY_CONNECTED",), True),
                  _row("float32", ("FULLY_CONNECTED",), None),  # --skip_firmware_checks, no op TFLM lacks
                  _row("int8", ("GELU",), False, c_engine=CEngineResult(status=Status.PASS)),
                  _row("int8", ("GELU",), False, micropython=MicroPythonResult(status=Status.NOT_CHECKED,
                                                                               reason="--skip_firmware_checks"))):
        flashable.check_any_flashable([KERAS, blocked, other], Path("e"), select_ops_allowed=False)
    assert flashable.flashable(_row("int8", ("GELU",), False,
                                    c_engine=CEngineResult(status=Status.UNSUPPORTED, reason="GELU"))) is False


def test_a_runtime_refusal_quotes_tflm_and_suggests_integer_with_float_fallback():
    rows = [KERAS, _row("float16", ("DEQUANTIZE", "FULLY_CONNECTED"), False, tflm_reason="Type FLOAT16 not supported")]
    with pytest.raises(flashable.NothingFlashableError, match="TFLM cannot run it: Type FLOAT16 not supported "
                       r"\(float16\).*integer_with_float_fallback"):
        flashable.check_any_flashable(rows, Path("e"), select_ops_allowed=False)


def test_select_ops_say_to_drop_the_flag():
    rows = [KERAS, _row("float32", ("FULLY_CONNECTED", "FlexErf"), False, select_ops=("FlexErf",))]
    with pytest.raises(flashable.NothingFlashableError, match="FlexErf .*drop --allow_select_ops"):
        flashable.check_any_flashable(rows, Path("e"), select_ops_allowed=True)


def test_no_built_variant_is_left_to_the_other_checks():
    flashable.check_any_flashable([KERAS, failed_row("int8", "int8", "boom")], Path("e"), select_ops_allowed=False)
