"""The C engine of every golden model (the shipped examples and the zoo, every quantization the
engines take: tests/golden/engines) compiles without a diagnostic as C99 and as C++ under
-Wall -Wextra -Wconversion -Werror, and, built on this machine with CMSIS-NN from the TFLM tree,
gives TFLM's outputs for random inputs: identical for int8, within 1e-5 relative for float. An
engine with Armv6-M own kernels (helpers/emit/c_own_v6m.py) is built and run a second time with
them (-DMCU_ENGINE_V6M_KERNELS, which compiles them here), under the same flags and the same check."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.core.flatbuffer import inspect_tflite
from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_h
from helpers.lowering.lower import lower_model
from tests.conftest import TFLM_DIR, require_tool

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "engines"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
CMSIS_INCLUDE = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads/cmsis_nn/Include"
STRICT = ["-Wall", "-Wextra", "-Wconversion", "-Werror"]
ROWS = 6
C_TYPES = {"int8": "int8_t", "float32": "float"}


def _engine(case: str, folder: Path):
    """The case's engine rendered into `folder`; None when the engines lack one of its ops."""
    content = (GOLDEN / case / "model.tflite").read_bytes()
    lowered = lower_model(content)
    if lowered.program is None:
        return None, None
    context = json.loads((GOLDEN / case / "context.json").read_text())
    context.setdefault("upper", context["id"].upper())
    engine = c_engine(lowered.program, {**context, "engine_checked_on": [], "tflm_given": False}, "test")
    for rendered in (render_engine_c(engine), render_engine_h(engine)):
        (folder / rendered.filename).write_text(rendered.text)
    return engine, lowered.program


def _harness(model_id: str, program, rows: np.ndarray) -> str:
    """A main() that runs `rows` through the engine and prints every output byte in hex."""
    in_type, out_type = C_TYPES[program.input_dtype], C_TYPES[program.output_dtype]
    values = ", ".join(repr(float(v)) + "f" if in_type == "float" else str(int(v)) for v in rows.reshape(-1))
    return f"""#include <stdio.h>
#include "{model_id}_engine.h"
static const {in_type} rows[{rows.shape[0]}][{program.input_size}] = {{ {values} }};
int main(void) {{
  static {out_type} output[{program.output_size}];
  for (int r = 0; r < {rows.shape[0]}; ++r) {{
    {model_id}_engine_reset();
    if ({model_id}_engine_invoke(rows[r], output) != 0) return 1;
    const unsigned char *bytes = (const unsigned char *)output;
    for (unsigned int i = 0; i < sizeof(output); ++i) printf("%02x", bytes[i]);
    printf("\\n");
  }}
  return 0;
}}
"""


@pytest.fixture(scope="module")
def cmsis_host():
    """CMSIS-NN compiled for this machine into the session's cache, as the targets build it."""
    require_tool("tflm")
    require_tool("cc")
    from helpers.targets.engine_test import cmsis_library
    from helpers.targets.library import open_library
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree

    return cmsis_library(open_library(find_tree(TFLM_DIR), TARGETS["host"]))


@pytest.mark.parametrize("case", CASES)
def test_engine_compiles_cleanly_and_gives_tflms_outputs(case, cmsis_host, tmp_path):
    from helpers.measure.tflm import check_variant
    from helpers.targets.program import compile_source, link_with_library

    engine, program = _engine(case, tmp_path)
    if engine is None:
        pytest.skip(f"{case}: the engines lack one of its ops")
    model_id = engine.context["id"]
    source = tmp_path / f"{model_id}_engine.c"
    builds = [[]] + ([["-DMCU_ENGINE_V6M_KERNELS"]] if engine.own_kernel_layers_v6m else [])
    for defines in builds:
        for compiler in (["gcc", "-std=c99"], ["g++", "-x", "c++"]):
            result = subprocess.run([*compiler, *STRICT, *defines, f"-I{tmp_path}", f"-I{CMSIS_INCLUDE}", "-c",
                                     str(source), "-o", str(tmp_path / "strict.o")], capture_output=True, text=True)
            assert result.returncode == 0, f"{compiler[0]} {defines}: {result.stderr[:1500]}"
    content = (GOLDEN / case / "model.tflite").read_bytes()
    info = inspect_tflite(content)
    rng = np.random.default_rng(7)
    shape = (ROWS, *info.input.shape[1:])
    if program.input_dtype == "int8":
        rows = rng.integers(-128, 128, size=shape).astype(np.int8)
    else:
        rows = rng.normal(0.0, 1.0, size=shape).astype(np.float32)
    expected = check_variant(content, info, rows)
    if not expected.runnable:  # float16 weights: TFLM has no such DEQUANTIZE, so no firmware is written
        pytest.skip(f"{case}: TFLM cannot run it: {expected.reason[:80]}")
    (tmp_path / "harness.c").write_text(_harness(model_id, program, rows))
    harness = compile_source(cmsis_host, tmp_path / "harness.c", tmp_path / "harness.o", [f"-I{tmp_path}"])
    dtype = np.int8 if program.output_dtype == "int8" else np.float32
    want = np.asarray(expected.outputs).reshape(ROWS, -1).astype(dtype)
    for index, defines in enumerate(builds):
        engine_object = compile_source(cmsis_host, source, tmp_path / f"engine{index}.o", [f"-I{tmp_path}", *defines])
        link_with_library(cmsis_host, [engine_object, harness], tmp_path / f"harness{index}",
                          tmp_path / f"harness{index}.map")
        printed = subprocess.run([str(tmp_path / f"harness{index}")], capture_output=True, text=True,
                                 check=True).stdout.split()
        got = np.stack([np.frombuffer(bytes.fromhex(line), dtype=dtype) for line in printed])
        if dtype == np.int8:
            assert np.array_equal(got, want), f"{case} {defines}: {np.argwhere(got != want)[:5].tolist()}"
        else:
            assert np.all(np.abs(got - want) <= 1e-5 * (1 + np.abs(want))), f"{case}: {np.max(np.abs(got - want))}"
