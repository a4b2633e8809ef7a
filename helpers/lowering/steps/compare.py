"""The steps of the ops that make or read bool and int32 tensors: the comparisons (bool out),
SELECT_V2 (a bool condition in), CAST (between int8, int16, int32, float32 and bool) and
ARG_MAX / ARG_MIN (int32 indices out). A bool buffer holds one byte per element, 0 or 1, as TFLM's
C++ bool does."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const, Operand
from helpers.lowering.steps.base import Binary, Unary

# The comparison kinds, numbered as the kernels take them.
COMPARISONS = ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal")


@dataclass(frozen=True)
class CompareInt8(Binary):
    """An int8 comparison as comparisons.h's WithScaling forms: each input plus its offset, shifted
    left by `left_shift`, times its own scale as a fixed-point multiplier (smaller than one), then
    the two compared; y is bool."""

    kind: str                 # one of COMPARISONS
    input1_offset: int        # -zero point
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int
    left_shift: int


@dataclass(frozen=True)
class CompareRaw(Binary):
    """A comparison of the stored values (NoScaling: float32); y is bool."""

    kind: str
    dtype: str                # the inputs' dtype


@dataclass(frozen=True)
class Select(Binary):
    """SELECT_V2: y[k] = x1[k] where condition[k] else x2[k], each operand broadcast to the output
    through its index map (None: the output's shape). The stored values are copied, so an int8 or
    int16 one needs x1, x2 and y quantized alike."""

    condition: Operand        # bool
    condition_index: Const | None
    dtype: str                # x1's, x2's and y's


@dataclass(frozen=True)
class Cast(Unary):
    """CAST: y[k] = static_cast<target>(x[k]) (a float to an integer truncates toward zero; an
    integer to a narrower one keeps its low bits, as the compilers TFLM is built with do)."""

    count: int
    source: str               # x's dtype: "int8", "int16", "int32", "float32" or "bool"
    target: str               # y's dtype: "int8", "int16", "int32" or "float32"


@dataclass(frozen=True)
class ArgMinMax(Unary):
    """ARG_MAX (maximum) or ARG_MIN over the middle axis of x seen as [outer, axis, inner]: y (int32)
    is the first index of the largest (smallest) stored value, as arg_min_max.h scans it."""

    maximum: bool
    dtype: str                # x's: "int8" or "float32"
    outer: int
    axis: int
    inner: int
