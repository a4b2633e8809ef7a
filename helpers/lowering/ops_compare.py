"""Lowering of the ops that make or read bool and int32 tensors, as TFLM's reference kernels run
them: EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL (comparisons.cc: int8 rescaled
as its Prepare step says, float32 compared as stored), SELECT_V2 (select.cc), CAST (cast.cc) and
ARG_MAX, ARG_MIN (arg_min_max.cc). Inputs smaller than the output are broadcast through index maps."""
from __future__ import annotations

from typing import Callable

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Unsupported
from helpers.lowering.ops_elementwise import broadcast_index
from helpers.lowering.steps import ArgMinMax, Cast, CompareInt8, CompareRaw, Select

# comparisons.cc's Prepare: int8 inputs shifted left by 8 before their scale multiplies them.
COMPARISON_LEFT_SHIFT = 8
_RAW_COMPARED = ("float32",)
_SELECTED = ("int8", "int16", "float32")
_CAST_SOURCES = ("int8", "int16", "int32", "float32", "bool")
_CAST_TARGETS = ("int8", "int16", "int32", "float32")


def comparison_multiplier(scale: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp of an input's scale (in double, as Prepare computes it)."""
    if not 0.0 < scale < 1.0:
        raise Unsupported(f"an int8 input scale of {scale} (TFLM's Prepare takes scales below one)")
    return arith.quantize_multiplier(float(scale))


def lower_comparison(b: Builder, op: Op, kind: str) -> None:
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if x1.dtype != x2.dtype or y.dtype != "bool":
        raise Unsupported(f"{op.name} of {x1.dtype} and {x2.dtype} into {y.dtype}")
    operands = {"x1": b.operand(op.inputs[0]), "x1_index": broadcast_index(x1, y.shape),
                "x2": b.operand(op.inputs[1]), "x2_index": broadcast_index(x2, y.shape)}
    if x1.dtype == "int8":
        m1, s1 = comparison_multiplier(x1.scale)
        m2, s2 = comparison_multiplier(x2.scale)
        b.emit(CompareInt8(op=op.name, y=b.allocate(op.outputs[0]), count=y.size, kind=kind,
                           input1_offset=-x1.zero_point, input1_multiplier=m1, input1_shift=s1,
                           input2_offset=-x2.zero_point, input2_multiplier=m2, input2_shift=s2,
                           left_shift=COMPARISON_LEFT_SHIFT, **operands))
        return
    if x1.dtype not in _RAW_COMPARED:
        # int16: comparisons.cc runs GREATER's WithScaling form on parameters its Prepare never
        # sets for int16 (uninitialised), so there is no defined result to match
        raise Unsupported(f"{op.name} of {x1.dtype}")
    b.emit(CompareRaw(op=op.name, y=b.allocate(op.outputs[0]), count=y.size, kind=kind, dtype=x1.dtype, **operands))


def lower_select(b: Builder, op: Op) -> None:
    c, x1, x2, y = (b.graph.tensor(i) for i in (*op.inputs[:3], op.outputs[0]))
    if c.dtype != "bool" or not x1.dtype == x2.dtype == y.dtype or y.dtype not in _SELECTED:
        raise Unsupported(f"SELECT_V2 of {x1.dtype} and {x2.dtype} on {c.dtype} into {y.dtype}")
    if y.dtype != "float32" and len({(t.scale, t.zero_point) for t in (x1, x2, y)}) > 1:
        raise Unsupported(f"SELECT_V2 of {y.dtype} tensors quantized differently (TFLM copies stored values)")
    b.emit(Select(op=op.name, condition=b.operand(op.inputs[0]), condition_index=broadcast_index(c, y.shape),
                  x1=b.operand(op.inputs[1]), x1_index=broadcast_index(x1, y.shape), x2=b.operand(op.inputs[2]),
                  x2_index=broadcast_index(x2, y.shape), y=b.allocate(op.outputs[0]), count=y.size, dtype=y.dtype))


def lower_cast(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if x.dtype not in _CAST_SOURCES or y.dtype not in _CAST_TARGETS:
        raise Unsupported(f"CAST from {x.dtype} to {y.dtype}")
    b.emit(Cast(op=op.name, x=b.operand(op.inputs[0]), y=b.allocate(op.outputs[0]), count=y.size,
                source=x.dtype, target=y.dtype))


def lower_arg_min_max(b: Builder, op: Op, maximum: bool) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    axis_values = b.data(op.inputs[1])
    if x.dtype not in ("int8", "float32") or y.dtype != "int32":
        raise Unsupported(f"{op.name} of {x.dtype} into {y.dtype} (TFLM: int8 or float32 into int32)")
    if axis_values is None or b.graph.tensor(op.inputs[1]).dtype != "int32":
        raise Unsupported(f"{op.name} along an axis that is not an int32 constant")
    axis = int(axis_values.reshape(-1)[0])
    axis += len(x.shape) if axis < 0 else 0
    outer = int(_product(x.shape[:axis]))
    inner = int(_product(x.shape[axis + 1:]))
    b.emit(ArgMinMax(op=op.name, x=b.operand(op.inputs[0]), y=b.allocate(op.outputs[0]), maximum=maximum,
                     dtype=x.dtype, outer=outer, axis=x.shape[axis], inner=inner))


def _product(dims: tuple[int, ...]) -> int:
    product = 1
    for dim in dims:
        product *= dim
    return product


def _comparison(kind: str) -> Callable[[Builder, Op], None]:
    return lambda b, op: lower_comparison(b, op, kind)


COMPARE_LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "EQUAL": _comparison("equal"), "NOT_EQUAL": _comparison("not_equal"), "GREATER": _comparison("greater"),
    "GREATER_EQUAL": _comparison("greater_equal"), "LESS": _comparison("less"),
    "LESS_EQUAL": _comparison("less_equal"), "SELECT_V2": lower_select, "CAST": lower_cast,
    "ARG_MAX": lambda b, op: lower_arg_min_max(b, op, True), "ARG_MIN": lambda b, op: lower_arg_min_max(b, op, False),
}
