"""The generated MicroPython engine (<id>_infer.py): run by the pipeline on the unix port over
every evaluation row with outputs identical to TFLM's, on models it was not tuned on, on the
WebAssembly port's plain path, and never passing a self-test it did not run. The zoo's engines
are checked in test_zoo.py, on its `-q all -e` runs."""
from __future__ import annotations

import json
import subprocess

import pytest

from helpers.emit.identifiers import identifier
from tests.conftest import WASM_DIR, require_tool, run_main

STEM = identifier("iris-mlp")


def _variants(export):
    return {v["name"]: v for v in json.loads((export / "report.json").read_text())["variants"]}


@pytest.mark.parametrize("variant", ["int8", "integer_with_float_fallback"])
def test_int8_engine_outputs_are_identical_to_tflm_on_every_row(iris_export, variant):
    require_tool("micropython")
    report = json.loads((iris_export / "report.json").read_text())
    firmware = _variants(iris_export)[variant]["firmware"]
    engine = firmware["micropython"]
    assert engine["status"] == "pass", engine
    assert engine["rows"] == report["evaluation_rows"] and engine["mismatched_rows"] == 0
    # int8 inside; the fallback variant's float output is the int8 result dequantized, identical too
    assert engine["max_difference"] == 0
    assert engine["difference_unit"] == ("quantized steps" if variant == "int8" else "relative")
    # the metric MicroPython computed itself from its own outputs equals TFLM's
    assert engine["metrics"]["accuracy"] == firmware["tflm_metrics"]["accuracy"]
    assert engine["us_per_inference"]["viper"] > 0 and engine["us_per_inference"]["plain"] > 0
    assert engine["module_heap_bytes"] > engine["buffer_bytes"] > 0
    mpy = iris_export / variant / f"{STEM}_infer.mpy"
    assert mpy.read_bytes()[:1] == b"M" and engine["engine_mpy_bytes"] == mpy.stat().st_size


def test_float_engine_agrees_within_1e_5_and_the_int16_engine_is_identical(iris_export):
    require_tool("micropython")
    variants = _variants(iris_export)
    engine = variants["float32"]["firmware"]["micropython"]
    assert engine["status"] == "pass" and engine["difference_unit"] == "relative"
    assert engine["max_difference"] <= 1e-5
    # int16x8 has engines (CMSIS-NN's s16 kernels in C, plain-code int16 kernels in MicroPython)
    int16 = variants["int16x8"]["firmware"]["micropython"]
    assert int16["status"] == "pass" and int16["mismatched_rows"] == 0, int16
    assert (iris_export / "int16x8" / f"{STEM}_infer.py").exists()
    report_md = (iris_export / "report.md").read_text()
    assert "## On MicroPython" in report_md and "`int16x8`: no engine" not in report_md


def test_self_test_runs_the_engine_and_fails_on_a_corrupted_weight(iris_export, tmp_path):
    require_tool("micropython")
    from helpers.micropython.runtime import find_micropython

    source = (iris_export / "int8" / f"{STEM}_infer.py").read_text()
    (tmp_path / "good.py").write_text(source)
    last = [line for line in source.splitlines() if line.startswith("_w_")][-1]  # the output layer's weights
    name, literal = last.split(" = ", 1)
    weights = bytes.fromhex(literal[2:-1].replace("\\x", ""))
    corrupted = "b'" + "".join(f"\\x{b ^ 0x40:02x}" for b in weights) + "'"
    (tmp_path / "bad.py").write_text(source.replace(last, f"{name} = {corrupted}"))
    result = subprocess.run([find_micropython(), "-c", "import good, bad; print(len(good.TEST_VECTORS), "
                             "good.ENGINE, good.self_test(), bad.self_test())"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["4", "viper", "True", "False"], result.stderr


def test_skipped_checks_leave_an_engine_whose_self_test_claims_nothing(iris_dir, tmp_path):
    require_tool("micropython")
    from helpers.micropython.runtime import find_micropython

    export = tmp_path / "out"
    result = run_main("--input_dir", str(iris_dir), "--PTQ", "-q", "int8", "-e", "--skip_firmware_checks",
                      "--export_dir", str(export), "--quiet")
    assert result.returncode == 0, result.stderr
    engine = _variants(export)["int8"]["firmware"]["micropython"]
    assert engine == {**engine, "status": "not_checked", "reason": "--skip_firmware_checks"}
    folder = export / "int8"
    run = subprocess.run([find_micropython(), "-c", f"import {STEM}_infer as e, {STEM}_model as m; "
                          "print(len(e.TEST_VECTORS), e.self_test(), m.self_test(lambda v: v))"],
                         cwd=folder, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["0", "False", "False"], run.stderr


@pytest.mark.parametrize("variant", ["int8", "float32"])
def test_engine_runs_on_the_webassembly_port_without_viper(iris_export, variant):
    require_tool("micropython-wasm")
    module = iris_export / variant / f"{STEM}_infer.py"
    result = subprocess.run(["node", str(WASM_DIR / "run_module.mjs"), str(module),
                             f"import {STEM}_infer as m\nprint(m.ENGINE, m.self_test(), sys.implementation.name)"],
                            cwd=WASM_DIR, capture_output=True, text=True, timeout=300)
    assert result.stdout.split() == ["plain", "True", "micropython"], result.stdout + result.stderr
