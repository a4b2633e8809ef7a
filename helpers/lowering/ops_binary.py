"""Lowering of the binary ops that need no rescaling: float32 DIV, SQUARED_DIFFERENCE, FLOOR_DIV,
FLOOR_MOD, MAXIMUM and MINIMUM, and MAXIMUM, MINIMUM of int8 or int16 tensors (TFLM compares the
stored values, so both inputs and the output must be quantized alike); and int8 SQUARED_DIFFERENCE
with squared_difference.cc's rescaling. An input smaller than the output is broadcast through an
index map, as for ADD. int8 DIV divides as div.h does (GetReciprocal of the divisor)."""
from __future__ import annotations

from typing import Callable

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Unsupported
from helpers.lowering.ops_dense import activation
from helpers.lowering.ops_elementwise import broadcast_index
from helpers.lowering.steps import BinaryMath, DivInt8, SquaredDifferenceInt8

# The ops TFLM also runs on quantized tensors by comparing their stored values.
_RAW_KINDS = ("maximum", "minimum")
# squared_difference.cc shifts int8 inputs left by 7: 255 << 7, squared, stays within int32.
SQUARED_DIFFERENCE_LEFT_SHIFT = 7


def squared_difference_multipliers(s1: float, s2: float, s_out: float,
                                   left_shift: int = SQUARED_DIFFERENCE_LEFT_SHIFT) -> list[int]:
    """PrepareQuantized (squared_difference.cc), in double as it computes them: each input to half
    the larger scale, and the squared difference to the output (the left shift taken out again:
    7 for int8, 0 for int16)."""
    twice_max = 2.0 * max(s1, s2)
    # (1 << 14) * output scale is a float product in TFLM; times a power of two it is exact
    reals = (s1 / twice_max, s2 / twice_max,
             twice_max * twice_max / float((1 << 2 * left_shift) * arith.float32(s_out)))
    return [value for real in reals for value in arith.quantize_multiplier(real)]


def _squared_difference_int8(b: Builder, op: Op) -> None:
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    m1, s1, m2, s2, mo, so = squared_difference_multipliers(x1.scale, x2.scale, y.scale)
    b.emit(SquaredDifferenceInt8(
        op=op.name, x1=b.operand(op.inputs[0]), x1_index=broadcast_index(x1, y.shape), x2=b.operand(op.inputs[1]),
        x2_index=broadcast_index(x2, y.shape), y=b.allocate(op.outputs[0]), count=y.size,
        input1_offset=-x1.zero_point, input2_offset=-x2.zero_point, input1_multiplier=m1, input1_shift=s1,
        input2_multiplier=m2, input2_shift=s2, output_multiplier=mo, output_shift=so, output_zero_point=y.zero_point))


def _div_int8(b: Builder, op: Op) -> None:
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    # div.cc divides and multiplies the scales in float, then widens to double
    real = arith.float32(arith.float32(x1.scale) / arith.float32(arith.float32(x2.scale) * arith.float32(y.scale)))
    multiplier, shift = arith.quantize_multiplier(real)
    low, high = arith.activation_range(activation(op.options), "int8", y.scale, y.zero_point)
    b.emit(DivInt8(
        op=op.name, x1=b.operand(op.inputs[0]), x1_index=broadcast_index(x1, y.shape), x2=b.operand(op.inputs[1]),
        x2_index=broadcast_index(x2, y.shape), y=b.allocate(op.outputs[0]), count=y.size,
        input1_offset=-x1.zero_point, input2_offset=-x2.zero_point, output_multiplier=multiplier,
        output_shift=shift, output_zero_point=y.zero_point, act_min=low, act_max=high))


def lower_binary_math(b: Builder, op: Op, kind: str) -> None:
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if not x1.dtype == x2.dtype == y.dtype:
        raise Unsupported(f"{op.name} of {x1.dtype} and {x2.dtype} into {y.dtype}")
    if y.dtype == "int8" and kind == "squared_difference":
        _squared_difference_int8(b, op)
        return
    if y.dtype == "int8" and kind == "div":
        _div_int8(b, op)
        return
    if y.dtype in ("int8", "int16") and kind in _RAW_KINDS:
        quantizations = {(t.scale, t.zero_point) for t in (x1, x2, y)}
        if len(quantizations) > 1:
            raise Unsupported(f"{op.name} of {y.dtype} tensors quantized differently (TFLM compares stored values)")
    elif y.dtype != "float32":
        raise Unsupported(f"{op.name} of {y.dtype}")
    low, high = arith.float_activation_range(activation(op.options)) if y.dtype == "float32" else \
        arith.float_activation_range(0)
    indices = {"x1_index": broadcast_index(x1, y.shape), "x2_index": broadcast_index(x2, y.shape)}
    operands = {**indices, "x1": b.operand(op.inputs[0]), "x2": b.operand(op.inputs[1])}
    b.emit(BinaryMath(op=op.name, kind=kind, dtype=y.dtype, y=b.allocate(op.outputs[0]), count=y.size,
                      act_min=low, act_max=high, shapes=(x1.shape, x2.shape, y.shape), **operands))


def _binary(kind: str) -> Callable[[Builder, Op], None]:
    return lambda b, op: lower_binary_math(b, op, kind)


BINARY_LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "DIV": _binary("div"), "SQUARED_DIFFERENCE": _binary("squared_difference"), "FLOOR_DIV": _binary("floor_div"),
    "FLOOR_MOD": _binary("floor_mod"), "MAXIMUM": _binary("maximum"), "MINIMUM": _binary("minimum"),
}
