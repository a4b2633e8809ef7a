"""Lowering of the ops that only move elements: RESHAPE (an alias), STRIDED_SLICE, PAD,
SPLIT, SPLIT_V, UNPACK (gathers through an index map computed here) and
CONCATENATION (scatters)."""
from __future__ import annotations

import numpy as np

from helpers.lowering.builder import BUFFER_DTYPES, Builder
from helpers.lowering.graph import Op, Unsupported
from helpers.lowering.ops_dense import activation, int32, is_int8
from helpers.lowering.steps import Gather, Scatter


def lower_reshape(b: Builder, op: Op) -> None:
    b.alias(op.outputs[0], op.inputs[0])


def _gather(b: Builder, op: Op, index: np.ndarray, pad: int | float) -> None:
    x = b.graph.tensor(op.inputs[0])
    if x.dtype not in BUFFER_DTYPES:
        raise Unsupported(f"{op.name} on {x.dtype}")
    source = b.operand(op.inputs[0])
    b.emit(Gather(op=op.name, x=source, y=b.allocate(op.outputs[0]), index=int32(index), pad=pad))


def lower_strided_slice(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    begin, end, strides = (b.data(i) for i in op.inputs[1:4])
    if begin is None or end is None or strides is None:
        raise Unsupported("STRIDED_SLICE with bounds computed at run time")
    o = op.options
    if o.ellipsisMask or o.newAxisMask:
        raise Unsupported("STRIDED_SLICE with an ellipsis or new-axis mask")
    slices: list[object] = []
    for axis in range(len(x.shape)):
        start, stop, step = int(begin[axis]), int(end[axis]), int(strides[axis])
        if getattr(o, "offset", False):
            stop = start + stop
        if o.shrinkAxisMask & (1 << axis):
            slices.append(start if start >= 0 else start + x.shape[axis])
            continue
        slices.append(slice(None if o.beginMask & (1 << axis) else start,
                            None if o.endMask & (1 << axis) else stop, step))
    _gather(b, op, np.arange(x.size).reshape(x.shape)[tuple(slices)], 0)


def lower_pad(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    paddings = b.data(op.inputs[1])
    if paddings is None:
        raise Unsupported("PAD with paddings computed at run time")
    padded = np.pad(np.arange(x.size).reshape(x.shape), np.asarray(paddings, dtype=int), constant_values=-1)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = b.data(op.inputs[2])
        if value is None:
            raise Unsupported("PADV2 with a pad value computed at run time")
        pad = np.asarray(value).reshape(-1)[0].item()
    else:
        pad = x.zero_point if x.dtype in ("int8", "int16") else 0.0
    if x.dtype == "int16" and len(op.inputs) > 2 and op.inputs[2] >= 0 and \
            b.graph.tensor(op.inputs[2]).dtype != "int16":
        # TF's converter leaves PADV2's value float32 in int16x8 models; TFLM refuses the type mismatch
        raise Unsupported("PADV2 of int16 with a pad value that is not int16")
    # int8: the raw byte; int16: the value itself (an array('h') takes no float); float32: the value
    _gather(b, op, padded, (int(pad) & 255) if is_int8(x) else int(pad) if x.dtype == "int16" else float(pad))


def parts_along(positions: np.ndarray, axis: int, widths: list[int]) -> list[np.ndarray]:
    """The element positions of consecutive slices `widths` wide along `axis`."""
    starts = np.cumsum([0] + widths[:-1])
    return [np.take(positions, range(start, start + width), axis=axis) for start, width in zip(starts, widths)]


def lower_concatenation(b: Builder, op: Op) -> None:
    y = b.graph.tensor(op.outputs[0])
    axis = op.options.axis % len(y.shape)
    inputs = [b.graph.tensor(i) for i in op.inputs]
    if activation(op.options):
        raise Unsupported("CONCATENATION with a fused activation")
    for tensor in inputs:
        if tensor.dtype != y.dtype or (is_int8(y) and (tensor.scale, tensor.zero_point) != (y.scale, y.zero_point)):
            raise Unsupported("CONCATENATION of inputs quantized differently from its output")
    out = b.allocate(op.outputs[0])
    parts = parts_along(np.arange(y.size).reshape(y.shape), axis, [tensor.shape[axis] for tensor in inputs])
    for index, part in zip(op.inputs, parts):
        b.emit(Scatter(op=op.name, x=b.operand(index), y=out, index=int32(part)))


def lower_split(b: Builder, op: Op) -> None:
    """SPLIT (axis first, then the input), SPLIT_V (input, sizes, axis) and UNPACK: one gather per output."""
    if op.name == "SPLIT":
        data_index, axis_value = op.inputs[1], b.data(op.inputs[0])
    elif op.name == "SPLIT_V":
        data_index, axis_value = op.inputs[0], b.data(op.inputs[2])
    else:
        data_index, axis_value = op.inputs[0], np.asarray(op.options.axis)
    if axis_value is None:
        raise Unsupported(f"{op.name} along an axis computed at run time")
    x = b.graph.tensor(data_index)
    axis = int(np.asarray(axis_value).reshape(-1)[0]) % len(x.shape)
    widths = [1 if op.name == "UNPACK" else b.graph.tensor(output).shape[axis] for output in op.outputs]
    parts = parts_along(np.arange(x.size).reshape(x.shape), axis, widths)
    for output, part in zip(op.outputs, parts):
        source = b.operand(data_index)
        b.emit(Gather(op=op.name, x=source, y=b.allocate(output), index=int32(part), pad=0))
