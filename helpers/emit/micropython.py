"""The MicroPython emitter: a lowered Program as the engine module, <id>_infer.py
(templates/infer.py.j2), with the device files its steps need pasted in."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from helpers.emit.codegen import Rendered, render
from helpers.emit.micropython_calls import (ELEMENTWISE, FAMILIES, TYPECODES, buffer_name, bytes_literal, calls, im2col_bytes,
                                           int8_gather)
from helpers.emit.micropython_native import KERNELS_VERSION, NativeCalls, native_call
from helpers.lowering.arith import SIGMOID_TABLE_UINT16
from helpers.lowering.program import Program
from helpers.lowering.steps import LstmInt8

# The code that runs on the board, pasted into each engine.
DEVICE_DIR = Path(__file__).resolve().parent.parent / "micropython" / "device"
# A float32 output agrees with TFLM to this, relative (TFLM sums in float32, a double port in doubles).
FLOAT_TOLERANCE = 1e-5
_INTEGER_FAMILIES = {"ops_int8", "fixedpoint_tables"}  # fixedpoint_tables: the int8 LSTM


def device_source(name: str) -> str:
    """One device file's text."""
    return (DEVICE_DIR / f"{name}.py").read_text(encoding="utf-8").rstrip() + "\n"


# The device files compiled together as the hot loops (viper where the port has it).
HOT_FILES = ("hot", "hot_elementwise")


def hot_source() -> str:
    """The hot loops' text; only the functions: the header comments stay in the device files."""
    texts = [device_source(name) for name in HOT_FILES]
    return "".join("\n" + text[text.index("def "):] for text in texts)


def families(program: Program) -> set[str]:
    """The device files the program's steps call into."""
    found = {"ops_int8" if int8_gather(program, step) else FAMILIES[type(step)] for step in program.steps}
    if any(isinstance(step, LstmInt8) for step in program.steps):
        found.add("fixedpoint_tables")
    return found


def _sources(needed: set[str]) -> list[str]:
    sources = []
    if "fixedpoint_tables" in needed:
        table = np.asarray(SIGMOID_TABLE_UINT16, "<u2").tobytes()
        sources.append("_SIGMOID16 = _array('H', " + bytes_literal(table) + ")")
    for family in ("ops_int8", "ops_float", "gather", "lstm"):
        if family in needed:
            sources.append(device_source(family))
    return sources


def engine_context(program: Program, context: dict[str, Any]) -> dict[str, Any]:
    """The template's values: the generic firmware context plus the engine's."""
    needed = families(program)
    steps, names, output_name = calls(program)
    # The native path after the portable one, so the portable constants keep their names.
    native = NativeCalls(names)
    native_lines = [native_call(native, step) for step in program.steps]
    native_count = sum(line is not None for line in native_lines)
    native_steps = [(op, line or call) for (op, call), line in zip(steps, native_lines)] if native_count else []
    elementwise = any(isinstance(step, ELEMENTWISE) for step in program.steps)
    output = program.output
    output_kind = TYPECODES[program.buffer(output).dtype] if isinstance(output, int) else "b"
    return {
        **context,
        "device_sources": _sources(needed),
        "hot_source": hot_source() if needed & _INTEGER_FAMILIES else "",
        "constants": names.constants,
        "native_steps": native_steps,
        "native_count": native_count,
        "kernels_version": KERNELS_VERSION,
        "scratch_queries": native.scratch_queries,
        "buffers": [(buffer_name(b), TYPECODES[b.dtype], b.elements) for b in program.buffers],
        "acc_size": program.accumulator_elements,
        "col_size": im2col_bytes(program),
        "elementwise": elementwise,
        "heap_bytes": program.buffer_bytes + im2col_bytes(program) + (512 if elementwise else 0),
        "resets": [(buffer_name(program.buffer(r.buffer)), r.value) for r in program.resets],
        "steps": steps,
        "step_count": len(steps),
        "input_buffer": buffer_name(program.buffer(program.input_buffer)),
        "output_buffer": output_name,
        "input_kind": TYPECODES[program.buffer(program.input_buffer).dtype],
        "output_kind": output_kind,
        "input_size": program.input_size,
        "output_size": program.output_size,
        "engine_tolerance": 0.0 if program.output_dtype == "int8" else FLOAT_TOLERANCE,
    }


def render_infer_py(program: Program, context: dict[str, Any]) -> Rendered:
    """<id>_infer.py: the engine module."""
    return render("infer.py.j2", f"{context['id']}_infer.py", engine_context(program, context))
