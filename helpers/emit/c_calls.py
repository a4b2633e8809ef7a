"""Each Program step as C: a direct call into CMSIS-NN where it has the kernel (int8 fully connected,
convolution, depthwise convolution, pooling, softmax, and add and mul without broadcasting), else
into the engine's own kernels (c_kernels/), and the `static const` data those calls read. Constants
are named in first-use order and shared by content, so a program always gives the same text."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from helpers.emit.codegen import c_float
from helpers.lowering import steps as s
from helpers.lowering.program import Const, Operand, Program, Step

C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}
VALUES_PER_LINE = 16
_INT32_MIN = -(2 ** 31)
# Which own kernel file each step that is not a CMSIS-NN call needs (fixedpoint comes with ops_int8).
OWN_FAMILIES: dict[type, str] = {
    s.QuantizeFloatToInt8: "ops_int8", s.RequantizeInt8: "ops_int8", s.DequantizeInt8: "ops_int8",
    s.LookupInt8: "ops_int8", s.MeanInt8: "ops_int8", s.AddInt8: "ops_int8", s.MulInt8: "ops_int8",
    s.FullyConnectedFloat: "ops_float", s.ConvFloat: "ops_float", s.PoolFloat: "ops_float",
    s.SoftmaxFloat: "ops_float", s.BinaryFloat: "ops_float", s.UnaryFloat: "ops_float", s.MeanFloat: "ops_float",
    s.Gather: "gather", s.Scatter: "gather", s.LstmInt8: "lstm_int8", s.LstmFloat: "lstm_float",
}


def c_int(value: int) -> str:
    """An int32 literal that stays int32 (INT32_MIN is not a literal in C)."""
    return "(-2147483647 - 1)" if int(value) == _INT32_MIN else str(int(value))


def c_real(value: float) -> str:
    """A float literal; infinite clamps become +-FLT_MAX, which clamp nothing."""
    if value == np.inf:
        return "3.40282347e38f"
    if value == -np.inf:
        return "-3.40282347e38f"
    return c_float(float(np.float32(value)))


@dataclass
class CNames:
    """The engine's constants and parameter records, named in first-use order, shared by text."""

    program: Program
    declarations: list[str] = field(default_factory=list)
    constant_bytes: int = 0
    _by_text: dict[str, str] = field(default_factory=dict)
    uses_cmsis: bool = False
    uses_scratch_context: bool = False
    scratch_bytes: int = 0            # the largest CMSIS-NN context buffer a step needs (non-MVE cores)
    # What CMSIS-NN's own *_get_buffer_size functions say each step needs, as C expressions: the
    # self-test checks them against scratch_bytes on every core it runs on.
    scratch_queries: list[str] = field(default_factory=list)

    def _declare(self, prefix: str, type_text: str, suffix: str, body: str, nbytes: int) -> str:
        key = f"{type_text}{suffix}={body}"
        if key not in self._by_text:
            name = f"{prefix}{len(self.declarations)}"
            self.declarations.append(f"static const {type_text} {name}{suffix} = {body};")
            self._by_text[key] = name
            self.constant_bytes += nbytes
        return self._by_text[key]

    def array(self, const: Const) -> str:
        values = const.values.reshape(-1)
        ctype = C_TYPES[str(values.dtype)]
        if values.dtype == np.float32:
            items = [c_real(v) for v in values.tolist()]
        else:
            items = [c_int(v) for v in values.tolist()]
        lines = [", ".join(items[i:i + VALUES_PER_LINE]) for i in range(0, len(items), VALUES_PER_LINE)]
        body = "{\n    " + ",\n    ".join(lines) + "\n}" if items else "{0}"
        return self._declare("k", ctype, f"[{max(len(items), 1)}]", body, values.nbytes)

    def record(self, type_name: str, fields: list[str]) -> str:
        """A `static const` parameter struct, initialised in declaration order (C and C++ alike)."""
        return self._declare("p", type_name, "", "{" + ", ".join(fields) + "}", 0)

    def operand(self, operand: Operand, dtype: str | None = None) -> str:
        if isinstance(operand, Const):
            return self.array(operand)
        buffer = self.program.buffer(operand)
        return f"(({C_TYPES[dtype or buffer.dtype]} *)(mcu_arena + {buffer.offset}))"

    def buffer(self, buffer_id: int) -> str:
        return self.operand(buffer_id)

    def index(self, const: Const | None) -> str:
        return "NULL" if const is None else self.array(const)

    def need_scratch(self, nbytes: int) -> None:
        self.scratch_bytes = max(self.scratch_bytes, nbytes)


def _dims(n: CNames, shape: tuple[int, int, int, int]) -> str:
    return n.record("cmsis_nn_dims", [str(v) for v in shape])


