"""Weight statistics read from a .tflite flatbuffer: sparsity and unique values per layer.

Measured on the exported model, not the Keras one, because the converter may fold, transpose
or quantize weights: what counts is what ships.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.core.details import LayerWeights, WeightSummary
from helpers.core.flatbuffer import constant_kernels

_WEIGHT_DTYPES = ("float32", "float16", "int8", "uint8", "int16")


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


def weight_stats(content: bytes) -> list[WeightStats]:
    """Stats of every constant kernel tensor in the flatbuffer."""
    stats = []
    for tensor in constant_kernels(content, _WEIGHT_DTYPES):
        name, values = tensor.name, tensor.values
        per_channel = max(len(np.unique(channel)) for channel in values.reshape(values.shape[0], -1))
        stats.append(WeightStats(name=name, dtype=str(values.dtype), elements=int(values.size),
                                 zeros=int(np.count_nonzero(values == 0)), unique=int(len(np.unique(values))),
                                 max_unique_per_channel=int(per_channel)))
    return stats


def overall_sparsity(stats: list[WeightStats]) -> float:
    """Zeros over all kernel elements."""
    total = sum(s.elements for s in stats)
    return sum(s.zeros for s in stats) / total if total else 0.0


def weight_summary(content: bytes) -> WeightSummary:
    """report.json `weights`: sparsity and unique values of the exported kernels, overall and per layer."""
    stats = weight_stats(content)
    return WeightSummary(sparsity=round(overall_sparsity(stats), 4), layers=tuple(
        LayerWeights(name=s.name, dtype=s.dtype, elements=s.elements, sparsity=round(s.sparsity, 4),
                     unique_values=s.unique, max_unique_per_channel=s.max_unique_per_channel) for s in stats))
