"""Each Program step as a MicroPython call on the device kernels (device/), and the module-level
constants those calls read. Constants are named in the order the calls first use them and shared
by content, so the same program always gives the same module text."""
from __future__ import annotations

from typing import Callable

import numpy as np

from helpers.emit import micropython_int16
from helpers.lowering import steps as s
from helpers.lowering.program import Buffer, Const, Operand, Program, Step

# The array type code that holds each buffer dtype on the board.
TYPECODES = {"int8": "b", "int16": "h", "float32": "f"}
# Which device file holds each step's kernel.
FAMILIES: dict[type, str] = {
    s.FullyConnectedInt8: "ops_int8", s.ConvInt8: "ops_int8", s.PoolInt8: "ops_int8", s.SoftmaxInt8: "ops_int8",
    s.QuantizeFloatToInt8: "ops_int8", s.RequantizeInt8: "ops_int8", s.DequantizeInt8: "ops_int8",
    s.AddInt8: "ops_int8", s.MulInt8: "ops_int8", s.LookupInt8: "ops_int8", s.MeanInt8: "ops_int8",
    s.FullyConnectedFloat: "ops_float", s.ConvFloat: "ops_float", s.PoolFloat: "ops_float",
    s.SoftmaxFloat: "ops_float", s.BinaryFloat: "ops_float", s.UnaryFloat: "ops_float", s.MeanFloat: "ops_float",
    s.Gather: "gather", s.Scatter: "gather", s.LstmInt8: "lstm", s.LstmFloat: "lstm", s.MathFloat: "math_float",
    s.ChannelLookupInt8: "ops_int8", s.PreluFloat: "math_float", s.BatchMatMulInt8: "ops_int8",
    s.BatchMatMulFloat: "math_float", **micropython_int16.FAMILIES,
}


def bytes_literal(data: bytes) -> str:
    return "b'" + "".join(f"\\x{b:02x}" for b in data) + "'"


def buffer_name(buffer: Buffer) -> str:
    return f"_g{buffer.id}" if buffer.role == "scratch" else f"_t{buffer.id}"


class Names:
    """The module's constants, named in first-use order and shared by their text."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.constants: list[tuple[str, str]] = []
        self._by_text: dict[str, str] = {}

    def constant(self, prefix: str, text: str) -> str:
        if text not in self._by_text:
            name = f"_{prefix}_{len(self.constants)}"
            self.constants.append((name, text))
            self._by_text[text] = name
        return self._by_text[text]

    def array(self, const: Const) -> str:
        """int8 (and uint8 tables) as bytes; int32 and float32 as arrays."""
        values = const.values
        if values.dtype in (np.int8, np.uint8):
            return self.constant("w", bytes_literal(values.tobytes()))
        if values.dtype == np.int32:
            return self.constant("i", f"_array('i', {bytes_literal(values.astype('<i4').tobytes())})")
        if values.dtype == np.int16:
            return self.constant("h", f"_array('h', {bytes_literal(values.astype('<i2').tobytes())})")
        return self.constant("f", f"_array('f', {bytes_literal(values.astype('<f4').tobytes())})")

    def small_tuple(self, values: list | tuple) -> str:  # type: ignore[type-arg]
        items = ", ".join(repr(v) for v in values)
        return self.constant("p", f"({items},)" if len(values) == 1 else f"({items})")

    def operand(self, operand: Operand) -> str:
        if isinstance(operand, Const):
            return self.array(operand)
        return buffer_name(self.program.buffer(operand))

    def index(self, const: Const | None) -> str:
        return "None" if const is None else self.array(const)

    def buffer(self, buffer_id: int) -> str:
        return buffer_name(self.program.buffer(buffer_id))


def _clamp(value: float) -> str:
    return "-3.4e38" if value == -np.inf else "3.4e38" if value == np.inf else repr(value)


def _call(kernel: str, *args: object) -> str:
    return f"{kernel}({', '.join(str(a) for a in args)})"


def _conv_row(g: s.ConvGeometry, depthwise: bool) -> list[int]:
    return [g.in_h, g.in_w, g.in_c, g.out_w, g.depth_multiplier if depthwise else g.out_c, g.k_h, g.k_w,
            g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.pad_top, g.pad_left]


def _pool_row(g: s.PoolGeometry) -> list[int]:
    return [g.in_h, g.in_w, g.channels, g.out_h, g.out_w, g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left]


def multiplier_limbs(multipliers: np.ndarray) -> np.ndarray:
    """Each fixed-point multiplier (0 <= m < 2**31) as three 14-bit limbs, low first: what the
    requantization multiplies by on the board without a big int."""
    m = multipliers.astype(np.int64)
    return np.stack([m & 16383, (m >> 14) & 16383, m >> 28], axis=-1).reshape(-1).astype(np.int16)


def _quant_args(n: Names, q: s.Requantization) -> tuple[str, str]:
    return n.array(Const(multiplier_limbs(q.multipliers.values))), n.array(q.shifts)


def _scalar_quant(n: Names, multiplier: int, shift: int) -> list[str]:
    """One per-tensor multiplier as the limbs and shift arrays scale_acc reads (hot.py)."""
    return [n.array(Const(multiplier_limbs(np.asarray([multiplier])))), n.array(Const(np.asarray([shift], np.int32)))]


def exp_limbs(exps: np.ndarray) -> np.ndarray:
    """Each Q0.31 exp (0 <= e < 2**31) as three 11-bit limbs, low first: softmax_out's operand."""
    e = exps.astype(np.int64)
    return np.stack([e & 2047, (e >> 11) & 2047, e >> 22], axis=-1).reshape(-1).astype(np.int16)


