"""Lowering of the ops with weights or windows: FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D,
MAX/AVERAGE_POOL_2D and SOFTMAX, with the multipliers, clamps and padding TFLM's Prepare computes."""
from __future__ import annotations

import numpy as np

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.program import Const
from helpers.lowering.steps import (
    ConvFloat,
    ConvGeometry,
    ConvInt8,
    FullyConnectedFloat,
    FullyConnectedInt8,
    PoolFloat,
    PoolGeometry,
    PoolInt8,
    Requantization,
    SoftmaxFloat,
    SoftmaxInt8,
)


def activation(options: object) -> int:
    """The op's fused activation (TFLite's ActivationFunctionType)."""
    return int(getattr(options, "fusedActivationFunction", 0) or 0)


def is_int8(tensor: Tensor) -> bool:
    return tensor.dtype == "int8"


def int32(values: object) -> Const:
    return Const(np.asarray(values, dtype=np.int32).reshape(-1))


def float32(values: object) -> Const:
    return Const(np.asarray(values, dtype=np.float32).reshape(-1))


def int8(values: object) -> Const:
    return Const(np.asarray(values, dtype=np.int8).reshape(-1))


def padding(mode: int, in_size: int, out_size: int, stride: int, dilation: int, kernel: int) -> int:
    """TFLite's SAME padding before the first element (VALID: none)."""
    if mode != 0:
        return 0
    effective = (kernel - 1) * dilation + 1
    return max(0, (out_size - 1) * stride + effective - in_size) // 2


def requantization(x: Tensor, filter_scales: tuple[float, ...], y: Tensor, channels: int,
                   fused: int) -> Requantization:
    """Per-channel multipliers (a per-tensor scale repeated) and the output clamp."""
    scales = filter_scales if len(filter_scales) == channels else filter_scales[:1] * channels
    pairs = [arith.quantize_multiplier(float(x.scale) * float(s) / float(y.scale)) for s in scales]
    low, high = arith.activation_range(fused, "int8", y.scale, y.zero_point)
    return Requantization(multipliers=int32([m for m, _ in pairs]), shifts=int32([s for _, s in pairs]),
                          input_offset=-x.zero_point, output_zero_point=y.zero_point, act_min=low, act_max=high)


def bias(b: Builder, op: Op, position: int, channels: int, dtype: str) -> np.ndarray:
    """The op's bias, or zeros when it has none."""
    if len(op.inputs) > position and op.inputs[position] >= 0:
        values = b.data(op.inputs[position])
        if values is None:
            raise Unsupported(f"{op.name} with a bias computed at run time")
        return np.asarray(values).reshape(-1)
    return np.zeros(channels, dtype=dtype)


def lower_fully_connected(b: Builder, op: Op) -> None:
    x, w, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.inputs[1]), b.graph.tensor(op.outputs[0])
    weights = b.data(op.inputs[1])
    if weights is None:
        raise Unsupported("FULLY_CONNECTED with weights computed at run time")
    n_out, n_in = weights.shape[0], int(np.prod(weights.shape[1:]))
    shape = {"batches": x.size // n_in, "n_in": n_in, "n_out": n_out}
    fused = activation(op.options)
    if is_int8(x) and w.dtype == "int8" and is_int8(y):
        b.need_accumulator(n_out)
        source = b.operand(op.inputs[0])
        b.emit(FullyConnectedInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), weights=int8(weights),
                                  bias=int32(bias(b, op, 2, n_out, "int32")),
                                  quant=requantization(x, w.scales, y, n_out, fused), **shape))
        return
    if x.dtype == "float32" and weights.dtype in (np.float32, np.float16) and y.dtype == "float32":
        low, high = arith.float_activation_range(fused)
        source = b.operand(op.inputs[0])
        b.emit(FullyConnectedFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), weights=float32(weights),
                                   bias=float32(bias(b, op, 2, n_out, "float32")), act_min=low, act_max=high,
                                   **shape))
        return
    raise Unsupported(f"FULLY_CONNECTED with {x.dtype} input, {w.dtype} weights and {y.dtype} output "
                      "(hybrid or int16 kernels)")


def conv_geometry(b: Builder, op: Op, k_h: int, k_w: int) -> ConvGeometry:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise Unsupported(f"{op.name} on a batch of {x.shape[0] if x.shape else '?'} (batch 1 only)")
    o = op.options
    s_h, s_w = o.strideH or 1, o.strideW or 1
    d_h, d_w = getattr(o, "dilationHFactor", 1) or 1, getattr(o, "dilationWFactor", 1) or 1
    in_h, in_w, in_c = x.shape[1:]
    out_h, out_w, out_c = y.shape[1:]
    return ConvGeometry(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c, k_h=k_h, k_w=k_w,
                        stride_h=s_h, stride_w=s_w, dilation_h=d_h, dilation_w=d_w,
                        pad_top=padding(o.padding, in_h, out_h, s_h, d_h, k_h),
                        pad_left=padding(o.padding, in_w, out_w, s_w, d_w, k_w))


