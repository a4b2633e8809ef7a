"""The C engine's calls for the int16x8 steps (steps_int16): CMSIS-NN's s16 kernels, with the
parameters TFLM's CMSIS-NN kernels pass, and the engine's own kernels (c_kernels/ops_int16.c) where
CMSIS-NN has none. CMSIS-NN's arithmetic is TFLM's reference arithmetic: the int64 accumulators go
through arm_nn_requantize_s64, which is TFLM's 64-bit MultiplyByQuantizedMultiplier (the multiplier
rounded to 16 bits) written as two shifts."""
from __future__ import annotations

from typing import Callable

from helpers.emit.c_cmsis import _context, _dims
from helpers.emit.c_names import CNames, c_int, c_real
from helpers.emit.cmsis_params import is_per_tensor
from helpers.lowering import steps_int16 as s16
from helpers.lowering.program import Step
from helpers.lowering.steps import ConvGeometry, Requantization

_CHECK = " != ARM_CMSIS_NN_SUCCESS) return -1;"


def _clamp(q: Requantization | s16.PoolInt16) -> str:
    low, high = (q.act_min, q.act_max)
    return f"{{{c_int(low)}, {c_int(high)}}}"


def _per_channel(n: CNames, q: Requantization) -> str:
    return n.record("cmsis_nn_per_channel_quant_params",
                    [f"(int32_t *){n.array(q.multipliers)}", f"(int32_t *){n.array(q.shifts)}"])


def _tiles(g: ConvGeometry) -> list[str]:
    return [f"{{{g.stride_w}, {g.stride_h}}}", f"{{{g.pad_left}, {g.pad_top}}}",
            f"{{{g.dilation_w}, {g.dilation_h}}}"]


