"""The steps that only move elements: gathers through an index map computed at export, scatters."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const
from helpers.lowering.steps.base import Unary


@dataclass(frozen=True)
class Gather(Unary):
    """y[i] = x[index[i]], or `pad` where index[i] is -1 (PAD, STRIDED_SLICE, SPLIT, UNPACK)."""

    index: Const              # int32, one per output element
    pad: int | float          # int8 tensors: the raw byte (0..255)


@dataclass(frozen=True)
class GatherRuns(Unary):
    """A Gather that copies runs of `run` consecutive elements: y[i * run + c] = x[index[i] + c], or
    `pad` for the whole run where index[i] is -1. The movement ops of channels-last tensors move
    whole channel vectors, so their map is `run` times shorter than one index per element."""

    index: Const              # int32, one per run
    run: int
    pad: int | float          # int8 tensors: the raw byte (0..255)


@dataclass(frozen=True)
class Transpose(GatherRuns):
    """TRANSPOSE: a GatherRuns (run 1 where the last axis moves), with the shape and permutation its
    map comes from (the C engine hands an int8 one of 3 or 4 axes to CMSIS-NN's arm_transpose_s8,
    which needs no map)."""

    in_shape: tuple[int, ...]
    perm: tuple[int, ...]


@dataclass(frozen=True)
class Scatter(Unary):
    """y[index[i]] = x[i] (one input of a CONCATENATION)."""

    index: Const
