"""The int16x8 steps (steps_int16) as MicroPython calls on device/ops_int16.py's plain kernels.
`n` is micropython_calls.Names (not imported: that module imports this one). The int64 biases
are a tuple of ints: MicroPython's array has no int64 type on every port."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from helpers.lowering import steps_int16 as s16
from helpers.lowering.program import Const, Step
from helpers.lowering.steps import ConvGeometry, PoolGeometry

FAMILY = "ops_int16"


def _call(kernel: str, *args: object) -> str:
    return f"{kernel}({', '.join(str(a) for a in args)})"


def _ints(n: Any, prefix: str, values: list[int]) -> str:
    return n.constant(prefix, "(" + ", ".join(str(int(v)) for v in values) + ",)")


def _bias(n: Any, bias: Const) -> str:
    return _ints(n, "q", bias.values.tolist())


def _conv_row(g: ConvGeometry, depthwise: bool) -> list[int]:
    return [g.in_h, g.in_w, g.in_c, g.out_w, g.depth_multiplier if depthwise else g.out_c, g.k_h, g.k_w,
            g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.pad_top, g.pad_left]


def _pool_row(g: PoolGeometry) -> list[int]:
    return [g.in_h, g.in_w, g.channels, g.out_h, g.out_w, g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left]


def _fully_connected(n: Any, t: s16.FullyConnectedInt16) -> str:
    q = t.quant
    return _call("fully_connected_i16", n.operand(t.x), n.buffer(t.y), n.array(t.weights), _bias(n, t.bias),
                 n.array(q.multipliers), n.array(q.shifts), t.batches, t.n_in, t.n_out, q.act_min, q.act_max)


def _conv(n: Any, t: s16.ConvInt16) -> str:
    q = t.quant
    kernel = "depthwise_conv_2d_i16" if t.depthwise else "conv_2d_i16"
    return _call(kernel, n.operand(t.x), n.buffer(t.y), n.array(t.weights), _bias(n, t.bias), n.array(q.multipliers),
                 n.array(q.shifts), _ints(n, "p", _conv_row(t.geometry, t.depthwise)), t.geometry.out_h, q.act_min,
                 q.act_max)


def _pool(n: Any, t: s16.PoolInt16) -> str:
    return _call("pool_2d_i16", n.operand(t.x), n.buffer(t.y), _ints(n, "p", _pool_row(t.geometry)), int(t.average),
                 t.act_min, t.act_max)


def _operands(n: Any, t: s16.AddInt16 | s16.MulInt16 | s16.SquaredDifferenceInt16) -> list[str]:
    # The index maps first: the lowering computes them before it reads the inputs.
    i1, i2 = n.index(t.x1_index), n.index(t.x2_index)
    return [n.operand(t.x1), i1, n.operand(t.x2), i2, n.buffer(t.y)]


def _add(n: Any, t: s16.AddInt16) -> str:
    params = [t.input1_multiplier, t.input1_shift, t.input2_multiplier, t.input2_shift, t.output_multiplier,
              t.output_shift, t.sign]
    return _call("add_i16", *_operands(n, t), t.count, _ints(n, "p", params), t.act_min, t.act_max)


def _mul(n: Any, t: s16.MulInt16) -> str:
    return _call("mul_i16", *_operands(n, t), t.count, t.output_multiplier, t.output_shift, t.act_min, t.act_max)


def _softmax(n: Any, t: s16.SoftmaxInt16) -> str:
    return _call("softmax_i16", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, t.input_multiplier,
                 t.input_left_shift, n.array(t.exp_table), n.array(t.reciprocal_table))


def _sigmoid(n: Any, t: s16.SigmoidInt16) -> str:
    # the table as int32: the module's arrays have no uint16 constant type
    table = n.array(Const(t.table.values.astype(np.int32)))
    return _call("sigmoid_i16", n.operand(t.x), n.buffer(t.y), t.count, t.input_multiplier, t.input_left_shift,
                 table, int(t.tanh))


def _mean(n: Any, t: s16.MeanInt16) -> str:
    outputs, count = t.groups.values.shape
    return _call("mean_i16", n.operand(t.x), n.buffer(t.y), n.array(Const(t.groups.values.reshape(-1))), outputs,
                 count, t.multiplier, t.shift)


def _activation(n: Any, t: s16.ActivationInt16) -> str:
    params = [int(t.rescale), t.multiplier, t.shift, t.negative_multiplier, t.negative_shift, -1 if t.negate else 1,
              int(t.absolute)]
    return _call("activation_i16", n.operand(t.x), n.buffer(t.y), t.count, _ints(n, "p", params), t.act_min,
                 t.act_max)


def _quantize(n: Any, t: s16.QuantizeFloatToInt16) -> str:
    return _call("quantize_f_i16", n.operand(t.x), n.buffer(t.y), t.count, repr(t.scale), t.zero_point, t.act_min,
                 t.act_max)


def _requantize(n: Any, t: s16.RequantizeInt16) -> str:
    return _call("requantize_i16", n.operand(t.x), n.buffer(t.y), t.count, t.multiplier, t.shift)


def _dequantize(n: Any, t: s16.DequantizeInt16) -> str:
    return _call("dequantize_i16", n.operand(t.x), n.buffer(t.y), t.count, repr(t.scale), t.zero_point)


def _squared_difference(n: Any, t: s16.SquaredDifferenceInt16) -> str:
    params = [t.input1_multiplier, t.input1_shift, t.input2_multiplier, t.input2_shift, t.output_multiplier,
              t.output_shift]
    return _call("squared_difference_i16", *_operands(n, t), t.count, _ints(n, "p", params))


def _batch_matmul(n: Any, t: s16.BatchMatMulInt16) -> str:
    return _call("batch_matmul_i16", n.operand(t.x1), n.operand(t.x2), n.buffer(t.y), n.array(t.layout),
                 t.multiplier, t.shift)


def _prelu(n: Any, t: s16.PreluInt16) -> str:
    params = [t.input_offset, t.output_offset, t.multiplier_1, t.shift_1, t.multiplier_2, t.shift_2]
    return _call("prelu_i16", n.operand(t.x), n.buffer(t.y), t.count, n.array(t.alphas), t.period,
                 _ints(n, "p", params))


FORMATTERS: dict[type, Callable[[Any, Step], str]] = {  # type: ignore[dict-item]
    s16.FullyConnectedInt16: _fully_connected, s16.ConvInt16: _conv, s16.PoolInt16: _pool, s16.AddInt16: _add,
    s16.MulInt16: _mul, s16.QuantizeFloatToInt16: _quantize, s16.DequantizeInt16: _dequantize,
    s16.SoftmaxInt16: _softmax, s16.RequantizeInt16: _requantize, s16.SigmoidInt16: _sigmoid,
    s16.MeanInt16: _mean, s16.ActivationInt16: _activation, s16.SquaredDifferenceInt16: _squared_difference,
    s16.BatchMatMulInt16: _batch_matmul, s16.PreluInt16: _prelu,
}
FAMILIES: dict[type, str] = {step: FAMILY for step in FORMATTERS}
