"""The steps the MicroPython kernels module (helpers/micropython/native/mcu_kernels.c) runs, as calls
on it: int8 fully connected, convolution, depthwise and transpose convolution, pooling, softmax, add and mul
(CMSIS-NN's), the int8 LSTM, and through the C engine's own kernels broadcast add, sub and mul, squared
difference and the batched matrix product. Each call's parameter array is laid out as the C function
it calls documents; every other step keeps its portable call (micropython_calls)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from helpers.emit.c_own_conv import (conv_columns, depthwise_weights, folded_sums, own_depthwise, own_pointwise,
                                     pointwise_weights, short_requantization, uses_own_kernels)
from helpers.emit.cmsis_params import is_per_tensor, lstm_effective_biases
from helpers.emit.micropython_calls import Names
from helpers.emit.own_kernel_params import add_record, mul_record, squared_difference_record
from helpers.lowering import steps as s
from helpers.lowering.program import Const, Program, Step

# The kernels module's interface revision: an engine loads only a module that says the same
# (mcu_kernels.c's MCU_KERNELS_VERSION comes from here when it is built).
KERNELS_VERSION = 5
KERNELS = "_KERNELS"
SCRATCH = "_SCRATCH"
# scratch_bytes()'s kinds.
_CONV, _DEPTHWISE, _AVERAGE_POOL, _FULLY_CONNECTED, _TRANSPOSE_CONV, _OWN_CONV_SCRATCH = 0, 1, 2, 3, 4, 5
# The own convolution kernels (mcu_kernels.c's OWN_*).
_OWN_POINTWISE, _OWN_DEPTHWISE, _OWN_IM2COL = 1, 2, 3


class NativeCalls:
    """The native calls of one program, and the scratch queries the module makes at import."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.scratch_queries: list[tuple[int, str]] = []  # (kind, parameter array name)

    def params(self, values: list[int]) -> str:
        return self.names.array(Const(np.asarray(values, dtype=np.int32)))

    def scratch(self, kind: int, params: str) -> str:
        self.scratch_queries.append((kind, params))
        return SCRATCH


def _call(kernel: str, *args: object) -> str:
    return f"{KERNELS}.{kernel}({', '.join(str(a) for a in args)})"


def _fully_connected(c: NativeCalls, t: s.FullyConnectedInt8) -> str:
    """CMSIS-NN's kernel, or on Armv7E-M boards the C engine's own (its folded sums and scratch)."""
    n, q = c.names, t.quant
    params = c.params([t.batches, t.n_in, t.n_out, q.input_offset, q.output_zero_point, q.act_min, q.act_max,
                       0 if is_per_tensor(q) else 1, int(short_requantization(t))])
    sums = n.array(Const(folded_sums(t).astype(np.int32)))
    return _call("fc", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias), n.array(q.multipliers),
                 n.array(q.shifts), params, sums, c.scratch(_FULLY_CONNECTED, params))


def _own_conv(c: NativeCalls, t: s.ConvInt8) -> str:
    """The own kernel's arguments for a layer the C engine runs with one on Armv7E-M (c_own_conv
    decides): the weights as that kernel reads them, the folded sums (the depthwise kernel: the
    bias) and [kind, short requantization, columns]; None for CMSIS-NN on every core. The module
    takes them on Armv7E-M boards only, so the re-laid weights cost flash on every board."""
    if not uses_own_kernels(t):
        return "None"
    n, g = c.names, t.geometry
    kind = _OWN_POINTWISE if own_pointwise(t) else _OWN_DEPTHWISE if own_depthwise(t) else _OWN_IM2COL
    laid = depthwise_weights(t) if kind == _OWN_DEPTHWISE else pointwise_weights(t)
    sums = n.array(t.bias) if kind == _OWN_DEPTHWISE else n.array(Const(folded_sums(t).astype(np.int32)))
    columns = conv_columns(t) if kind == _OWN_IM2COL else 0
    c.scratch(_OWN_CONV_SCRATCH, c.params([kind, g.in_c, columns]))
    parts = [n.array(Const(laid.view(np.int32))), sums, c.params([kind, int(short_requantization(t)), columns])]
    return n.constant("l", "(" + ", ".join(parts) + ")")


def _conv(c: NativeCalls, t: s.ConvInt8) -> str:
    n, q, g = c.names, t.quant, t.geometry
    params = c.params([g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.k_h, g.k_w, g.stride_h, g.stride_w,
                       g.pad_top, g.pad_left, g.dilation_h, g.dilation_w, q.input_offset, q.output_zero_point,
                       q.act_min, q.act_max, g.depth_multiplier])
    scratch = c.scratch(_DEPTHWISE if t.depthwise else _CONV, params)
    return _call("depthwise" if t.depthwise else "conv", n.operand(t.x), n.buffer(t.y), n.array(t.weights),
                 n.array(t.bias), n.array(q.multipliers), n.array(q.shifts), params, scratch, _own_conv(c, t))


def _transpose_conv(c: NativeCalls, t: s.TransposeConvInt8) -> str:
    """CMSIS-NN's transpose convolution on the weights as the model holds them (the portable
    paths' flipped copy is theirs alone)."""
    n, q, g, p = c.names, t.quant, t.geometry, t.padding
    params = c.params([g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.k_h, g.k_w, g.stride_h, g.stride_w,
                       p.pad_h, p.pad_w, p.offset_h, p.offset_w, q.input_offset, q.output_zero_point, q.act_min,
                       q.act_max])
    return _call("transpose_conv", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 n.array(q.multipliers), n.array(q.shifts), params, c.scratch(_TRANSPOSE_CONV, params))


