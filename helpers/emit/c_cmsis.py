"""The C engine's calls into CMSIS-NN, with the parameters TFLM's own CMSIS-NN kernels pass: int8
fully connected, convolution, depthwise convolution, pooling, softmax, add and mul (without
broadcasting; otherwise the engine's own kernels), transpose (3 or 4 axes), maximum and minimum
(up to 4 axes) and the int8 LSTM."""
from __future__ import annotations

import numpy as np

from helpers.emit import c_own_kernels
from helpers.emit.c_names import CNames, c_int
from helpers.emit.cmsis_params import is_per_tensor, lstm_effective_biases
from helpers.emit.own_kernel_params import add_record, mul_record
from helpers.lowering import steps as s
from helpers.lowering.program import Const, Program


def _dims(n: CNames, shape: tuple[int, int, int, int]) -> str:
    return n.record("cmsis_nn_dims", [str(v) for v in shape])


def _context(n: CNames, nbytes: int, query: str, mve_bytes: int | None = None) -> str:
    n.need_scratch(nbytes, mve_bytes)
    n.scratch_queries.append(query)
    n.uses_scratch_context = True
    return "&mcu_scratch_context"


def fully_connected_i8(n: CNames, t: s.FullyConnectedInt8) -> str:
    q = t.quant
    n.uses_cmsis = True
    x, y, w, bias = n.operand(t.x), n.buffer(t.y), n.array(t.weights), n.array(t.bias)
    params = n.record("cmsis_nn_fc_params", [c_int(q.input_offset), "0", c_int(q.output_zero_point),
                                             "{" + f"{c_int(q.act_min)}, {c_int(q.act_max)}" + "}"])
    dims = [_dims(n, (t.batches, 1, 1, t.n_in)), _dims(n, (t.n_in, 1, 1, t.n_out)), _dims(n, (1, 1, 1, t.n_out)),
            _dims(n, (t.batches, 1, 1, t.n_out))]
    if is_per_tensor(q):
        quant = n.record("cmsis_nn_per_tensor_quant_params",
                         [c_int(q.multipliers.values[0]), c_int(q.shifts.values[0])])
        kernel = "arm_fully_connected_s8"
    else:
        quant = n.record("cmsis_nn_per_channel_quant_params",
                         [f"(int32_t *){n.array(q.multipliers)}", f"(int32_t *){n.array(q.shifts)}"])
        kernel = "arm_fully_connected_per_channel_s8"
    args = (f"&{params}, &{quant}, &{dims[0]}, {x}, &{dims[1]}, {w}, &{dims[2]}, {bias}, &{dims[3]}, {y}) "
            "!= ARM_CMSIS_NN_SUCCESS) return -1;")
    # On MVE the kernel reads each row's bias + input offset x (weight sum) from its context, as
    # TFLM's Prepare computes them with arm_vector_sum_s8: here they are constants, compiled only there.
    sums = _kernel_sums(n, t)
    return (f"#if defined(ARM_MATH_MVEI)\n  if ({kernel}(&{sums}, {args}\n#else\n"
            f"  if ({kernel}(&mcu_empty_context, {args}\n#endif")


def _kernel_sums(n: CNames, t: s.FullyConnectedInt8) -> str:
    """A context holding arm_vector_sum_s8's result for the layer, declared under ARM_MATH_MVEI."""
    weights = t.weights.values.reshape(t.n_out, t.n_in).astype(np.int64)
    bias = t.bias.values.reshape(-1).astype(np.int64) if t.bias is not None else np.zeros(t.n_out, np.int64)
    sums = (bias + int(t.quant.input_offset) * weights.sum(axis=1)).astype(np.int64)
    wrapped = ((sums + 2**31) % 2**32 - 2**31).tolist()
    name = f"mve_sums{len(n.declarations)}"
    body = ", ".join(c_int(v) for v in wrapped)
    # const, in flash: the kernel only reads them (the context's pointer is not const in CMSIS-NN)
    n.declarations.append(f"#if defined(ARM_MATH_MVEI)\nstatic const int32_t {name}[{t.n_out}] = {{{body}}};\n"
                          f"static const cmsis_nn_context {name}_context = {{(void *){name}, {4 * t.n_out}}};\n#endif")
    return f"{name}_context"


