"""Accuracy recovery on the shipped LSTM: its int8 is outside the default guard as the converter
makes it (+8.7% MAE on the validation rows, +6.6% on the evaluation rows); the search rebuilds it
with other activation ranges, and the variant that is exported is the recovered one, proven on
TFLM and MicroPython like any other."""
from __future__ import annotations

import json

from tests.conftest import ROOT, run_main


def test_the_shipped_lstm_int8_is_recovered_within_the_default_guard(tmp_path):
    export = tmp_path / "co2"
    result = run_main("--input_dir", str(ROOT / "models" / "co2_lstm"), "--PTQ", "-q", "int8", "-e",
                      "--export_dir", str(export))
    assert result.returncode == 0, result.stderr       # no --max_drop: the default 5% guard
    report = json.loads((export / "report.json").read_text())
    variants = {v["name"]: v for v in report["variants"]}
    int8, keras = variants["int8"], variants["keras"]
    recovery = int8["optimization"]["recovery"]
    # the converter's model was outside on the validation rows; the kept strategy is within
    assert recovery["before_drop"] > recovery["limit"] == 5.0
    assert recovery["validation_rows"] == report["calibration_rows"]       # the tuning split: as large
    kept = [a for a in recovery["attempts"] if a["kept"]]
    assert len(kept) == 1 and kept[0]["strategy"] == recovery["chosen"]
    assert kept[0]["validation_drop"] <= 5.0 and recovery["evaluation_check"] is None
    assert all(a["seconds"] >= 0 and (a["validation_metrics"] or a["note"]) for a in recovery["attempts"])
    # judged on the evaluation rows too: within the guard, and within the goal of 2%
    assert int8["within_tolerance"] is True
    assert int8["metrics"]["mae"] <= keras["metrics"]["mae"] * 1.02, (int8["metrics"], keras["metrics"])
    # an ordinary int8 flatbuffer: TFLM ran it and the MicroPython engine gave TFLM's outputs
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in int8["ops"] and int8["input_dtype"] == "int8"
    assert int8["firmware"]["tflm_runnable"] is True
    engine = int8["firmware"]["micropython"]
    assert engine["status"] == "pass" and engine["mismatched_rows"] == 0
    markdown = (export / "report.md").read_text()
    assert "## Accuracy recovery: `int8`" in markdown and f"kept: {recovery['chosen']}" in markdown
    # the lineage, in a line of the run's output and in report.md's notes
    said = result.stderr + result.stdout
    assert f"note: int8 is recovered: {recovery['chosen']}" in said
    assert f"- int8 is recovered: {recovery['chosen']}" in markdown


def test_no_recovery_leaves_the_converters_model(tmp_path):
    export = tmp_path / "co2"
    result = run_main("--input_dir", str(ROOT / "models" / "co2_lstm"), "--PTQ", "-q", "int8",
                      "--skip_firmware_checks", "--export_dir", str(export), "--no_recovery")
    assert result.returncode == 3 and "outside the accuracy tolerance" in result.stderr, result.stderr
    int8 = {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}["int8"]
    assert "recovery" not in int8["optimization"] and int8["within_tolerance"] is False
