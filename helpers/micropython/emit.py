"""Write a lowered Program as the engine module, <id>_infer.py (templates/infer.py.j2), with the
device files it needs pasted in."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.micropython.arith import SIGMOID_TABLE_UINT16
from helpers.micropython.lower import Program
from helpers.render.codegen import Rendered, render

DEVICE_DIR = Path(__file__).parent / "device"
# A float32 output agrees with TFLM to this, relative (TFLM sums in float32, a double port in doubles).
FLOAT_TOLERANCE = 1e-5
_INTEGER_FAMILIES = {"ops_int8", "fixedpoint_tables"}  # fixedpoint_tables: the int8 LSTM


def device_source(name: str) -> str:
    """One device file's text."""
    return (DEVICE_DIR / f"{name}.py").read_text(encoding="utf-8").rstrip() + "\n"


def _hot_source() -> str:
    text = device_source("hot")
    # Only the functions: the header comment stays in the device file.
    return "\n" + text[text.index("def "):]


def engine_context(program: Program, context: dict[str, Any]) -> dict[str, Any]:
    """The template's values: the generic firmware context plus the engine's."""
    integer = bool(program.families & _INTEGER_FAMILIES)
    sources = []
    if integer:
        sources.append(device_source("fixedpoint"))
    if "fixedpoint_tables" in program.families:
        sources.append("_SIGMOID16 = " + repr(tuple(SIGMOID_TABLE_UINT16)))
    for family in ("ops_int8", "ops_float", "gather", "lstm"):
        if family in program.families:
            sources.append(device_source(family))
    kinds = program.buffers
    return {
        **context,
        "device_sources": sources,
        "hot_source": _hot_source() if integer else "",
        "constants": program.constants,
        "buffers": [(name, kind, size) for name, (kind, size) in kinds.items()],
        "acc_size": program.acc_size,
        "heap_bytes": program.heap_estimate(),
        "resets": program.resets,
        "steps": program.steps,
        "step_count": len(program.steps),
        "input_buffer": program.input_buffer,
        "output_buffer": program.output_buffer,
        "input_kind": kinds[program.input_buffer][0],
        "output_kind": kinds[program.output_buffer][0] if program.output_buffer in kinds else "b",
        "input_size": program.input_size,
        "output_size": program.output_size,
        "engine_tolerance": 0.0 if program.output_dtype == "int8" else FLOAT_TOLERANCE,
    }


def render_infer_py(program: Program, context: dict[str, Any]) -> Rendered:
    """<id>_infer.py: the engine module."""
    return render("infer.py.j2", f"{context['id']}_infer.py", engine_context(program, context))
