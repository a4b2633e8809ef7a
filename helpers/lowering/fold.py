"""Ops whose outputs are known at export: SHAPE of a tensor whose shape is fixed, and the shape
arithmetic on constants a converter leaves behind from dynamic shapes (STRIDED_SLICE, PACK,
CONCATENATION, CAST, FILL, RANGE on int32 constants: the output_shape of a Conv2DTranspose traced
with a free batch, say). The engines take their values as constants and run no step for them; TFLM
runs them, so the firmware's and the engines' outputs still come from the same graph."""
from __future__ import annotations

from typing import Callable

import numpy as np

from helpers.lowering.builder import Builder
from helpers.lowering.graph import Op


def _strided_slice(op: Op, values: list[np.ndarray]) -> np.ndarray | None:
    data, begin, end, strides = values
    o = op.options
    if o is None or o.ellipsisMask or o.newAxisMask or data.ndim != len(begin):
        return None
    slices = []
    for axis in range(data.ndim):
        start = None if o.beginMask >> axis & 1 else int(begin[axis])
        stop = None if o.endMask >> axis & 1 else int(end[axis])
        if o.shrinkAxisMask >> axis & 1:
            start = int(begin[axis]) % data.shape[axis]
            slices.append(start)
            continue
        slices.append(slice(start, stop, int(strides[axis])))
    return np.asarray(data[tuple(slices)])


_FOLDS: dict[str, Callable[[Op, list[np.ndarray]], np.ndarray | None]] = {
    "STRIDED_SLICE": _strided_slice,
    "PACK": lambda op, v: np.stack(v, axis=int(op.options.axis)),
    "CONCATENATION": lambda op, v: np.concatenate(v, axis=int(op.options.axis)),
    "CAST": lambda op, v: v[0],
    "FILL": lambda op, v: np.full(tuple(int(d) for d in np.asarray(v[0]).reshape(-1)), np.asarray(v[1]).reshape(())),
    "RANGE": lambda op, v: np.arange(v[0].reshape(()), v[1].reshape(()), v[2].reshape(())),
}


def fold(b: Builder, op: Op) -> bool:
    """The op's output as a constant, when every input is one (or, for SHAPE, the shape is fixed)."""
    y = b.graph.tensor(op.outputs[0]) if len(op.outputs) == 1 else None
    if y is None or (op.name != "SHAPE" and op.name not in _FOLDS):
        return False
    if op.name == "SHAPE":
        value: np.ndarray | None = np.asarray(b.graph.tensor(op.inputs[0]).shape)
    else:
        values = [b.data(i) for i in op.inputs if i >= 0]
        if not values or any(v is None for v in values) or b.graph.tensor(op.outputs[0]).dtype not in ("int32", "int64"):
            return False
        value = _FOLDS[op.name](op, [np.asarray(v) for v in values])  # type: ignore[arg-type]
    if value is None or value.size != y.size:
        return False
    b.folded[op.outputs[0]] = np.asarray(value).astype(y.dtype).reshape(y.shape)
    return True
