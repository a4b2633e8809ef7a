"""The kernels module (CMSIS-NN as a MicroPython native module) against the portable engine, on
every int8 engine of the golden set (the shipped examples and the zoo, among them models the
module was not written against): the x64 module built from the pinned trees, each engine run on
the unix port with native, viper and plain code over the same random inputs (the whole int8
range, which reaches every saturation), outputs identical, and run() allocating nothing natively."""
from __future__ import annotations

import json
import subprocess

import pytest

from helpers.emit.micropython import render_infer_py
from helpers.emit.micropython_native import native_step_count
from helpers.lowering.graph import read_graph
from helpers.lowering.lower import lower
from helpers.micropython.native_module import build_kernels
from helpers.lowering.program import Program
from helpers.micropython.runtime import find_micropython
from tests.op_zoo import zoo_cases
from tests.op_zoo_engines import context as zoo_context
from tests.conftest import MICROPYTHON_DIR, ROOT, TFLM_DIR, require_tool

GOLDEN = ROOT / "tests" / "golden" / "engines"
# The int8 engines: int8 everywhere, or int8 inside with float input and output.
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.name.endswith(("__int8", "__integer_with_float_fallback")))

_COMPARE = '''
import gc, random
import {stem} as m
assert m.ENGINE == "native", m.ENGINE
random.seed(7)
float_input = not isinstance(m.INPUT, bytearray)
differing = 0
for trial in range(40):
    if float_input:
        values = [random.uniform(-4.0, 4.0) for i in range({n_in})]
    else:
        values = [random.randint(-128, 127) for i in range({n_in})]
    outputs = []
    for engine in ("native", "viper", "plain"):
        assert m.use_engine(engine) == engine
        outputs.append(m.invoke(values))
    differing += outputs[0] != outputs[1] or outputs[1] != outputs[2]
m.use_engine("native")
m.run()
gc.collect()
before = gc.mem_alloc()
m.run()
print("RESULT", differing, gc.mem_alloc() - before)
'''


@pytest.fixture(scope="module")
def kernels_x64(tflm_cache):
    for tool in ("tflm", "micropython-tree", "micropython", "cc"):
        require_tool(tool)
    return build_kernels(MICROPYTHON_DIR, TFLM_DIR, "x64", tflm_cache)


def test_the_cases_cover_convolutions_pooling_softmax_and_recurrent_models():
    assert {"digits_cnn__int8", "co2_lstm__int8", "zoo_cnn_bn__int8", "zoo_gru__int8", "zoo_conv1d__int8"} <= set(CASES)


# Op zoo cases whose native call no golden engine makes (the op zoo proves their viper and plain
# paths identical to TFLM; here the native path is held to those): the transpose convolution on
# both of CMSIS-NN's paths (accumulated, and reversed into a convolution) and with the scratch
# the reversed kernel outgrows the grid in; the C engine's own kernels the module runs (SUB,
# broadcasting ADD and MUL, SQUARED_DIFFERENCE, BATCH_MATMUL), each way an operand broadcasts.
ZOO_CASES = ("transpose_conv_int8", "transpose_conv_deep_int8", "transpose_conv_wide_int8", "add_bcast_rows_int8",
             "add_bcast_input_int8", "sub_int8", "sub_bcast_last_int8", "sub_mean_tie_int8", "mul_bcast_rows_int8",
             "mul_bcast_last_int8", "squared_difference_int8", "squared_difference_bcast_input_int8",
             "batch_matmul_int8")


def _program_and_context(case: str) -> tuple[Program, dict]:  # type: ignore[type-arg]
    if case in ZOO_CASES:
        zoo_case = next(c for c in zoo_cases() if c.name == case)
        return lower(read_graph(zoo_case.content)), zoo_context(zoo_case)
    folder = GOLDEN / case
    return lower(read_graph((folder / "model.tflite").read_bytes())), json.loads((folder / "context.json").read_text())


@pytest.mark.parametrize("case", CASES + list(ZOO_CASES))
def test_native_kernels_give_the_portable_engine_s_outputs(case, kernels_x64, tmp_path):
    program, context = _program_and_context(case)
    assert native_step_count(program) >= 1
    rendered = render_infer_py(program, context)
    (tmp_path / rendered.filename).write_text(rendered.text)
    (tmp_path / kernels_x64.filename).write_bytes(kernels_x64.path.read_bytes())
    stem = rendered.filename[:-3]
    script = _COMPARE.format(stem=stem, n_in=program.input_size)
    run = subprocess.run([find_micropython(), "-X", "heapsize=64M", "-c", script], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    words = run.stdout.split()
    differing, allocated = int(words[-2]), int(words[-1])
    assert differing == 0
    if program.output_dtype == "int8" and program.input_dtype == "int8":
        assert allocated == 0
