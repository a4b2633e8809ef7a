"""Each Program step as a MicroPython call on the device kernels (device/), and the module-level
constants those calls read. Constants are named in the order the calls first use them and shared
by content, so the same program always gives the same module text."""
from __future__ import annotations

from typing import Callable

import numpy as np

from helpers.emit import micropython_compare, micropython_int16, micropython_layers
from helpers.emit.micropython_names import (  # noqa: F401 - Names, bytes_literal, ...: the emitters' import point
    Names,
    buffer_name,
    bytes_literal,
    call_text,
    clamp_literal,
    conv_row,
    exp_limbs,
    multiplier_limbs,
    pool_row,
    quant_args,
    scalar_quant,
)
from helpers.lowering import steps as s
from helpers.lowering.program import Const, Program, Step

# The array type code that holds each buffer dtype on the board.
TYPECODES = {"int8": "b", "int16": "h", "float32": "f", "bool": "B", "int32": "i"}
# Which device file holds each step's kernel.
FAMILIES: dict[type, str] = {
    s.FullyConnectedInt8: "ops_int8", s.ConvInt8: "ops_int8", s.TransposeConvInt8: "ops_int8", s.PoolInt8: "ops_int8", s.SoftmaxInt8: "ops_int8",
    s.QuantizeFloatToInt8: "ops_int8", s.RequantizeInt8: "ops_int8", s.DequantizeInt8: "ops_int8",
    s.AddInt8: "ops_int8", s.MulInt8: "ops_int8", s.LookupInt8: "ops_int8", s.MeanInt8: "ops_int8",
    s.FullyConnectedFloat: "ops_float", s.ConvFloat: "ops_float", s.PoolFloat: "ops_float",
    s.SoftmaxFloat: "ops_float", s.BinaryFloat: "ops_float", s.UnaryFloat: "ops_float", s.MeanFloat: "ops_float",
    s.Gather: "gather", s.Scatter: "gather", s.LstmInt8: "lstm", s.LstmFloat: "lstm", s.MathFloat: "math_float",
    s.ChannelLookupInt8: "ops_int8", s.PreluFloat: "math_float", s.BatchMatMulInt8: "ops_int8",
    s.BatchMatMulFloat: "math_float", s.ReduceInt8: "ops_int8", s.ReduceFloat: "math_float", s.BinaryMath: "binary",
    s.SquaredDifferenceInt8: "ops_int8", s.Transpose: "movement", s.GatherRuns: "movement",
    **micropython_int16.FAMILIES, **micropython_compare.FAMILIES,
    **micropython_layers.FAMILIES,
}


def _fully_connected_i8(n: Names, t: s.FullyConnectedInt8) -> str:
    q = t.quant
    return call_text("fully_connected_i8", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 *quant_args(n, q), "_ACC", t.batches, t.n_in, t.n_out, q.input_offset, q.output_zero_point,
                 q.act_min, q.act_max)


def _fully_connected_f(n: Names, t: s.FullyConnectedFloat) -> str:
    return call_text("fully_connected_f", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 t.batches, t.n_in, t.n_out, clamp_literal(t.act_min), clamp_literal(t.act_max))


def _kernel(depthwise: bool) -> str:
    return "depthwise_conv_2d" if depthwise else "conv_2d"


def _conv_i8(n: Names, t: s.ConvInt8) -> str:
    q = t.quant
    return call_text(_kernel(t.depthwise) + "_i8", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 *quant_args(n, q), n.array(Const(np.asarray(conv_row(t.geometry, t.depthwise), np.int32))),
                 *(["_ACC"] if t.depthwise else ["_ACC", "_COL"]), t.geometry.out_h, q.input_offset,
                 q.output_zero_point, q.act_min, q.act_max)


def _transpose_conv_i8(n: Names, t: s.TransposeConvInt8) -> str:
    """The portable paths' transpose convolution: the spread onto the grid, then its convolution."""
    return f"{_gather(n, t.spread)}; {_conv_i8(n, t.conv)}"


