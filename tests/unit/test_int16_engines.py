"""The int16x8 engines (`-q int16x8`: int16 activations, int8 weights, int64 biases) on small
converter-made models (tests/golden/int16/, made by make_models.py there; one also as the
pipeline's rewrite of its per-channel FCs into 1x1 convolutions leaves it): each lowers to the
int16 steps, and on random int16 inputs (full range, so the clamps and the 64-bit accumulators
are reached, and small values) the C engine, compiled on this machine against CMSIS-NN's s16
kernels (all models' engines in one program), and the MicroPython engine on the unix port give
exactly TFLM's outputs (its host interpreter: the reference kernels)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.core.flatbuffer import inspect_tflite
from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_h
from helpers.emit.micropython import render_infer_py
from helpers.lowering import steps as s
from helpers.lowering import steps_int16 as s16
from helpers.lowering.lower import lower_model
from helpers.lowering.steps import Gather, Scatter
from tests.conftest import TFLM_DIR, require_tool

MODELS = Path(__file__).resolve().parent.parent / "golden" / "int16"
BASE_CONTEXT = Path(__file__).resolve().parent.parent / "golden" / "engines" / "digits_cnn__int8" / "context.json"
CMSIS_INCLUDE = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads/cmsis_nn/Include"
STRICT = ["-Wall", "-Wextra", "-Wconversion", "-Werror"]
# Each model, and the step types its lowering must give, in order.
EXPECTED = {
    "fc": [s16.FullyConnectedInt16] * 2,
    "conv": [s16.ConvInt16] * 3,
    "depthwise": [s16.ConvInt16] * 2,
    "add_mul": [s16.FullyConnectedInt16, s16.AddInt16, s16.FullyConnectedInt16, s16.MulInt16],
    "pool": [s16.PoolInt16] * 2,
    "fc_per_tensor": [s16.FullyConnectedInt16] * 2,     # arm_fully_connected_s16 (per-channel: a 1x1 conv)
    "softmax": [s16.FullyConnectedInt16, s16.SoftmaxInt16],
    # broadcast SUB and MUL, same-shape ADD (CMSIS-NN), ADD of an int16 constant vector (broadcast)
    "broadcast": [s16.ConvInt16, s16.ConvInt16, s16.AddInt16, s16.MulInt16, s16.AddInt16, s16.AddInt16],
    "sigmoid_tanh": [s16.FullyConnectedInt16, s16.SigmoidInt16, s16.FullyConnectedInt16, s16.SigmoidInt16],
    "mean": [s16.ConvInt16, s16.MeanInt16],
    # CONV_2D, MEAN, RELU, FULLY_CONNECTED, LEAKY_RELU, CONV_2D, MEAN, RELU6, QUANTIZE x2, CONCATENATION
    "activations": [s16.ConvInt16, s16.MeanInt16, s16.ActivationInt16, s16.FullyConnectedInt16, s16.ActivationInt16,
                    s16.ConvInt16, s16.MeanInt16, s16.ActivationInt16, s16.RequantizeInt16, s16.RequantizeInt16,
                    Scatter, Scatter, Scatter],
    "transpose_conv": [Gather, s16.ConvInt16, Gather, s16.ConvInt16],
    # SPLIT_V (2 outputs), EXPAND_DIMS and RESHAPE (aliases), SPLIT (2), UNPACK (4), CONCATENATION (4 inputs)
    "splits": [Gather] * 8 + [Scatter] * 4,
    # PAD, CONV_2D x2, QUANTIZE int16 -> int16, CONCATENATION, STRIDED_SLICE (RESHAPE: an alias)
    "moves": [Gather, s16.ConvInt16, s16.ConvInt16, s16.RequantizeInt16, Scatter, Scatter, Gather],
    "float_io": [s16.QuantizeFloatToInt16, s16.FullyConnectedInt16, s16.FullyConnectedInt16, s16.DequantizeInt16],
    # Dense layers trained on iris (RESHAPE: aliases), and the same after the pipeline's pass
    # int16_per_channel_fc_as_conv: each FC a RESHAPE, a 1x1 CONV_2D and a RESHAPE
    "iris_dense": [s16.FullyConnectedInt16] * 3 + [s16.SoftmaxInt16],
    "iris_dense_as_conv": [s16.ConvInt16] * 3 + [s16.SoftmaxInt16],
}
# float32 input and output (QUANTIZE and DEQUANTIZE at the ends); every other model is int16 in and out.
FLOAT_IO = {"float_io"}
ROWS = 8
# The softmax model gets more rows: its two 513-entry tables (filled at export in float32, as TFLM's
# Prepare fills them) are reached at many more entries.
ROWS_OF = {"softmax": 256}


def _content(name: str) -> bytes:
    """The model's file; `<model>_as_conv`: that model with its per-channel int16 FCs rewritten."""
    if name.endswith(_AS_CONV):
        from helpers.core.flatbuffer import parse_model
        from helpers.rewrite.edit import pack
        from helpers.rewrite.fc_int16_conv import rewrite_int16_fcs

        model = parse_model(_content(name[:-len(_AS_CONV)]))
        assert rewrite_int16_fcs(model)
        return pack(model)
    return (MODELS / f"{name}.tflite").read_bytes()


