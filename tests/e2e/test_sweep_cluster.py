"""The sweep on Dask: two models on a LocalCluster of two workers, a combination that fails and
one whose process crashes, a resume after an interrupted sweep that reruns nothing finished, and
the spreadsheet read back with pandas."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_main
from tests.e2e.test_trust import interruptible

GRID = {"pruning": [None], "clustering": [None], "ptq": ["int8", "float16"], "qat": False}
GRID_OF_THREE = {**GRID, "ptq": ["int8", "float16", "dynamic_range"]}


@pytest.fixture()
def grid_file(tmp_path) -> Path:
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(GRID))
    return path


def test_two_models_on_a_local_cluster_with_a_summary_sheet(iris_dir, diabetes_dir, grid_file, tmp_path):
    export = tmp_path / "sweep"
    result = run_main("--sweep", "--input_dir", str(iris_dir), "--input_dir", str(diabetes_dir), "--sweep_grid",
                      str(grid_file), "--jobs", "2", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr[-1500:]
    assert "a local cluster of 2 workers" in result.stderr
    assert "4/4 done, 0 running, 0 failed" in result.stderr
    sheets = pd.read_excel(export / "config_combinations.ods", engine="odf", sheet_name=None)
    iris_name, diabetes_name = (json.loads((d / "specs.json").read_text())["name"] for d in (iris_dir, diabetes_dir))
    assert list(sheets) == ["summary", iris_name, diabetes_name]
    assert list(sheets[iris_name]["quantization"]) == ["int8", "float16"]
    assert sheets[iris_name]["accuracy"].notna().all() and sheets[diabetes_name]["mae"].notna().all()
    summary = sheets["summary"]
    assert list(summary["rank"]) == list(range(1, len(summary) + 1)) and len(summary) >= 2
    assert summary["flash_bytes"].is_monotonic_increasing   # ranked by flash, smallest first
    assert set(summary["model"]) <= {iris_name, diabetes_name}
    table = pd.read_csv(export / "config_combinations.csv")
    assert len(table) == 4 and set(table["model"]) == {iris_name, diabetes_name}


def test_failing_combinations_bad_flag_and_unreadable_model_are_rows_with_their_reason(iris_dir, tmp_path):
    from helpers.sweep.engine import Task, run_tasks
    from helpers.sweep.grid import Combination
    from helpers.sweep.store import ResultStore, task_key

    crashing = tmp_path / "crashing"          # a model directory whose model makes the process die
    crashing.mkdir()
    for item in iris_dir.iterdir():
        if item.name != "model.h5":
            (crashing / item.name).write_bytes(item.read_bytes())
    (crashing / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)   # HDF5 magic, then nothing
    combinations = [Combination("PTQ", "int9", None, None), Combination("PTQ", "int8", None, None)]
    tasks = [Task("iris", str(iris_dir), combinations[0], task_key(iris_dir, combinations[0], ())),
             Task("broken", str(crashing), combinations[1], task_key(crashing, combinations[1], ()))]
    rows = run_tasks(tasks, ResultStore(tmp_path / "results"), jobs=2, scheduler=None)
    assert "did you mean" in rows[0]["error"]
    assert rows[1]["error"] and rows[1]["model"] == "broken"


def test_a_killed_process_becomes_a_crash_row():
    from helpers.sweep.engine import failure_reason

    assert failure_reason(-signal.SIGSEGV, "Fatal Python error: Segmentation fault\n") == "the run crashed (SIGSEGV)"
    assert failure_reason(2, "noise\nerror: the CSV has no rows (x.csv): add rows\n") == \
        "the CSV has no rows (x.csv): add rows"


def test_an_interrupted_sweep_resumes_without_rerunning_what_finished(iris_dir, tmp_path):
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps(GRID_OF_THREE))
    export = tmp_path / "sweep"
    results = tmp_path / ".sweep.sweep"
    command = [sys.executable, str(ROOT / "main.py"), "--sweep", "--input_dir", str(iris_dir), "--sweep_grid",
               str(grid_file), "--jobs", "1", "--export_dir", str(export)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONHASHSEED="0"), preexec_fn=interruptible)
    deadline = time.monotonic() + 600
    while not list(results.glob("*.json")) and time.monotonic() < deadline:
        assert process.poll() is None, "the sweep ended before its first result was recorded"
        time.sleep(0.1)
    finished = {path.name: path.stat().st_mtime_ns for path in results.glob("*.json")}
    process.send_signal(signal.SIGINT)   # one at a time: the next combination (seconds long) is running
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr[-1000:]
    assert 1 <= len(finished) < 3
    assert not export.exists()      # no spreadsheet from an interrupted sweep, nothing half-written
    again = run_main("--sweep", "--input_dir", str(iris_dir), "--sweep_grid", str(grid_file), "--jobs", "1",
                     "--export_dir", str(export))
    assert again.returncode == 0, again.stderr[-1500:]
    assert f"{len(finished)} of 3 combinations already done" in again.stderr
    for name, mtime in finished.items():   # what finished was read back, not run again
        assert (results / name).stat().st_mtime_ns == mtime
    table = pd.read_csv(export / "config_combinations.csv")
    assert len(table) == 3 and table["accuracy"].notna().all()


@pytest.mark.parametrize("grid, message", [
    ({"pruning": [1.5]}, "bad pruning value"),
    ({"ptq": ["int9"]}, "bad ptq value"),
    ({"speed": [1]}, "unknown axis speed"),
    ({"ptq": [], "qat": False}, "no combination"),
])
def test_bad_grids_are_one_line_errors(iris_dir, tmp_path, grid, message):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid))
    result = run_main("--sweep", "--input_dir", str(iris_dir), "--sweep_grid", str(path), "--export_dir",
                      str(tmp_path / "o"))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