def _is_per_tensor(q: s.Requantization) -> bool:
    multipliers, shifts = q.multipliers.values, q.shifts.values
    return bool(np.all(multipliers == multipliers[0]) and np.all(shifts == shifts[0]))


def _context(n: CNames, nbytes: int, query: str) -> str:
    n.need_scratch(nbytes)
    n.scratch_queries.append(query)
    n.uses_scratch_context = True
    return "&mcu_scratch_context"


def _fully_connected_i8(n: CNames, t: s.FullyConnectedInt8) -> str:
    q = t.quant
    n.uses_cmsis = True
    x, y, w, bias = n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias)
    params = n.record("cmsis_nn_fc_params", [c_int(q.input_offset), "0", c_int(q.output_zero_point),
                                             "{" + f"{c_int(q.act_min)}, {c_int(q.act_max)}" + "}"])
    dims = [_dims(n, (t.batches, 1, 1, t.n_in)), _dims(n, (t.n_in, 1, 1, t.n_out)), _dims(n, (1, 1, 1, t.n_out)),
            _dims(n, (t.batches, 1, 1, t.n_out))]
    if _is_per_tensor(q):
        quant = n.record("cmsis_nn_per_tensor_quant_params",
                         [c_int(q.multipliers.values[0]), c_int(q.shifts.values[0])])
        kernel = "arm_fully_connected_s8"
    else:
        quant = n.record("cmsis_nn_per_channel_quant_params",
                         [f"(int32_t *){n.array(q.multipliers)}", f"(int32_t *){n.array(q.shifts)}"])
        kernel = "arm_fully_connected_per_channel_s8"
    return (f"if ({kernel}(&mcu_empty_context, &{params}, &{quant}, &{dims[0]}, {x}, &{dims[1]}, {w}, &{dims[2]}, "
            f"{bias}, &{dims[3]}, {y}) != ARM_CMSIS_NN_SUCCESS) return -1;")


def _conv_i8(n: CNames, t: s.ConvInt8) -> str:
    g, q = t.geometry, t.quant
    n.uses_cmsis = True
    x, y, w, bias = n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias)
    quant = n.record("cmsis_nn_per_channel_quant_params",
                     [f"(int32_t *){n.array(q.multipliers)}", f"(int32_t *){n.array(q.shifts)}"])
    tiles = [f"{{{g.stride_w}, {g.stride_h}}}", f"{{{g.pad_left}, {g.pad_top}}}",
             f"{{{g.dilation_w}, {g.dilation_h}}}", f"{{{c_int(q.act_min)}, {c_int(q.act_max)}}}"]
    input_dims = _dims(n, (1, g.in_h, g.in_w, g.in_c))
    bias_dims = _dims(n, (1, 1, 1, g.out_c))
    output_dims = _dims(n, (1, g.out_h, g.out_w, g.out_c))
    if t.depthwise:
        params = n.record("cmsis_nn_dw_conv_params", [c_int(q.input_offset), c_int(q.output_zero_point),
                                                      str(g.depth_multiplier), *tiles])
        filter_dims = _dims(n, (1, g.k_h, g.k_w, g.out_c))
        # arm_depthwise_conv_wrapper_s8_get_buffer_size's largest case off MVE: the DSP opt kernel.
        context = _context(n, 2 * g.in_c * g.k_h * g.k_w if g.depth_multiplier == 1 else 0,
                           f"arm_depthwise_conv_wrapper_s8_get_buffer_size(&{params}, &{input_dims}, "
                           f"&{filter_dims}, &{output_dims})")
        kernel = "arm_depthwise_conv_wrapper_s8"
    else:
        params = n.record("cmsis_nn_conv_params", [c_int(q.input_offset), c_int(q.output_zero_point), *tiles])
        filter_dims = _dims(n, (g.out_c, g.k_h, g.k_w, g.in_c))
        columns = g.k_h * g.k_w * g.in_c
        # arm_convolve_s8's im2col buffer off MVE (the 1x1 kernels need none).
        context = _context(n, 4 * (columns + (-columns) % 4) if g.k_h * g.k_w > 1 else 0,
                           f"arm_convolve_wrapper_s8_get_buffer_size(&{params}, &{input_dims}, &{filter_dims}, "
                           f"&{output_dims})")
        kernel = "arm_convolve_wrapper_s8"
    return (f"if ({kernel}({context}, &{params}, &{quant}, &{input_dims}, {x}, &{filter_dims}, {w}, &{bias_dims}, "
            f"{bias}, &{output_dims}, {y}) != ARM_CMSIS_NN_SUCCESS) return -1;")


