"""The multi-input, multi-output test models (tests/golden/multiio, made by
scripts/make_multiio_models.py) as a variant folder would hold them: their specs, TFLM's outputs
on a few rows (TFLM's host interpreter in a child process) as test vectors, and the rendered
firmware, C engine and MicroPython engine."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from helpers.core.flatbuffer import inspect_tflite
from helpers.core.quantization import Quantization
from helpers.core.specs import parse_specs
from helpers.core.variant import TfliteModel, converted_plan
from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_files
from helpers.emit.micropython import render_infer_py
from helpers.lowering.lower import lower_model
from helpers.measure.variant import TestVector, TflmVerdict
from helpers.render.firmware_files import render_firmware, render_specs_json, template_context

GOLDEN = Path(__file__).resolve().parent / "golden" / "multiio"
QUANTIZATIONS = ("float32", "int8", "int16x8")
ROWS = 8
SPECS = {"name": "fusion", "task": "classification",
         "inputs": [{"name": "imu", "shape": [6], "mean": 0.5, "std": 2.0},
                    {"name": "audio", "shape": [4, 3], "mean": [0.0, 1.0, -1.0], "std": 1.5}],
         "outputs": [{"name": "kind", "shape": [3], "classes": ["rest", "walk", "run"]},
                     {"name": "level", "shape": [1], "task": "regression", "mean": 2.0, "std": 3.0}]}

_TFLM = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
content = open(sys.argv[1], "rb").read()
rows = np.load(sys.argv[2], allow_pickle=True)
interpreter = runtime.Interpreter.from_bytes(content, arena_size=64 * 1024)
outputs = []
for row in rows:
    for index, values in enumerate(row):
        interpreter.set_input(values[np.newaxis, ...], index)
    interpreter.invoke()
    outputs.append(np.concatenate([np.array(interpreter.get_output(j)).reshape(-1).astype(np.float64)
                                   for j in range(int(sys.argv[4]))]))
np.save(sys.argv[3], np.stack(outputs))
"""


def model_bytes(quantization: str) -> bytes:
    return (GOLDEN / quantization / "model.tflite").read_bytes()


def rows_for(info, rows: int = ROWS, seed: int = 5) -> list[list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """Random rows per input tensor in its dtype (both ends of an integer range included)."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(rows):
        row = []
        for tensor in info.input_tensors:
            shape = tensor.shape[1:]
            if tensor.dtype in ("int8", "int16"):
                bits = 8 if tensor.dtype == "int8" else 16
                row.append(rng.integers(-2 ** (bits - 1), 2 ** (bits - 1), size=shape).astype(tensor.dtype))
            else:
                row.append(rng.normal(0.0, 1.5, size=shape).astype(np.float32))
        found.append(row)
    return found


def tflm_outputs(content: bytes, rows: list[list[np.ndarray]], info, work: Path) -> list[list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """TFLM's host interpreter on every row: per row, every output (flattened)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "model.tflite").write_bytes(content)
    packed = np.empty((len(rows), len(rows[0])), dtype=object)
    for r, row in enumerate(rows):
        for i, values in enumerate(row):
            packed[r, i] = values
    np.save(work / "rows.npy", packed, allow_pickle=True)
    subprocess.run([sys.executable, "-c", _TFLM, str(work / "model.tflite"), str(work / "rows.npy"),
                    str(work / "out.npy"), str(len(info.output_tensors))], check=True, capture_output=True)
    got = np.load(work / "out.npy")
    bounds = np.cumsum([t.size for t in info.output_tensors])[:-1]
    return [[part.astype(t.dtype) for part, t in zip(np.split(row, bounds), info.output_tensors)] for row in got]


def render_case(quantization: str, work: Path) -> dict:  # type: ignore[type-arg]
    """Every file of the variant's folder rendered into `work`, and what the checks compare with."""
    content = model_bytes(quantization)
    info = inspect_tflite(content)
    specs = parse_specs(json.loads(json.dumps(SPECS)), work / "specs.json", "fusion")
    rows = rows_for(info)
    expected = tflm_outputs(content, rows, info, work / "tflm")
    vectors = []
    for row, outs in zip(rows, expected):
        kind = outs[0].astype(np.float64)
        level = (outs[1].astype(np.float64) - info.outputs[1].zero_point) * (info.outputs[1].scale or 1.0)
        vectors.append(TestVector(input=tuple(float(v) for part in row for v in part.reshape(-1)),
                                  output=tuple(float(v) for part in outs for v in part),
                                  label=(float(np.argmax(kind)), float(level[0] * 3.0 + 2.0))))
    quant = {"float32": Quantization.NONE, "int8": Quantization.INT8}.get(quantization, Quantization.INT16X8)
    model = TfliteModel(plan=converted_plan(quant), content=content, info=info)
    tflm = TflmVerdict(runnable=True, arena_measured=4000, arena_recommended=8192, test_vectors=tuple(vectors),
                       test_tolerance=1.0 if info.outputs[0].is_quantized else 1e-4)
    context = template_context(specs, model, tflm, "fusion", "fusion.keras")
    program = lower_model(content).program
    assert program is not None
    files = render_firmware(context, checked=True) + [render_infer_py(program, context),
                                                      render_specs_json(specs, model, tflm, {})]
    engine = c_engine(program, {**context, "engine_checked_on": [], "tflm_given": False}, "test")
    files += render_engine_files(engine, render_engine_c(engine), (), checked=True)
    work.mkdir(parents=True, exist_ok=True)
    for rendered in files:
        (work / rendered.filename).write_text(rendered.text)
    return {"info": info, "rows": rows, "expected": expected, "program": program, "context": context}