_AS_CONV = "_as_conv"


def _rows(name: str) -> np.ndarray:
    """Half the rows over int16's whole range, half within +-1000 (the calibrated range's scale);
    float inputs: half normal, half up to +-100 (beyond the quantized range: QUANTIZE's clamp)."""
    info = inspect_tflite(_content(name))
    rng = np.random.default_rng(sum(map(ord, name)))
    shape = (ROWS_OF.get(name, ROWS) // 2, *info.input.shape[1:])
    if name in FLOAT_IO:
        return np.concatenate([rng.normal(0.0, 1.0, size=shape), rng.uniform(-100, 100, size=shape)]).astype(np.float32)
    wide = rng.integers(-32768, 32768, size=shape)
    narrow = rng.integers(-1000, 1001, size=shape)
    return np.concatenate([wide, narrow]).astype(np.int16)


def _context(name: str) -> dict:
    context = json.loads(BASE_CONTEXT.read_text())
    return {**context, "id": f"i16_{name}", "upper": f"I16_{name.upper()}", "variant": "int16x8",
            "engine_checked_on": [], "tflm_given": False}


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    """TFLM's outputs for every model's rows."""
    require_tool("tflm")
    from helpers.measure.tflm import check_variant

    outputs = {}
    for name in EXPECTED:
        content = _content(name)
        check = check_variant(content, inspect_tflite(content), _rows(name))
        assert check.runnable, f"{name}: {check.reason}"
        outputs[name] = np.asarray(check.outputs).reshape(len(_rows(name)), -1).astype(np.float64)
    return outputs


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_int16_models_lower_to_the_int16_steps(name):
    lowered = lower_model(_content(name))
    assert lowered.program is not None, lowered.reason
    assert [type(step) for step in lowered.program.steps] == EXPECTED[name]
    dtype = "float32" if name in FLOAT_IO else "int16"
    assert lowered.program.input_dtype == lowered.program.output_dtype == dtype


def _harness(names: list[str]) -> str:
    """A main() that runs every engine over its rows and prints `name value value ...` per row
    (floats with 9 significant digits: a float32 read back exactly)."""
    lines = ["#include <stdio.h>"] + [f'#include "i16_{name}_engine.h"' for name in names] + ["int main(void) {"]
    for name in names:
        rows = _rows(name)
        ctype, form = ("float", '" %.9g", (double)out[i]') if name in FLOAT_IO else ("int16_t", '" %d", out[i]')
        values = ", ".join(repr(float(v)) + "f" if name in FLOAT_IO else str(int(v)) for v in rows.reshape(-1))
        size = f"I16_{name.upper()}_ENGINE_OUTPUT_SIZE"
        lines += ["  {", f"    static const {ctype} rows[{len(rows)}][{rows[0].size}] = {{{values}}};",
                  f"    static {ctype} out[{size}];", f"    for (int r = 0; r < {len(rows)}; ++r) {{",
                  f"      if (i16_{name}_engine_invoke(rows[r], out) != 0) return 1;",
                  f'      printf("{name}");', f"      for (int i = 0; i < {size}; ++i) printf({form});",
                  '      printf("\\n");', "    }", "  }"]
    return "\n".join(lines + ["  return 0;", "}", ""])


def _printed(text: str) -> dict[str, np.ndarray]:
    rows: dict[str, list[list[float]]] = {}
    for line in text.split("\n"):
        if line.strip():
            name, *values = line.split()
            rows.setdefault(name, []).append([float(v) for v in values])
    # a float printed with 9 digits is read back as the float32 it was
    return {name: np.asarray(values, dtype=np.float32 if name in FLOAT_IO else np.float64).astype(np.float64)
            for name, values in rows.items()}


def test_c_engines_give_tflms_outputs(expected, tmp_path):
    require_tool("cc")
    from helpers.targets.engine_test import cmsis_library
    from helpers.targets.library import open_library
    from helpers.targets.program import compile_source, link_with_library
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree

    library = cmsis_library(open_library(find_tree(TFLM_DIR), TARGETS["host"]))
    names = sorted(EXPECTED)
    sources = []
    for name in names:
        engine = c_engine(lower_model(_content(name)).program, _context(name), "test")
        for rendered in (render_engine_c(engine), render_engine_h(engine)):
            (tmp_path / rendered.filename).write_text(rendered.text)
        sources.append(tmp_path / f"i16_{name}_engine.c")
        for compiler in (["gcc", "-std=c99"], ["g++", "-x", "c++"]):  # as test_c_engine_host: C99 and C++
            result = subprocess.run([*compiler, *STRICT, f"-I{tmp_path}", f"-I{CMSIS_INCLUDE}", "-c", str(sources[-1]),
                                     "-o", str(tmp_path / "strict.o")], capture_output=True, text=True)
            assert result.returncode == 0, f"{name}, {compiler[0]}: {result.stderr[:1500]}"
    (tmp_path / "harness.c").write_text(_harness(names))
    objects = [compile_source(library, path, tmp_path / f"{path.stem}.o", [f"-I{tmp_path}"])
               for path in (*sources, tmp_path / "harness.c")]
    link_with_library(library, objects, tmp_path / "harness", tmp_path / "harness.map")
    got = _printed(subprocess.run([str(tmp_path / "harness")], capture_output=True, text=True, check=True).stdout)
    for name in names:
        assert np.array_equal(got[name], expected[name]), f"{name}: {np.argwhere(got[name] != expected[name])[:5]}"


_DRIVER = """import sys
sys.path.insert(0, '.')
for name in NAMES:
    module = __import__('i16_' + name + '_infer')
    with open(name + '.rows') as rows:
        for line in rows:
            values = module.invoke([(float(v) if '.' in v else int(v)) for v in line.split()])
            print(name, ' '.join(str(v) for v in values), module.ENGINE)
"""


def test_micropython_engines_give_tflms_outputs(expected, tmp_path):
    from helpers.micropython.runtime import find_micropython

    command = find_micropython()
    if command is None:
        pytest.skip("no MicroPython unix port")
    names = sorted(EXPECTED)
    for name in names:
        rendered = render_infer_py(lower_model(_content(name)).program, _context(name))
        (tmp_path / rendered.filename).write_text(rendered.text)
        rows = _rows(name).reshape(len(_rows(name)), -1)
        text = "\n".join(" ".join(repr(float(v)) if name in FLOAT_IO else str(int(v)) for v in row) for row in rows)
        (tmp_path / f"{name}.rows").write_text(text + "\n")
    (tmp_path / "driver.py").write_text(f"NAMES = {names!r}\n" + _DRIVER)
    result = subprocess.run([command, "driver.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-1500:]
    engines = {line.split()[-1] for line in result.stdout.splitlines() if line.strip()}
    assert engines == {"plain"}  # int16 has no viper or native path in this pass
    got = _printed("\n".join(line.rsplit(" ", 1)[0] for line in result.stdout.splitlines()))
    for name in names:
        assert np.array_equal(got[name], expected[name]), f"{name}: {np.argwhere(got[name] != expected[name])[:5]}"


def _device() -> dict:
    """device/ops_int16.py's functions, run in CPython (the same text the board runs)."""
    from helpers.emit.micropython import device_source

    namespace: dict = {}
    exec(device_source("ops_int16"), namespace)
    return namespace


def test_device_multipliers_are_tflms_and_cmsis_nns():
    """_mbqm32 is fixedpoint.mbqm (TFLM's double rounding); _mbqm64 is TFLM's 64-bit
    MultiplyByQuantizedMultiplier and also CMSIS-NN's arm_nn_requantize_s64 (two shifts, the last
    rounding), on accumulators up to TFLM's asserted 2**47."""
    from helpers.lowering.fixedpoint import mbqm

    device = _device()
    rng = np.random.default_rng(3)
    for _ in range(4000):
        m = int(rng.integers(1 << 30, (1 << 31) - 1))
        shift = int(rng.integers(-20, 3))
        x = int(rng.integers(-(1 << 20), 1 << 20))
        assert device["_mbqm32"](x, m, shift) == mbqm(x, m, shift)
        bound = 1 << int(rng.integers(8, 41))  # accumulators within a 32-bit port's small ints and beyond
        acc = int(rng.integers(-bound, bound))
        reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
        cmsis = (((acc * reduced) >> (14 - shift)) + 1) >> 1
        assert device["_mbqm64"](acc, m, shift) == cmsis


def test_softmax_tables_end_where_tflms_do():
    """exp(0) and 1 / (1 + 0) are 1.0 in Q0.15 (32767, saturated); exp(-10) and 1/2 at the other end."""
    from helpers.lowering.lut16 import softmax_luts

    exps, reciprocals = softmax_luts()
    assert len(exps) == len(reciprocals) == 513
    assert exps[-1] == 32767 and abs(exps[0] - round(np.exp(-10) * 32768)) <= 1
    assert reciprocals[0] == 32767 and reciprocals[-1] == 16384
    assert all(a <= b for a, b in zip(exps, exps[1:])) and all(a >= b for a, b in zip(reciprocals, reciprocals[1:]))


def test_padv2_with_a_float_pad_value_is_refused_as_tflm_refuses_it():
    """TF's converter leaves PADV2's constant value float32 in an int16x8 model; TFLM's Prepare
    refuses the type mismatch, and the lowering names it instead of padding with a wrong value."""
    lowered = lower_model(_content("padv2"))
    assert lowered.program is None and "PADV2 of int16 with a pad value that is not int16" in lowered.reason
    from helpers.measure.tflm import check_variant

    content = _content("padv2")
    assert not check_variant(content, inspect_tflite(content), np.zeros((1, 6), np.int16)).runnable


# int16 RSQRT (elementwise.cc's RsqrtEvalQuantized<int16_t>) on every non-negative int16 input, one
# row of 32,768 (0, TFLM's 32767, and the clamp at the small ones), at scale pairs that take each
# branch of the kernel's last rescaling (shift - 20: none, right, left) and its rounding.
RSQRT_SCALES = {
    "zoo": (0.00015259254723787308, 9.650800348026678e-05),  # the op zoo's, converter-made: shift 20
    "pot": (2.0 ** -10, 2.0 ** -12),  # multiplier exactly 2**30, shift 18
    "left": (2.0 ** -8, 4e-6),        # shift 22: a left shift, outputs from 22,000 up
    "small": (0.01, 0.02),            # shift 9: outputs 3 to 500, a rounding at every one
}
SWEEP = np.arange(32768, dtype=np.int16).reshape(1, -1)
NEGATIVE = np.array([[1, 2, -1, 3]], dtype=np.int16)  # TFLM's Eval fails on it, and so do the engines
TFLM_SAYS = "only defined for positive values"


def _rsqrt_model(input_scale: float, output_scale: float, size: int) -> bytes:
    """The op zoo's int16 RSQRT cut to one op of `size` elements, with these two scales."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from helpers.lowering.tflm_tables import one_op_model

    zoo = (MODELS.parent / "ops" / "rsqrt_int16" / "model.tflite").read_bytes()
    model = schema.ModelT.InitFromPackedBuf(bytearray(one_op_model(zoo, 0, (1, size))), 0)
    for tensor, scale in zip(model.subgraphs[0].tensors, (input_scale, output_scale)):
        tensor.quantization.scale = np.array([scale], dtype=np.float32)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _rsqrt_cases() -> list[tuple[object, object, np.ndarray]]:
    """(ZooCase, program, rows) for every scale pair's sweep and the negative input."""
    from tests.op_zoo import ZooCase

    made = [(f"rsqrt_{name}", _rsqrt_model(*scales, SWEEP.size), SWEEP) for name, scales in RSQRT_SCALES.items()]
    made.append(("rsqrt_negative", _rsqrt_model(*RSQRT_SCALES["zoo"], NEGATIVE.size), NEGATIVE))
    return [(ZooCase(name=name, content=content, meta={"op": "RSQRT", "type": "int16"}),
             lower_model(content).program, rows) for name, content, rows in made]


@pytest.fixture(scope="module")
def rsqrt_tflm() -> dict[str, np.ndarray | str]:
    """TFLM's outputs for each sweep, or its reason for refusing the row (the negative input)."""
    require_tool("tflm")
    from helpers.measure.tflm import run_in_tflm

    answers: dict[str, np.ndarray | str] = {}
    for case, _, rows in _rsqrt_cases():
        try:
            answers[case.name] = run_in_tflm(case.content, rows, arena=1 << 19).reshape(-1)
        except RuntimeError as error:
            answers[case.name] = str(error)
    return answers


def _same_as_tflm(name: str, got: np.ndarray, want: np.ndarray) -> None:
    same = int(np.sum(got.reshape(-1) == want))
    assert same == SWEEP.size, f"{name}: {same} of {SWEEP.size} identical, first wrong input " \
                               f"{np.flatnonzero(got.reshape(-1) != want)[:1]}"


def test_int16_rsqrt_lowers_with_tflms_multiplier():
    """1 / (sqrt(input scale) * output scale) in double, as the tflite-micro wheel's Prepare: 2**17
    exactly for the powers of two; the zoo's pair 1717908228, where the pinned tree's float32 sqrt
    and product would give 1717908279."""
    steps = {case.name: program.steps for case, program, _ in _rsqrt_cases()}
    assert all(len(found) == 1 and isinstance(found[0], s.RsqrtInt16) for found in steps.values())
    assert (steps["rsqrt_pot"][0].multiplier, steps["rsqrt_pot"][0].shift) == (1 << 30, 18)
    assert (steps["rsqrt_zoo"][0].multiplier, steps["rsqrt_zoo"][0].shift) == (1717908228, 20)
    assert [steps[f"rsqrt_{name}"][0].shift for name in ("left", "small")] == [22, 9]
    # an output scale so small that TFLM's rescaling shifts an int32 left by 34 bits: undefined
    reason = lower_model(_rsqrt_model(1e-4, 1e-14, 4)).reason
    assert reason is not None and "shift by 34 bits" in reason


def test_int16_rsqrt_c_engine_gives_tflms_outputs_on_every_non_negative_input(rsqrt_tflm):
    """The C engine (against CMSIS-NN's host build) on all 32,768 inputs at each scale pair:
    identical to TFLM. A negative input fails the invoke in both: TFLM's Eval, the engine's -1."""
    require_tool("cc")
    from helpers.targets.engine_test import cmsis_library
    from helpers.targets.library import open_library
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree
    from tests.op_zoo_engines import run_c_engines

    cases = _rsqrt_cases()
    library = cmsis_library(open_library(find_tree(TFLM_DIR), TARGETS["host"]))
    got = run_c_engines(library, cases)  # type: ignore[arg-type]
    for case, _, _ in cases[:-1]:
        _same_as_tflm(f"{case.name}, C", np.asarray(got[case.name]), rsqrt_tflm[case.name])
    assert TFLM_SAYS in rsqrt_tflm["rsqrt_negative"]
    assert got["rsqrt_negative"] == "the engine's invoke returned -1"


def test_int16_rsqrt_micropython_engine_gives_tflms_outputs_on_every_non_negative_input(rsqrt_tflm):
    """The MicroPython engine on the unix port, viper and plain paths, the same sweeps: identical to
    TFLM; a negative input raises ValueError with TFLM's words."""
    require_tool("micropython")
    from helpers.micropython.runtime import find_micropython
    from tests.op_zoo_engines import run_micropython_engines

    cases = _rsqrt_cases()
    got = run_micropython_engines(find_micropython(), cases)  # type: ignore[arg-type]
    for case, _, _ in cases[:-1]:
        for path in ("viper", "plain"):
            _, values = got[(case.name, path)]
            assert not isinstance(values, str), f"{case.name}, MicroPython {path}: {values}"
            _same_as_tflm(f"{case.name}, MicroPython {path}", values, rsqrt_tflm[case.name])
    for path in ("viper", "plain"):
        assert "ValueError('Rsqrt_is_" + TFLM_SAYS.replace(" ", "_") in got[("rsqrt_negative", path)][1]


def test_every_int16_step_has_both_emitters():
    """A step class in steps_int16 without a C or a MicroPython formatter would lower and then
    fail at export; each must be in both FORMATTERS tables (and the C one's own kernels, if any,
    in a pasted family)."""
    import inspect

    from helpers.emit import c_calls, micropython_calls
    from helpers.lowering.program import Step

    steps = [cls for _, cls in inspect.getmembers(s16, inspect.isclass)
             if issubclass(cls, Step) and cls.__module__ == s16.__name__]
    assert len(steps) >= 12
    for step in steps:
        assert step in c_calls.FORMATTERS and step in micropython_calls.FORMATTERS, step.__name__
        assert micropython_calls.FAMILIES[step] == "ops_int16", step.__name__
