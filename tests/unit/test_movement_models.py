"""The data-movement and binary ops end to end: each tiny graph of tests/golden/movement (made by
TensorFlow's converter, scripts/make_movement_models.py) is lowered, its C engine built on this
machine (against CMSIS-NN, as test_c_engine_host builds the goldens) and its MicroPython engine run
on the unix port (viper and plain), and every output compared with TFLM's host interpreter on the
same random rows (TILE, which TFLM lacks, with LiteRT's): identical for int8 and int16, within 1e-5
relative for float32."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.core.flatbuffer import TfliteInfo, inspect_tflite
from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_h
from helpers.emit.micropython import render_infer_py
from helpers.lowering.graph import read_graph
from helpers.lowering.lower import lower_model
from helpers.lowering.program import Program
from helpers.rewrite.space_to_batch_pad import as_tflm_should_run_it
from tests.conftest import require_tool
from tests.unit.test_c_engine_host import CMSIS_INCLUDE, STRICT, _harness, cmsis_host  # noqa: F401 (a fixture)

MODELS = Path(__file__).resolve().parent.parent / "golden" / "movement"
ENGINES = Path(__file__).resolve().parent.parent / "golden" / "engines"
CASES = sorted(p.stem for p in MODELS.glob("*.tflite"))
ROWS = 5
# The pairs TFLM runs that the engines leave out, each with the reason the lowering gives.
NOT_LOWERED: dict[str, str] = {}
# The ops TFLM lacks: TFLM must refuse the model, and LiteRT's interpreter is the reference.
NOT_IN_TFLM = {"tile"}


def _rows(info: TfliteInfo, dtype: str) -> np.ndarray:
    """Random rows over the input type's whole range (int8, int16), else normal floats."""
    rng = np.random.default_rng(11)
    shape = (ROWS, *info.input.shape[1:])
    if dtype in ("int8", "int16"):
        limits = np.iinfo(dtype)
        return rng.integers(limits.min, limits.max + 1, size=shape).astype(dtype)
    return rng.normal(0.0, 1.0, size=shape).astype(np.float32)


def _context(model_id: str, content: bytes) -> dict:
    """The template context of a golden engine, with this model's name and tensors."""
    context = json.loads((ENGINES / "zoo_cnn_bn__int8" / "context.json").read_text())
    info = inspect_tflite(content)
    for side, tensor in (("input", info.input), ("output", info.output)):
        context[side] = {**context[side], "dtype": tensor.dtype, "shape": list(tensor.shape),
                         "scale": tensor.scale, "zero_point": tensor.zero_point}
        context[f"{side}_shape_py"] = repr(tuple(tensor.shape))
    return {**context, "id": model_id, "upper": model_id.upper(), "task": "regression", "classes_py": "()"}


def _c_outputs(cmsis, model_id: str, program: Program, content: bytes, rows: np.ndarray, folder: Path) -> np.ndarray:
    from helpers.targets.program import compile_source, link_with_library

    engine = c_engine(program, {**_context(model_id, content), "engine_checked_on": [], "tflm_given": False}, "test")
    for rendered in (render_engine_c(engine), render_engine_h(engine)):
        (folder / rendered.filename).write_text(rendered.text)
    source = folder / f"{model_id}_engine.c"
    for compiler in (["gcc", "-std=c99"], ["g++", "-x", "c++"]):
        result = subprocess.run([*compiler, *STRICT, f"-I{folder}", f"-I{CMSIS_INCLUDE}", "-c", str(source),
                                 "-o", str(folder / "strict.o")], capture_output=True, text=True)
        assert result.returncode == 0, f"{compiler[0]}: {result.stderr[:1500]}"
    (folder / "harness.c").write_text(_harness(model_id, program, rows))
    objects = [compile_source(cmsis, path, folder / f"{path.stem}.o", [f"-I{folder}"])
               for path in (source, folder / "harness.c")]
    link_with_library(cmsis, objects, folder / "harness", folder / "harness.map")
    printed = subprocess.run([str(folder / "harness")], capture_output=True, text=True, check=True).stdout.split()
    dtype = np.dtype(program.output_dtype)
    return np.stack([np.frombuffer(bytes.fromhex(line), dtype=dtype) for line in printed])


_DRIVER = """import json
import {module} as m
rows = json.loads(open("rows.json").read())
out = {{}}
for wanted in ("viper", "plain"):
    used = m.use_engine(wanted)
    out[wanted + ":" + used] = [m.invoke(row) for row in rows]
print(json.dumps(out))
"""


