"""Each Program step as C: a direct call into CMSIS-NN where it has the kernel (c_cmsis), else into
the engine's own kernels (c_kernels/, the arithmetic of TFLM's reference kernels), reading the
`static const` data CNames declares."""
from __future__ import annotations

from typing import Callable

import numpy as np

from helpers.emit import c_cmsis as cmsis
from helpers.emit import c_cmsis16, c_cmsis16_more, c_compare, c_layers, c_own_kernels
from helpers.emit.c_names import C_TYPES, CNames, c_int, c_real
from helpers.emit.c_transpose_conv import transpose_conv_i8
from helpers.emit.own_kernel_params import squared_difference_record
from helpers.lowering import steps as s
from helpers.lowering.program import Const, Program, Step

# Which own kernel file each step that is not a CMSIS-NN call needs (fixedpoint comes with ops_int8).
OWN_FAMILIES: dict[type, str] = {
    s.QuantizeFloatToInt8: "ops_int8", s.RequantizeInt8: "ops_int8", s.DequantizeInt8: "ops_int8",
    s.LookupInt8: "ops_int8", s.MeanInt8: "ops_int8", s.AddInt8: "ops_int8", s.MulInt8: "ops_int8",
    s.FullyConnectedFloat: "ops_float", s.ConvFloat: "ops_float", s.PoolFloat: "ops_float",
    s.SoftmaxFloat: "ops_float", s.BinaryFloat: "ops_float", s.UnaryFloat: "ops_float", s.MeanFloat: "ops_float",
    s.Gather: "gather", s.Scatter: "gather", s.LstmFloat: "lstm_float", s.MathFloat: "math_float",
    s.ChannelLookupInt8: "ops_int8", s.PreluFloat: "math_float", s.BatchMatMulInt8: "ops_int8",
    s.BatchMatMulFloat: "math_float", s.ReduceInt8: "ops_int8", s.ReduceFloat: "math_float", s.BinaryMath: "binary",
    s.SquaredDifferenceInt8: "ops_int8", s.Transpose: "gather", s.GatherRuns: "gather",
    **c_cmsis16.OWN_FAMILIES, **c_cmsis16_more.OWN_FAMILIES, **c_compare.OWN_FAMILIES,
    **c_layers.OWN_FAMILIES,
}


def _quantize(n: CNames, t: s.QuantizeFloatToInt8) -> str:
    return (f"mcu_quantize_f_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_real(t.scale)}, "
            f"{c_int(t.zero_point)}, {c_int(t.act_min)}, {c_int(t.act_max)});")


def _requantize(n: CNames, t: s.RequantizeInt8) -> str:
    args = [t.count, t.input_zero_point, t.multiplier, t.shift, t.output_zero_point, t.act_min, t.act_max]
    return f"mcu_requantize_i8({n.operand(t.x)}, {n.buffer(t.y)}, {', '.join(c_int(v) for v in args)});"


def _dequantize(n: CNames, t: s.DequantizeInt8) -> str:
    return (f"mcu_dequantize_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_real(t.scale)}, "
            f"{c_int(t.zero_point)});")


def _data_dtype(n: CNames, t: s.Gather | s.GatherRuns | s.Scatter) -> str:
    return n.program.buffer(t.y).dtype


def _pad(dtype: str, value: int | float) -> str:
    raw = int(value) if dtype != "float32" else 0
    return c_real(float(value)) if dtype == "float32" else str(raw - 256 if dtype == "int8" and raw > 127 else raw)


def _gather(n: CNames, t: s.Gather) -> str:
    dtype = _data_dtype(n, t)
    return (f"mcu_gather_{dtype}({n.operand(t.x, dtype)}, {n.buffer(t.y)}, {n.array(t.index)}, "
            f"{t.index.values.size}, ({C_TYPES[dtype]}){_pad(dtype, t.pad)});")


def _gather_runs(n: CNames, t: s.GatherRuns) -> str:
    dtype = _data_dtype(n, t)
    return (f"mcu_gather_runs_{dtype}({n.operand(t.x, dtype)}, {n.buffer(t.y)}, {n.array(t.index)}, "
            f"{t.index.values.size}, {t.run}, ({C_TYPES[dtype]}){_pad(dtype, t.pad)});")


