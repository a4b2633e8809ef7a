"""TFLM LUT compression of clustered weights: store each weight as a short index into a table.

Clustering leaves few distinct values per tensor (per channel once quantized per channel), so
the values fit a small lookup table and every weight becomes a `bits`-wide index, with
bits = ceil(log2 N) for N centroids. TFLM decodes them at run time with its DECODE operator
(the custom op core.flatbuffer.TFLM_DECODE_OP), so a compressed model needs TFLM built with compression enabled.
LUT compression of values that already sit on the table is lossless: the tests check that the
compressed model gives exactly the outputs of its uncompressed twin on TFLM.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from helpers.core.flatbuffer import constant_kernels

MAX_USEFUL_CLUSTERS = 16  # beyond 4-bit indices the table overhead eats most of the saving
_LUT_DTYPES = ("int8", "int16", "int32", "float32")


@dataclass(frozen=True)
class TensorChoice:
    """One constant tensor and what compression does with it."""

    index: int
    name: str
    elements: int
    unique: int
    per_channel_axis: int | None
    compressed: bool
    reason: str = ""


@dataclass(frozen=True)
class CompressionPlan:
    """Which tensors get a lookup table, with how many index bits."""

    bits: int
    tensors: tuple[TensorChoice, ...]

    @property
    def compressed(self) -> tuple[TensorChoice, ...]:
        """The tensors that will be compressed."""
        return tuple(t for t in self.tensors if t.compressed)

    @property
    def skipped(self) -> tuple[TensorChoice, ...]:
        """The tensors left as they are, with the reason."""
        return tuple(t for t in self.tensors if not t.compressed)


def why_not(clusters: int | None, integer: bool) -> str | None:
    """Why compression cannot help here, or None when it can."""
    if not clusters:
        return "weights were not clustered (add --cluster N)"
    if clusters > MAX_USEFUL_CLUSTERS:
        return f"{clusters} centroids need {math.ceil(math.log2(clusters))}-bit indices, which save little over int8"
    if not integer:
        return "only integer variants are LUT-compressed"
    return None


def plan_compression(content: bytes, clusters: int) -> CompressionPlan:
    """Every constant weight tensor whose values per channel (else per tensor) fit 2^bits entries."""
    bits = max(1, math.ceil(math.log2(clusters)))
    table = 2 ** bits
    choices = []
    # biases and scalars (fewer than 2 dimensions) are too small to be worth a table
    for tensor in constant_kernels(content, _LUT_DTYPES):
        index, name, values, axis = tensor.index, tensor.name, tensor.values, tensor.quantized_axis
        if axis is not None:
            unique = max(len(np.unique(np.take(values, i, axis=axis))) for i in range(values.shape[axis]))
        else:
            unique = len(np.unique(values))
        fits = unique <= table
        choices.append(TensorChoice(index=index, name=name, elements=int(values.size), unique=int(unique),
                                    per_channel_axis=axis, compressed=fits,
                                    reason="" if fits else f"{unique} unique values per "
                                    f"{'channel' if axis is not None else 'tensor'} > {table}"))
    return CompressionPlan(bits=bits, tensors=tuple(choices))


def compress_model(content: bytes, plan: CompressionPlan) -> bytes:
    """The model with the planned tensors LUT-compressed and DECODE operators inserted."""
    from tflite_micro.tensorflow.lite.micro.compression import compress, spec

    specs = [spec.Tensor(subgraph=0, tensor=choice.index, compression=[spec.LookUpTableCompression(
        index_bitwidth=plan.bits,
        mode=spec.PerChannel(axis=choice.per_channel_axis) if choice.per_channel_axis is not None
        else spec.PerTensor())]) for choice in plan.compressed]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns where a tensor uses fewer bits than asked
        return bytes(compress(content, specs))