def _fully_connected_i8(n: Names, t: s.FullyConnectedInt8) -> str:
    q = t.quant
    return _call("fully_connected_i8", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 *_quant_args(n, q), "_ACC", t.batches, t.n_in, t.n_out, q.input_offset, q.output_zero_point,
                 q.act_min, q.act_max)


def _fully_connected_f(n: Names, t: s.FullyConnectedFloat) -> str:
    return _call("fully_connected_f", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 t.batches, t.n_in, t.n_out, _clamp(t.act_min), _clamp(t.act_max))


def _kernel(depthwise: bool) -> str:
    return "depthwise_conv_2d" if depthwise else "conv_2d"


def _conv_i8(n: Names, t: s.ConvInt8) -> str:
    q = t.quant
    return _call(_kernel(t.depthwise) + "_i8", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 *_quant_args(n, q), n.array(Const(np.asarray(_conv_row(t.geometry, t.depthwise), np.int32))),
                 *(["_ACC"] if t.depthwise else ["_ACC", "_COL"]), t.geometry.out_h, q.input_offset,
                 q.output_zero_point, q.act_min, q.act_max)


def _conv_f(n: Names, t: s.ConvFloat) -> str:
    return _call(_kernel(t.depthwise) + "_f", n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias),
                 n.small_tuple(_conv_row(t.geometry, t.depthwise)), t.geometry.out_h, _clamp(t.act_min),
                 _clamp(t.act_max))


def _pool_i8(n: Names, t: s.PoolInt8) -> str:
    x, y = n.operand(t.x), n.buffer(t.y)
    if t.average:
        return _call("average_pool_2d_i8", x, y, n.small_tuple(_pool_row(t.geometry)), t.act_min, t.act_max)
    geometry = n.array(Const(np.asarray(_pool_row(t.geometry), np.int32)))
    return _call("max_pool_2d_i8", x, y, geometry, t.act_min, t.act_max)


def _pool_f(n: Names, t: s.PoolFloat) -> str:
    return _call("pool_2d_f", n.operand(t.x), n.buffer(t.y), n.small_tuple(_pool_row(t.geometry)), t.average,
                 _clamp(t.act_min), _clamp(t.act_max))


def _softmax_i8(n: Names, t: s.SoftmaxInt8) -> str:
    exps = n.array(Const(exp_limbs(t.exp_table.values)))
    return _call("softmax_i8", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, exps, n.array(t.rescaled_table), "_I32")


def _softmax_f(n: Names, t: s.SoftmaxFloat) -> str:
    return _call("softmax_f", n.operand(t.x), n.buffer(t.y), t.rows, t.depth, repr(t.beta))


def _quantize(n: Names, t: s.QuantizeFloatToInt8) -> str:
    return _call("quantize_f_i8", n.operand(t.x), n.buffer(t.y), t.count, repr(t.scale), t.zero_point, t.act_min,
                 t.act_max)


def _requantize(n: Names, t: s.RequantizeInt8) -> str:
    return _call("requantize_i8", n.operand(t.x), n.buffer(t.y), t.count, t.input_zero_point,
                 *_scalar_quant(n, t.multiplier, t.shift), t.output_zero_point, t.act_min, t.act_max, "_EW_A")


