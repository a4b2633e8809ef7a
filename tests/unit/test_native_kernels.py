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
from helpers.micropython.runtime import find_micropython
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


@pytest.mark.parametrize("case", CASES)
def test_native_kernels_give_the_portable_engine_s_outputs(case, kernels_x64, tmp_path):
    folder = GOLDEN / case
    program = lower(read_graph((folder / "model.tflite").read_bytes()))
    assert native_step_count(program) >= 1
    rendered = render_infer_py(program, json.loads((folder / "context.json").read_text()))
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
