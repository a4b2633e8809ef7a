"""Lowering of the int16x8 ops (int16 activations, int8 weights, int64 biases: `-q int16x8`):
FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, MAX/AVERAGE_POOL_2D, ADD, SUB, MUL,
SOFTMAX, LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, ABS, MEAN, SUM, QUANTIZE (from float32 or int16) and
DEQUANTIZE, with the constants TFLM's Prepare computes for them. TFLM requires every int16 zero
point to be 0; a model that breaks that is refused here rather than run with offsets TFLM never
applies."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from helpers.lowering import arith
from helpers.lowering.activations16 import activation_params, sigmoid_scaling, sigmoid_table
from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.lut16 import softmax_luts
from helpers.lowering.ops_dense import activation, conv_geometry, int8, pool_geometry, requantization
from helpers.lowering.ops_elementwise import add_sub_multipliers, broadcast_index, lower_dequantize
from helpers.lowering.ops_transpose_conv import spread_index
from helpers.lowering.program import Const
from helpers.lowering.steps import ConvGeometry, Gather, Requantization
from helpers.lowering.steps_int16 import (
    ActivationInt16,
    AddInt16,
    ConvInt16,
    DequantizeInt16,
    FullyConnectedInt16,
    MeanInt16,
    MulInt16,
    PoolInt16,
    QuantizeFloatToInt16,
    RequantizeInt16,
    SigmoidInt16,
    SoftmaxInt16,
)


def _check_zero_points(op: Op, *tensors: Tensor) -> None:
    if any(tensor.zero_point != 0 for tensor in tensors):
        raise Unsupported(f"{op.name} on int16 tensors with a zero point (TFLM requires 0)")


def _requantization(x: Tensor, w: Tensor, y: Tensor, channels: int, fused: int) -> Requantization:
    """The int8 path's multipliers (the same double arithmetic in TFLM), clamped in int16."""
    low, high = arith.activation_range(fused, "int16", y.scale, y.zero_point)
    return replace(requantization(x, w.scales, y, channels, fused), act_min=low, act_max=high)


def _bias64(b: Builder, op: Op, channels: int, position: int = 2) -> Const:
    """The int64 bias, or zeros. An int32 bias makes TFLM accumulate in int32 (another kernel)."""
    if len(op.inputs) > position and op.inputs[position] >= 0:
        values = b.data(op.inputs[position])
        if values is None:
            raise Unsupported(f"{op.name} with a bias computed at run time")
        if values.dtype != np.int64:
            raise Unsupported(f"{op.name} with int16 input and a {values.dtype} bias (int64 only)")
        return Const(np.asarray(values, dtype=np.int64).reshape(-1))
    return Const(np.zeros(channels, dtype=np.int64))


def _weights(b: Builder, op: Op) -> tuple[Tensor, Tensor, Tensor, np.ndarray]:
    x, w, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.inputs[1]), b.graph.tensor(op.outputs[0])
    weights = b.data(op.inputs[1])
    if weights is None:
        raise Unsupported(f"{op.name} with weights computed at run time")
    if w.dtype != "int8" or y.dtype != "int16":
        raise Unsupported(f"{op.name} with int16 input, {w.dtype} weights and {y.dtype} output")
    _check_zero_points(op, x, y)
    return x, w, y, weights


def lower_fully_connected16(b: Builder, op: Op) -> None:
    x, w, y, weights = _weights(b, op)
    n_out, n_in = weights.shape[0], int(np.prod(weights.shape[1:]))
    source = b.operand(op.inputs[0])
    quant = _requantization(x, w, y, n_out, activation(op.options))
    b.emit(FullyConnectedInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), weights=int8(weights),
                               bias=_bias64(b, op, n_out), quant=quant, batches=x.size // n_in, n_in=n_in, n_out=n_out))


def lower_conv16(b: Builder, op: Op, depthwise: bool) -> None:
    x, w, y, weights = _weights(b, op)
    geometry = conv_geometry(b, op, weights.shape[1], weights.shape[2])
    if not depthwise and weights.shape[3] != x.shape[3]:
        raise Unsupported("grouped CONV_2D")
    out_c = geometry.out_c
    source = b.operand(op.inputs[0])
    b.emit(ConvInt16(op=op.name, depthwise=depthwise, x=source, y=b.allocate(op.outputs[0]), weights=int8(weights),
                     bias=_bias64(b, op, out_c), quant=_requantization(x, w, y, out_c, activation(op.options)),
                     geometry=geometry))


