"""The C engine's calls for the steps of lowering/ops_compare (the comparisons, SELECT_V2, CAST,
ARG_MAX, ARG_MIN): each into the engine's own kernels, c_kernels/compare.c."""
from __future__ import annotations

from typing import Callable

from helpers.emit.c_names import CNames, c_int
from helpers.lowering import steps as s
from helpers.lowering.program import Step

_SUFFIX = {"float32": "f", "int8": "i8"}


def _compare_i8(n: CNames, t: s.CompareInt8) -> str:
    params = n.record("mcu_compare_params", [c_int(v) for v in (
        t.input1_offset, t.input1_multiplier, t.input1_shift, t.input2_offset, t.input2_multiplier, t.input2_shift,
        t.left_shift)])
    return (f"mcu_{t.kind}_i8({n.operand(t.x1)}, {n.index(t.x1_index)}, {n.operand(t.x2)}, {n.index(t.x2_index)}, "
            f"{n.buffer(t.y)}, {t.count}, &{params});")


def _compare_raw(n: CNames, t: s.CompareRaw) -> str:
    return (f"mcu_{t.kind}_{_SUFFIX[t.dtype]}({n.operand(t.x1, t.dtype)}, {n.index(t.x1_index)}, "
            f"{n.operand(t.x2, t.dtype)}, {n.index(t.x2_index)}, {n.buffer(t.y)}, {t.count});")


def _select(n: CNames, t: s.Select) -> str:
    return (f"mcu_select_{t.dtype}({n.operand(t.condition, 'bool')}, {n.index(t.condition_index)}, "
            f"{n.operand(t.x1, t.dtype)}, {n.index(t.x1_index)}, {n.operand(t.x2, t.dtype)}, {n.index(t.x2_index)}, "
            f"{n.buffer(t.y)}, {t.count});")


def _cast(n: CNames, t: s.Cast) -> str:
    return f"mcu_cast_{t.source}_{t.target}({n.operand(t.x, t.source)}, {n.buffer(t.y)}, {t.count});"


def _arg_min_max(n: CNames, t: s.ArgMinMax) -> str:
    return (f"mcu_arg_min_max_{t.dtype}({n.operand(t.x, t.dtype)}, {n.buffer(t.y)}, {t.outer}, {t.axis}, "
            f"{t.inner}, {int(t.maximum)});")


FORMATTERS: dict[type, Callable[[CNames, Step], str]] = {  # type: ignore[dict-item]
    s.CompareInt8: _compare_i8, s.CompareRaw: _compare_raw, s.Select: _select, s.Cast: _cast,
    s.ArgMinMax: _arg_min_max,
}
OWN_FAMILIES: dict[type, str] = {step: "compare" for step in FORMATTERS}