def _pool(c: NativeCalls, t: s.PoolInt8) -> str:
    n, g = c.names, t.geometry
    params = c.params([g.in_h, g.in_w, g.channels, g.out_h, g.out_w, g.k_h, g.k_w, g.stride_h, g.stride_w,
                       g.pad_top, g.pad_left, t.act_min, t.act_max, 1 if t.average else 0])
    scratch = c.scratch(_AVERAGE_POOL, params) if t.average else "None"
    return _call("pool", n.operand(t.x), n.buffer(t.y), params, scratch)


def _softmax(c: NativeCalls, t: s.SoftmaxInt8) -> str:
    params = c.params([t.rows, t.depth, t.input_multiplier, t.input_left_shift, t.diff_min])
    return _call("softmax", c.names.operand(t.x), c.names.buffer(t.y), params)


# binary()'s kinds: the C engine's own kernels (ops_int8.c), for what CMSIS-NN's do not take.
_ADD_OR_SUB, _MUL, _SQUARED_DIFFERENCE = 0, 1, 2


def _binary(c: NativeCalls, t: s.AddInt8 | s.MulInt8 | s.SquaredDifferenceInt8, kind: int,
            fields: list[int]) -> str:
    """The own kernel through the operands' index maps (None: element by element); `fields` is its
    parameter record (own_kernel_params), which the module reads as the C engine's struct."""
    n = c.names
    params = c.params([kind, t.count, *fields])
    return _call("binary", n.operand(t.x1), n.index(t.x1_index), n.operand(t.x2), n.index(t.x2_index),
                 n.buffer(t.y), params)


def _add(c: NativeCalls, t: s.AddInt8) -> str:
    if t.sign != 1 or t.x1_index is not None or t.x2_index is not None:
        # SUB and broadcasting: the C engine's own kernel
        return _binary(c, t, _ADD_OR_SUB, add_record(t))
    n = c.names
    x1, x2 = n.operand(t.x1), n.operand(t.x2)
    params = c.params([t.count, t.input1_offset, t.input1_multiplier, t.input1_shift, t.input2_offset,
                       t.input2_multiplier, t.input2_shift, 20, t.output_zero_point, t.output_multiplier,
                       t.output_shift, t.act_min, t.act_max])
    return _call("add", x1, x2, n.buffer(t.y), params)


def _mul(c: NativeCalls, t: s.MulInt8) -> str:
    if t.x1_index is not None or t.x2_index is not None:
        return _binary(c, t, _MUL, mul_record(t))
    n = c.names
    x1, x2 = n.operand(t.x1), n.operand(t.x2)
    params = c.params([t.count, t.input1_offset, t.input2_offset, t.output_zero_point, t.output_multiplier,
                       t.output_shift, t.act_min, t.act_max])
    return _call("mul", x1, x2, n.buffer(t.y), params)


def _squared_difference(c: NativeCalls, t: s.SquaredDifferenceInt8) -> str:
    return _binary(c, t, _SQUARED_DIFFERENCE, squared_difference_record(t))


def _batch_matmul(c: NativeCalls, t: s.BatchMatMulInt8) -> str:
    n = c.names
    params = c.params([t.lhs_offset, t.rhs_offset, t.multiplier, t.shift, t.output_zero_point])
    return _call("matmul", n.operand(t.x1), n.operand(t.x2), n.buffer(t.y), n.array(t.layout), params)


def _lstm(c: NativeCalls, t: s.LstmInt8) -> str:
    n, st, cq = c.names, t.state, t.cell_quant
    buffers = []
    values = [st.steps, st.n_in, st.n_state, t.gate_quant[0].input_offset, cq.forget_multiplier, cq.forget_shift,
              cq.input_multiplier, cq.input_shift, cq.quantized_clip, cq.cell_scale_power, cq.hidden_multiplier,
              cq.hidden_shift, cq.hidden_zero_point]
    for gate, q, (effective_in, effective_rec) in zip(t.gates, t.gate_quant, lstm_effective_biases(t)):
        buffers += [n.array(gate.input_weights), n.array(effective_in), n.array(gate.recurrent_weights),
                    n.array(effective_rec), n.array(gate.bias)]
        values += [q.input_multiplier, q.input_shift, q.recurrent_multiplier, q.recurrent_shift, int(q.sigmoid)]
    gates = n.constant("l", "(" + ", ".join(buffers) + ")")
    params = c.params(values)
    return _call("lstm", n.operand(t.x), n.buffer(t.y), params, gates, n.buffer(st.gates[0]), n.buffer(st.gates[1]),
                 n.buffer(st.cell))


FORMATTERS: dict[type, Callable[[NativeCalls, Step], str | None]] = {  # type: ignore[dict-item]
    s.FullyConnectedInt8: _fully_connected, s.ConvInt8: _conv, s.TransposeConvInt8: _transpose_conv,
    s.PoolInt8: _pool, s.SoftmaxInt8: _softmax,
    s.AddInt8: _add, s.MulInt8: _mul, s.SquaredDifferenceInt8: _squared_difference, s.BatchMatMulInt8: _batch_matmul,
    s.LstmInt8: _lstm,
}


def native_step_count(program: Program) -> int:
    """How many of the program's steps the kernels module runs."""
    calls = NativeCalls(Names(program))
    return sum(native_call(calls, step) is not None for step in program.steps)


def native_call(calls: NativeCalls, step: Step) -> str | None:
    """The step as a call on the kernels module, or None where the portable kernel runs it."""
    formatter = FORMATTERS.get(type(step))
    return formatter(calls, step) if formatter is not None else None