def conv_i8(n: CNames, t: s.ConvInt8) -> str:
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
        # arm_depthwise_conv_wrapper_s8_get_buffer_size's largest case off MVE (the DSP opt kernel),
        # and on it: the arena is sized per core family (an M4's does not carry the M55's 4 x 124 lanes)
        context = _context(n, 2 * g.in_c * g.k_h * g.k_w if g.depth_multiplier == 1 else 0,
                           f"arm_depthwise_conv_wrapper_s8_get_buffer_size(&{params}, &{input_dims}, "
                           f"&{filter_dims}, &{output_dims})", _depthwise_mve_bytes(g))
        args = (f"({context}, &{params}, &{quant}, &{input_dims}, {x}, &{filter_dims}, {w}, &{bias_dims}, {bias}, "
                f"&{output_dims}, {y}) != ARM_CMSIS_NN_SUCCESS) return -1;")
        # The wrapper's choice off MVE, made here (the shapes are known), so only that kernel links;
        # on an MVE core the wrapper chooses, as TFLM's kernel does.
        return (f"#if defined(ARM_MATH_MVEI)\n  if (arm_depthwise_conv_wrapper_s8{args}\n#else\n"
                f"  if ({_depthwise_kernel(g)}{args}\n#endif")
    params = n.record("cmsis_nn_conv_params", [c_int(q.input_offset), c_int(q.output_zero_point), *tiles])
    filter_dims = _dims(n, (g.out_c, g.k_h, g.k_w, g.in_c))
    columns = g.k_h * g.k_w * g.in_c
    # arm_convolve_s8's im2col buffer off MVE and on it (the 1x1 kernels need none): the arena is
    # sized per core family
    im2col = g.k_h * g.k_w > 1
    context = _context(n, 4 * (columns + (-columns) % 4) if im2col else 0,
                       f"arm_convolve_wrapper_s8_get_buffer_size(&{params}, &{input_dims}, &{filter_dims}, "
                       f"&{output_dims})", max(4 * (columns + (-columns) % 4), _conv_mve_bytes(g)) if im2col else 0)
    kernel = _conv_kernel(g)
    upscale = "NULL, " if kernel == "arm_convolve_s8" else ""
    return (f"if ({kernel}({context}, &{params}, &{quant}, &{input_dims}, {x}, &{filter_dims}, {w}, &{bias_dims}, "
            f"{bias}, {upscale}&{output_dims}, {y}) != ARM_CMSIS_NN_SUCCESS) return -1;")


def _conv_mve_bytes(g: s.ConvGeometry) -> int:
    """arm_convolve_wrapper_s8_get_buffer_size_mve for a kernel larger than 1x1 (the 1 x N kernel's
    own buffer is never larger than arm_convolve_s8's, which this returns)."""
    return 4 * (g.k_h * g.k_w * g.in_c + 15) // 16 * 16


