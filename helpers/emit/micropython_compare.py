"""The steps of lowering/ops_compare as MicroPython calls: int8 comparisons on hot_ops.py's
compare_i8 (viper where the port has it), the others on device/compare.py's plain kernels. `n` is
micropython_calls.Names (not imported: that module imports this one)."""
from __future__ import annotations

from typing import Any, Callable

from helpers.emit.micropython_names import call_text, scalar_quant
from helpers.lowering import steps as s
from helpers.lowering.program import Step
from helpers.lowering.steps.compare import COMPARISONS

# The element-wise scratch compare_i8 works through (_EW_A, _EW_B), as the other int8 binary ops.
SCRATCH_STEPS = (s.CompareInt8,)
_CAST_TARGETS = {"int8": 0, "int16": 1, "int32": 1, "float32": 2}


def _operands(n: Any, t: s.Binary) -> list[str]:
    # The index maps first, as the other binary ops name them.
    i1, i2 = n.index(t.x1_index), n.index(t.x2_index)
    return [n.operand(t.x1), i1, n.operand(t.x2), i2, n.buffer(t.y)]


def _compare_i8(n: Any, t: s.CompareInt8) -> str:
    x1, i1, x2, i2, y = _operands(n, t)
    mapped = [x1, x1 if i1 == "None" else i1, int(i1 != "None"), x2, x2 if i2 == "None" else i2, int(i2 != "None"), y]
    multipliers = [*scalar_quant(n, t.input1_multiplier, t.input1_shift),
                   *scalar_quant(n, t.input2_multiplier, t.input2_shift)]
    names = n.constant("p", "(" + ", ".join(multipliers) + ")")
    return call_text("compare_i8", *mapped, t.count, t.input1_offset, t.input2_offset, t.left_shift,
                     COMPARISONS.index(t.kind), names, "_EW_A", "_EW_B")


def _compare_raw(n: Any, t: s.CompareRaw) -> str:
    return call_text("compare_f", *_operands(n, t), t.count, COMPARISONS.index(t.kind))


def _select(n: Any, t: s.Select) -> str:
    condition = n.index(t.condition_index)
    return call_text("select", n.operand(t.condition), condition, *_operands(n, t), t.count)


def _cast(n: Any, t: s.Cast) -> str:
    return call_text("cast", n.operand(t.x), n.buffer(t.y), t.count, int(t.source == "int8"),
                     _CAST_TARGETS[t.target])


def _arg_min_max(n: Any, t: s.ArgMinMax) -> str:
    return call_text("arg_min_max", n.operand(t.x), n.buffer(t.y), t.outer, t.axis, t.inner, int(t.maximum),
                     int(t.dtype == "int8"))


FORMATTERS: dict[type, Callable[[Any, Step], str]] = {  # type: ignore[dict-item]
    s.CompareInt8: _compare_i8, s.CompareRaw: _compare_raw, s.Select: _select, s.Cast: _cast,
    s.ArgMinMax: _arg_min_max,
}
FAMILIES: dict[type, str] = {step: "compare" for step in FORMATTERS}
FAMILIES[s.CompareInt8] = "ops_int8"  # a hot loop, with the other int8 ops'
