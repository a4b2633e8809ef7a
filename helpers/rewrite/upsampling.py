"""upsampling_to_resize_nearest: a nearest-neighbour upsampling the converter lowered to data
movement (Keras 3's UpSampling2D is `ops.repeat` per axis: RESHAPE -> TILE -> RESHAPE, twice;
UpSampling1D and RepeatVector are one RESHAPE -> TILE), which TFLM cannot run (no TILE kernel),
becomes one RESIZE_NEAREST_NEIGHBOR, which it can; a sequence [N, T, C] or a vector [N, F] is
resized as the image [N, T, 1, C] or [N, 1, 1, F], with a RESHAPE on either side.

Exact by construction, for every tensor type: the pass does not trust the pattern's shape. It
runs the candidate run of RESHAPE / EXPAND_DIMS / SQUEEZE / TILE operators on an index tensor
(every element numbered) and rewrites only when the result is every element repeated `a` times
along the height and `b` times along the width, with the same quantization at both ends (those
ops never change a value); and it checks that TFLite's and TFLM's resize kernel, with its float32
source-index arithmetic, picks exactly those elements for these sizes. The pipeline then runs
the rewritten model against the converter's on every evaluation row and keeps it only when the
outputs are identical (helpers/rewrite/passes.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from helpers.rewrite.edit import (
    add_int32_constant,
    constant,
    consumers,
    drop_orphans,
    name_of,
    new_operator,
    reshape,
    same_quantization,
    tensor_like,
)

NAME = "upsampling_to_resize_nearest"
_DATA_MOVES = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE", "TILE")
_RESIZE = schema.BuiltinOperator.RESIZE_NEAREST_NEIGHBOR


@dataclass(frozen=True)
class Upsampling:
    """A run of operators that repeats the rows and columns of `source` seen as [N, H, W, C]
    (`view`), giving `result` seen as [N, a*H, b*W, C] (`result_view`)."""

    ops: tuple[int, ...]                     # operator positions, in graph order
    source: int                              # tensor index, of rank 2, 3 or 4
    result: int                              # tensor index
    view: tuple[int, int, int, int]
    result_view: tuple[int, int, int, int]


def kernel_picks_repeats(in_size: int, out_size: int) -> bool:
    """Whether TFLite's GetNearestNeighbor with half-pixel centres (float32 arithmetic, as the C
    code computes it) maps output index i to i // (out_size / in_size) for every i."""
    if out_size % in_size:
        return False
    scale = np.float32(in_size) / np.float32(out_size)
    positions = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale
    picked = np.clip(np.floor(positions).astype(np.int64), 0, in_size - 1)
    return bool(np.array_equal(picked, np.arange(out_size) // (out_size // in_size)))


def _moved(values: np.ndarray, model: schema.ModelT, graph: schema.SubGraphT,
           op: schema.OperatorT) -> np.ndarray | None:
    """What the op does to the index tensor, or None when it is not pure data movement we can follow."""
    shape = tuple(int(d) for d in graph.tensors[op.outputs[0]].shape)
    if name_of(model, op) == "TILE":
        multiples = constant(model, graph, op.inputs[1])
        if multiples is None or len(multiples) != values.ndim:
            return None
        values = np.tile(values, tuple(int(m) for m in multiples))
    if values.size != int(np.prod(shape)) or min(shape, default=1) < 1:
        return None
    return values.reshape(shape)


def image_views(source_shape: tuple[int, ...],
                result_shape: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The ways to see the source and result as [N, H, W, C] images with the same N and C: a 4-D
    tensor as it is, a sequence [N, T, C] as [N, T, 1, C] (UpSampling1D), a vector [N, F] as
    [N, 1, 1, F] (RepeatVector); a result that is not 4-D (the converter folds a Flatten after the
    upsampling into its last RESHAPE) as every [N, a*H, b*W, C] of its size."""
    views = {4: lambda s: s, 3: lambda s: (s[0], s[1], 1, s[2]), 2: lambda s: (s[0], 1, 1, s[1])}
    if len(source_shape) not in views or len(result_shape) not in views:
        return []
    n, h, w, c = view = tuple(views[len(source_shape)](source_shape))
    if len(result_shape) == 4 and len(source_shape) == 4:
        return [(view, tuple(result_shape))] if result_shape[0] == n and result_shape[3] == c else []
    pixels, rest = divmod(int(np.prod(result_shape)), n * c)
    if rest or result_shape[0] != n:
        return []
    return [(view, (n, out_h, pixels // out_h, c)) for out_h in range(h, pixels + 1, h)
            if pixels % out_h == 0 and (pixels // out_h) % w == 0]


def _is_upsampling(view: tuple[int, ...], result_view: tuple[int, ...], moved: np.ndarray) -> bool:
    """Whether `moved` is the numbered source repeated a times along H and b times along W."""
    (_, h, w, _), (_, out_h, out_w, _) = view, result_view
    if out_h % h or out_w % w or (out_h, out_w) == (h, w):
        return False
    numbered = np.arange(int(np.prod(view))).reshape(view)
    expected = numbered.repeat(out_h // h, axis=1).repeat(out_w // w, axis=2)
    return bool(np.array_equal(moved.reshape(result_view), expected))


def _upsampling(run: list[int], source: int, result: int, moved: np.ndarray,
                source_shape: tuple[int, ...]) -> Upsampling | None:
    for view, result_view in image_views(source_shape, moved.shape):
        if _is_upsampling(view, result_view, moved):
            return Upsampling(ops=tuple(run), source=source, result=result, view=view, result_view=result_view)
    return None


def find_upsamplings(model: schema.ModelT, graph: schema.SubGraphT) -> list[Upsampling]:
    """Every longest run of data-movement operators that is an exact nearest-neighbour
    upsampling of a tensor of rank 2 to 4; each intermediate tensor read by the next operator alone."""
    readers, found, taken = consumers(graph), [], set()
    outputs = {int(i) for i in graph.outputs}
    for start, op in enumerate(graph.operators):
        source = int(op.inputs[0])
        if start in taken or name_of(model, op) not in _DATA_MOVES or \
                len(graph.tensors[source].shape) not in (2, 3, 4):
            continue
        source_shape = tuple(int(d) for d in graph.tensors[source].shape)
        values, run, best = np.arange(int(np.prod(source_shape))).reshape(source_shape), [], None
        position = start
        while True:
            current = graph.operators[position]
            values = _moved(values, model, graph, current)
            if values is None:
                break
            run.append(position)
            result = int(current.outputs[0])
            if any(name_of(model, graph.operators[p]) == "TILE" for p in run):
                best = _upsampling(run, source, result, values, source_shape) or best
            following = readers.get(result, [])
            if result in outputs or len(following) != 1 or \
                    name_of(model, graph.operators[following[0]]) not in _DATA_MOVES:
                break
            position = following[0]
        if best is not None and _rewritable(graph, best):
            found.append(best)
            taken.update(best.ops)
    return found


def _rewritable(graph: schema.SubGraphT, run: Upsampling) -> bool:
    source, result = graph.tensors[run.source], graph.tensors[run.result]
    (_, h, w, _), (_, out_h, out_w, _) = run.view, run.result_view
    return (same_quantization(source, result) and kernel_picks_repeats(int(h), int(out_h))
            and kernel_picks_repeats(int(w), int(out_w)))


def _resize(model: schema.ModelT, graph: schema.SubGraphT, source: int, result: int) -> schema.OperatorT:
    """RESIZE_NEAREST_NEIGHBOR from one [N, H, W, C] tensor to another, with half-pixel centres (as
    tf.image.resize's nearest mode: the most margin in the kernel's float index arithmetic)."""
    out = graph.tensors[result]
    version = 4 if out.type == schema.TensorType.INT16 else 3  # 3: half-pixel centres, 4: int16
    size = add_int32_constant(model, graph, f"{_text(out.name)}/resize_size", [int(out.shape[1]), int(out.shape[2])])
    options = schema.ResizeNearestNeighborOptionsT()
    options.alignCorners, options.halfPixelCenters = False, True
    return new_operator(model, _RESIZE, version, [source, size], result, options,
                        schema.BuiltinOptions.ResizeNearestNeighborOptions)


def _replacement(model: schema.ModelT, graph: schema.SubGraphT, run: Upsampling) -> list[schema.OperatorT]:
    """The ops that replace the run: the resize, with a RESHAPE to and from the image view where
    the source or the result is not already [N, H, W, C]."""
    source, result, ops = run.source, run.result, []
    if tuple(graph.tensors[source].shape) != run.view:
        image = tensor_like(graph, source, run.view, "/image")
        ops.append(reshape(model, graph, source, image))
        source = image
    if tuple(graph.tensors[result].shape) != run.result_view:
        image = tensor_like(graph, result, run.result_view, "/image")
        ops += [_resize(model, graph, source, image), reshape(model, graph, image, result)]
    else:
        ops.append(_resize(model, graph, source, result))
    return ops


def rewrite_upsamplings(model: schema.ModelT) -> int:
    """Replace every exact upsampling run by RESIZE_NEAREST_NEIGHBOR; how many were replaced.
    Edits `model` in place."""
    count = 0
    for graph in model.subgraphs:
        runs = find_upsamplings(model, graph)
        if not runs:
            continue
        orphans, removed, replaced = set(), set(), {}
        for run in runs:
            for position in run.ops:
                orphans.update(int(i) for i in list(graph.operators[position].inputs) +
                               list(graph.operators[position].outputs) if i >= 0)
            replaced[run.ops[-1]] = _replacement(model, graph, run)  # where the run ended: its readers come after
            removed.update(run.ops)
        operators = []
        for position, op in enumerate(graph.operators):
            operators += replaced.get(position, []) if position in removed else [op]
        graph.operators = operators
        drop_orphans(model, graph, orphans)
        count += len(runs)
    return count


def _text(name: bytes | str | None) -> str:
    return name.decode() if isinstance(name, bytes) else str(name or "")
