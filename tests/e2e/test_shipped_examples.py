"""The shipped examples: the int8 variant stays within a stated tolerance of the Keras reference."""
from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run_main

# Tolerances: digits loses at most 2 accuracy points; the CO2 LSTM at most 0.10 ppm of MAE.
TOLERANCES = {"digits_cnn": ("accuracy", -0.02), "co2_lstm": ("mae", 0.10)}


@pytest.mark.parametrize("example", sorted(TOLERANCES))
def test_int8_variant_is_close_to_keras(example, tmp_path):
    export = tmp_path / example
    # the shipped LSTM's int8 adds 6.6% MAE (0.024 ppm), which the default 5% guard flags (exit 3)
    result = run_main("--input_dir", str(ROOT / "models" / example), "--PTQ", "-q", "int8", "-e",
                      "--export_dir", str(export), "--max_drop", "10")
    assert result.returncode == 0, result.stderr
    variants = {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}
    metric, tolerance = TOLERANCES[example]
    delta = variants["int8"]["metrics"][metric] - variants["keras"]["metrics"][metric]
    if metric == "accuracy":
        assert delta >= tolerance, (variants["int8"]["metrics"], variants["keras"]["metrics"])
    else:
        assert delta <= tolerance, (variants["int8"]["metrics"], variants["keras"]["metrics"])
    assert variants["int8"]["input_dtype"] == "int8"
    # the LSTM keeps state between invokes: its firmware resets it before every window
    stateful = example == "co2_lstm"
    assert variants["int8"]["firmware"]["reset_before_invoke"] is stateful
    folder = export / "int8"
    header = next(folder.glob("*_model_data.h")).read_text()
    assert f"_RESET_BEFORE_INVOKE {int(stateful)}" in header
    assert ("interpreter.Reset()" in (folder / "main.cc").read_text()) is stateful
    assert f"RESET_BEFORE_INVOKE = {stateful}" in next(folder.glob("*_model.py")).read_text()
    notes = json.loads((export / "report.json").read_text())["notices"]
    assert any("interpreter.Reset()" in note for note in notes) is stateful


def test_lstm_reset_is_reported_without_the_firmware_checks(tmp_path):
    # the flag comes from the flatbuffer, so skipping TFLM must not drop it from the report or the note
    export = tmp_path / "co2"
    result = run_main("--input_dir", str(ROOT / "models" / "co2_lstm"), "--PTQ", "-q", "int8", "-e",
                      "--skip_firmware_checks", "--export_dir", str(export), "--max_drop", "10")
    assert result.returncode == 0, result.stderr
    report = json.loads((export / "report.json").read_text())
    assert {v["name"]: v for v in report["variants"]}["int8"]["firmware"]["reset_before_invoke"] is True
    assert any("interpreter.Reset()" in note for note in report["notices"])
    assert "_RESET_BEFORE_INVOKE 1" in next((export / "int8").glob("*_model_data.h")).read_text()