def _dequantize(n: Names, t: s.DequantizeInt8) -> str:
    return _call("dequantize_i8", n.operand(t.x), n.buffer(t.y), t.count, repr(t.scale), t.zero_point)


def _gather(n: Names, t: s.Gather) -> str:
    kernel = "gather_i8" if int8_gather(n.program, t) else "gather"
    return _call(kernel, n.operand(t.x), n.buffer(t.y), n.array(t.index), t.pad)


def int8_gather(program: Program, t: Step) -> bool:
    """A Gather between int8 buffers: ops_int8's hot gather_i8 copies it."""
    if not isinstance(t, s.Gather) or program.buffer(t.y).dtype != "int8":
        return False
    return (t.x.dtype if isinstance(t.x, Const) else program.buffer(t.x).dtype) == "int8"


# The steps whose kernels work through the element-wise scratch (_EW_A, _EW_B).
ELEMENTWISE = (s.AddInt8, s.MulInt8, s.RequantizeInt8, s.MeanInt8)


def _scatter(n: Names, t: s.Scatter) -> str:
    return _call("scatter", n.operand(t.x), n.buffer(t.y), n.array(t.index))


def _binary_operands(n: Names, t: s.AddInt8 | s.MulInt8 | s.BinaryFloat) -> list[str]:
    # The index maps first: the lowering computes them before it reads the inputs.
    i1, i2 = n.index(t.x1_index), n.index(t.x2_index)
    return [n.operand(t.x1), i1, n.operand(t.x2), i2, n.buffer(t.y)]


def _mapped_operands(n: Names, t: s.AddInt8 | s.MulInt8) -> list[object]:
    """x1, map1, use1, x2, map2, use2, y for the hot int8 ops: each input with its index map and 1,
    or with itself and 0 where it has none (a viper function cannot take None for a buffer)."""
    x1, i1, x2, i2, y = _binary_operands(n, t)
    return [x1, x1 if i1 == "None" else i1, int(i1 != "None"), x2, x2 if i2 == "None" else i2, int(i2 != "None"), y]


def _add_i8(n: Names, t: s.AddInt8) -> str:
    operands = _mapped_operands(n, t)
    multipliers = [*_scalar_quant(n, t.input1_multiplier, t.input1_shift),
                   *_scalar_quant(n, t.input2_multiplier, t.input2_shift),
                   *_scalar_quant(n, t.output_multiplier, t.output_shift)]
    return _call("add_i8", *operands, t.count, t.input1_offset, t.input2_offset, t.output_zero_point, t.act_min,
                 t.act_max, t.sign, _name_tuple(n, multipliers), "_EW_A", "_EW_B")


def _mul_i8(n: Names, t: s.MulInt8) -> str:
    operands = _mapped_operands(n, t)
    limbs, shift = _scalar_quant(n, t.output_multiplier, t.output_shift)
    return _call("mul_i8", *operands, t.count, t.input1_offset, t.input2_offset, t.output_zero_point, t.act_min,
                 t.act_max, limbs, shift, "_EW_A")


def _binary_f(n: Names, t: s.BinaryFloat) -> str:
    return _call(f"{t.kind}_f", *_binary_operands(n, t), t.count, _clamp(t.act_min), _clamp(t.act_max))


def _lookup(n: Names, t: s.LookupInt8) -> str:
    return _call("lookup_i8", n.operand(t.x), n.buffer(t.y), t.count, n.array(t.table))


def _unary_f(n: Names, t: s.UnaryFloat) -> str:
    return _call(f"{t.kind}_f", n.operand(t.x), n.buffer(t.y), t.count)


def _channel_lookup(n: Names, t: s.ChannelLookupInt8) -> str:
    return _call("lookup_channels_i8", n.operand(t.x), n.buffer(t.y), t.count, t.channels, n.array(t.tables))


def _prelu_f(n: Names, t: s.PreluFloat) -> str:
    return _call("prelu_f", n.operand(t.x), n.buffer(t.y), t.count, n.array(t.alpha))


def _batch_matmul_i8(n: Names, t: s.BatchMatMulInt8) -> str:
    return _call("batch_matmul_i8", n.operand(t.x1), n.operand(t.x2), n.buffer(t.y), n.array(t.layout), "_ACC",
                 *_scalar_quant(n, t.multiplier, t.shift), t.lhs_offset, t.rhs_offset, t.output_zero_point)


