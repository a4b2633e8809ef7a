"""The lowerings of issue 34's layer ops, checked without TensorFlow against the arithmetic written
out here independently: TRANSPOSE_CONV's zero-inserted grid against TFLM's scatter loop (and the
convolution over it against a direct transpose convolution), BATCH_MATMUL's strides against numpy's
matmul, PRELU's alpha per channel, and the folding of shape arithmetic on constants."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from helpers.lowering import steps as s
from helpers.lowering.graph import Unsupported
from helpers.lowering.lower import lower
from helpers.lowering.ops_matmul import matmul_layout
from helpers.lowering.ops_transpose_conv import spread_index
from tests.unit.test_lowering import graph, tensor


def _tflm_transpose_conv(x, w, stride, pad, out_hw):
    """TFLM's reference TransposeConv (float): each input scattered into the output at
    (iy * stride - pad_top + fy, ix * stride - pad_left + fx)."""
    out = np.zeros((*out_hw, w.shape[0]))
    for iy in range(x.shape[0]):
        for ix in range(x.shape[1]):
            for fy in range(w.shape[1]):
                for fx in range(w.shape[2]):
                    oy, ox = iy * stride[0] - pad[0] + fy, ix * stride[1] - pad[1] + fx
                    if 0 <= oy < out_hw[0] and 0 <= ox < out_hw[1]:
                        out[oy, ox] += w[:, fy, fx, :] @ x[iy, ix]
    return out


def _conv_valid(grid, w):
    k_h, k_w = w.shape[1:3]
    out = np.zeros((grid.shape[0] - k_h + 1, grid.shape[1] - k_w + 1, w.shape[0]))
    for oy in range(out.shape[0]):
        for ox in range(out.shape[1]):
            out[oy, ox] = np.tensordot(w, grid[oy:oy + k_h, ox:ox + k_w], axes=([1, 2, 3], [0, 1, 2]))
    return out


@pytest.mark.parametrize("in_hw,out_hw,kernel,stride,mode", [
    ((4, 4), (8, 8), (3, 3), (2, 2), 0), ((3, 5), (7, 11), (3, 3), (2, 2), 1), ((5, 4), (5, 4), (2, 3), (1, 1), 0),
    ((4, 4), (8, 8), (2, 2), (2, 2), 0), ((2, 3), (6, 7), (3, 2), (3, 2), 1)])
def test_transpose_conv_is_a_convolution_over_the_spread_grid(in_hw, out_hw, kernel, stride, mode):
    rng = np.random.default_rng(3)
    x = rng.integers(-5, 6, size=(*in_hw, 2)).astype(float)
    w = rng.integers(-3, 4, size=(3, *kernel, 2)).astype(float)
    op = SimpleNamespace(options=SimpleNamespace(padding=mode, strideH=stride[0], strideW=stride[1]))
    index = spread_index((1, *in_hw, 2), (1, *out_hw, 3), kernel, op)
    grid = np.where(index >= 0, x.reshape(-1)[np.maximum(index, 0)], 0.0)
    grid = grid.reshape(out_hw[0] + kernel[0] - 1, out_hw[1] + kernel[1] - 1, 2)
    # TFLM's padding: that of a convolution from the output's size back to the input's
    pads = [max(0, (in_hw[a] - 1) * stride[a] + kernel[a] - out_hw[a]) // 2 if mode == 0 else 0 for a in (0, 1)]
    want = _tflm_transpose_conv(x, w, stride, pads, out_hw)
    assert np.array_equal(_conv_valid(grid, w[:, ::-1, ::-1, :]), want)


def test_transpose_conv_int8_is_one_step_holding_cmsis_nns_form_and_the_gather_then_conv():
    weights = np.arange(-27, 27, dtype=np.int8).reshape(2, 3, 3, 3)
    g = graph([tensor(0, (1, 4, 4, 3), scale=0.1, zero_point=5),
               tensor(1, (4,), "int32", data=np.array([1, 8, 8, 2], np.int32)),
               tensor(2, (2, 3, 3, 3), data=weights, scales=(0.01, 0.02)),
               tensor(3, (1, 8, 8, 2), scale=0.2, zero_point=-3)],
              [("TRANSPOSE_CONV", (1, 2, 0), (3,), SimpleNamespace(padding=0, strideH=2, strideW=2,
                                                                  fusedActivationFunction=0))])
    program = lower(g)
    (step,) = program.steps
    assert isinstance(step, s.TransposeConvInt8)
    # CMSIS-NN's form: the weights as the model holds them, the op's own shapes and TFLM's padding
    # (SAME, stride 2, kernel 3, 8 from 4: (4 - 1) * 2 + 3 - 8 = 1 in total, none before, the odd one after)
    assert np.array_equal(step.weights.values.reshape(weights.shape), weights)
    assert step.geometry.in_h == 4 and step.geometry.out_h == 8 and (step.geometry.stride_h, step.geometry.stride_w) == (2, 2)
    assert step.padding == s.TransposePadding(pad_h=0, pad_w=0, offset_h=1, offset_w=1)
    # the portable paths' form: a gather onto the grid, padded with the input's zero point, and a
    # stride-1 convolution with the kernel flipped
    gather, conv = step.spread, step.conv
    assert gather.pad == 5 and conv.x == gather.y == step.grid and conv.y == step.y and step.x == gather.x
    assert conv.geometry.in_h == 10 and conv.geometry.stride_h == 1
    assert np.array_equal(conv.weights.values.reshape(2, 3, 3, 3), weights[:, ::-1, ::-1, :])
    assert conv.quant.input_offset == -5 and conv.quant.output_zero_point == -3
    assert step.quant == conv.quant


@pytest.mark.parametrize("lhs,rhs,adj_x,adj_y", [
    ((1, 4, 8), (1, 4, 8), False, True), ((1, 5, 3), (1, 5, 3), True, False), ((2, 3, 4, 5), (5, 6), False, False),
    ((1, 3, 4), (2, 1, 4, 2), False, False)])
def test_batch_matmul_layout_reads_numpys_matmul(lhs, rhs, adj_x, adj_y):
    rng = np.random.default_rng(1)
    a, b = rng.integers(-9, 9, size=lhs), rng.integers(-9, 9, size=rhs)
    want = np.matmul(np.swapaxes(a, -1, -2) if adj_x else a, np.swapaxes(b, -1, -2) if adj_y else b)
    y = tensor(2, want.shape, "float32")
    p = matmul_layout(tensor(0, lhs, "float32"), tensor(1, rhs, "float32"), y, adj_x, adj_y)
    rows, cols, depth, lsi, lsk, rsk, rsj, batches = p[:8]
    got = np.zeros((batches, rows, cols))
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    for n in range(batches):
        lb, rb = p[8 + 2 * n], p[9 + 2 * n]
        for i in range(rows):
            for j in range(cols):
                got[n, i, j] = sum(flat_a[lb + i * lsi + k * lsk] * flat_b[rb + k * rsk + j * rsj] for k in range(depth))
    assert np.array_equal(got.reshape(want.shape), want)


def test_prelu_alpha_per_channel_and_per_element():
    alpha = np.array([[[0.1, 0.2, 0.3]]], np.float32)
    g = graph([tensor(0, (1, 2, 2, 3), "float32"), tensor(1, (1, 1, 3), "float32", data=alpha),
               tensor(2, (1, 2, 2, 3), "float32")], [("PRELU", (0, 1), (2,), None)])
    step = lower(g).steps[0]
    assert isinstance(step, s.PreluFloat) and np.allclose(step.alpha.values, [0.1, 0.2, 0.3])
    full = np.arange(12, dtype=np.float32).reshape(2, 2, 3) / 10
    g = graph([tensor(0, (1, 2, 2, 3), "float32"), tensor(1, (2, 2, 3), "float32", data=full),
               tensor(2, (1, 2, 2, 3), "float32")], [("PRELU", (0, 1), (2,), None)])
    assert np.allclose(lower(g).steps[0].alpha.values, full.reshape(-1))
    # int8 tables are per channel: an alpha varying over more axes is named, not approximated
    g = graph([tensor(0, (1, 2, 2, 3), scale=0.1), tensor(1, (2, 2, 3), data=np.arange(12, dtype=np.int8).reshape(2, 2, 3),
                                                       scale=0.1),
               tensor(2, (1, 2, 2, 3), scale=0.1)], [("PRELU", (0, 1), (2,), None)])
    with pytest.raises(Unsupported, match="alpha varying over more than the last axis"):
        lower(g)


def test_shape_arithmetic_on_constants_is_folded_away():
    # a Conv2DTranspose traced with a free batch: SHAPE -> STRIDED_SLICE -> PACK -> output_shape
    ss = SimpleNamespace(beginMask=0, endMask=0, ellipsisMask=0, newAxisMask=0, shrinkAxisMask=1)
    one = np.array([1], np.int32)
    g = graph([tensor(0, (1, 4), "float32"), tensor(1, (2,), "int32"), tensor(2, (1,), "int32", data=np.array([0], np.int32)),
               tensor(3, (1,), "int32", data=one), tensor(4, (1,), "int32", data=one), tensor(5, (), "int32"),
               tensor(6, (), "int32", data=np.array(4, np.int32)), tensor(7, (2,), "int32"),
               tensor(8, (1, 4), "float32")],
              [("SHAPE", (0,), (1,), None), ("STRIDED_SLICE", (1, 2, 3, 4), (5,), ss),
               ("PACK", (5, 6), (7,), SimpleNamespace(axis=0)), ("RESHAPE", (0, 7), (8,), None)])
    program = lower(g)
    assert program.steps == () or all(not isinstance(step, s.Gather) for step in program.steps)
