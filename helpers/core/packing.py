"""Rows of a model with several inputs or outputs, packed and cut.

The pipeline holds such rows packed, one row a flat concatenation of every tensor's values in
specs.json's order: features `(rows, Σ input sizes)`, labels `(rows, Σ label columns)`, outputs
`(rows, Σ output sizes)`. Slicing rows, splitting the dataset, concatenating parts and saving
them then works as for one tensor; only where a model is called are they cut per tensor. A model
with one input and one output never comes here: its rows keep their shape.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from helpers.core.specs import Task, TensorSpecs


def signature_name(kind: str, number: int) -> str:
    """The name of a model's input or output (`kind`: "input" or "output") in the batch-1
    function's signature: `input_00`, `input_01`, ... Sorted, they are specs.json's order, which
    is how the converted graph is put back in that order (rewrite/io_order.py); the calibration
    rows are keyed by them too."""
    return f"{kind}_{number:02d}"


def pack(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Per-tensor rows -> one packed array (rows, Σ values), in the given order. Values keep their
    dtype where all share one; mixed dtypes (int8 with float32) pack as float64, which holds every
    int8, int16 and float32 value exactly."""
    flat = [np.asarray(a).reshape(len(a), -1) for a in arrays]
    dtypes = {a.dtype for a in flat}
    return np.concatenate(flat if len(dtypes) == 1 else [a.astype(np.float64) for a in flat], axis=1)


def cut(packed: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
    """A packed array -> one array per tensor, each (rows,) + its shape."""
    rows = len(packed)
    flat = packed.reshape(rows, -1)
    sizes = [int(np.prod(shape)) for shape in shapes]
    if sum(sizes) != flat.shape[1]:
        raise ValueError(f"packed rows hold {flat.shape[1]} values, the tensors {sum(sizes)}")
    parts, start = [], 0
    for shape, size in zip(shapes, sizes):
        parts.append(np.ascontiguousarray(flat[:, start:start + size]).reshape((rows,) + tuple(shape)))
        start += size
    return tuple(parts)


def split_features(x: np.ndarray, inputs: Sequence[TensorSpecs]) -> tuple[np.ndarray, ...]:
    """Packed features -> one float32 array per input, in its shape."""
    return tuple(part.astype(np.float32, copy=False) for part in cut(x, [tensor.shape for tensor in inputs]))


def split_labels(y: np.ndarray, outputs: Sequence[TensorSpecs]) -> tuple[np.ndarray, ...]:
    """Packed labels -> each output's labels as the one-output form holds them: class indices
    (int64, one a row) or regression targets ((rows,) for one value, else (rows, values))."""
    columns = [(output.label_columns,) for output in outputs]
    labels = []
    for output, part in zip(outputs, cut(y, columns)):
        if output.task is Task.CLASSIFICATION:
            labels.append(part[:, 0].astype(np.int64))
        else:
            labels.append(part[:, 0].astype(np.float32) if output.size == 1 else part.astype(np.float32))
    return tuple(labels)