def _conv_f(n: Names, t: s.ConvFloat) -> str:
    return call_text(_kernel(t.depthwise) + "_f", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 n.small_tuple(conv_row(t.geometry, t.depthwise)), t.geometry.out_h, clamp_literal(t.act_min),
                 clamp_literal(t.act_max))


def _pool_i8(n: Names, t: s.PoolInt8) -> str:
    x, y = n.operand(t.x), n.buffer(t.y)
    if t.average:
        return call_text("average_pool_2d_i8", x, y, n.small_tuple(pool_row(t.geometry)), t.act_min, t.act_max)
    geometry = n.array(Const(np.asarray(pool_row(t.geometry), np.int32)))
    return call_text("max_pool_2d_i8", x, y, geometry, t.act_min, t.act_max)


def _pool_f(n: Names, t: s.PoolFloat) -> str:
    return call_text("pool_2d_f", n.operand(t.x), n.buffer(t.y), n.small_tuple(pool_row(t.geometry)), t.average,
                 clamp_literal(t.act_min), clamp_literal(t.act_max))


def _softmax_i8(n: Names, t: s.SoftmaxInt8) -> str:
    exps = n.array(Const(exp_limbs(t.exp_table.values)))
    return call_text("softmax_i8", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, exps, n.array(t.rescaled_table), "_I32")


def _softmax_f(n: Names, t: s.SoftmaxFloat) -> str:
    return call_text("softmax_f", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, repr(t.beta))


def _quantize(n: Names, t: s.QuantizeFloatToInt8) -> str:
    return call_text("quantize_f_i8", n.operand(t.x), n.buffer(t.y), t.count, repr(t.scale), t.zero_point, t.act_min,
                 t.act_max)


def _requantize(n: Names, t: s.RequantizeInt8) -> str:
    return call_text("requantize_i8", n.operand(t.x), n.buffer(t.y), t.count, t.input_zero_point,
                 *scalar_quant(n, t.multiplier, t.shift), t.output_zero_point, t.act_min, t.act_max, "_EW_A")


def _dequantize(n: Names, t: s.DequantizeInt8) -> str:
    return call_text("dequantize_i8", n.operand(t.x), n.buffer(t.y), t.count, repr(t.scale), t.zero_point)


def _gather(n: Names, t: s.Gather) -> str:
    kernel = "gather_i8" if int8_gather(n.program, t) else "gather"
    return call_text(kernel, n.operand(t.x), n.buffer(t.y), n.array(t.index), t.pad)


def int8_gather(program: Program, t: Step) -> bool:
    """A Gather (or GatherRuns) between int8 buffers: ops_int8's hot gather_i8 (gather_runs_i8) copies it."""
    if not isinstance(t, (s.Gather, s.GatherRuns)) or program.buffer(t.y).dtype != "int8":
        return False
    return (t.x.dtype if isinstance(t.x, Const) else program.buffer(t.x).dtype) == "int8"


def family(program: Program, t: Step) -> str:
    """The device file a step's kernel is in: int8 gathers and int8 MAXIMUM, MINIMUM run hot loops
    (ops_int8's), the other steps their type's file."""
    if int8_gather(program, t) or (isinstance(t, s.BinaryMath) and t.dtype == "int8"):
        return "ops_int8"
    return FAMILIES[type(t)]


# The steps whose kernels work through the element-wise scratch (_EW_A, _EW_B).
ELEMENTWISE = (s.AddInt8, s.MulInt8, s.RequantizeInt8, s.MeanInt8, s.SquaredDifferenceInt8,
               *micropython_compare.SCRATCH_STEPS)


def _gather_runs(n: Names, t: s.GatherRuns) -> str:
    if int8_gather(n.program, t):
        return call_text("gather_runs_i8", 0, 0, 0, n.operand(t.x), n.buffer(t.y), n.array(t.index), t.run, t.pad)
    return call_text("gather_runs", n.operand(t.x), n.buffer(t.y), n.array(t.index), t.run, t.pad)


