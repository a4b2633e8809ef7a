"""The MicroPython emitter: a lowered Program as the engine module, <id>_infer.py
(templates/infer.py.j2), with the device files its steps need pasted in."""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np

from helpers.emit.codegen import Rendered, render, tuple_literal
from helpers.emit.micropython_calls import (
    ELEMENTWISE,
    TYPECODES,
    buffer_name,
    bytes_literal,
    calls,
    family,
    im2col_bytes,
)
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
HOT_FILES = ("hot", "hot_elementwise", "hot_ops")


@functools.cache
def _hot_functions() -> dict[str, str]:
    """Each hot function's text by name, in file order (a comment between two functions goes with
    the first). Read once: an engine's context asks for it several times. Callers do not change it."""
    functions = {}
    for name in HOT_FILES:
        text = device_source(name)
        for chunk in re.split(r"\n(?=def )", text[text.index("def "):]):
            functions[re.match(r"def (\w+)\(", chunk).group(1)] = chunk.strip()  # type: ignore[union-attr]
    return functions


def hot_functions() -> set[str]:
    """The names the hot loops' text defines."""
    return set(_hot_functions())


def hot_closure(roots: set[str]) -> list[str]:
    """The hot functions `roots` names and those they call, in file order."""
    functions = _hot_functions()
    kept: set[str] = set()
    waiting = sorted(roots & set(functions))
    while waiting:
        name = waiting.pop()
        if name not in kept:
            kept.add(name)
            waiting += sorted(set(re.findall(r"\b(\w+)\(", functions[name])) & set(functions) - kept)
    return [name for name in functions if name in kept]


def hot_source(roots: set[str] | None = None) -> str:
    """The hot loops' text: every function (None), or hot_closure(roots). Only what the engine
    runs goes in: the board compiles the text at import, and viper's machine code for all of it
    would need a large block of a heap the model already fills."""
    functions = _hot_functions()
    kept = list(functions) if roots is None else hot_closure(roots)
    return "".join("\n" + functions[name] + "\n\n" for name in kept)


def families(program: Program) -> set[str]:
    """The device files the program's steps call into."""
    found = {family(program, step) for step in program.steps}
    if any(isinstance(step, LstmInt8) for step in program.steps):
        found.add("fixedpoint_tables")
    return found


def _functions(name: str, wanted: set[str]) -> str:
    """The functions of device file `name` that `wanted` names, in file order: a file of many
    small kernels (math_float) is pasted only as far as the engine calls it."""
    text = device_source(name)
    chunks = re.split(r"\n(?=def )", text[text.index("def "):])
    return "\n\n\n".join(chunk.strip() for chunk in chunks
                          if re.match(r"def (\w+)\(", chunk).group(1) in wanted) + "\n"  # type: ignore[union-attr]


def _sources(needed: set[str], called: set[str]) -> list[str]:
    sources = []
    if "fixedpoint_tables" in needed:
        table = np.asarray(SIGMOID_TABLE_UINT16, "<u2").tobytes()
        sources.append("_SIGMOID16 = _array('H', " + bytes_literal(table) + ")")
    for family in ("ops_int8", "ops_float", "gather", "lstm", "binary", "movement", "ops_int16", "compare",
                   "layers"):
        if family in needed:
            sources.append(device_source(family))
    if "math_float" in needed:
        sources.append(_functions("math_float", called))
    return sources


def _called(lines: list[tuple[str, str]]) -> set[str]:
    """The functions the (op, line) pairs call: a line may hold several (a transpose convolution's
    spread, then its convolution); the kernels module's (`_KERNELS.fc(`) are not among them."""
    return {name for _, line in lines for name in re.findall(r"(?<![\w.])(\w+)\(", line)}


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
    called = _called(steps)
    sources = _sources(needed, called)
    hot_references = set(re.findall(r'_HOT\["(\w+)"\]', "".join(sources)))
    integer = bool(needed & _INTEGER_FAMILIES)
    output = program.output
    output_kind = TYPECODES[program.buffer(output).dtype] if isinstance(output, int) else "b"
    return {
        **context,
        "device_sources": sources,
        "hot_source": hot_source(called | hot_references) if integer else "",
        # the hot functions the native path's other steps call: all it compiles, to leave the
        # heap to the module (the attention block's whole viper code did not fit beside it)
        "hot_native": tuple_literal(hot_closure(_called(native_steps) | hot_references), repr),
        # the kernels the steps call that are hot functions: the module binds its names to them
        "hot_ops": tuple_literal(sorted(called & hot_functions()), repr),
        "constants": names.constants,
        "native_steps": native_steps,
        "native_count": native_count,
        "kernels_version": KERNELS_VERSION,
        # the model's own native module (native_model), when the C engine was made into one
        "native_model": context.get("native_model"),
        "native_model_reason": context.get("native_model_reason"),
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
        "engine_tolerance": 0.0 if program.output_dtype != "float32" else FLOAT_TOLERANCE,
        **_ports(program, names),
    }


def _ports(program: Program, names: Any) -> dict[str, Any]:
    """A model with several inputs or outputs: each one's buffer (or constant), typecode and size."""
    if not program.multi_io:
        return {"multi_io": False}

    def kind(operand: Any) -> str:
        return TYPECODES[program.buffer(operand).dtype] if isinstance(operand, int) else "b"

    exact = all(port.dtype != "float32" for port in program.outputs)
    return {"multi_io": True,
            "in_ports": [(names.operand(p.operand), kind(p.operand), p.size) for p in program.inputs],
            "out_ports": [(names.operand(p.operand), kind(p.operand), p.size) for p in program.outputs],
            "engine_tolerance": 0.0 if exact else FLOAT_TOLERANCE}


def render_infer_py(program: Program, context: dict[str, Any]) -> Rendered:
    """<id>_infer.py: the engine module."""
    return render("infer.py.j2", f"{context['id']}_infer.py", engine_context(program, context))