def _transpose(n: CNames, t: s.Transpose) -> str:
    return cmsis.transpose_i8(n, t) if cmsis.transposes_in_cmsis(n.program, t) else _gather_runs(n, t)


def _scatter(n: CNames, t: s.Scatter) -> str:
    dtype = _data_dtype(n, t)
    return (f"mcu_scatter_{dtype}({n.operand(t.x, dtype)}, {n.buffer(t.y)}, {n.array(t.index)}, "
            f"{t.index.values.size});")


def _lookup(n: CNames, t: s.LookupInt8) -> str:
    return f"mcu_lookup_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {n.array(t.table)});"


def _mean_i8(n: CNames, t: s.MeanInt8) -> str:
    outputs, count = t.groups.values.shape
    args = [t.input_zero_point, t.multiplier, t.shift, t.output_zero_point]
    return (f"mcu_mean_i8({n.operand(t.x)}, {n.buffer(t.y)}, {n.array(t.groups)}, {outputs}, {count}, "
            f"{', '.join(c_int(v) for v in args)});")


def _fully_connected_f(n: CNames, t: s.FullyConnectedFloat) -> str:
    x, y, w, bias = n.operand(t.x), n.buffer(t.y), n.array(t.weights), _bias_f(n, t.bias, t.n_out)
    return (f"mcu_fully_connected_f({x}, {y}, {w}, {bias}, {t.batches}, {t.n_in}, {t.n_out}, "
            f"{c_real(t.act_min)}, {c_real(t.act_max)});")


def _bias_f(n: CNames, bias: Const | None, count: int) -> str:
    return n.array(bias if bias is not None else Const(np.zeros(count, np.float32)))


def _conv_f(n: CNames, t: s.ConvFloat) -> str:
    g = t.geometry
    x, y, w, bias = n.operand(t.x), n.buffer(t.y), n.array(t.weights), _bias_f(n, t.bias, g.out_c)
    geometry = n.record("mcu_conv_geometry", [str(v) for v in (
        g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.k_h, g.k_w, g.stride_h, g.stride_w, g.dilation_h,
        g.dilation_w, g.pad_top, g.pad_left)])
    kernel = "mcu_depthwise_conv_2d_f" if t.depthwise else "mcu_conv_2d_f"
    return f"{kernel}({x}, {y}, {w}, {bias}, &{geometry}, {c_real(t.act_min)}, {c_real(t.act_max)});"


def _pool_f(n: CNames, t: s.PoolFloat) -> str:
    g = t.geometry
    geometry = n.record("mcu_pool_geometry", [str(v) for v in (
        g.in_h, g.in_w, g.channels, g.out_h, g.out_w, g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left)])
    return (f"mcu_pool_2d_f({n.operand(t.x)}, {n.buffer(t.y)}, &{geometry}, {int(t.average)}, {c_real(t.act_min)}, "
            f"{c_real(t.act_max)});")


def _softmax_f(n: CNames, t: s.SoftmaxFloat) -> str:
    return f"mcu_softmax_f({n.operand(t.x)}, {n.buffer(t.y)}, {t.rows}, {t.depth}, {c_real(t.beta)});"


def _binary_f(n: CNames, t: s.BinaryFloat) -> str:
    i1, i2 = n.index(t.x1_index), n.index(t.x2_index)
    return (f"mcu_{t.kind}_f({n.operand(t.x1)}, {i1}, {n.operand(t.x2)}, {i2}, {n.buffer(t.y)}, {t.count}, "
            f"{c_real(t.act_min)}, {c_real(t.act_max)});")


def _binary_math(n: CNames, t: s.BinaryMath) -> str:
    if cmsis.extremum_in_cmsis(t):
        return cmsis.extremum_i8(n, t)
    i1, i2 = n.index(t.x1_index), n.index(t.x2_index)
    suffix = "f" if t.dtype == "float32" else t.dtype
    call = (f"mcu_{t.kind}_{suffix}({n.operand(t.x1, t.dtype)}, {i1}, {n.operand(t.x2, t.dtype)}, {i2}, "
            f"{n.buffer(t.y)}, {t.count}")
    # only DIV has a fused activation
    return call + (f", {c_real(t.act_min)}, {c_real(t.act_max)});" if t.kind == "div" else ");")


