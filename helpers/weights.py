"""Weight statistics read from a .tflite flatbuffer: sparsity and unique values per layer.

Measured on the exported model, not the Keras one, because the converter may fold, transpose
or quantize weights: what counts is what ships.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.tflite_model import parse_model

_NUMPY_TYPES = {0: np.float32, 1: np.float16, 9: np.int8, 3: np.uint8, 7: np.int16}


@dataclass(frozen=True)
class WeightStats:
    """One weight tensor (a kernel: 2 or more dimensions; biases are left out)."""

    name: str
    dtype: str
    elements: int
    zeros: int
    unique: int
    max_unique_per_channel: int

    @property
    def sparsity(self) -> float:
        """Fraction of exact zeros."""
        return self.zeros / self.elements if self.elements else 0.0


def _constant_tensors(content: bytes) -> list[tuple[str, np.ndarray]]:
    model = parse_model(content)
    graph = model.subgraphs[0]
    used_as_input = {i for op in graph.operators or [] for i in (op.inputs if op.inputs is not None else [])}
    result = []
    for index, tensor in enumerate(graph.tensors):
        if index not in used_as_input or tensor.type not in _NUMPY_TYPES or tensor.shape is None:
            continue
        buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
        if buffer is None or buffer.data is None or len(tensor.shape) < 2:
            continue
        data = np.frombuffer(bytes(bytearray(buffer.data)), dtype=_NUMPY_TYPES[tensor.type])
        if data.size != int(np.prod(tensor.shape)):
            continue
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        result.append((name, data.reshape(tuple(tensor.shape))))
    return result


def weight_stats(content: bytes) -> list[WeightStats]:
    """Stats of every constant kernel tensor in the flatbuffer."""
    stats = []
    for name, values in _constant_tensors(content):
        per_channel = max(len(np.unique(channel)) for channel in values.reshape(values.shape[0], -1))
        stats.append(WeightStats(name=name, dtype=str(values.dtype), elements=int(values.size),
                                 zeros=int(np.count_nonzero(values == 0)), unique=int(len(np.unique(values))),
                                 max_unique_per_channel=int(per_channel)))
    return stats


def overall_sparsity(stats: list[WeightStats]) -> float:
    """Zeros over all kernel elements."""
    total = sum(s.elements for s in stats)
    return sum(s.zeros for s in stats) / total if total else 0.0
