"""Lowering of more int16x8 ops, with the constants TFLM's Prepare computes for them:
SQUARED_DIFFERENCE (squared_difference.cc with left_shift 0), BATCH_MATMUL (batch_matmul.cc's
int16 path: int64 sums), PRELU (prelu_common.cc: int16 input, int8 alphas) and RSQRT
(elementwise.cc's int16 path). The data moves (SQUEEZE, PADV2) lower through ops_shape as for int8."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.ops_binary import squared_difference_multipliers
from helpers.lowering.ops_dense import int32
from helpers.lowering.ops_elementwise import broadcast_index
from helpers.lowering.ops_matmul import matmul_layout
from helpers.lowering.program import Const
from helpers.lowering.steps import RsqrtInt16
from helpers.lowering.steps_int16 import BatchMatMulInt16, PreluInt16, SquaredDifferenceInt16


def _zero_points(op: Op, *tensors: Tensor) -> None:
    if any(t.dtype != "int16" for t in tensors):
        raise Unsupported(f"{op.name} of {' and '.join(t.dtype for t in tensors)}")
    if any(t.zero_point != 0 for t in tensors):
        raise Unsupported(f"{op.name} on int16 tensors with a zero point (TFLM requires 0)")


def lower_squared_difference16(b: Builder, op: Op) -> None:
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    _zero_points(op, x1, x2, y)
    # PrepareQuantized with left_shift 0: (1 << 0) * output scale
    m1, s1, m2, s2, mo, so = squared_difference_multipliers(float(x1.scale), float(x2.scale), float(y.scale),
                                                            left_shift=0)
    b.emit(SquaredDifferenceInt16(
        op=op.name, x1=b.operand(op.inputs[0]), x1_index=broadcast_index(x1, y.shape), x2=b.operand(op.inputs[1]),
        x2_index=broadcast_index(x2, y.shape), y=b.allocate(op.outputs[0]), count=y.size, input1_multiplier=m1,
        input1_shift=s1, input2_multiplier=m2, input2_shift=s2, output_multiplier=mo, output_shift=so))


def lower_batch_matmul16(b: Builder, op: Op) -> None:
    lhs, rhs, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    _zero_points(op, lhs, rhs, y)
    o = op.options
    layout = int32(matmul_layout(lhs, rhs, y, bool(getattr(o, "adjX", False)), bool(getattr(o, "adjY", False))))
    # GetQuantizedConvolutionMultipler: lhs scale * rhs scale / output scale, in double
    multiplier, shift = arith.quantize_multiplier(float(lhs.scale) * float(rhs.scale) / float(y.scale))
    operands = {"x1": b.operand(op.inputs[0]), "x2": b.operand(op.inputs[1])}
    b.emit(BatchMatMulInt16(op=op.name, y=b.allocate(op.outputs[0]), layout=layout, multiplier=multiplier,
                            shift=shift, **operands))


def _alpha_period(alpha: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The alphas element i of the output uses, as the shortest repeating run: the alpha tensor
    itself when, without its leading 1s, it is the output's last axes (per channel, shared over
    the rows; a scalar), else the alphas broadcast to the whole output."""
    lead = 0
    while lead < alpha.ndim and alpha.shape[lead] == 1:
        lead += 1
    trailing = tuple(alpha.shape[lead:])
    if tuple(shape[len(shape) - len(trailing):]) == trailing:
        return alpha.reshape(-1)
    return np.broadcast_to(alpha, shape).reshape(-1)


def lower_prelu16(b: Builder, op: Op) -> None:
    x, a, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    alpha = b.data(op.inputs[1])
    if x.dtype != "int16" or y.dtype != "int16" or a.dtype != "int8":
        raise Unsupported(f"PRELU of {x.dtype} with {a.dtype} alphas into {y.dtype} (int16 with int8 alphas only)")
    if alpha is None:
        raise Unsupported("PRELU with alphas computed at run time")
    if tuple(x.shape) != tuple(y.shape):
        raise Unsupported("PRELU whose input is broadcast")
    m1, s1 = arith.quantize_multiplier(float(x.scale) / float(y.scale))
    m2, s2 = arith.quantize_multiplier(float(x.scale) * float(a.scale) / float(y.scale))
    values = _alpha_period(np.asarray(alpha, dtype=np.int32), tuple(y.shape)) - a.zero_point
    source = b.operand(op.inputs[0])
    b.emit(PreluInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=y.size, period=values.size,
                      alphas=Const(values.astype(np.int16)), input_offset=-x.zero_point, output_offset=y.zero_point,
                      multiplier_1=m1, shift_1=s1, multiplier_2=m2, shift_2=s2))


def rsqrt_multiplier(input_scale: float, output_scale: float) -> tuple[int, int]:
    """SetRsqrtOutputMultiplier, 1 / (sqrt(input scale) * output scale), all in double: so the tool's
    TFLM interpreter (the tflite-micro wheel) computes it, identical to it on every int16 input.
    The pinned tree's elementwise.cc takes the sqrt and the product in float32, which moves the op
    zoo case's multiplier by 51 (of 2**31) and 7 of its 32,768 non-negative outputs by one step."""
    return arith.quantize_multiplier(1.0 / (math.sqrt(float(input_scale)) * float(output_scale)))


def lower_rsqrt16(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    _zero_points(op, x, y)
    if not x.scales or not y.scales:
        # TFLM's Prepare sets no multiplier for an unquantized int16 RSQRT; Eval reads it anyway
        raise Unsupported("RSQRT of int16 without quantization parameters")
    multiplier, shift = rsqrt_multiplier(x.scale, y.scale)
    if shift - 20 > 30:
        # Eval's last MultiplyByQuantizedMultiplier shifts an int32 left by shift - 20: 31 or more
        # is undefined in C (an output scale below about 1e-12), so TFLM's answer is undefined too
        raise Unsupported(f"RSQRT of int16 whose output scale makes TFLM shift by {shift - 20} bits")
    source = b.operand(op.inputs[0])
    b.emit(RsqrtInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=y.size, multiplier=multiplier,
                      shift=shift))


MORE_INT16_LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "SQUARED_DIFFERENCE": lower_squared_difference16,
    "BATCH_MATMUL": lower_batch_matmul16,
    "PRELU": lower_prelu16,
    "RSQRT": lower_rsqrt16,
}
