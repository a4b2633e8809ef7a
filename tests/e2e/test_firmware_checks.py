"""Firmware checks: TFLM runs the variants, same answers as LiteRT, arena, op resolver, .mpy, flash, budgets."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers.core.flatbuffer import inspect_tflite
from helpers.core.tflm_ops import add_method
from helpers.emit.identifiers import identifier
from helpers.measure.litert import quantize
from helpers.measure.tflm import probe_arena
from tests.conftest import ROOT, require_tool, run_main

STEM = identifier("iris-mlp")
RUNNABLE = ["float32", "integer_with_float_fallback", "int8", "int16x8"]


def _variants(export):
    return {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}


@pytest.fixture(scope="module")
def diabetes_int8(diabetes_dir, tmp_path_factory):
    export = tmp_path_factory.mktemp("diabetes") / "out"
    result = run_main("--input_dir", str(diabetes_dir), "--PTQ", "-q", "int8", "-e", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    return export


def test_tflm_agrees_with_litert_within_one_step_on_int8(diabetes_int8):
    firmware = _variants(diabetes_int8)["int8"]["firmware"]
    assert firmware["tflm_runnable"] is True
    assert firmware["tflm_difference_unit"] == "quantized steps"
    assert firmware["tflm_max_difference"] <= 1.0
    litert_mae = _variants(diabetes_int8)["int8"]["metrics"]["mae"]
    assert firmware["tflm_metrics"]["mae"] == pytest.approx(litert_mae, rel=0.02)


def test_arena_found_runs_and_the_next_smaller_probe_fails(diabetes_int8):
    firmware = _variants(diabetes_int8)["int8"]["firmware"]
    content = (diabetes_int8 / "int8" / "model.tflite").read_bytes()
    row = np.zeros((10,), np.int8)
    measured = firmware["tensor_arena_measured_bytes"]
    assert probe_arena(content, row, measured)
    assert not probe_arena(content, row, measured - 16)
    assert firmware["tensor_arena_bytes"] > measured
    header = (diabetes_int8 / "int8" / "diabetes_model_data.h").read_text()
    assert f"kDiabetesTensorArenaSize = {firmware['tensor_arena_bytes']}" in header
    specs = json.loads((diabetes_int8 / "int8" / "specs.json").read_text())
    assert specs["tensor_arena_bytes"] == firmware["tensor_arena_bytes"]


@pytest.mark.parametrize("variant", RUNNABLE)
def test_op_resolver_lists_exactly_the_ops_of_the_flatbuffer(iris_export, variant):
    from ai_edge_litert.interpreter import Interpreter

    folder = iris_export / variant
    interpreter = Interpreter(model_content=(folder / "model.tflite").read_bytes())
    ops = {op["op_name"] for op in interpreter._get_ops_details()}  # LiteRT's own reading of the model
    text = (folder / f"{STEM}_op_resolver.h").read_text()
    added = re.findall(r"resolver\.(Add\w+)\(\)", text)
    assert sorted(added) == sorted(add_method(op) for op in ops)
    assert f"MicroMutableOpResolver<{len(ops)}>" in text


def test_float16_is_flagged_not_for_tflm_and_gets_no_firmware(iris_export):
    variant = "float16"
    firmware = _variants(iris_export)[variant]["firmware"]
    assert firmware["tflm_runnable"] is False and firmware["tflm_reason"]
    names = {p.name for p in (iris_export / variant).iterdir()}
    assert names == {"model.tflite", "specs.json", "NOT_FOR_MCU.md"}
    assert json.loads((iris_export / variant / "specs.json").read_text())["tflm_runnable"] is False
    assert f"| {variant} |" in (iris_export / "report.md").read_text()


def test_dynamic_range_runs_on_tflm_exactly_when_no_weight_was_quantized(iris_export):
    # The converter leaves weight tensors under 1,024 elements in float; TFLM has no hybrid kernels.
    from helpers.core.flatbuffer import parse_model

    model = parse_model((iris_export / "dynamic_range" / "model.tflite").read_bytes())
    int8_weights = [t for t in model.subgraphs[0].tensors if t.type == 9 and t.buffer and
                    model.buffers[t.buffer].data is not None]
    assert _variants(iris_export)["dynamic_range"]["firmware"]["tflm_runnable"] is (not int8_weights)


@pytest.mark.parametrize("variant", RUNNABLE)
def test_mpy_cross_output_exists_and_starts_with_the_magic_byte(iris_export, variant):
    mpy = iris_export / variant / f"{STEM}_model.mpy"
    assert mpy.read_bytes()[:1] == b"M"
    assert _variants(iris_export)[variant]["firmware"]["mpy_bytes"] == mpy.stat().st_size


def test_cross_compiled_flash_size_is_reported(iris_export):
    require_tool("arm-none-eabi-gcc")
    flash = _variants(iris_export)["int8"]["firmware"]["flash_bytes"]
    size = _variants(iris_export)["int8"]["size_bytes"]
    assert set(flash) == {"cortex-m0plus", "cortex-m4"}
    assert all(size <= value < size + 1024 for value in flash.values())


def test_micropython_self_test_passes_on_the_tflm_interpreter(iris_export):
    from tflite_micro.python.tflite_micro import runtime

    path = iris_export / "int8" / f"{STEM}_model.py"
    spec = importlib.util.spec_from_file_location("m", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    interpreter = runtime.Interpreter.from_bytes(module.MODEL, arena_size=module.TENSOR_ARENA_SIZE)

    def run(inputs):
        interpreter.set_input(np.array(inputs, np.int8).reshape(module.INPUT_SHAPE), 0)
        interpreter.invoke()
        return interpreter.get_output(0).reshape(-1).tolist()

    assert len(module.TEST_VECTORS) == 4
    assert module.self_test(run)
    assert not module.self_test(lambda inputs: [v + 5 for v in run(inputs)])
    header = (iris_export / "int8" / f"{STEM}_test_data.h").read_text()
    assert header.count("{ ") >= 8 and (iris_export / "int8" / "main.cc").is_file()


def test_budget_that_the_final_variant_misses_exits_3_and_names_what_fits(iris_dir, tmp_path):
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "int8", "--export_dir", str(tmp_path / "o"),
                      "--ram_budget", "100", "--quiet")
    assert result.returncode == 3
    assert "int8 does not fit" in result.stderr and "tensor arena" in result.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["variants"][-1]["firmware"]["fits_ram"] is False


def test_a_budget_is_never_met_by_what_was_not_measured(iris_dir, tmp_path):
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "all", "--skip_firmware_checks",
                      "--export_dir", str(tmp_path / "o"), "--ram_budget", "100", "--quiet")
    assert result.returncode == 3, result.stderr
    assert "not measured" in result.stderr.splitlines()[-1]
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    tflite = [v for v in report["variants"] if v["format"] == "tflite"]
    assert {v["name"] for v in tflite} >= {"float16", "int8"}
    assert all(v["firmware"]["fits_ram"] is None and "not measured" in v["firmware"]["budget_note"] for v in tflite)
    assert "not measured" in (tmp_path / "o" / "report.md").read_text()


# Run in its own interpreter, as the pipeline does: the worker forks, and this test process has TensorFlow's threads.
_SPLIT_VS_ONE = """
import sys
from pathlib import Path
import numpy as np
from helpers.measure.tflm_worker import run_rows, run_rows_parallel
content, rows = Path(sys.argv[1]).read_bytes(), np.load(sys.argv[2])
one = run_rows(content, rows, 1 << 20)
split = run_rows_parallel(content, rows, 1 << 20, workers=3, min_rows=10)
print(int(np.array_equal(one, split)), len(split))
"""


def test_rows_split_over_processes_give_the_outputs_of_one_process(iris_export, tmp_path):
    model = iris_export / "int8" / "model.tflite"
    rows = quantize(np.random.default_rng(3).normal(size=(1001, 4)).astype(np.float32),
                    inspect_tflite(model.read_bytes()).input)
    np.save(tmp_path / "rows.npy", rows)
    result = subprocess.run([sys.executable, "-c", _SPLIT_VS_ONE, str(model), str(tmp_path / "rows.npy")],
                            capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1001"]
