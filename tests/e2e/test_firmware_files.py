"""The generated C array and MicroPython module hold exactly the .tflite bytes and the right constants."""
from __future__ import annotations

import importlib.util
import json
import subprocess

import numpy as np
import pytest

from helpers.core.flatbuffer import inspect_tflite
from helpers.emit.identifiers import identifier
from helpers.measure.litert import dequantize, quantize
from tests.conftest import require_tool

STEM = identifier("iris-mlp")
VARIANTS = ["float32", "int8", "int16x8", "integer_with_float_fallback"]

DUMP_PROGRAM = r"""
#include <stdio.h>
#include "{header}"
int main(int argc, char **argv) {{
  FILE *out = argc > 1 ? fopen(argv[1], "wb") : NULL;
  if (!out) return 1;
  fwrite(g_{stem}_model_data, 1, g_{stem}_model_data_len, out);
  fclose(out);
  printf("%u %d %d %d\n", g_{stem}_model_data_len, (int)k{camel}ModelDataLen,
         (int)(((unsigned long)g_{stem}_model_data) % 16), (int)k{camel}InputSize);
  return 0;
}}
"""


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("language", ["c", "c++"])
def test_c_array_compiles_and_holds_the_tflite_bytes(iris_export, tmp_path, variant, language):
    require_tool("cc" if language == "c" else "c++")
    from helpers.emit.identifiers import camel_case

    folder = iris_export / variant
    program = tmp_path / ("dump.c" if language == "c" else "dump.cc")
    program.write_text(DUMP_PROGRAM.format(header=f"{STEM}_model_data.h", stem=STEM, camel=camel_case(STEM)))
    compiler = ["cc", "-std=c11"] if language == "c" else ["c++", "-std=c++17", "-x", "c++"]
    binary = tmp_path / "dump"
    source = folder / f"{STEM}_model_data.c"
    subprocess.run([*compiler, "-Wall", "-Wextra", "-Werror", "-I", str(folder), str(program), str(source),
                    "-o", str(binary)], check=True, capture_output=True)
    out = subprocess.run([str(binary), str(tmp_path / "out.tflite")], check=True, capture_output=True, text=True)
    length, constant, misalignment, input_size = (int(v) for v in out.stdout.split())
    expected = (folder / "model.tflite").read_bytes()
    assert (tmp_path / "out.tflite").read_bytes() == expected
    assert length == constant == len(expected)
    assert misalignment == 0
    assert input_size == 4


def _load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("variant", VARIANTS)
def test_micropython_module_holds_the_bytes_and_quantizes_like_the_specs(iris_export, iris_dir, variant):
    folder = iris_export / variant
    module = _load_module(folder / f"{STEM}_model.py")
    content = (folder / "model.tflite").read_bytes()
    assert isinstance(module.MODEL, bytes) and module.MODEL == content and module.MODEL_LEN == len(content)
    specs = json.loads((folder / "specs.json").read_text())
    assert module.INPUT_SCALE == specs["input"]["scale"]
    assert module.INPUT_ZERO_POINT == specs["input"]["zero_point"]
    assert module.OUTPUT_DTYPE == specs["output"]["dtype"]

    info = inspect_tflite(content)
    raw = [5.1, 3.5, 1.4, 0.2]
    user_specs = json.loads((iris_dir / "specs.json").read_text())
    normalised = (np.array(raw) - np.array(user_specs["input"]["mean"])) / np.array(user_specs["input"]["std"])
    expected = quantize(normalised.astype(np.float32), info.input)
    assert np.allclose(module.quantize_input(raw), expected.astype(np.float64), atol=1e-5)

    raw_out = [-128, 0, 127] if info.output.dtype in ("int8", "int16") else [0.1, 0.2, 0.7]
    expected_out = dequantize(np.array(raw_out, dtype=info.output.dtype), info.output)
    assert np.allclose(module.dequantize_output(raw_out), expected_out, atol=1e-6)
    assert module.CLASSES == ("setosa", "versicolor", "virginica")


def test_without_a_tflm_tree_the_engine_is_written_and_says_not_checked(iris_export):
    """`-q all -e` with no --tflm_dir: the engine files are there, and nothing claims they ran."""
    report = json.loads((iris_export / "report.json").read_text())
    folder = iris_export / "int8"
    model_id = next(folder.glob("*_engine.h")).name[: -len("_engine.h")]
    header = (folder / f"{model_id}_engine.h").read_text()
    assert "NOT CHECKED: mcu-deploy did not build or run this engine (no --tflm_dir was given)" in header
    assert "$(wildcard $(CMSIS_NN)/Source/*/*.c)" in (folder / f"{model_id}_engine.mk").read_text()
    engine = next(v for v in report["variants"] if v["name"] == "int8")["firmware"]["c_engine"]
    assert engine["status"] == "not_checked" and "not built or run" in engine["reason"]
    assert engine["targets"] == {} and engine["arena_bytes"] > 0
    assert "not checked" in (iris_export / "report.md").read_text().split("## The C engine")[1]