def _pool_i8(n: CNames, t: s.PoolInt8) -> str:
    g = t.geometry
    n.uses_cmsis = True
    x, y = n.operand(t.x), n.buffer(t.y)
    params = n.record("cmsis_nn_pool_params", [f"{{{g.stride_w}, {g.stride_h}}}", f"{{{g.pad_left}, {g.pad_top}}}",
                                               f"{{{c_int(t.act_min)}, {c_int(t.act_max)}}}"])
    dims = [_dims(n, (1, g.in_h, g.in_w, g.channels)), _dims(n, (1, g.k_h, g.k_w, 1)),
            _dims(n, (1, g.out_h, g.out_w, g.channels))]
    kernel = "arm_avgpool_s8" if t.average else "arm_max_pool_s8"
    context = (_context(n, 4 * g.channels, f"arm_avgpool_s8_get_buffer_size({g.out_w}, {g.channels})")
               if t.average else "&mcu_empty_context")
    return (f"if ({kernel}({context}, &{params}, &{dims[0]}, {x}, &{dims[1]}, &{dims[2]}, {y}) "
            "!= ARM_CMSIS_NN_SUCCESS) return -1;")


def _softmax_i8(n: CNames, t: s.SoftmaxInt8) -> str:
    n.uses_cmsis = True
    return (f"arm_softmax_s8({n.operand(t.x)}, {t.rows}, {t.depth}, {c_int(t.input_multiplier)}, "
            f"{t.input_left_shift}, {c_int(t.diff_min)}, {n.buffer(t.y)});")


def _add_i8(n: CNames, t: s.AddInt8) -> str:
    x1, x2, y = n.operand(t.x1), n.operand(t.x2), n.buffer(t.y)
    if t.sign == 1 and t.x1_index is None and t.x2_index is None:
        n.uses_cmsis = True
        args = [x1, x2, c_int(t.input1_offset), c_int(t.input1_multiplier), c_int(t.input1_shift),
                c_int(t.input2_offset), c_int(t.input2_multiplier), c_int(t.input2_shift), "20", y,
                c_int(t.output_zero_point), c_int(t.output_multiplier), c_int(t.output_shift), c_int(t.act_min),
                c_int(t.act_max), str(t.count)]
        return f"if (arm_elementwise_add_s8({', '.join(args)}) != ARM_CMSIS_NN_SUCCESS) return -1;"
    params = n.record("mcu_add_params", [c_int(v) for v in (
        t.input1_offset, t.input2_offset, t.input1_multiplier, t.input1_shift, t.input2_multiplier, t.input2_shift,
        t.output_multiplier, t.output_shift, t.output_zero_point, t.act_min, t.act_max, t.sign)])
    return f"mcu_add_i8({x1}, {n.index(t.x1_index)}, {x2}, {n.index(t.x2_index)}, {y}, {t.count}, &{params});"


def _mul_i8(n: CNames, t: s.MulInt8) -> str:
    x1, x2, y = n.operand(t.x1), n.operand(t.x2), n.buffer(t.y)
    if t.x1_index is None and t.x2_index is None:
        n.uses_cmsis = True
        args = [x1, x2, c_int(t.input1_offset), c_int(t.input2_offset), y, c_int(t.output_zero_point),
                c_int(t.output_multiplier), c_int(t.output_shift), c_int(t.act_min), c_int(t.act_max), str(t.count)]
        return f"if (arm_elementwise_mul_s8({', '.join(args)}) != ARM_CMSIS_NN_SUCCESS) return -1;"
    params = n.record("mcu_mul_params", [c_int(v) for v in (
        t.input1_offset, t.input2_offset, t.output_multiplier, t.output_shift, t.output_zero_point, t.act_min,
        t.act_max)])
    return f"mcu_mul_i8({x1}, {n.index(t.x1_index)}, {x2}, {n.index(t.x2_index)}, {y}, {t.count}, &{params});"


def _quantize(n: CNames, t: s.QuantizeFloatToInt8) -> str:
    return (f"mcu_quantize_f_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_real(t.scale)}, "
            f"{c_int(t.zero_point)}, {c_int(t.act_min)}, {c_int(t.act_max)});")


def _requantize(n: CNames, t: s.RequantizeInt8) -> str:
    args = [t.count, t.input_zero_point, t.multiplier, t.shift, t.output_zero_point, t.act_min, t.act_max]
    return f"mcu_requantize_i8({n.operand(t.x)}, {n.buffer(t.y)}, {', '.join(c_int(v) for v in args)});"


def _dequantize(n: CNames, t: s.DequantizeInt8) -> str:
    return (f"mcu_dequantize_i8({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_real(t.scale)}, "
            f"{c_int(t.zero_point)});")


def _data_dtype(n: CNames, t: s.Gather | s.Scatter) -> str:
    return n.program.buffer(t.y).dtype