def _scatter(n: Names, t: s.Scatter) -> str:
    return call_text("scatter", n.operand(t.x), n.buffer(t.y), n.array(t.index))


def _binary_operands(n: Names, t: s.Binary) -> list[str]:
    # The index maps first: the lowering computes them before it reads the inputs.
    i1, i2 = n.index(t.x1_index), n.index(t.x2_index)
    return [n.operand(t.x1), i1, n.operand(t.x2), i2, n.buffer(t.y)]


def _mapped_operands(n: Names, t: s.Binary) -> list[object]:
    """x1, map1, use1, x2, map2, use2, y for the hot int8 ops: each input with its index map and 1,
    or with itself and 0 where it has none (a viper function cannot take None for a buffer)."""
    x1, i1, x2, i2, y = _binary_operands(n, t)
    return [x1, x1 if i1 == "None" else i1, int(i1 != "None"), x2, x2 if i2 == "None" else i2, int(i2 != "None"), y]


def _add_i8(n: Names, t: s.AddInt8) -> str:
    operands = _mapped_operands(n, t)
    multipliers = [*scalar_quant(n, t.input1_multiplier, t.input1_shift),
                   *scalar_quant(n, t.input2_multiplier, t.input2_shift),
                   *scalar_quant(n, t.output_multiplier, t.output_shift)]
    return call_text("add_i8", *operands, t.count, t.input1_offset, t.input2_offset, t.output_zero_point, t.act_min,
                 t.act_max, t.sign, _name_tuple(n, multipliers), "_EW_A", "_EW_B")


def _mul_i8(n: Names, t: s.MulInt8) -> str:
    operands = _mapped_operands(n, t)
    limbs, shift = scalar_quant(n, t.output_multiplier, t.output_shift)
    return call_text("mul_i8", *operands, t.count, t.input1_offset, t.input2_offset, t.output_zero_point, t.act_min,
                 t.act_max, limbs, shift, "_EW_A")


def _squared_difference_i8(n: Names, t: s.SquaredDifferenceInt8) -> str:
    operands = _mapped_operands(n, t)
    multipliers = [*scalar_quant(n, t.input1_multiplier, t.input1_shift),
                   *scalar_quant(n, t.input2_multiplier, t.input2_shift),
                   *scalar_quant(n, t.output_multiplier, t.output_shift)]
    return call_text("squared_difference_i8", *operands, t.count, t.input1_offset, t.input2_offset, t.output_zero_point,
                 _name_tuple(n, multipliers), "_EW_A", "_EW_B")


def _binary_f(n: Names, t: s.BinaryFloat) -> str:
    return call_text(f"{t.kind}_f", *_binary_operands(n, t), t.count, clamp_literal(t.act_min), clamp_literal(t.act_max))


def _binary_math(n: Names, t: s.BinaryMath) -> str:
    if t.dtype == "int8":  # MAXIMUM, MINIMUM: a hot loop, as the other int8 ops
        return call_text("extremum_i8", 0, 0, 0, *_mapped_operands(n, t), t.count, int(t.kind == "maximum"))
    if t.kind in ("maximum", "minimum"):  # float32 and int16 arrays alike
        return call_text(t.kind, *_binary_operands(n, t), t.count)
    clamp = [clamp_literal(t.act_min), clamp_literal(t.act_max)] if t.kind == "div" else []  # only DIV has a fused activation
    return call_text(f"{t.kind}_f", *_binary_operands(n, t), t.count, *clamp)


def _lookup(n: Names, t: s.LookupInt8) -> str:
    return call_text("lookup_i8", n.operand(t.x), n.buffer(t.y), t.count, n.array(t.table))


def _unary_f(n: Names, t: s.UnaryFloat) -> str:
    return call_text(f"{t.kind}_f", n.operand(t.x), n.buffer(t.y), t.count)


def _channel_lookup(n: Names, t: s.ChannelLookupInt8) -> str:
    return call_text("lookup_channels_i8", n.operand(t.x), n.buffer(t.y), t.count, t.channels, n.array(t.tables))