def _convolve(n: CNames, t: s16.ConvInt16 | s16.FullyConnectedInt16, g: ConvGeometry, batches: int) -> str:
    """arm_convolve_wrapper_s16 (it always runs arm_convolve_s16), which refuses a NULL buffer: the
    scratch is the larger of its im2col sizes off and on MVE, so one arena fits every core."""
    params = n.record("cmsis_nn_conv_params", ["0", "0", *_tiles(g), _clamp(t.quant)])
    input_dims = _dims(n, (batches, g.in_h, g.in_w, g.in_c))
    filter_dims = _dims(n, (g.out_c, g.k_h, g.k_w, g.in_c))
    output_dims = _dims(n, (batches, g.out_h, g.out_w, g.out_c))
    bias = n.record("cmsis_nn_bias_data", [n.array(t.bias), "false"])
    columns = g.k_h * g.k_w * g.in_c
    context = _context(n, max(4 * columns, 4 * 8 * -(-columns // 8) * 2),
                       f"arm_convolve_wrapper_s16_get_buffer_size(&{params}, &{input_dims}, &{filter_dims}, "
                       f"&{output_dims})")
    return (f"if (arm_convolve_wrapper_s16({context}, &{params}, &{_per_channel(n, t.quant)}, &{input_dims}, "
            f"{n.operand(t.x)}, &{filter_dims}, {n.array(t.weights)}, &{_dims(n, (1, 1, 1, g.out_c))}, &{bias}, "
            f"&{output_dims}, {n.buffer(t.y)}){_CHECK}")


def fully_connected_i16(n: CNames, t: s16.FullyConnectedInt16) -> str:
    """Per tensor: arm_fully_connected_s16, as TFLM's CMSIS-NN kernel. Per channel (what TF's
    converter makes for int16x8 Dense layers), TFLM's CMSIS-NN kernel refuses the model in Prepare;
    CMSIS-NN's per-channel s16 convolution with a 1x1 kernel is the same sum and scaling."""
    n.uses_cmsis = True
    q = t.quant
    if not is_per_tensor(q):
        g = ConvGeometry(in_h=1, in_w=1, in_c=t.n_in, out_h=1, out_w=1, out_c=t.n_out, k_h=1, k_w=1, stride_h=1,
                         stride_w=1, dilation_h=1, dilation_w=1, pad_top=0, pad_left=0)
        return _convolve(n, t, g, t.batches)
    params = n.record("cmsis_nn_fc_params", ["0", "0", "0", _clamp(q)])
    quant = n.record("cmsis_nn_per_tensor_quant_params", [c_int(q.multipliers.values[0]), c_int(q.shifts.values[0])])
    dims = [_dims(n, (t.batches, 1, 1, t.n_in)), _dims(n, (t.n_in, 1, 1, t.n_out)), _dims(n, (1, 1, 1, t.n_out)),
            _dims(n, (t.batches, 1, 1, t.n_out))]
    return (f"if (arm_fully_connected_s16(&mcu_empty_context, &{params}, &{quant}, &{dims[0]}, {n.operand(t.x)}, "
            f"&{dims[1]}, {n.array(t.weights)}, &{dims[2]}, {n.array(t.bias)}, &{dims[3]}, {n.buffer(t.y)}){_CHECK}")


def conv_i16(n: CNames, t: s16.ConvInt16) -> str:
    n.uses_cmsis = True
    g = t.geometry
    if not t.depthwise:
        return _convolve(n, t, g, 1)
    params = n.record("cmsis_nn_dw_conv_params", ["0", "0", str(g.depth_multiplier), *_tiles(g), _clamp(t.quant)])
    input_dims = _dims(n, (1, g.in_h, g.in_w, g.in_c))
    filter_dims = _dims(n, (1, g.k_h, g.k_w, g.out_c))
    output_dims = _dims(n, (1, g.out_h, g.out_w, g.out_c))
    # arm_depthwise_conv_fast_s16's buffer (the wrapper takes it for multiplier 1, no dilation,
    # a window under 512): the MVE size, the larger.
    fast = g.depth_multiplier == 1 and g.dilation_h == g.dilation_w == 1 and g.k_h * g.k_w < 512
    context = _context(n, 4 * g.in_c * g.k_h * g.k_w * 2 + 8 if fast else 0,
                       f"arm_depthwise_conv_wrapper_s16_get_buffer_size(&{params}, &{input_dims}, &{filter_dims}, "
                       f"&{output_dims})")
    return (f"if (arm_depthwise_conv_wrapper_s16({context}, &{params}, &{_per_channel(n, t.quant)}, &{input_dims}, "
            f"{n.operand(t.x)}, &{filter_dims}, {n.array(t.weights)}, &{_dims(n, (1, 1, 1, g.out_c))}, "
            f"{n.array(t.bias)}, &{output_dims}, {n.buffer(t.y)}){_CHECK}")


def pool_i16(n: CNames, t: s16.PoolInt16) -> str:
    n.uses_cmsis = True
    g = t.geometry
    params = n.record("cmsis_nn_pool_params", [f"{{{g.stride_w}, {g.stride_h}}}", f"{{{g.pad_left}, {g.pad_top}}}",
                                               _clamp(t)])
    dims = [_dims(n, (1, g.in_h, g.in_w, g.channels)), _dims(n, (1, g.k_h, g.k_w, 1)),
            _dims(n, (1, g.out_h, g.out_w, g.channels))]
    kernel = "arm_avgpool_s16" if t.average else "arm_max_pool_s16"
    context = (_context(n, 4 * g.channels, f"arm_avgpool_s16_get_buffer_size({g.out_w}, {g.channels})")
               if t.average else "&mcu_empty_context")
    return (f"if ({kernel}({context}, &{params}, &{dims[0]}, {n.operand(t.x)}, &{dims[1]}, &{dims[2]}, "
            f"{n.buffer(t.y)}){_CHECK}")


def add_i16(n: CNames, t: s16.AddInt16) -> str:
    """Same-shape ADD: arm_elementwise_add_s16; SUB and broadcasting: the engine's own kernel."""
    x1, x2, y = n.operand(t.x1), n.operand(t.x2), n.buffer(t.y)
    if t.sign == 1 and t.x1_index is None and t.x2_index is None:
        n.uses_cmsis = True
        args = [x1, x2, "0", c_int(t.input1_multiplier), c_int(t.input1_shift), "0", c_int(t.input2_multiplier),
                c_int(t.input2_shift), "15", y, "0", c_int(t.output_multiplier), c_int(t.output_shift),
                c_int(t.act_min), c_int(t.act_max), str(t.count)]
        return f"if (arm_elementwise_add_s16({', '.join(args)}){_CHECK}"
    params = n.record("mcu_add_i16_params", [c_int(v) for v in (
        t.input1_multiplier, t.input1_shift, t.input2_multiplier, t.input2_shift, t.output_multiplier,
        t.output_shift, t.act_min, t.act_max, t.sign)])
    return f"mcu_add_i16({x1}, {n.index(t.x1_index)}, {x2}, {n.index(t.x2_index)}, {y}, {t.count}, &{params});"


def mul_i16(n: CNames, t: s16.MulInt16) -> str:
    x1, x2, y = n.operand(t.x1), n.operand(t.x2), n.buffer(t.y)
    args = [c_int(t.output_multiplier), c_int(t.output_shift), c_int(t.act_min), c_int(t.act_max)]
    if t.x1_index is not None or t.x2_index is not None:
        return (f"mcu_mul_i16({x1}, {n.index(t.x1_index)}, {x2}, {n.index(t.x2_index)}, {y}, {t.count}, "
                f"{', '.join(args)});")
    n.uses_cmsis = True
    return f"if (arm_elementwise_mul_s16({x1}, {x2}, 0, 0, {y}, 0, {', '.join(args)}, {t.count}){_CHECK}"


def softmax_i16(n: CNames, t: s16.SoftmaxInt16) -> str:
    """arm_softmax_s16 with the tables TFLM's CMSIS-NN kernel fills in Prepare (filled at export)."""
    n.uses_cmsis = True
    tables = n.record("cmsis_nn_softmax_lut_s16", [n.array(t.exp_table), n.array(t.reciprocal_table)])
    return (f"if (arm_softmax_s16({n.operand(t.x)}, {t.rows}, {t.depth}, {c_int(t.input_multiplier)}, "
            f"{c_int(t.input_left_shift)}, &{tables}, {n.buffer(t.y)}){_CHECK}")


def sigmoid_i16(n: CNames, t: s16.SigmoidInt16) -> str:
    """The engine's own kernel: TFLM's reference int16 LOGISTIC/TANH (TFLM's CMSIS-NN build runs
    the reference kernel for them too)."""
    args = [str(t.count), c_int(t.input_multiplier), c_int(t.input_left_shift), n.array(t.table), str(int(t.tanh))]
    return f"mcu_sigmoid_i16({n.operand(t.x)}, {n.buffer(t.y)}, {', '.join(args)});"


def mean_i16(n: CNames, t: s16.MeanInt16) -> str:
    outputs, count = t.groups.values.shape
    return (f"mcu_mean_i16({n.operand(t.x)}, {n.buffer(t.y)}, {n.array(t.groups)}, {outputs}, {count}, "
            f"{c_int(t.multiplier)}, {c_int(t.shift)});")


def activation_i16(n: CNames, t: s16.ActivationInt16) -> str:
    params = n.record("mcu_activation_i16_params", [c_int(v) for v in (
        t.rescale, t.multiplier, t.shift, t.negative_multiplier, t.negative_shift, t.negate, t.act_min, t.act_max,
        t.absolute)])
    return f"mcu_activation_i16({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, &{params});"


def quantize_i16(n: CNames, t: s16.QuantizeFloatToInt16) -> str:
    """The engine's own kernel (c_kernels/ops_int16.c): CMSIS-NN has no quantize."""
    return (f"mcu_quantize_f_i16({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_real(t.scale)}, "
            f"{c_int(t.zero_point)}, {c_int(t.act_min)}, {c_int(t.act_max)});")


def requantize_i16(n: CNames, t: s16.RequantizeInt16) -> str:
    args = [t.count, 0, t.multiplier, t.shift, 0, -32768, 32767]
    return f"mcu_requantize_i16({n.operand(t.x)}, {n.buffer(t.y)}, {', '.join(c_int(v) for v in args)});"


def dequantize_i16(n: CNames, t: s16.DequantizeInt16) -> str:
    return (f"mcu_dequantize_i16({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {c_real(t.scale)}, "
            f"{c_int(t.zero_point)});")


FORMATTERS: dict[type, Callable[[CNames, Step], str]] = {  # type: ignore[dict-item]
    s16.FullyConnectedInt16: fully_connected_i16, s16.ConvInt16: conv_i16, s16.PoolInt16: pool_i16,
    s16.AddInt16: add_i16, s16.MulInt16: mul_i16, s16.QuantizeFloatToInt16: quantize_i16,
    s16.DequantizeInt16: dequantize_i16, s16.SoftmaxInt16: softmax_i16, s16.RequantizeInt16: requantize_i16,
    s16.SigmoidInt16: sigmoid_i16, s16.MeanInt16: mean_i16, s16.ActivationInt16: activation_i16,
}
# The steps that call the engine's own kernels, c_kernels/ops_int16.c.
# (AddInt16 and MulInt16 call them when they broadcast, or subtract: the kernel file comes along
# with either step; unused static inline functions cost nothing.)
OWN_FAMILIES: dict[type, str] = {step: "ops_int16" for step in (s16.QuantizeFloatToInt16, s16.DequantizeInt16,
                                                                 s16.RequantizeInt16, s16.AddInt16, s16.MulInt16,
                                                                 s16.SigmoidInt16, s16.MeanInt16,
                                                                 s16.ActivationInt16)}
