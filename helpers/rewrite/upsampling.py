"""upsampling_to_resize_nearest: a nearest-neighbour upsampling the converter lowered to data
movement (Keras 3's UpSampling2D is `ops.repeat` per axis: RESHAPE -> TILE -> RESHAPE, twice),
which TFLM cannot run (no TILE kernel), becomes one RESIZE_NEAREST_NEIGHBOR, which it can.

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
    opcode_index,
    same_quantization,
)

NAME = "upsampling_to_resize_nearest"
_DATA_MOVES = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE", "TILE")
_RESIZE = schema.BuiltinOperator.RESIZE_NEAREST_NEIGHBOR


@dataclass(frozen=True)
class Upsampling:
    """A run of operators that repeats a [N, H, W, C] tensor's rows and columns."""

    ops: tuple[int, ...]     # operator positions, in graph order
    source: int              # tensor index, [N, H, W, C]
    result: int              # tensor index, [N, a*H, b*W, C]


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


def _repeats(source_shape: tuple[int, ...], moved: np.ndarray) -> tuple[int, int] | None:
    """(a, b) when `moved` is the numbered source repeated a times along H and b times along W."""
    if len(source_shape) != 4 or moved.ndim != 4 or moved.shape[0] != source_shape[0] or \
            moved.shape[3] != source_shape[3]:
        return None
    (_, h, w, _), (_, out_h, out_w, _) = source_shape, moved.shape
    if out_h % h or out_w % w or (out_h, out_w) == (h, w):
        return None
    numbered = np.arange(int(np.prod(source_shape))).reshape(source_shape)
    expected = numbered.repeat(out_h // h, axis=1).repeat(out_w // w, axis=2)
    return (out_h // h, out_w // w) if np.array_equal(moved, expected) else None


def find_upsamplings(model: schema.ModelT, graph: schema.SubGraphT) -> list[Upsampling]:
    """Every maximal run of data-movement operators, from a 4-D tensor, that is an exact
    nearest-neighbour upsampling; each intermediate tensor read by the next operator alone."""
    readers, found, taken = consumers(graph), [], set()
    outputs = {int(i) for i in graph.outputs}
    for start, op in enumerate(graph.operators):
        source = int(op.inputs[0])
        if start in taken or name_of(model, op) not in _DATA_MOVES or len(graph.tensors[source].shape) != 4:
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
            if any(name_of(model, graph.operators[p]) == "TILE" for p in run) and _repeats(source_shape, values):
                best = Upsampling(ops=tuple(run), source=source, result=result)
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
    (_, h, w, _), (_, out_h, out_w, _) = source.shape, result.shape
    return (same_quantization(source, result) and kernel_picks_repeats(int(h), int(out_h))
            and kernel_picks_repeats(int(w), int(out_w)))


def rewrite_upsamplings(model: schema.ModelT) -> int:
    """Replace every exact upsampling run by RESIZE_NEAREST_NEIGHBOR (half-pixel centres, as
    tf.image.resize's nearest mode); how many were replaced. Edits `model` in place."""
    count = 0
    for graph in model.subgraphs:
        runs = find_upsamplings(model, graph)
        if not runs:
            continue
        orphans, removed = set(), set()
        for run in runs:
            result = graph.tensors[run.result]
            version = 4 if result.type == schema.TensorType.INT16 else 3  # 3: half-pixel centres
            size = add_int32_constant(model, graph, f"{_text(result.name)}/resize_size",
                                      [int(result.shape[1]), int(result.shape[2])])
            options = schema.ResizeNearestNeighborOptionsT()
            options.alignCorners, options.halfPixelCenters = False, True
            resize = schema.OperatorT()
            resize.opcodeIndex = opcode_index(model, _RESIZE, version)
            resize.inputs, resize.outputs = [run.source, size], [run.result]
            resize.builtinOptionsType = schema.BuiltinOptions.ResizeNearestNeighborOptions
            resize.builtinOptions = options
            for position in run.ops:
                orphans.update(int(i) for i in list(graph.operators[position].inputs) +
                               list(graph.operators[position].outputs) if i >= 0)
            graph.operators[run.ops[-1]] = resize  # where the run ended: its readers still come after
            removed.update(run.ops[:-1])
        graph.operators = [op for position, op in enumerate(graph.operators) if position not in removed]
        drop_orphans(model, graph, orphans)
        count += len(runs)
    return count


def _text(name: bytes | str | None) -> str:
    return name.decode() if isinstance(name, bytes) else str(name or "")