def _gather(n: CNames, t: s.Gather) -> str:
    dtype = _data_dtype(n, t)
    raw = int(t.pad) if dtype != "float32" else 0
    pad = c_real(float(t.pad)) if dtype == "float32" else str(raw - 256 if dtype == "int8" and raw > 127 else raw)
    return (f"mcu_gather_{dtype}({n.operand(t.x, dtype)}, {n.buffer(t.y)}, {n.array(t.index)}, "
            f"{t.index.values.size}, ({C_TYPES[dtype]}){pad});")


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
    return (f"mcu_fully_connected_f({x}, {y}, {w}, {bias}, {t.batches}, {t.n_in}, {t.n_out}, {c_real(t.act_min)}, {c_real(t.act_max)});")


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


def _unary_f(n: CNames, t: s.UnaryFloat) -> str:
    return f"mcu_{t.kind}_f({n.operand(t.x)}, {n.buffer(t.y)}, {t.count});"


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


def _lstm_i8(n: CNames, t: s.LstmInt8) -> str:
    gates = _lstm_gates(n, t.gates, "mcu_lstm_gate")
    x, y = n.operand(t.x), n.buffer(t.y)
    quant = [("{" + ", ".join(c_int(v) for v in (q.input_multiplier, q.input_shift, q.recurrent_multiplier,
                                                 q.recurrent_shift, q.input_offset, q.hidden_offset,
                                                 int(q.sigmoid))) + "}") for q in t.gate_quant]
    quant_name = n._declare("p", "mcu_lstm_gate_quant", f"[{len(quant)}]", "{" + ", ".join(quant) + "}", 0)
    c = t.cell_quant
    cell = n.record("mcu_lstm_cell_quant", [c_int(v) for v in (
        c.forget_multiplier, c.forget_shift, c.input_multiplier, c.input_shift, c.hidden_multiplier, c.hidden_shift,
        c.quantized_clip, c.tanh_multiplier, c.tanh_shift, c.hidden_zero_point)])
    st = t.state
    n.need_scratch(4 * st.n_state)
    scratch = ", ".join(n.buffer(g) for g in st.gates)
    return (f"mcu_lstm_i8({x}, {y}, {gates}, {quant_name}, &{cell}, {st.steps}, {st.n_in}, {st.n_state}, "
            f"{', '.join(_state(n, st))}, (int32_t *)mcu_scratch, {scratch});")


def _lstm_f(n: CNames, t: s.LstmFloat) -> str:
    gates = _lstm_gates(n, t.gates, "mcu_lstm_gate_f")
    x, y = n.operand(t.x), n.buffer(t.y)
    st = t.state
    scratch = ", ".join(n.buffer(g) for g in st.gates)
    return (f"mcu_lstm_f({x}, {y}, {gates}, {int(t.cell_sigmoid)}, {c_real(t.clip)}, {st.steps}, {st.n_in}, "
            f"{st.n_state}, {', '.join(_state(n, st))}, {scratch});")


FORMATTERS: dict[type, Callable[[CNames, Step], str]] = {  # type: ignore[dict-item]
    s.FullyConnectedInt8: _fully_connected_i8, s.FullyConnectedFloat: _fully_connected_f,
    s.ConvInt8: _conv_i8, s.ConvFloat: _conv_f, s.PoolInt8: _pool_i8, s.PoolFloat: _pool_f,
    s.SoftmaxInt8: _softmax_i8, s.SoftmaxFloat: _softmax_f, s.QuantizeFloatToInt8: _quantize,
    s.RequantizeInt8: _requantize, s.DequantizeInt8: _dequantize, s.Gather: _gather, s.Scatter: _scatter,
    s.AddInt8: _add_i8, s.MulInt8: _mul_i8, s.BinaryFloat: _binary_f, s.LookupInt8: _lookup,
    s.UnaryFloat: _unary_f, s.MeanInt8: _mean_i8, s.MeanFloat: _mean_f, s.LstmInt8: _lstm_i8, s.LstmFloat: _lstm_f,
}


def own_families(program: Program) -> list[str]:
    """The engine's own kernel files the program calls, in the order they are pasted."""
    used = {OWN_FAMILIES[type(step)] for step in program.steps if type(step) in OWN_FAMILIES}
    order = ["ops_int8", "ops_float", "gather", "lstm_int8", "lstm_float"]
    return [family for family in order if family in used]


def c_calls(program: Program) -> tuple[list[tuple[str, str]], CNames]:
    """(op name, C statement) per step, and the names (constants, records, scratch) they read."""
    names = CNames(program)
    lines = [(step.op, FORMATTERS[type(step)](names, step)) for step in program.steps]
    return lines, names