def _prelu_f(n: Names, t: s.PreluFloat) -> str:
    return call_text("prelu_f", n.operand(t.x), n.buffer(t.y), t.count, n.array(t.alpha))


def _batch_matmul_i8(n: Names, t: s.BatchMatMulInt8) -> str:
    return call_text("batch_matmul_i8", n.operand(t.x1), n.operand(t.x2), n.buffer(t.y), n.array(t.layout), "_ACC",
                 *scalar_quant(n, t.multiplier, t.shift), t.lhs_offset, t.rhs_offset, t.output_zero_point)


def _batch_matmul_f(n: Names, t: s.BatchMatMulFloat) -> str:
    return call_text("batch_matmul_f", n.operand(t.x1), n.operand(t.x2), n.buffer(t.y), n.array(t.layout))


def _math_f(n: Names, t: s.MathFloat) -> str:
    return call_text(f"{t.kind}_f", n.operand(t.x), n.buffer(t.y), t.count, repr(t.alpha))


def _name_tuple_text(items: list) -> str:  # type: ignore[type-arg]
    return "(" + ", ".join(str(item) for item in items) + ("," if len(items) == 1 else "") + ")"


def _name_tuple(n: Names, items: list[str]) -> str:
    """A tuple of constant names (and ints), itself a module constant."""
    return n.constant("p", _name_tuple_text(items))


def _groups(n: Names, groups: Const) -> str:
    rows = groups.values.tolist()
    return n.constant("g", "(" + ", ".join("(" + ", ".join(str(v) for v in row) + ",)" for row in rows) + ",)")


def _mean_i8(n: Names, t: s.MeanInt8) -> str:
    # the index groups flat (int32): the hot loop reads them with a pointer
    outputs, count = t.groups.values.shape
    groups = n.array(Const(np.ascontiguousarray(t.groups.values, dtype=np.int32).reshape(-1)))
    return call_text("mean_i8", n.operand(t.x), n.buffer(t.y), groups, count, outputs, t.input_zero_point,
                 *scalar_quant(n, t.multiplier, t.shift), t.output_zero_point, "_EW_A")


def _reduce_i8(n: Names, t: s.ReduceInt8) -> str:
    outputs, count = t.groups.values.shape
    groups = n.array(Const(np.ascontiguousarray(t.groups.values, dtype=np.int32).reshape(-1)))
    return call_text("reduce_i8", n.operand(t.x), n.buffer(t.y), groups, count, outputs, int(t.kind == "max"))


def _reduce_f(n: Names, t: s.ReduceFloat) -> str:
    return call_text("reduce_f", n.operand(t.x), n.buffer(t.y), _groups(n, t.groups), repr(t.kind))


def _mean_f(n: Names, t: s.MeanFloat) -> str:
    return call_text("mean_f", n.operand(t.x), n.buffer(t.y), _groups(n, t.groups))


def _lstm_gates(n: Names, gates: tuple[s.LstmGate, ...]) -> str:
    # Each gate's arrays are named before the call's operands: the lowering builds them first.
    texts = ["(" + ", ".join(n.array(c) for c in (g.input_weights, g.recurrent_weights, g.bias)) + ")" for g in gates]
    return "(" + ", ".join(texts) + ")"


def _state(n: Names, state: s.LstmState) -> tuple[str, str, list[str]]:
    return n.buffer(state.hidden), n.buffer(state.cell), [n.buffer(g) for g in state.gates]


