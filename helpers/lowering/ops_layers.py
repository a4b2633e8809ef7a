"""Lowering of LOG_SOFTMAX, L2_NORMALIZATION, RESIZE_BILINEAR, ADD_N, CUMSUM, L2_POOL_2D and
EMBEDDING_LOOKUP: the constants their TFLM kernels' Prepare computes (log_softmax.cc, l2norm.cc,
resize_bilinear.cc, add_n.cc, cumsum.cc), tables of what the int8 kernels compute per input byte,
and the existing steps that already express an op (a pool, a gather)."""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from helpers.lowering import arith
from helpers.lowering.builder import Builder
from helpers.lowering.fixedpoint import mbqm, srdhm
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.ops_dense import activation, float32, int32, pool_geometry
from helpers.lowering.ops_movement import constant, gather, positions
from helpers.lowering.steps import (
    AddN,
    Cumsum,
    L2NormInt8,
    LogSoftmaxInt8,
    MathFloat,
    PoolFloat,
    ResizeBilinear,
    RowFloat,
    Svdf,
    SvdfShape,
)
from helpers.lowering.program import Const, Reset

# add_n.cc's kAddNIntegerShift and cumsum.cc's kCumSumIntegerShift
INTEGER_SHIFT = 20
LOG_SOFTMAX_OUTPUT = (16.0 / 256, 127)   # log_softmax.cc's kOutputScale, kOutputZeroPoint


def _rows(x: Tensor) -> tuple[int, int]:
    depth = x.shape[-1] if x.shape else 1
    return x.size // max(depth, 1), depth


def _check(x: Tensor, y: Tensor, op: Op) -> None:
    if not x.dtype == y.dtype or x.dtype not in ("int8", "float32"):
        raise Unsupported(f"{op.name} of {x.dtype} into {y.dtype}")


def lower_row_op(b: Builder, op: Op, kind: str) -> None:
    """LOG_SOFTMAX or L2_NORMALIZATION over the last axis."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    _check(x, y, op)
    rows, depth = _rows(x)
    source = b.operand(op.inputs[0])
    if x.dtype == "float32":
        b.emit(RowFloat(op=op.name, x=source, y=b.allocate(op.outputs[0]), kind=kind, rows=rows, depth=depth))
    elif kind == "l2_normalization":
        b.emit(L2NormInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), rows=rows, depth=depth,
                          input_zero_point=x.zero_point))
    else:
        if (arith.float32(y.scale), y.zero_point) != (arith.float32(LOG_SOFTMAX_OUTPUT[0]), LOG_SOFTMAX_OUTPUT[1]):
            raise Unsupported("LOG_SOFTMAX whose output is not quantized as TFLM requires (1/16, 127)")
        diffs, exps, diff_min, reverse = log_softmax_tables(x.scale)
        b.emit(LogSoftmaxInt8(op=op.name, x=source, y=b.allocate(op.outputs[0]), rows=rows, depth=depth,
                              diffs=int32(diffs), exps=int32(exps), diff_min=diff_min, reverse_multiplier=reverse[0],
                              reverse_shift=reverse[1]))


def log_softmax_tables(input_scale: float) -> tuple[list[int], list[int], int, tuple[int, int]]:
    """PreprocessLogSoftmaxScalingExp (beta 1): per distance 0..255 from the row's largest input the
    difference in Q5.26 and its exp in Q12.19 (0 where TFLM skips it), diff_min, and the reverse
    scaling divisor as MultiplyByQuantizedMultiplier's (multiplier, shift)."""
    multiplier, left_shift, diff_min = arith.softmax_scaling(input_scale, 1.0)
    _, exps = arith.softmax_tables(input_scale, 1.0)
    diffs = [srdhm(-d * (1 << left_shift), multiplier) if -d >= diff_min else 0 for d in range(256)]
    reverse = arith.quantize_multiplier((1 << (31 - left_shift)) / float(multiplier))
    return diffs, exps, diff_min, reverse