def _batch_matmul_f(n: Names, t: s.BatchMatMulFloat) -> str:
    return _call("batch_matmul_f", n.operand(t.x1), n.operand(t.x2), n.buffer(t.y), n.array(t.layout))


def _math_f(n: Names, t: s.MathFloat) -> str:
    return _call(f"{t.kind}_f", n.operand(t.x), n.buffer(t.y), t.count, repr(t.alpha))


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
    return _call("mean_i8", n.operand(t.x), n.buffer(t.y), groups, count, outputs, t.input_zero_point,
                 *_scalar_quant(n, t.multiplier, t.shift), t.output_zero_point, "_EW_A")


def _mean_f(n: Names, t: s.MeanFloat) -> str:
    return _call("mean_f", n.operand(t.x), n.buffer(t.y), _groups(n, t.groups))


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
    params = [[*_scalar_quant(n, q.input_multiplier, q.input_shift),
               *_scalar_quant(n, q.recurrent_multiplier, q.recurrent_shift), q.input_offset, q.hidden_offset,
               int(q.sigmoid)] for q in t.gate_quant]
    params.append([*_scalar_quant(n, c.forget_multiplier, c.forget_shift),
                   *_scalar_quant(n, c.input_multiplier, c.input_shift),
                   *_scalar_quant(n, c.hidden_multiplier, c.hidden_shift), c.quantized_clip, c.tanh_multiplier,
                   c.tanh_shift, c.hidden_zero_point])
    params_name = n.constant("p", "(" + ", ".join(_name_tuple_text(row) for row in params) + ")")
    hidden, cell, scratch = _state(n, t.state)
    st = t.state
    return _call("lstm_i8", x, y, gates_name, params_name, st.steps, st.n_in, st.n_state, hidden, cell,
                 "_ACC", *scratch)


def _lstm_f(n: Names, t: s.LstmFloat) -> str:
    gates = _lstm_gates(n, t.gates)
    x, y = n.operand(t.x), n.buffer(t.y)
    hidden, cell, scratch = _state(n, t.state)
    st = t.state
    return _call("lstm_f", x, y, n.constant("l", gates), t.cell_sigmoid, repr(t.clip), st.steps, st.n_in,
                 st.n_state, hidden, cell, *scratch)


FORMATTERS: dict[type, Callable[[Names, Step], str]] = {  # type: ignore[dict-item]
    s.FullyConnectedInt8: _fully_connected_i8, s.FullyConnectedFloat: _fully_connected_f,
    s.ConvInt8: _conv_i8, s.ConvFloat: _conv_f, s.PoolInt8: _pool_i8, s.PoolFloat: _pool_f,
    s.SoftmaxInt8: _softmax_i8, s.SoftmaxFloat: _softmax_f, s.QuantizeFloatToInt8: _quantize,
    s.RequantizeInt8: _requantize, s.DequantizeInt8: _dequantize, s.Gather: _gather, s.Scatter: _scatter,
    s.AddInt8: _add_i8, s.MulInt8: _mul_i8, s.BinaryFloat: _binary_f, s.LookupInt8: _lookup,
    s.UnaryFloat: _unary_f, s.MeanInt8: _mean_i8, s.MeanFloat: _mean_f, s.LstmInt8: _lstm_i8, s.LstmFloat: _lstm_f,
    s.MathFloat: _math_f, s.ChannelLookupInt8: _channel_lookup, s.PreluFloat: _prelu_f,
    s.BatchMatMulInt8: _batch_matmul_i8, s.BatchMatMulFloat: _batch_matmul_f, **micropython_int16.FORMATTERS,
}


def im2col_bytes(program: Program) -> int:
    """The portable conv_2d_i8's window scratch (_COL): the largest k_h * k_w * in_c."""
    return max((t.geometry.k_h * t.geometry.k_w * t.geometry.in_c for t in program.steps
                if isinstance(t, s.ConvInt8) and not t.depthwise), default=0)


def calls(program: Program) -> tuple[list[tuple[str, str]], Names, str]:
    """(op name, call) per step, the module's constants so far (the names those calls read) and the
    name the output is read from."""
    names = Names(program)
    lines = [(step.op, FORMATTERS[type(step)](names, step)) for step in program.steps]
    output = names.operand(program.output)
    return lines, names, output