def _lstm_i8(n: Names, t: s.LstmInt8) -> str:
    gates = _lstm_gates(n, t.gates)
    x, y = n.operand(t.x), n.buffer(t.y)
    gates_name = n.constant("l", gates)
    c = t.cell_quant
    # Per gate: the input and recurrent multipliers (limbs and shift arrays), the offsets and the
    # activation; then the cell's multipliers, the clip, the tanh input scaling and the zero point.
    params = [[*scalar_quant(n, q.input_multiplier, q.input_shift),
               *scalar_quant(n, q.recurrent_multiplier, q.recurrent_shift), q.input_offset, q.hidden_offset,
               int(q.sigmoid)] for q in t.gate_quant]
    params.append([*scalar_quant(n, c.forget_multiplier, c.forget_shift),
                   *scalar_quant(n, c.input_multiplier, c.input_shift),
                   *scalar_quant(n, c.hidden_multiplier, c.hidden_shift), c.quantized_clip, c.tanh_multiplier,
                   c.tanh_shift, c.hidden_zero_point])
    params_name = n.constant("p", "(" + ", ".join(_name_tuple_text(row) for row in params) + ")")
    hidden, cell, scratch = _state(n, t.state)
    st = t.state
    return call_text("lstm_i8", x, y, gates_name, params_name, st.steps, st.n_in, st.n_state, hidden, cell,
                 "_ACC", *scratch)


def _lstm_f(n: Names, t: s.LstmFloat) -> str:
    gates = _lstm_gates(n, t.gates)
    x, y = n.operand(t.x), n.buffer(t.y)
    hidden, cell, scratch = _state(n, t.state)
    st = t.state
    return call_text("lstm_f", x, y, n.constant("l", gates), t.cell_sigmoid, repr(t.clip), st.steps, st.n_in,
                 st.n_state, hidden, cell, *scratch)


FORMATTERS: dict[type, Callable[[Names, Step], str]] = {  # type: ignore[dict-item]
    s.FullyConnectedInt8: _fully_connected_i8, s.FullyConnectedFloat: _fully_connected_f,
    s.ConvInt8: _conv_i8, s.TransposeConvInt8: _transpose_conv_i8, s.ConvFloat: _conv_f, s.PoolInt8: _pool_i8, s.PoolFloat: _pool_f,
    s.SoftmaxInt8: _softmax_i8, s.SoftmaxFloat: _softmax_f, s.QuantizeFloatToInt8: _quantize,
    s.RequantizeInt8: _requantize, s.DequantizeInt8: _dequantize, s.Gather: _gather, s.Scatter: _scatter,
    s.AddInt8: _add_i8, s.MulInt8: _mul_i8, s.BinaryFloat: _binary_f, s.LookupInt8: _lookup,
    s.UnaryFloat: _unary_f, s.MeanInt8: _mean_i8, s.MeanFloat: _mean_f, s.LstmInt8: _lstm_i8, s.LstmFloat: _lstm_f,
    s.MathFloat: _math_f, s.ChannelLookupInt8: _channel_lookup, s.PreluFloat: _prelu_f,
    s.BatchMatMulInt8: _batch_matmul_i8, s.BatchMatMulFloat: _batch_matmul_f, s.ReduceInt8: _reduce_i8,
    s.ReduceFloat: _reduce_f,
    s.BinaryMath: _binary_math, s.SquaredDifferenceInt8: _squared_difference_i8, s.Transpose: _gather_runs,
    s.GatherRuns: _gather_runs,
    **micropython_int16.FORMATTERS, **micropython_compare.FORMATTERS,
    **micropython_layers.FORMATTERS,
}


def im2col_bytes(program: Program) -> int:
    """The portable conv_2d_i8's window scratch (_COL): the largest k_h * k_w * in_c."""
    convolutions = [t.conv if isinstance(t, s.TransposeConvInt8) else t for t in program.steps]
    return max((t.geometry.k_h * t.geometry.k_w * t.geometry.in_c for t in convolutions
                if isinstance(t, s.ConvInt8) and not t.depthwise), default=0)


def calls(program: Program) -> tuple[list[tuple[str, str]], Names, str]:
    """(op name, call) per step, the module's constants so far (the names those calls read) and the
    name the output is read from."""
    names = Names(program)
    lines = [(step.op, FORMATTERS[type(step)](names, step)) for step in program.steps]
    output = names.operand(program.output)
    return lines, names, output
