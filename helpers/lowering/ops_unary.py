"""Lowering of the elementwise ops with one input: activations as ops of their own (RELU, RELU6,
LEAKY_RELU, HARD_SWISH, ELU, ...) and the math ops (EXP, LOG, SQRT, ABS, ROUND, SIN, ...).

int8: a 256-entry table TFLM's own kernel fills at export (tflm_tables), read by the LookupInt8
step both engines already run. float32: a MathFloat step whose kind names the engines' kernel."""
from __future__ import annotations

import numpy as np

from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Unsupported
from helpers.lowering.program import Const
from helpers.lowering.steps import ChannelLookupInt8, LookupInt8, MathFloat, PreluFloat
from helpers.lowering.tflm_tables import int8_table

# TFLite op -> the float kernel's kind (c_kernels/math_float.c mcu_<kind>_f, device/math_float.py <kind>_f).
FLOAT_KINDS = {
    "RELU": "relu", "RELU6": "relu6", "RELU_N1_TO_1": "relu_n1_to_1", "RELU_0_TO_1": "relu_0_to_1",
    "LEAKY_RELU": "leaky_relu", "HARD_SWISH": "hard_swish", "ELU": "elu", "EXP": "exp", "LOG": "log",
    "SQRT": "sqrt", "RSQRT": "rsqrt", "SQUARE": "square", "ABS": "abs", "NEG": "neg", "FLOOR": "floor",
    "CEIL": "ceil", "ROUND": "round", "SIN": "sin", "COS": "cos",
}
# The int8 forms TFLM's kernels accept are tabulated (elementwise: output byte = f(input byte)).
TABLE_OPS = frozenset(FLOAT_KINDS)


def lower_unary(b: Builder, op: Op) -> None:
    """One of TABLE_OPS / FLOAT_KINDS: int8 as a TFLM-filled table, float32 as its kernel."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if x.dtype == y.dtype == "int8":
        table = int8_table(b.graph, op)
        source = b.operand(op.inputs[0])
        b.emit(LookupInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size, table=Const(table)))
        return
    if x.dtype == y.dtype == "float32" and op.name in FLOAT_KINDS:
        alpha = float(getattr(op.options, "alpha", 0.0) or 0.0) if op.name == "LEAKY_RELU" else 0.0
        source = b.operand(op.inputs[0])
        b.emit(MathFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), kind=FLOAT_KINDS[op.name],
                         count=x.size, alpha=alpha))
        return
    raise Unsupported(f"{op.name} of {x.dtype} to {y.dtype}")


def _channel_alpha(b: Builder, op: Op, per_element: bool) -> tuple[int, np.ndarray]:
    """PRELU's alpha as one value per channel of the last axis (broadcast over the others), or with
    `per_element`, where it varies over more axes, one value per element."""
    x = b.graph.tensor(op.inputs[0])
    alpha = b.data(op.inputs[1])
    if alpha is None:
        raise Unsupported("PRELU with alpha computed at run time")
    channels = x.shape[-1] if x.shape else 1
    spread = np.broadcast_to(np.asarray(alpha).reshape((1,) * (len(x.shape) - np.ndim(alpha)) + np.shape(alpha)),
                             x.shape).reshape(-1, channels)
    if not (spread == spread[:1]).all():
        if per_element:
            return spread.size, spread.reshape(-1)
        raise Unsupported("PRELU with alpha varying over more than the last axis")
    return channels, spread[0]


def lower_prelu(b: Builder, op: Op) -> None:
    """int8: a table per channel TFLM's kernel fills (one table when alpha is one value); float32:
    TFLM's `x >= 0 ? x : x * alpha`."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    channels, alpha = _channel_alpha(b, op, per_element=x.dtype == "float32")
    source = b.operand(op.inputs[0])
    if x.dtype == y.dtype == "int8":
        if (alpha == alpha[0]).all():
            table = int8_table(b.graph, op, channels)[:256]
            b.emit(LookupInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size, table=Const(table)))
            return
        tables = int8_table(b.graph, op, channels)
        b.emit(ChannelLookupInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size, channels=channels,
                                 tables=Const(tables)))
        return
    if x.dtype == y.dtype == "float32":
        b.emit(PreluFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size,
                          alpha=Const(np.asarray(alpha, dtype=np.float32))))
        return
    raise Unsupported(f"PRELU of {x.dtype} to {y.dtype}")
