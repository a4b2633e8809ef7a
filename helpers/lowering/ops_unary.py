"""Lowering of the elementwise ops with one input: activations as ops of their own (RELU, RELU6,
LEAKY_RELU, HARD_SWISH, ELU, ...) and the math ops (EXP, LOG, SQRT, ABS, ROUND, SIN, ...).

int8: a 256-entry table TFLM's own kernel fills at export (tflm_tables), read by the LookupInt8
step both engines already run. float32: a MathFloat step whose kind names the engines' kernel."""
from __future__ import annotations

from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Unsupported
from helpers.lowering.program import Const
from helpers.lowering.steps import LookupInt8, MathFloat
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
