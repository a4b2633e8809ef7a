"""main.py on tiny models, as a user runs it: every file, every metric."""
from __future__ import annotations

import json

import pytest

from helpers.emit.identifiers import identifier
from tests.conftest import run_main

VARIANTS = ["float32", "dynamic_range", "float16", "integer_with_float_fallback", "int8", "int16x8"]


def test_all_quantizations_produce_every_file(iris_export):
    report = json.loads((iris_export / "report.json").read_text())
    names = [v["name"] for v in report["variants"]]
    assert names == ["keras"] + VARIANTS
    for variant in report["variants"]:
        assert variant["metrics"]["accuracy"] > 0.8, variant["name"]
        for key in ("name", "path", "format", "quantization", "pruned", "qat", "size_bytes"):
            assert key in variant
    stem = identifier("iris-mlp")
    firmware = {"model.tflite", "specs.json", f"{stem}_model_data.h", f"{stem}_model_data.c", f"{stem}_model.py",
                f"{stem}_model.mpy", f"{stem}_op_resolver.h", f"{stem}_test_data.h", "main.cc"}
    runnable = {v["name"]: v["firmware"]["tflm_runnable"] for v in report["variants"][1:]}
    engines = {v["name"]: (v["firmware"]["micropython"] or {}).get("status") for v in report["variants"][1:]}
    # an engine with a native path also gets the model's own native module's sources (no .mpy: no board ran)
    native = {v["name"]: bool((v["firmware"]["micropython"] or {}).get("native_ops")) for v in report["variants"][1:]}
    assert runnable["float16"] is False and runnable["int8"] is True
    assert engines["int8"] == "pass" and engines["int16x8"] == "pass"  # the int16 kernels (plain code)
    assert native["int8"]
    # the MicroPython engine, and the C engine with its self-test and make/CMake fragments
    engine = {f"{stem}_infer.py", f"{stem}_infer.mpy", f"{stem}_engine.c", f"{stem}_engine.h", f"{stem}_engine.mk",
              f"{stem}_engine.cmake", f"{stem}_engine_selftest.c"}
    for name in VARIANTS:
        folder = iris_export / name
        with_engine = firmware | engine if engines[name] != "unsupported" else firmware
        with_engine |= {f"{stem}_native.c", f"{stem}_native.mk"} if native[name] else set()
        expected = with_engine if runnable[name] else {"model.tflite", "specs.json", "NOT_FOR_MCU.md"}
        assert {p.name for p in folder.iterdir()} == expected, name
        specs = json.loads((folder / "specs.json").read_text())
        assert specs["model_size_bytes"] == (folder / "model.tflite").stat().st_size
        assert specs["tflite_ops"]
    assert (iris_export / "report.md").read_text().count("| int8 |") == 1
    assert not list(iris_export.parent.glob(".iris.partial-*"))


def test_int8_variant_has_int8_io_and_scale_in_specs(iris_export):
    specs = json.loads((iris_export / "int8" / "specs.json").read_text())
    assert specs["input"]["dtype"] == "int8" and specs["output"]["dtype"] == "int8"
    assert specs["input"]["scale"] > 0
    assert specs["input_tensor"]["zero_point"] == specs["input"]["zero_point"]


def test_without_export_flag_only_reports_and_tflite_are_written(diabetes_dir, tmp_path):
    export = tmp_path / "out"
    result = run_main("--input_dir", str(diabetes_dir), "--PTQ", "-q", "int8", "--export_dir", str(export))
    assert result.returncode == 0, result.stderr
    report = json.loads((export / "report.json").read_text())
    assert [v["name"] for v in report["variants"]] == ["keras", "float32", "int8"]
    assert set(report["variants"][2]["metrics"]) == {"mae", "rmse"}
    assert {p.name for p in (export / "int8").iterdir()} == {"model.tflite"}
    assert "integer_with_float_fallback" not in result.stderr
    assert "int8" in result.stdout


def test_ptq_without_q_uses_the_default_and_says_so(diabetes_dir, tmp_path):
    result = run_main("--input_dir", str(diabetes_dir), "--PTQ", "--export_dir", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert "using integer_with_float_fallback" in result.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert [v["name"] for v in report["variants"]][-1] == "integer_with_float_fallback"


@pytest.mark.parametrize("flags, message", [
    (["--PTQ", "--QAT"], "not allowed with"),
    (["-q", "int8"], "needs a quantization mode"),
    (["--PTQ", "-q", "int9"], "did you mean `-q int8`"),
    (["--QAT", "-q", "float16"], "--QAT converts to int8"),
    (["--sparsity", "0.5"], "--sparsity needs --prune"),
    (["--prune", "--sparsity", "1.5"], "out of range"),
    (["--cluster", "1"], "out of range"),
    (["--keep_float", "auto"], "--keep_float needs --PTQ"),
    (["--sweep", "--PTQ"], "--sweep runs every combination itself"),
])
def test_conflicting_flags_fail_in_one_line(iris_dir, flags, message):
    result = run_main("--input_dir", str(iris_dir), *flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_help_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, main; from helpers.config import build_parser; build_parser().format_help(); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("tests.conftest").conftest.ROOT))
    assert out.stdout.strip() == "False"
    result = run_main("--help")
    assert result.returncode == 0 and "--quantization_type" in result.stdout


def test_a_keras_2_model_saved_as_dot_keras_loads(iris_dir, tmp_path):
    # tf_keras also writes the `.keras` format (metadata.json says keras_version 2.x), which Keras 3
    # cannot read ("Could not locate class 'Functional'"): the loader picks tf_keras for it.
    import shutil

    from helpers.frontend.tf_runtime import tf_keras

    model_dir = tmp_path / "iris_keras2"
    model_dir.mkdir()
    for name in ("specs.json", "data.csv"):
        shutil.copy(iris_dir / name, model_dir / name)
    tf_keras.models.load_model(iris_dir / "model.h5").save(model_dir / "model.keras")
    result = run_main("--input_dir", str(model_dir), "--PTQ", "-q", "int8", "--skip_firmware_checks",
                      "--export_dir", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    variants = {v["name"]: v for v in report["variants"]}
    assert variants["keras"]["metrics"]["accuracy"] > 0.8 and variants["int8"]["metrics"]["accuracy"] > 0.8
    assert (tmp_path / "out" / "int8" / "model.tflite").is_file()