def lower_transpose_conv16(b: Builder, op: Op) -> None:
    """ops_transpose_conv's two steps with the int16 convolution: TFLM's int16 transpose
    convolution sums the same products into an int64 scratch and requantizes them with the 64-bit
    MultiplyByQuantizedMultiplier, as ConvInt16 does. The grid's gaps hold 0 (the zero point)."""
    w_index, x_index = op.inputs[1], op.inputs[2]
    x, w, y = b.graph.tensor(x_index), b.graph.tensor(w_index), b.graph.tensor(op.outputs[0])
    weights = b.data(w_index)
    if weights is None or w.dtype != "int8":
        raise Unsupported("TRANSPOSE_CONV with int16 input and weights not int8 constants")
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise Unsupported("TRANSPOSE_CONV on a batch (batch 1 only)")
    _check_zero_points(op, x, y)
    out_c, k_h, k_w, in_c = weights.shape
    index = spread_index(x.shape, y.shape, (k_h, k_w), op)
    geometry = ConvGeometry(in_h=y.shape[1] + k_h - 1, in_w=y.shape[2] + k_w - 1, in_c=in_c, out_h=y.shape[1],
                            out_w=y.shape[2], out_c=out_c, k_h=k_h, k_w=k_w, stride_h=1, stride_w=1, dilation_h=1,
                            dilation_w=1, pad_top=0, pad_left=0)
    source = b.operand(x_index)
    grid = b.temporary("int16", index.size)
    b.emit(Gather(op=op.name, x=source, y=grid, index=Const(index.astype(np.int32)), pad=0))
    b.emit(ConvInt16(op=op.name, depthwise=False, x=grid, y=b.allocate(op.outputs[0]),
                     weights=int8(np.ascontiguousarray(weights[:, ::-1, ::-1, :])), bias=_bias64(b, op, out_c, 3),
                     quant=_requantization(x, w, y, out_c, activation(op.options)), geometry=geometry))


def lower_pool16(b: Builder, op: Op, average: bool) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    _check_zero_points(op, x, y)
    low, high = arith.activation_range(activation(op.options), "int16", y.scale, y.zero_point)
    geometry = pool_geometry(b, op)
    source = b.operand(op.inputs[0])
    b.emit(PoolInt16(op=op.name, average=average, x=source, y=b.allocate(op.outputs[0]), geometry=geometry,
                     act_min=low, act_max=high))


def lower_arithmetic16(b: Builder, op: Op, kind: str) -> None:
    """ADD, SUB or MUL of int16 tensors; a smaller input is broadcast through an index map."""
    x1, x2, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if not x1.dtype == x2.dtype == y.dtype == "int16":
        raise Unsupported(f"{op.name} of {x1.dtype} and {x2.dtype}")
    _check_zero_points(op, x1, x2, y)
    low, high = arith.activation_range(activation(op.options), "int16", y.scale, y.zero_point)
    common = {"x1_index": broadcast_index(x1, y.shape), "x2_index": broadcast_index(x2, y.shape),
              "x1": b.operand(op.inputs[0]), "x2": b.operand(op.inputs[1]), "count": y.size,
              "act_min": low, "act_max": high}
    out = b.allocate(op.outputs[0])
    if kind == "mul":
        mo, so = arith.quantize_multiplier(float(x1.scale) * float(x2.scale) / float(y.scale))
        b.emit(MulInt16(op=op.name, y=out, output_multiplier=mo, output_shift=so, **common))
        return
    m1, s1, m2, s2, mo, so = add_sub_multipliers(x1, x2, y)
    b.emit(AddInt16(op=op.name, y=out, input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2,
                    input2_shift=s2, output_multiplier=mo, output_shift=so, sign=1 if kind == "add" else -1,
                    **common))


def lower_quantize16(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    low, high = arith.INT_RANGES["int16"]
    if x.dtype == y.dtype == "int16":
        _check_zero_points(op, x, y)
        # quantize_common.cc: the scale ratio in double
        multiplier, shift = arith.quantize_multiplier(float(x.scale) / float(y.scale))
        source = b.operand(op.inputs[0])
        b.emit(RequantizeInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size,
                               multiplier=multiplier, shift=shift))
        return
    if x.dtype != "float32" or y.dtype != "int16":
        raise Unsupported(f"QUANTIZE from {x.dtype} to {y.dtype}")
    source = b.operand(op.inputs[0])
    b.emit(QuantizeFloatToInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size, scale=y.scale,
                                zero_point=y.zero_point, act_min=low, act_max=high))


def lower_dequantize16(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    if b.data(op.inputs[0]) is not None:  # a constant: dequantized once, at export
        lower_dequantize(b, op)
        return
    source = b.operand(op.inputs[0])
    b.emit(DequantizeInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size, scale=x.scale,
                           zero_point=x.zero_point))


