"""Lowering of the ops that only move elements, each a Gather through an index map computed here
with numpy from the op's static shapes and constant operands: TRANSPOSE, SLICE, GATHER, GATHER_ND,
BROADCAST_TO, MIRROR_PAD, SPACE_TO_DEPTH, DEPTH_TO_SPACE, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND,
REVERSE_V2, RESIZE_NEAREST_NEIGHBOR, TILE; PACK as a Scatter per input (as CONCATENATION); ZEROS_LIKE
and FILL folded into a constant. TFLM copies the stored values, so an int8 or int16 op is exact only
when its input and output are quantized alike: otherwise Unsupported says so."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from helpers.lowering.builder import BUFFER_DTYPES, Builder
from helpers.lowering.graph import Op, Tensor, Unsupported
from helpers.lowering.ops_dense import int32
from helpers.lowering.steps import Gather, GatherRuns, Scatter, Transpose


def same_quantization(op: Op, x: Tensor, y: Tensor) -> None:
    """TFLM's copying kernels write the input's stored values: the output must read them alike."""
    if x.dtype != y.dtype:
        raise Unsupported(f"{op.name} from {x.dtype} to {y.dtype}")
    if x.dtype in ("int8", "int16") and (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise Unsupported(f"{op.name} with input and output quantized differently (TFLM copies the stored values)")


def positions(tensor: Tensor) -> np.ndarray:
    """Every element's flat position, in the tensor's shape: what an index map is made from."""
    return np.arange(tensor.size).reshape(tensor.shape)


def constant(b: Builder, op: Op, slot: int, what: str) -> np.ndarray:
    """A constant operand's values as int64; Unsupported when it is computed at run time."""
    values = b.data(op.inputs[slot]) if slot < len(op.inputs) and op.inputs[slot] >= 0 else None
    if values is None:
        raise Unsupported(f"{op.name} with {what} computed at run time")
    return np.asarray(values).astype(np.int64)


def gather(b: Builder, op: Op, index: np.ndarray, pad: int | float = 0, perm: tuple[int, ...] | None = None) -> None:
    """The op's output from its first input through `index` (-1: `pad`, the stored value); with
    `perm`, a TRANSPOSE's permutation, the step says it is one."""
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if x.dtype not in BUFFER_DTYPES:
        raise Unsupported(f"{op.name} on {x.dtype}")
    same_quantization(op, x, y)
    if index.size != y.size:
        raise Unsupported(f"{op.name}: {index.size} elements computed for an output of {y.size}")
    source = b.operand(op.inputs[0])
    run = run_length(index)
    starts = int32(index.reshape(-1, run)[:, 0])
    if perm is not None:
        b.emit(Transpose(op=op.name, x=source, y=b.allocate(op.outputs[0]), index=starts, run=run, pad=pad,
                         in_shape=x.shape, perm=perm))
    elif run > 1:
        b.emit(GatherRuns(op=op.name, x=source, y=b.allocate(op.outputs[0]), index=starts, run=run, pad=pad))
    else:
        b.emit(Gather(op=op.name, x=source, y=b.allocate(op.outputs[0]), index=int32(index), pad=pad))


def run_length(index: np.ndarray) -> int:
    """The longest run length (a divisor of the map's size) such that every run of the map reads
    consecutive input elements, or pads throughout: what one GatherRuns entry copies. A channels-last
    op that moves whole channel vectors gives runs of at least the channel count."""
    flat = np.asarray(index).reshape(-1)
    best = 1
    for run in range(2, flat.size + 1):
        if flat.size % run or run % best:  # a run that works is a multiple of every shorter one that does
            continue
        rows = flat.reshape(-1, run)
        # -1 (padding) then 0 looks consecutive: a run of data starts at an element, >= 0
        data = np.all(rows == rows[:, :1] + np.arange(run), axis=1) & (rows[:, 0] >= 0)
        if np.all(data | np.all(rows == -1, axis=1)):
            best = run
    return best


def lower_transpose(b: Builder, op: Op) -> None:
    perm = tuple(int(p) for p in constant(b, op, 1, "a permutation").reshape(-1))
    gather(b, op, np.transpose(positions(b.graph.tensor(op.inputs[0])), perm), perm=perm)