def _squared_difference_i8(n: CNames, t: s.SquaredDifferenceInt8) -> str:
    params = n.record("mcu_squared_difference_params", [c_int(v) for v in squared_difference_record(t)])
    return (f"mcu_squared_difference_i8({n.operand(t.x1)}, {n.index(t.x1_index)}, {n.operand(t.x2)}, "
            f"{n.index(t.x2_index)}, {n.buffer(t.y)}, {t.count}, &{params});")


def _unary_f(n: CNames, t: s.UnaryFloat) -> str:
    return f"mcu_{t.kind}_f({n.operand(t.x)}, {n.buffer(t.y)}, {t.count});"


def _math_f(n: CNames, t: s.MathFloat) -> str:
    return f"mcu_{t.kind}_f({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_real(t.alpha)});"


def _channel_lookup(n: CNames, t: s.ChannelLookupInt8) -> str:
    return (f"mcu_lookup_channels_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {t.channels}, "
            f"{n.array(t.tables)});")


def _prelu_f(n: CNames, t: s.PreluFloat) -> str:
    return (f"mcu_prelu_f({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {t.alpha.values.size}, "
            f"{n.array(t.alpha)});")


def _batch_matmul_i8(n: CNames, t: s.BatchMatMulInt8) -> str:
    args = [t.lhs_offset, t.rhs_offset, t.multiplier, t.shift, t.output_zero_point]
    return (f"mcu_batch_matmul_i8({n.operand(t.x1)}, {n.operand(t.x2)}, {n.buffer(t.y)}, {n.array(t.layout)}, "
            f"{', '.join(c_int(v) for v in args)});")


def _batch_matmul_f(n: CNames, t: s.BatchMatMulFloat) -> str:
    return f"mcu_batch_matmul_f({n.operand(t.x1)}, {n.operand(t.x2)}, {n.buffer(t.y)}, {n.array(t.layout)});"


_REDUCE_KINDS = {"sum": 0, "max": 1, "min": 2}


def _reduce_i8(n: CNames, t: s.ReduceInt8) -> str:
    outputs, count = t.groups.values.shape
    return (f"mcu_reduce_i8({n.operand(t.x)}, {n.buffer(t.y)}, {n.array(t.groups)}, {outputs}, {count}, "
            f"{int(t.kind == 'max')});")


def _reduce_f(n: CNames, t: s.ReduceFloat) -> str:
    outputs, count = t.groups.values.shape
    return (f"mcu_reduce_f({n.operand(t.x)}, {n.buffer(t.y)}, {n.array(t.groups)}, {outputs}, {count}, "
            f"{_REDUCE_KINDS[t.kind]});")


def _mean_f(n: CNames, t: s.MeanFloat) -> str:
    outputs, count = t.groups.values.shape
    return f"mcu_mean_f({n.operand(t.x)}, {n.buffer(t.y)}, {n.array(t.groups)}, {outputs}, {count});"


def _lstm_gates(n: CNames, gates: tuple[s.LstmGate, ...], type_name: str) -> str:
    records = []
    for gate in gates:
        bias = "NULL" if gate.bias is None else n.array(gate.bias)
        records.append("{" + f"{n.array(gate.input_weights)}, {n.array(gate.recurrent_weights)}, {bias}" + "}")
    return n._declare("p", type_name, f"[{len(gates)}]", "{" + ", ".join(records) + "}", 0)


def _state(n: CNames, state: s.LstmState) -> list[str]:
    return [n.buffer(state.hidden), n.buffer(state.cell)]


def _lstm_f(n: CNames, t: s.LstmFloat) -> str:
    gates = _lstm_gates(n, t.gates, "mcu_lstm_gate_f")
    x, y = n.operand(t.x), n.buffer(t.y)
    st = t.state
    scratch = ", ".join(n.buffer(g) for g in st.gates)
    return (f"mcu_lstm_f({x}, {y}, {gates}, {int(t.cell_sigmoid)}, {c_real(t.clip)}, {st.steps}, {st.n_in}, "
            f"{st.n_state}, {', '.join(_state(n, st))}, {scratch});")