def _micropython_outputs(model_id: str, program: Program, content: bytes, rows: np.ndarray, folder: Path) -> dict:
    from helpers.micropython.runtime import HEAPSIZE, find_micropython

    rendered = render_infer_py(program, _context(model_id, content))
    (folder / rendered.filename).write_text(rendered.text)
    (folder / "rows.json").write_text(json.dumps(rows.reshape(len(rows), -1).tolist()))
    (folder / "driver.py").write_text(_DRIVER.format(module=rendered.filename[:-3]))
    result = subprocess.run([find_micropython(), "-X", f"heapsize={HEAPSIZE}", "driver.py"], cwd=folder,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1500:]
    return {engine: np.asarray(values, dtype=np.float64) for engine, values in json.loads(result.stdout).items()}


def _litert_outputs(content: bytes, rows: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    outputs = []
    for row in rows:
        interpreter.set_tensor(source, row[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(sink).reshape(-1))
    return np.stack(outputs)


def _assert_same(case: str, where: str, got: np.ndarray, want: np.ndarray, integer: bool) -> None:
    got, want = np.asarray(got, np.float64).reshape(want.shape), np.asarray(want, np.float64)
    if integer:
        assert np.array_equal(got, want), f"{case} ({where}): {np.argwhere(got != want)[:5].tolist()}"
    else:
        relative = np.abs(got - want) / (1.0 + np.abs(want))
        assert np.all(relative <= 1e-5), f"{case} ({where}): worst {relative.max():g}"


# The op each case is made to hold (the converter may add others around it).
OP_OF = {
    "transpose": "TRANSPOSE", "transpose_3d": "TRANSPOSE", "slice": "SLICE", "gather": "GATHER",
    "gather_nd": "GATHER_ND", "broadcast_to": "BROADCAST_TO", "mirror_pad_reflect": "MIRROR_PAD",
    "mirror_pad_symmetric": "MIRROR_PAD", "space_to_depth": "SPACE_TO_DEPTH", "depth_to_space": "DEPTH_TO_SPACE",
    "space_to_batch_nd": "SPACE_TO_BATCH_ND", "space_to_batch_nd_padded": "SPACE_TO_BATCH_ND",
    "space_to_batch_nd_offset": "SPACE_TO_BATCH_ND",
    "batch_to_space_nd": "BATCH_TO_SPACE_ND", "reverse_v2": "REVERSE_V2", "resize_nearest": "RESIZE_NEAREST_NEIGHBOR",
    "resize_nearest_align": "RESIZE_NEAREST_NEIGHBOR", "resize_nearest_half_pixel": "RESIZE_NEAREST_NEIGHBOR",
    "tile": "TILE", "pack": "PACK", "maximum": "MAXIMUM", "minimum": "MINIMUM", "maximum_broadcast": "MAXIMUM",
    "div_by_input": "DIV",
    "squared_difference": "SQUARED_DIFFERENCE", "floor_div": "FLOOR_DIV", "floor_mod": "FLOOR_MOD",
}


def test_each_model_holds_its_op():
    """The converter did not fold or rewrite the op away (x / constant, for one, becomes a MUL)."""
    for case in CASES:
        names = [o.name for o in read_graph((MODELS / f"{case}.tflite").read_bytes()).ops]
        assert OP_OF[case.split("__")[0]] in names, f"{case}: {names}"


@pytest.mark.parametrize("case", CASES)
def test_engines_give_tflms_outputs(case, cmsis_host, tmp_path, monkeypatch):
    from helpers.measure.tflm import check_variant
    from tests.unit import test_c_engine_host

    monkeypatch.setitem(test_c_engine_host.C_TYPES, "int16", "int16_t")  # its harness knows int8 and float32

    content = (MODELS / f"{case}.tflite").read_bytes()
    lowered = lower_model(content)
    if case in NOT_LOWERED:
        assert lowered.program is None and NOT_LOWERED[case] in str(lowered.reason)
        return
    assert lowered.program is not None, lowered.reason
    program = lowered.program
    info = inspect_tflite(content)
    rows = _rows(info, program.input_dtype)
    # TFLM is given the model as the tool gives it (a PAD before a padding SPACE_TO_BATCH_ND)
    expected = check_variant(as_tflm_should_run_it(content), info, rows)
    if case.split("__")[0] in NOT_IN_TFLM:
        assert not expected.runnable
        want = _litert_outputs(content, rows)
    else:
        assert expected.runnable, expected.reason
        want = np.asarray(expected.outputs).reshape(ROWS, -1)
    integer = program.output_dtype in ("int8", "int16")
    model_id = "m_" + case.replace("__", "_")
    _assert_same(case, "C engine", _c_outputs(cmsis_host, model_id, program, content, rows, tmp_path), want, integer)
    require_tool("micropython")
    outputs = _micropython_outputs(model_id, program, content, rows, tmp_path)
    if program.output_dtype == "int8":  # every int8 op runs hot loops (gather_i8, extremum_i8, ...) as viper
        assert "viper:viper" in outputs, sorted(outputs)
    for engine, got in outputs.items():
        _assert_same(case, f"MicroPython {engine}", got, want, integer)