def _depthwise_mve_bytes(g: s.ConvGeometry) -> int:
    """arm_depthwise_conv_wrapper_s8_get_buffer_size on MVE: the opt kernel's 4 x 124-channel block,
    or, for one input channel and many outputs, the convolution it becomes plus its filter."""
    size = 4 * 124 * g.k_w * g.k_h if g.in_c == g.out_c and g.dilation_h == g.dilation_w == 1 else 0
    if g.in_c == 1 and g.out_c > 1:  # CONVERT_DW_CONV_..._ABOVE_THRESHOLD: 1 with GCC
        size = max(size, 4 * (g.k_h * g.k_w + 15) // 16 * 16 + g.k_h * g.k_w * g.out_c)
    return size


def _conv_kernel(g: s.ConvGeometry) -> str:
    """The kernel arm_convolve_wrapper_s8 would pick for these shapes (its choice is the same on every core)."""
    if g.pad_top == 0 and g.pad_left == 0 and g.k_h == 1 and g.k_w == 1 and g.dilation_h == 1 and g.dilation_w == 1:
        return "arm_convolve_1x1_s8_fast" if g.stride_h == 1 and g.stride_w == 1 else "arm_convolve_1x1_s8"
    if g.in_h == 1 and g.dilation_w == 1 and g.k_h == 1 and (g.stride_w * g.in_c) % 4 == 0:
        return "arm_convolve_1_x_n_s8"
    return "arm_convolve_s8"


def _depthwise_kernel(g: s.ConvGeometry) -> str:
    """The kernel arm_depthwise_conv_wrapper_s8 picks off MVE."""
    if g.depth_multiplier == 1 and g.dilation_h == 1 and g.dilation_w == 1:
        if g.k_h == 3 and g.k_w == 3 and g.pad_top <= 1 and g.pad_left <= 1:
            return "arm_depthwise_conv_3x3_s8"
        return "arm_depthwise_conv_s8_opt"
    return "arm_depthwise_conv_s8"


def pool_i8(n: CNames, t: s.PoolInt8) -> str:
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


def softmax_i8(n: CNames, t: s.SoftmaxInt8) -> str:
    n.uses_cmsis = True
    return (f"arm_softmax_s8({n.operand(t.x)}, {t.rows}, {t.depth}, {c_int(t.input_multiplier)}, "
            f"{t.input_left_shift}, {c_int(t.diff_min)}, {n.buffer(t.y)});")


def add_i8(n: CNames, t: s.AddInt8) -> str:
    x1, x2, y = n.operand(t.x1), n.operand(t.x2), n.buffer(t.y)
    if t.sign == 1 and t.x1_index is None and t.x2_index is None:
        n.uses_cmsis = True
        args = [x1, x2, c_int(t.input1_offset), c_int(t.input1_multiplier), c_int(t.input1_shift),
                c_int(t.input2_offset), c_int(t.input2_multiplier), c_int(t.input2_shift), "20", y,
                c_int(t.output_zero_point), c_int(t.output_multiplier), c_int(t.output_shift), c_int(t.act_min),
                c_int(t.act_max), str(t.count)]
        return f"if (arm_elementwise_add_s8({', '.join(args)}) != ARM_CMSIS_NN_SUCCESS) return -1;"
    params = n.record("mcu_add_params", [c_int(v) for v in add_record(t)])
    return f"mcu_add_i8({x1}, {n.index(t.x1_index)}, {x2}, {n.index(t.x2_index)}, {y}, {t.count}, &{params});"


def mul_i8(n: CNames, t: s.MulInt8) -> str:
    x1, x2, y = n.operand(t.x1), n.operand(t.x2), n.buffer(t.y)
    if t.x1_index is None and t.x2_index is None:
        n.uses_cmsis = True
        args = [x1, x2, c_int(t.input1_offset), c_int(t.input2_offset), y, c_int(t.output_zero_point),
                c_int(t.output_multiplier), c_int(t.output_shift), c_int(t.act_min), c_int(t.act_max), str(t.count)]
        return f"if (arm_elementwise_mul_s8({', '.join(args)}) != ARM_CMSIS_NN_SUCCESS) return -1;"
    params = n.record("mcu_mul_params", [c_int(v) for v in mul_record(t)])
    return f"mcu_mul_i8({x1}, {n.index(t.x1_index)}, {x2}, {n.index(t.x2_index)}, {y}, {t.count}, &{params});"


def lstm_i8(n: CNames, t: s.LstmInt8) -> str:
    """arm_lstm_unidirectional_s8 (the engine's own fused kernel where c_own_kernels.lstm_i8 puts it)
    with the parameters TFLM's CMSIS-NN kernel builds in Prepare: the
    effective biases (bias + input offset x each row's weight sum, and the hidden offset x the
    recurrent rows' sums) are computed here, so the board does not. No hidden_state is given, as TFLM's
    kernel gives none: every invoke starts from zero state (the cell buffer cleared, the first step's
    recurrent products skipped), which is what the exported models expect (RESET_BEFORE_INVOKE)."""
    n.uses_cmsis = True
    x, y = n.operand(t.x), n.buffer(t.y)
    st = t.state
    gates = []
    for gate, q, (effective_in, effective_rec) in zip(t.gates, t.gate_quant, lstm_effective_biases(t)):
        fields = [c_int(q.input_multiplier), c_int(q.input_shift), n.array(gate.input_weights),
                  n.array(effective_in), c_int(q.recurrent_multiplier), c_int(q.recurrent_shift),
                  n.array(gate.recurrent_weights), n.array(effective_rec), n.array(gate.bias),
                  "ARM_SIGMOID" if q.sigmoid else "ARM_TANH"]
        gates.append("{" + ", ".join(fields) + "}")
    c = t.cell_quant
    params = n.record("cmsis_nn_lstm_params", [
        "1", "1", str(st.steps), str(st.n_in), str(st.n_state), c_int(t.gate_quant[0].input_offset),
        c_int(c.forget_multiplier), c_int(c.forget_shift), c_int(c.input_multiplier), c_int(c.input_shift),
        c_int(c.quantized_clip), c_int(c.cell_scale_power), c_int(c.hidden_multiplier), c_int(c.hidden_shift),
        c_int(c.hidden_zero_point), *gates])
    # The kernel takes its buffers' record by non-const pointer but never writes it, so the record
    # is const like every other (a MicroPython native module links neither writable data with
    # pointers nor the initialiser template GCC makes for a local record of them).
    context = n.record("cmsis_nn_lstm_context", [n.buffer(st.gates[0]), n.buffer(st.gates[1]), n.buffer(st.cell),
                                                 "NULL"])
    n.state_cleared_each_invoke = True
    cmsis_call = (f"if (arm_lstm_unidirectional_s8({x}, {y}, &{params}, (cmsis_nn_lstm_context *)&{context}) "
                  "!= ARM_CMSIS_NN_SUCCESS) return -1;")
    # the engine's own fused kernel on Armv7E-M and Armv6-M reads the same record and cell buffer
    own_call = f"mcu_lstm_s8({x}, {y}, &{params}, {n.buffer(st.cell)}, {n.buffer(st.gates[0])});"
    return c_own_kernels.lstm_i8(n, t, own_call, cmsis_call)


def transposes_in_cmsis(program: Program, t: s.Transpose) -> bool:
    """An int8 TRANSPOSE of 3 or 4 axes: TFLM's CMSIS-NN kernel takes those (arm_transpose_s8's
    2-axis form assumes the swap, so that one stays a gather)."""
    source = t.x.dtype if isinstance(t.x, Const) else program.buffer(t.x).dtype
    return source == "int8" and program.buffer(t.y).dtype == "int8" and len(t.perm) in (3, 4)


def transpose_i8(n: CNames, t: s.Transpose) -> str:
    n.uses_cmsis = True
    # dims padded with 1 to n, h, w, c: the 3-axis form reads n, h, w (and the output's h, w)
    ones = (1,) * (4 - len(t.perm))
    in_dims = _dims(n, (*t.in_shape, *ones))  # type: ignore[arg-type]
    out_dims = _dims(n, (*(t.in_shape[p] for p in t.perm), *ones))  # type: ignore[arg-type]
    perm = n.array(Const(np.asarray(t.perm, dtype=np.uint32)))
    params = n.record("cmsis_nn_transpose_params", [str(len(t.perm)), perm])
    return (f"if (arm_transpose_s8({n.operand(t.x)}, {n.buffer(t.y)}, &{in_dims}, &{out_dims}, &{params}) != "
            "ARM_CMSIS_NN_SUCCESS) return -1;")


def extremum_in_cmsis(t: s.BinaryMath) -> bool:
    """int8 MAXIMUM, MINIMUM of up to 4 axes: what TFLM's CMSIS-NN kernel hands to arm_maximum_s8."""
    return t.dtype == "int8" and t.kind in ("maximum", "minimum") and bool(t.shapes) and \
        all(len(shape) <= 4 for shape in t.shapes)


def extremum_i8(n: CNames, t: s.BinaryMath) -> str:
    n.uses_cmsis = True
    # each shape extended to 4 axes at the front, as TFLM's FillVariableShape does
    dims = [_dims(n, tuple([1] * (4 - len(shape)) + list(shape))) for shape in t.shapes]  # type: ignore[arg-type]
    return (f"if (arm_{t.kind}_s8(&mcu_empty_context, {n.operand(t.x1)}, &{dims[0]}, {n.operand(t.x2)}, &{dims[1]}, "
            f"{n.buffer(t.y)}, &{dims[2]}) != ARM_CMSIS_NN_SUCCESS) return -1;")