def lower_slice(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    begin, size = constant(b, op, 1, "bounds").reshape(-1), constant(b, op, 2, "bounds").reshape(-1)
    # size -1: to the end of the axis (slice.cc)
    window = tuple(slice(int(start), x.shape[axis] if int(width) < 0 else int(start + width))
                   for axis, (start, width) in enumerate(zip(begin, size)))
    gather(b, op, positions(x)[window])


def lower_gather(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    indices = constant(b, op, 1, "indices")
    if getattr(op.options, "batchDims", 0):
        raise Unsupported("GATHER with batch_dims")
    axis = int(getattr(op.options, "axis", 0)) % len(x.shape)
    if indices.size and (indices.min() < 0 or indices.max() >= x.shape[axis]):
        raise Unsupported("GATHER with indices out of range")
    gather(b, op, np.take(positions(x), indices, axis=axis))


def lower_gather_nd(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    indices = constant(b, op, 1, "indices")
    depth = indices.shape[-1]
    if np.any(indices < 0) or np.any(indices >= np.asarray(x.shape[:depth])):
        raise Unsupported("GATHER_ND with indices out of range")
    gather(b, op, positions(x)[tuple(np.moveaxis(indices, -1, 0))])


def lower_broadcast_to(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    gather(b, op, np.broadcast_to(positions(x).reshape((1,) * (len(y.shape) - len(x.shape)) + x.shape), y.shape))


def lower_mirror_pad(b: Builder, op: Op) -> None:
    """REFLECT (mode 0) leaves the edge out, SYMMETRIC repeats it: numpy's modes of those names."""
    paddings = constant(b, op, 1, "paddings")
    mode = "reflect" if int(getattr(op.options, "mode", 0)) == 0 else "symmetric"
    gather(b, op, np.pad(positions(b.graph.tensor(op.inputs[0])), paddings.tolist(), mode=mode))


def _block_size(op: Op) -> int:
    size = int(getattr(op.options, "blockSize", 0))
    if size < 1:
        raise Unsupported(f"{op.name} with block size {size}")
    return size


def lower_space_to_depth(b: Builder, op: Op) -> None:
    """y[n, h, w, (dy * s + dx) * c + k] = x[n, h * s + dy, w * s + dx, k] (space_to_depth.h)."""
    x, s = b.graph.tensor(op.inputs[0]), _block_size(op)
    n, h, w, c = x.shape
    moved = positions(x).reshape(n, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
    gather(b, op, moved.reshape(n, h // s, w // s, s * s * c))


def lower_depth_to_space(b: Builder, op: Op) -> None:
    """y[n, h * s + dy, w * s + dx, k] = x[n, h, w, (dy * s + dx) * c + k] (depth_to_space.h)."""
    x, s = b.graph.tensor(op.inputs[0]), _block_size(op)
    n, h, w, depth = x.shape
    moved = positions(x).reshape(n, h, w, s, s, depth // (s * s)).transpose(0, 1, 3, 2, 4, 5)
    gather(b, op, moved.reshape(n, h * s, w * s, depth // (s * s)))


def lower_space_to_batch_nd(b: Builder, op: Op) -> None:
    """Pad the spatial axes, cut each into blocks, and move the block offsets to the front of the
    batch (TF's definition: output batch = block offset * batches + batch)."""
    x = b.graph.tensor(op.inputs[0])
    block = [int(v) for v in constant(b, op, 1, "a block shape").reshape(-1)]
    paddings = constant(b, op, 2, "paddings").reshape(-1, 2).tolist()
    m, rest = len(block), list(x.shape[1 + len(block):])
    # LiteRT pads with the zero point (a real 0). TFLM's kernel pads with a field it never sets, so
    # the tool gives TFLM a PAD before it instead (rewrite/space_to_batch_pad.py), which agrees.
    padded = np.pad(positions(x), [(0, 0), *paddings, *[(0, 0)] * len(rest)], constant_values=-1)
    spatial = padded.shape[1:1 + m]
    split = padded.reshape([x.shape[0], *[v for size, s in zip(spatial, block) for v in (size // s, s)], *rest])
    order = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + list(range(1 + 2 * m, split.ndim))
    shape = [x.shape[0] * math.prod(block), *[size // s for size, s in zip(spatial, block)], *rest]
    gather(b, op, split.transpose(order).reshape(shape), 0.0 if x.dtype == "float32" else x.zero_point)


def lower_batch_to_space_nd(b: Builder, op: Op) -> None:
    """The inverse of SPACE_TO_BATCH_ND, then the crops."""
    x = b.graph.tensor(op.inputs[0])
    block = [int(v) for v in constant(b, op, 1, "a block shape").reshape(-1)]
    crops = constant(b, op, 2, "crops").reshape(-1, 2).tolist()
    m, batches = len(block), x.shape[0] // math.prod(block)
    spatial, rest = list(x.shape[1:1 + m]), list(x.shape[1 + m:])
    split = positions(x).reshape([*block, batches, *spatial, *rest])
    order = [m] + [v for i in range(m) for v in (m + 1 + i, i)] + list(range(2 * m + 1, split.ndim))
    joined = split.transpose(order).reshape([batches, *[size * s for size, s in zip(spatial, block)], *rest])
    window = (slice(None), *[slice(low, joined.shape[1 + i] - high) for i, (low, high) in enumerate(crops)])
    gather(b, op, joined[window])


def lower_reverse(b: Builder, op: Op) -> None:
    x = b.graph.tensor(op.inputs[0])
    axes = constant(b, op, 1, "axes").reshape(-1)
    gather(b, op, np.flip(positions(x), axis=tuple(int(a) % len(x.shape) for a in axes)))


def nearest_neighbor(value: int, in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> int:
    """GetNearestNeighbor (reference/resize_nearest_neighbor.h), with its float32 arithmetic."""
    f32 = np.float32
    scale = f32(in_size - 1) / f32(out_size - 1) if align_corners and out_size > 1 else f32(in_size) / f32(out_size)
    scaled = float((f32(value) + f32(0.5 if half_pixel else 0.0)) * scale)
    # TfLiteRound rounds half away from zero; scaled >= 0 here, and scaled + 0.5 is exact in a double
    nearest = math.floor(scaled + 0.5) if align_corners else math.floor(scaled)
    nearest = min(nearest, in_size - 1)
    return max(0, nearest) if half_pixel else nearest


def lower_resize_nearest_neighbor(b: Builder, op: Op) -> None:
    x, y = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.outputs[0])
    if len(x.shape) != 4:
        raise Unsupported(f"RESIZE_NEAREST_NEIGHBOR of a {len(x.shape)}-D tensor")
    out_h, out_w = (int(v) for v in constant(b, op, 1, "a size").reshape(-1))
    flags = bool(getattr(op.options, "alignCorners", False)), bool(getattr(op.options, "halfPixelCenters", False))
    rows = [nearest_neighbor(v, x.shape[1], out_h, *flags) for v in range(out_h)]
    cols = [nearest_neighbor(v, x.shape[2], out_w, *flags) for v in range(out_w)]
    gather(b, op, positions(x)[:, rows][:, :, cols].reshape(y.shape))


def lower_tile(b: Builder, op: Op) -> None:
    multiples = constant(b, op, 1, "multiples").reshape(-1)
    gather(b, op, np.tile(positions(b.graph.tensor(op.inputs[0])), [int(v) for v in multiples]))


def lower_pack(b: Builder, op: Op) -> None:
    """Input i is the output's slice i along `axis`: one Scatter each."""
    y = b.graph.tensor(op.outputs[0])
    axis = int(getattr(op.options, "axis", 0)) % len(y.shape)
    for index in op.inputs:
        same_quantization(op, b.graph.tensor(index), y)
    out = b.allocate(op.outputs[0])
    for number, index in enumerate(op.inputs):
        part = np.take(positions(y), number, axis=axis)
        b.emit(Scatter(op=op.name, x=b.operand(index), y=out, index=int32(part)))


def lower_dynamic_update_slice(b: Builder, op: Op) -> None:
    """The operand copied, then the update written over it at the constant start indices, clamped
    as dynamic_update_slice.cc clamps them (the update stays inside): a copy and a Scatter."""
    x, update, y = (b.graph.tensor(i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    same_quantization(op, update, y)
    starts = constant(b, op, 2, "start indices").reshape(-1)
    clamped = [min(max(0, int(s)), dim - u) for s, dim, u in zip(starts, x.shape, update.shape)]
    window = tuple(slice(s, s + u) for s, u in zip(clamped, update.shape))
    gather(b, op, positions(x))
    b.emit(Scatter(op=op.name, x=b.operand(op.inputs[1]), y=b.operand(op.outputs[0]),
                   index=int32(positions(y)[window])))


def _fold(b: Builder, op: Op, values: np.ndarray) -> None:
    y = b.graph.tensor(op.outputs[0])
    if y.dtype not in ("int8", "float32"):
        raise Unsupported(f"{op.name} of {y.dtype}")
    b.folded[op.outputs[0]] = np.asarray(values, dtype=y.dtype).reshape(y.shape)


def lower_zeros_like(b: Builder, op: Op) -> None:
    """The stored value 0 everywhere (zeros_like.cc writes T(0), not the zero point): a constant."""
    _fold(b, op, np.zeros(b.graph.tensor(op.outputs[0]).shape))


def lower_fill(b: Builder, op: Op) -> None:
    """The value's stored value everywhere (fill.cc copies it): a constant."""
    value = b.data(op.inputs[1])
    if value is None:
        raise Unsupported("FILL with a value computed at run time")
    _fold(b, op, np.full(b.graph.tensor(op.outputs[0]).shape, np.asarray(value).reshape(-1)[0]))


MOVEMENT_LOWERINGS: dict[str, Callable[[Builder, Op], None]] = {
    "TRANSPOSE": lower_transpose, "SLICE": lower_slice, "GATHER": lower_gather, "GATHER_ND": lower_gather_nd,
    "BROADCAST_TO": lower_broadcast_to, "MIRROR_PAD": lower_mirror_pad, "SPACE_TO_DEPTH": lower_space_to_depth,
    "DEPTH_TO_SPACE": lower_depth_to_space, "SPACE_TO_BATCH_ND": lower_space_to_batch_nd,
    "BATCH_TO_SPACE_ND": lower_batch_to_space_nd, "REVERSE_V2": lower_reverse,
    "RESIZE_NEAREST_NEIGHBOR": lower_resize_nearest_neighbor, "TILE": lower_tile, "PACK": lower_pack,
    "ZEROS_LIKE": lower_zeros_like, "FILL": lower_fill, "DYNAMIC_UPDATE_SLICE": lower_dynamic_update_slice,
}
