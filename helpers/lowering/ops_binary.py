"""Lowering of the binary ops that need no rescaling: float32 DIV, SQUARED_DIFFERENCE, FLOOR_DIV,
FLOOR_MOD, MAXIMUM and MINIMUM, and MAXIMUM, MINIMUM of int8 or int16 tensors (TFLM compares the
stored values, so both inputs and the output must be quantized alike). An input smaller than the
output is broadcast through an index map, as for ADD."""
from __future__ import annotations

from typing import Callable

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Unsupported
from helpers.lowering.ops_dense import activation
from helpers.lowering.ops_elementwise import broadcast_index
from helpers.lowering.steps import BinaryMath

# The ops TFLM also runs on quantized tensors by comparing their stored values.
_RAW_KINDS = ("maximum", "minimum")


def lower_binary_math(b: Builder, op: Op, kind: str) -> None:
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if not x1.dtype == x2.dtype == y.dtype:
        raise Unsupported(f"{op.name} of {x1.dtype} and {x2.dtype} into {y.dtype}")
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
                      act_min=low, act_max=high, **operands))


def _binary(kind: str) -> Callable[[Builder, Op], None]:
    return lambda b, op: lower_binary_math(b, op, kind)


BINARY_LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "DIV": _binary("div"), "SQUARED_DIFFERENCE": _binary("squared_difference"), "FLOOR_DIV": _binary("floor_div"),
    "FLOOR_MOD": _binary("floor_mod"), "MAXIMUM": _binary("maximum"), "MINIMUM": _binary("minimum"),
}
