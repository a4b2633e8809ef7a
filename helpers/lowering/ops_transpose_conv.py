"""TRANSPOSE_CONV as two steps both engines already run: a Gather that spreads the input over a
zero-inserted, padded grid (the stride's gaps and the borders hold the input's zero point, so they
add nothing once the input offset is applied), then a stride-1 VALID CONV_2D with the kernel
flipped in both spatial axes. In int8 the two are held by one TransposeConvInt8 step, which the C
engine and the kernels module run as CMSIS-NN's transpose convolution, as TFLM's Cortex-M kernel
does: the grid's convolution multiplies every gap too, stride squared times the work.

Exact for int8: TFLM's transpose convolution sums (input + offset) * weight over the same pairs
into an int32 accumulator and requantizes per channel with the multipliers a convolution would use,
so the integer sums are equal whatever their order. float32 sums in another order: within float
rounding."""
from __future__ import annotations

import numpy as np

from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.ops_dense import activation, bias, float32, int8, int32, is_int8, padding, requantization
from helpers.lowering.program import Const
from helpers.lowering import arith
from helpers.lowering.steps import ConvFloat, ConvGeometry, ConvInt8, Gather, TransposeConvInt8, TransposePadding


def _out_size(mode: int, size: int, kernel: int, stride: int) -> int:
    """TFLite's ComputeOutSize (SAME: 0, VALID: 1) for a convolution over `size`."""
    return (size + stride - 1) // stride if mode == 0 else (size - kernel + stride) // stride


def spread_index(x_shape: tuple[int, ...], y_shape: tuple[int, ...], kernel: tuple[int, int], op: Op) -> np.ndarray:
    """For every element of the zero-inserted, padded grid [out_h + k_h - 1, out_w + k_w - 1, in_c]:
    the input element it holds, or -1 (the zero point). TFLM places input (iy, ix) at output origin
    (iy * stride - pad_top, ix * stride - pad_left), its padding that of a convolution from the
    output's size back to the input's."""
    o = op.options
    (in_h, in_w, in_c), (out_h, out_w) = x_shape[1:], y_shape[1:3]
    k_h, k_w = kernel
    s_h, s_w = o.strideH or 1, o.strideW or 1
    pad_top = padding(o.padding, out_h, _out_size(o.padding, out_h, k_h, s_h), s_h, 1, k_h)
    pad_left = padding(o.padding, out_w, _out_size(o.padding, out_w, k_w, s_w), s_w, 1, k_w)
    grid = np.full((out_h + k_h - 1, out_w + k_w - 1, in_c), -1, dtype=np.int64)
    positions = np.arange(in_h * in_w * in_c).reshape(in_h, in_w, in_c)
    for iy in range(in_h):
        gy = iy * s_h - pad_top + k_h - 1
        for ix in range(in_w):
            gx = ix * s_w - pad_left + k_w - 1
            if 0 <= gy < grid.shape[0] and 0 <= gx < grid.shape[1]:
                grid[gy, gx] = positions[iy, ix]
    return grid.reshape(-1)


def _padding_with_offset(mode: int, size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TFLite's ComputePaddingWithOffset for a transpose convolution whose output is `size` long:
    the padding before the first element and whether one more goes after the last."""
    total = max(0, (_out_size(mode, size, kernel, stride) - 1) * stride + kernel - size)
    return total // 2, total % 2


def transpose_padding(mode: int, g: ConvGeometry) -> TransposePadding:
    """What TFLM's CMSIS-NN kernel passes as padding and padding_offsets (the offsets include the
    padding: CalculateOpData adds them)."""
    pad_h, odd_h = _padding_with_offset(mode, g.out_h, g.k_h, g.stride_h)
    pad_w, odd_w = _padding_with_offset(mode, g.out_w, g.k_w, g.stride_w)
    return TransposePadding(pad_h=pad_h, pad_w=pad_w, offset_h=pad_h + odd_h, offset_w=pad_w + odd_w)


def lower_transpose_conv(b: Builder, op: Op) -> None:
    w_index, x_index = op.inputs[1], op.inputs[2]
    x, w, y = b.graph.tensor(x_index), b.graph.tensor(w_index), b.graph.tensor(op.outputs[0])
    weights = b.data(w_index)
    if weights is None:
        raise Unsupported("TRANSPOSE_CONV with weights computed at run time")
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise Unsupported("TRANSPOSE_CONV on a batch (batch 1 only)")
    out_c, k_h, k_w, in_c = weights.shape
    index = spread_index(x.shape, y.shape, (k_h, k_w), op)
    grid_h, grid_w = y.shape[1] + k_h - 1, y.shape[2] + k_w - 1
    geometry = ConvGeometry(in_h=grid_h, in_w=grid_w, in_c=in_c, out_h=y.shape[1], out_w=y.shape[2], out_c=out_c,
                            k_h=k_h, k_w=k_w, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, pad_top=0,
                            pad_left=0)
    flipped = np.ascontiguousarray(weights[:, ::-1, ::-1, :])
    if is_int8(x) and w.dtype == "int8" and is_int8(y):
        spread = _spread(b, x_index, x, index, x.zero_point & 255)
        b.need_accumulator(geometry.out_w * out_c)
        output = b.allocate(op.outputs[0])
        layer_bias = int32(bias(b, op, 3, out_c, "int32"))
        quant = requantization(x, w.scales, y, out_c, activation(op.options))
        conv = ConvInt8(op=op.name, depthwise=False, x=spread.y, y=output, weights=int8(flipped), bias=layer_bias,
                        quant=quant, geometry=geometry)
        o = op.options
        transpose = ConvGeometry(in_h=x.shape[1], in_w=x.shape[2], in_c=in_c, out_h=y.shape[1], out_w=y.shape[2],
                                 out_c=out_c, k_h=k_h, k_w=k_w, stride_h=o.strideH or 1, stride_w=o.strideW or 1,
                                 dilation_h=1, dilation_w=1, pad_top=0, pad_left=0)
        b.emit(TransposeConvInt8(op=op.name, x=spread.x, y=output, weights=int8(np.ascontiguousarray(weights)),
                                 bias=layer_bias, quant=quant, geometry=transpose,
                                 padding=transpose_padding(o.padding, transpose), grid=spread.y, spread=spread,
                                 conv=conv))
        return
    if x.dtype == "float32" and weights.dtype in (np.float32, np.float16):
        spread = _spread(b, x_index, x, index, 0.0)
        b.emit(spread)
        low, high = arith.float_activation_range(activation(op.options))
        b.emit(ConvFloat(op=op.name, depthwise=False, x=spread.y, y=b.allocate(op.outputs[0]), weights=float32(flipped),
                         bias=float32(bias(b, op, 3, out_c, "float32")), geometry=geometry, act_min=low, act_max=high))
        return
    raise Unsupported(f"TRANSPOSE_CONV with {x.dtype} input and {w.dtype} weights")


def _spread(b: Builder, x_index: int, x: Tensor, index: np.ndarray, pad: int | float) -> Gather:
    """The Gather onto the padded grid (not emitted), into a buffer that lives only for this op."""
    source = b.operand(x_index)
    grid = b.temporary(x.dtype, index.size)
    return Gather(op="TRANSPOSE_CONV", x=source, y=grid, index=Const(index.astype(np.int32)), pad=pad)