def _conv_i8(n: CNames, t: s.ConvInt8) -> str:
    """CMSIS-NN's convolution, or on Armv7E-M the engine's own kernel where it was measured faster."""
    return c_own_kernels.conv_i8(n, t, cmsis.conv_i8(n, t))


def _fully_connected_i8(n: CNames, t: s.FullyConnectedInt8) -> str:
    """CMSIS-NN's fully connected kernel, or on Armv7E-M the engine's own where it takes the layer."""
    return c_own_kernels.fully_connected_i8(n, t, cmsis.fully_connected_i8(n, t))


FORMATTERS: dict[type, Callable[[CNames, Step], str]] = {  # type: ignore[dict-item]
    s.FullyConnectedInt8: _fully_connected_i8, s.FullyConnectedFloat: _fully_connected_f,
    s.ConvInt8: _conv_i8, s.TransposeConvInt8: transpose_conv_i8, s.ConvFloat: _conv_f, s.PoolInt8: cmsis.pool_i8, s.PoolFloat: _pool_f,
    s.SoftmaxInt8: cmsis.softmax_i8, s.SoftmaxFloat: _softmax_f, s.QuantizeFloatToInt8: _quantize,
    s.RequantizeInt8: _requantize, s.DequantizeInt8: _dequantize, s.Gather: _gather, s.Scatter: _scatter,
    s.AddInt8: cmsis.add_i8, s.MulInt8: cmsis.mul_i8, s.BinaryFloat: _binary_f, s.LookupInt8: _lookup,
    s.UnaryFloat: _unary_f, s.MeanInt8: _mean_i8, s.MeanFloat: _mean_f, s.LstmInt8: cmsis.lstm_i8, s.LstmFloat: _lstm_f,
    s.MathFloat: _math_f, s.ChannelLookupInt8: _channel_lookup, s.PreluFloat: _prelu_f,
    s.BatchMatMulInt8: _batch_matmul_i8, s.BatchMatMulFloat: _batch_matmul_f, s.ReduceInt8: _reduce_i8,
    s.ReduceFloat: _reduce_f,
    s.BinaryMath: _binary_math, s.SquaredDifferenceInt8: _squared_difference_i8, s.Transpose: _transpose,
    s.GatherRuns: _gather_runs,
    **c_cmsis16.FORMATTERS, **c_cmsis16_more.FORMATTERS, **c_compare.FORMATTERS,
    **c_layers.FORMATTERS,
}


def own_families(program: Program) -> list[str]:
    """The engine's own kernel files the program calls, in the order they are pasted."""
    # a TRANSPOSE or int8 MAXIMUM, MINIMUM that CMSIS-NN runs needs no kernel of the engine's own
    used = {OWN_FAMILIES[type(step)] for step in program.steps if type(step) in OWN_FAMILIES
            and not (isinstance(step, s.Transpose) and cmsis.transposes_in_cmsis(program, step))
            and not (isinstance(step, s.BinaryMath) and cmsis.extremum_in_cmsis(step))
            and not c_layers.svdf_in_cmsis(step)}
    order = ["ops_int8", "ops_float", "math_float", "gather", "lstm_float", "binary", "ops_int16", "compare",
             "layers"]
    return [family for family in order if family in used]


def c_calls(program: Program, cmsis_steps: frozenset[int] = frozenset(),
            cmsis_steps_v6m: frozenset[int] = frozenset()) -> tuple[list[tuple[str, str]], CNames]:
    """(op name, C statement) per step, and the names (constants, records, scratch) they read.
    `cmsis_steps` (`cmsis_steps_v6m`): steps an Armv7E-M (Armv6-M) own kernel could take that run
    CMSIS-NN's call there instead (measured faster)."""
    names = CNames(program, cmsis_steps=cmsis_steps, cmsis_steps_v6m=cmsis_steps_v6m)
    lines = []
    for index, step in enumerate(program.steps):
        names.step = index
        lines.append((step.op, FORMATTERS[type(step)](names, step)))
    # layers of one shape share one copy of their own kernel; the copies follow the constants
    lines, shared = names.shared.finish(lines)
    names.declarations.extend(shared)
    return lines, names