def _c_div(a: int, b: int) -> int:
    """C's integer division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _axis_float(v: int, scale: np.float32, half: bool, size: int) -> tuple[np.float32, int, int]:
    f = np.float32
    scaled = f((f(v) + f(0.5)) * scale - f(0.5)) if half else f(f(v) * scale)
    return scaled, max(int(np.floor(scaled)), 0), min(int(np.ceil(scaled)), size - 1)


def _axis_int(v: int, scale: int, half: bool, size: int) -> tuple[int, int, int]:
    scaled = v * scale + _c_div(scale, 2) - (1 << 9) if half else v * scale
    return scaled, max(_c_div(scaled, 1 << 10), 0), min(_c_div(scaled + (1 << 10) - 1, 1 << 10), size - 1)


def _scale(in_size: int, out_size: int, align: bool, integer: bool) -> object:
    if integer:
        if align and out_size > 1:
            return _c_div((1 << 10) * (in_size - 1) + _c_div(out_size - 1, 2), out_size - 1)
        return _c_div((1 << 10) * in_size + _c_div(out_size, 2), out_size)
    if align and out_size > 1:
        return np.float32(np.float32(in_size - 1) / np.float32(out_size - 1))
    return np.float32(np.float32(in_size) / np.float32(out_size))


def bilinear_taps(in_hw: tuple[int, int], out_hw: tuple[int, int], align: bool, half: bool,
                  integer: bool) -> tuple[list[tuple[int, int, int, int]], list[tuple[object, ...]]]:
    """Per output pixel its four source pixels (y0x0, y1x0, y0x1, y1x1) and their weights, as
    resize_bilinear.h computes them (float32 or the integer kernel's 10-bit fixed point)."""
    axis = _axis_int if integer else _axis_float
    sh, sw = (_scale(i, o, align, integer) for i, o in zip(in_hw, out_hw))
    one = 1 << 10 if integer else np.float32(1)
    pixels, weights = [], []
    for oy in range(out_hw[0]):
        iy, y0, y1 = axis(oy, sh, half, in_hw[0])
        dy = iy - one * y0 if integer else np.float32(iy - np.float32(y0))
        for ox in range(out_hw[1]):
            ix, x0, x1 = axis(ox, sw, half, in_hw[1])
            dx = ix - one * x0 if integer else np.float32(ix - np.float32(x0))
            pixels.append((y0 * in_hw[1] + x0, y1 * in_hw[1] + x0, y0 * in_hw[1] + x1, y1 * in_hw[1] + x1))
            weights.append(((one - dy) * (one - dx), dy * (one - dx), (one - dy) * dx, dy * dx))
    return pixels, weights


def lower_resize_bilinear(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    _check(x, y, op)
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise Unsupported(f"RESIZE_BILINEAR of shape {x.shape}")
    if x.dtype == "int8" and (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise Unsupported("RESIZE_BILINEAR whose output is quantized unlike its input")
    out_h, out_w = (int(v) for v in constant(b, op, 1, "a size").reshape(-1))
    align, half = bool(getattr(op.options, "alignCorners", False)), bool(getattr(op.options, "halfPixelCenters", False))
    integer = x.dtype == "int8"
    pixels, weights = bilinear_taps(x.shape[1:3], (out_h, out_w), align, half, integer)
    depth = x.shape[3]
    corners = int32(np.asarray(pixels, dtype=np.int64) * depth)
    table = int32(weights) if integer else float32(weights)
    b.emit(ResizeBilinear(op=op.name, x=b.operand(op.inputs[0]), y=b.allocate(op.outputs[0]), dtype=x.dtype,
                          depth=depth, corners=corners, weights=table))


def scaled_inputs(x: Tensor, y: Tensor) -> dict[str, object]:
    """add_n.cc's and cumsum.cc's int8 Prepare: every raw byte's input << 20 times 1/2 (the input
    over twice its scale), the start value (the scaled input offset: TFLM starts from it, not 0),
    and the output rescaling."""
    m_in, s_in = arith.quantize_multiplier(float(x.scale) / (2 * float(x.scale)))
    m_out, s_out = arith.quantize_multiplier(2 * float(x.scale) / ((1 << INTEGER_SHIFT) * float(y.scale)))
    offset = -x.zero_point
    table = [mbqm((offset + raw) * (1 << INTEGER_SHIFT), m_in, s_in) for raw in range(-128, 128)]
    return {"table": int32(table), "start": mbqm(offset * (1 << INTEGER_SHIFT), m_in, s_in),
            "output_multiplier": m_out, "output_shift": s_out, "output_zero_point": y.zero_point}


def lower_add_n(b: Builder, op: Op) -> None:
    xs = [b.graph.tensor(i) for i in op.inputs]
    y = b.graph.tensor(op.outputs[0])
    for x in xs:
        _check(x, y, op)
        if x.shape != y.shape:
            raise Unsupported("ADD_N of inputs shaped unlike its output")
        if x.dtype == "int8" and (x.scale, x.zero_point) != (xs[0].scale, xs[0].zero_point):
            raise Unsupported("ADD_N of int8 inputs quantized differently")
    extra = scaled_inputs(xs[0], y) if y.dtype == "int8" else {}
    operands = tuple(b.operand(i) for i in op.inputs)
    b.emit(AddN(op=op.name, xs=operands, y=b.allocate(op.outputs[0]), count=y.size, dtype=y.dtype, **extra))


def lower_cumsum(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    _check(x, y, op)
    axis = int(constant(b, op, 1, "an axis").reshape(-1)[0]) % max(len(x.shape), 1)
    before, after = int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis + 1:]))
    extra = scaled_inputs(x, y) if x.dtype == "int8" else {}
    b.emit(Cumsum(op=op.name, x=b.operand(op.inputs[0]), y=b.allocate(op.outputs[0]), dtype=x.dtype, before=before,
                  length=x.shape[axis], after=after, exclusive=bool(getattr(op.options, "exclusive", False)),
                  reverse=bool(getattr(op.options, "reverse", False)), **extra))


# The float32 activation clamps after L2_POOL_2D's square root (>= 0), as MathFloat kinds.
_CLAMPS = {(0.0, np.inf): None, (-np.inf, np.inf): None, (0.0, 6.0): "relu6", (-1.0, 1.0): "relu_n1_to_1"}


def lower_l2_pool(b: Builder, op: Op) -> None:
    """L2_POOL_2D (float32 only in TFLM): the squares averaged over each window as AVERAGE_POOL_2D
    averages (in-bounds elements, their count), then the square root and the fused clamp."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if x.dtype != "float32":
        raise Unsupported(f"L2_POOL_2D on {x.dtype} tensors")
    geometry = pool_geometry(b, op)
    clamp = _CLAMPS.get(arith.float_activation_range(activation(op.options)), "?")
    if clamp == "?":
        raise Unsupported("L2_POOL_2D with this fused activation")
    squares, means = b.temporary("float32", x.size), b.temporary("float32", y.size)
    b.emit(MathFloat(op=op.name, kind="square", x=b.operand(op.inputs[0]), y=squares, count=x.size, alpha=0.0))
    b.emit(PoolFloat(op=op.name, average=True, x=squares, y=means, geometry=geometry, act_min=-np.inf,
                     act_max=np.inf))
    out = b.allocate(op.outputs[0])
    b.emit(MathFloat(op=op.name, kind="sqrt", x=means, y=out, count=y.size, alpha=0.0))
    if clamp is not None:
        b.emit(MathFloat(op=op.name, kind=clamp, x=out, y=out, count=y.size, alpha=0.0))


def lower_embedding_lookup(b: Builder, op: Op) -> None:
    """EMBEDDING_LOOKUP with constant ids: rows of the value tensor gathered (a GATHER on axis 0);
    an int8 value into an int8 output copies the stored values."""
    ids = constant(b, op, 0, "ids").reshape(-1)
    value = b.graph.tensor(op.inputs[1])
    if np.any(ids < 0) or np.any(ids >= value.shape[0]):
        raise Unsupported("EMBEDDING_LOOKUP with ids outside the table")
    swapped = dataclasses.replace(op, inputs=(op.inputs[1], op.inputs[0]))
    gather(b, swapped, positions(value)[ids])


def _svdf_weights(b: Builder, op: Op) -> tuple[Const, Const, Const | None]:
    found = []
    for slot in (1, 2, 3):
        index = op.inputs[slot] if slot < len(op.inputs) else -1
        values = b.data(index) if index >= 0 else None
        if values is None and (slot < 3 or index >= 0):
            raise Unsupported("SVDF with weights computed at run time")
        found.append(None if values is None else Const(np.asarray(values).reshape(-1)))
    return found[0], found[1], found[2]


def lower_svdf(b: Builder, op: Op) -> None:
    x, state, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[4], op.outputs[0]))
    feature, time = (b.graph.tensor(op.inputs[i]) for i in (1, 2))
    if x.shape[0] != 1 or len(x.shape) != 2:
        raise Unsupported(f"SVDF of an input shaped {x.shape} (batch 1 only)")
    rank = int(getattr(op.options, "rank", 1))
    shape = SvdfShape(n_input=x.shape[1], filters=feature.shape[0], rank=rank, memory=time.shape[1])
    wf, wt, bias = _svdf_weights(b, op)
    buffer = b.scratch(state.dtype, state.size)
    source, out = b.operand(op.inputs[0]), b.allocate(op.outputs[0])
    if x.dtype == "float32":
        low, high = arith.float_activation_range(activation(op.options))
        b.resets.append(Reset(buffer, 0))
        b.emit(Svdf(op=op.name, x=source, y=out, dtype="float32", shape=shape, state=buffer, weights_feature=wf,
                    weights_time=wt, bias=bias or float32(np.zeros(shape.filters // rank)), act_min=low,
                    act_max=high))
        return
    if x.dtype != "int8" or state.dtype not in ("int8", "int16"):
        raise Unsupported(f"SVDF of {x.dtype} with {state.dtype} state")
    f32 = arith.float32  # svdf_common.cc multiplies the scales in float
    scale1 = arith.quantize_multiplier(f32(f32(x.scale * feature.scale) / state.scale))
    scale2 = arith.quantize_multiplier(f32(f32(state.scale * time.scale) / y.scale))
    b.resets.append(Reset(buffer, state.zero_point & 255 if state.dtype == "int8" else state.zero_point))
    b.emit(Svdf(op=op.name, x=source, y=out, dtype=state.dtype, shape=shape, state=buffer, weights_feature=wf,
                weights_time=wt, bias=bias or int32(np.zeros(shape.filters // rank)),
                input_zero_point=x.zero_point, state_zero_point=state.zero_point, scale1=scale1, scale2=scale2,
                output_zero_point=y.zero_point))


LAYER_LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "LOG_SOFTMAX": lambda b, op: lower_row_op(b, op, "log_softmax"),
    "L2_NORMALIZATION": lambda b, op: lower_row_op(b, op, "l2_normalization"),
    "RESIZE_BILINEAR": lower_resize_bilinear,
    "ADD_N": lower_add_n,
    "CUMSUM": lower_cumsum,
    "L2_POOL_2D": lower_l2_pool,
    "EMBEDDING_LOOKUP": lower_embedding_lookup,
    "SVDF": lower_svdf,
}