def lower_softmax16(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if y.dtype != "int16":
        raise Unsupported(f"SOFTMAX from int16 to {y.dtype}")
    _check_zero_points(op, x, y)
    if abs(float(y.scale) - 1.0 / 32768) > 0.001 / 32768:
        raise Unsupported("int16 SOFTMAX whose output scale is not 1/32768")
    beta = float(op.options.beta) if op.options is not None else 1.0
    # softmax_common.cc: the difference scaled so that [-65535, 0] is [-10, 0], in double
    multiplier, shift = arith.quantize_multiplier(float(x.scale) * beta / (10.0 / 65535.0))
    exps, reciprocals = softmax_luts()
    depth = x.shape[-1]
    source = b.operand(op.inputs[0])
    b.emit(SoftmaxInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), rows=x.size // depth, depth=depth,
                        input_multiplier=multiplier, input_left_shift=shift,
                        exp_table=Const(np.asarray(exps, dtype=np.int16)),
                        reciprocal_table=Const(np.asarray(reciprocals, dtype=np.int16))))


def lower_sigmoid16(b: Builder, op: Op, tanh: bool) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if y.dtype != "int16":
        raise Unsupported(f"{op.name} from int16 to {y.dtype}")
    multiplier, shift = sigmoid_scaling(op, x, y, tanh)
    source = b.operand(op.inputs[0])
    b.emit(SigmoidInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), tanh=tanh, count=x.size,
                        input_multiplier=multiplier, input_left_shift=shift, table=sigmoid_table()))


def lower_mean16(b: Builder, op: Op, total: bool = False) -> None:
    """MEAN, or SUM (`total`: TFLM's QuantizedMeanOrSum without the 1 / count)."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    _check_zero_points(op, x, y)
    axes = b.data(op.inputs[1])
    if axes is None:
        raise Unsupported(f"{op.name} over axes computed at run time")
    # the positions each output averages (ops_elementwise.lower_mean's, kept apart from it here)
    reduced = sorted({int(a) % len(x.shape) for a in np.asarray(axes).reshape(-1)})
    kept = [a for a in range(len(x.shape)) if a not in reduced]
    positions = np.transpose(np.arange(x.size).reshape(x.shape), kept + reduced)
    groups = positions.reshape(int(np.prod([x.shape[a] for a in kept])) if kept else 1, -1)
    if total:
        multiplier, shift = arith.quantize_multiplier(float(x.scale) / float(y.scale))
    else:
        multiplier, shift = arith.mean_multiplier(x.scale, y.scale, groups.shape[1])
    source = b.operand(op.inputs[0])
    b.emit(MeanInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), groups=Const(groups.astype(np.int32)),
                     multiplier=multiplier, shift=shift))


def lower_activation16(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if y.dtype != "int16":
        raise Unsupported(f"{op.name} from int16 to {y.dtype}")
    params = activation_params(op, x, y)
    source = b.operand(op.inputs[0])
    b.emit(ActivationInt16(op=op.name, x=source, y=b.allocate(op.outputs[0]), count=x.size,
                           **params))  # type: ignore[arg-type]


# The ops whose int16 form (an int16 first input or output) lowers here instead of through LOWERINGS.
INT16_LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "FULLY_CONNECTED": lower_fully_connected16,
    "CONV_2D": lambda b, op: lower_conv16(b, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda b, op: lower_conv16(b, op, depthwise=True),
    "TRANSPOSE_CONV": lower_transpose_conv16,
    "MAX_POOL_2D": lambda b, op: lower_pool16(b, op, average=False),
    "AVERAGE_POOL_2D": lambda b, op: lower_pool16(b, op, average=True),
    "ADD": lambda b, op: lower_arithmetic16(b, op, "add"),
    "SUB": lambda b, op: lower_arithmetic16(b, op, "sub"),
    "MUL": lambda b, op: lower_arithmetic16(b, op, "mul"),
    "SOFTMAX": lower_softmax16,
    "MEAN": lower_mean16,
    "SUM": lambda b, op: lower_mean16(b, op, total=True),
    "RELU": lower_activation16,
    "RELU6": lower_activation16,
    "LEAKY_RELU": lower_activation16,
    "ABS": lower_activation16,
    "LOGISTIC": lambda b, op: lower_sigmoid16(b, op, tanh=False),
    "TANH": lambda b, op: lower_sigmoid16(b, op, tanh=True),
    "QUANTIZE": lower_quantize16,
    "DEQUANTIZE": lower_dequantize16,
}