def lower_conv(b: Builder, op: Op, depthwise: bool) -> None:
    x, w, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.inputs[1]), b.graph.tensor(op.outputs[0])
    weights = b.data(op.inputs[1])
    if weights is None:
        raise Unsupported(f"{op.name} with weights computed at run time")
    geometry = conv_geometry(b, op, weights.shape[1], weights.shape[2])
    if not depthwise and weights.shape[3] != x.shape[3]:
        raise Unsupported("grouped CONV_2D")
    fused = activation(op.options)
    out_c = geometry.out_c
    if is_int8(x) and w.dtype == "int8" and is_int8(y):
        b.need_accumulator(geometry.out_w * out_c)
        source = b.operand(op.inputs[0])
        b.emit(ConvInt8(op=op.name, depthwise=depthwise, x=source, y=b.allocate(op.outputs[0]), weights=int8(weights),
                        bias=int32(bias(b, op, 2, out_c, "int32")),
                        quant=requantization(x, w.scales, y, out_c, fused), geometry=geometry))
        return
    if x.dtype == "float32" and weights.dtype in (np.float32, np.float16):
        low, high = arith.float_activation_range(fused)
        source = b.operand(op.inputs[0])
        b.emit(ConvFloat(op=op.name, depthwise=depthwise, x=source, y=b.allocate(op.outputs[0]),
                         weights=float32(weights), bias=float32(bias(b, op, 2, out_c, "float32")), geometry=geometry,
                         act_min=low, act_max=high))
        return
    raise Unsupported(f"{op.name} with {x.dtype} input and {w.dtype} weights")


def pool_geometry(b: Builder, op: Op) -> PoolGeometry:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    o = op.options
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise Unsupported(f"{op.name} on a batch (batch 1 only)")
    in_h, in_w, channels = x.shape[1:]
    out_h, out_w = y.shape[1:3]
    k_h, k_w = o.filterHeight, o.filterWidth
    return PoolGeometry(in_h=in_h, in_w=in_w, channels=channels, out_h=out_h, out_w=out_w, k_h=k_h, k_w=k_w,
                        stride_h=o.strideH, stride_w=o.strideW,
                        pad_top=padding(o.padding, in_h, out_h, o.strideH, 1, k_h),
                        pad_left=padding(o.padding, in_w, out_w, o.strideW, 1, k_w))


def lower_pool(b: Builder, op: Op, average: bool) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    geometry = pool_geometry(b, op)
    fused = activation(op.options)
    if is_int8(x):
        low, high = arith.activation_range(fused, "int8", y.scale, y.zero_point)
        source = b.operand(op.inputs[0])
        b.emit(PoolInt8(op=op.name, average=average, x=source, y=b.allocate(op.outputs[0]), geometry=geometry,
                        act_min=low, act_max=high))
        return
    if x.dtype != "float32":
        raise Unsupported(f"{op.name} on {x.dtype} tensors")
    low_f, high_f = arith.float_activation_range(fused)
    source = b.operand(op.inputs[0])
    b.emit(PoolFloat(op=op.name, average=average, x=source, y=b.allocate(op.outputs[0]), geometry=geometry,
                     act_min=low_f, act_max=high_f))


def lower_softmax(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    depth = x.shape[-1]
    rows = x.size // depth
    beta = float(op.options.beta) if op.options is not None else 1.0
    if is_int8(x) and is_int8(y):
        if y.zero_point != -128 or y.scale != 1.0 / 256:
            raise Unsupported("int8 SOFTMAX whose output is not scale 1/256, zero point -128")
        exps, rescaled = arith.softmax_tables(x.scale, beta)
        multiplier, left_shift, diff_min = arith.softmax_scaling(x.scale, beta)
        source = b.operand(op.inputs[0])
        b.emit(SoftmaxInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), rows=rows, depth=depth,
                           exp_table=int32(exps), rescaled_table=int32(rescaled), input_multiplier=multiplier,
                           input_left_shift=left_shift, diff_min=diff_min))
        return
    if x.dtype != "float32":
        raise Unsupported(f"{op.name} on {x.dtype} tensors")
    source = b.operand(op.inputs[0])
    b.emit(SoftmaxFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), rows=rows, depth=depth, beta=beta))
