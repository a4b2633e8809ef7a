"""The steps of the layer ops that work on whole rows or several inputs: LOG_SOFTMAX,
L2_NORMALIZATION, RESIZE_BILINEAR, ADD_N and CUMSUM, with the constants TFLM's Prepare computes;
and int16 RSQRT, whose kernel is L2_NORMALIZATION's inverse square root per element, so it sits
beside it (c_kernels/layers.c, device/layers.py)."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const, Operand, Step
from helpers.lowering.steps.base import Binary, Unary


@dataclass(frozen=True)
class RowFloat(Unary):
    """A float32 op over each row of the last axis: kind "log_softmax" (log_softmax.h) or
    "l2_normalization" (l2normalization.h, epsilon 1e-6)."""

    kind: str
    rows: int
    depth: int


@dataclass(frozen=True)
class LogSoftmaxInt8(Unary):
    """LogSoftmaxQuantized (log_softmax.h) with beta 1: per distance d = max - x (0..255) the
    scaled difference in Q5.26 (`diffs`) and its exp rescaled to Q12.19 (`exps`, 0 below diff_min)."""

    rows: int
    depth: int
    diffs: Const              # int32 [256]
    exps: Const               # int32 [256]
    diff_min: int
    reverse_multiplier: int
    reverse_shift: int        # MultiplyByQuantizedMultiplier's shift (<= 0)


@dataclass(frozen=True)
class L2NormInt8(Unary):
    """reference_integer_ops::L2Normalization: each row by GetInvSqrtQuantizedMultiplierExp of its
    sum of squares, into the output's 1/128 scale."""

    rows: int
    depth: int
    input_zero_point: int


@dataclass(frozen=True)
class RsqrtInt16(Unary):
    """elementwise.cc's RsqrtEvalQuantized<int16_t> (zero points 0): x == 0 gives 32767, x > 0
    GetInvSqrtQuantizedMultiplierExp(x) applied to 1 with 20 more bits, rescaled by (multiplier,
    shift - 20), clamped to int16. A negative x fails the invoke, as TFLM's Eval fails on it."""

    count: int
    multiplier: int
    shift: int


@dataclass(frozen=True)
class ResizeBilinear(Unary):
    """RESIZE_BILINEAR of a batch-1 NHWC tensor: per output pixel the element offsets of its four
    source pixels (y0x0, y1x0, y0x1, y1x1) and their weights; float32 weights summed in TFLM's
    order, int8 ones the integers of ResizeBilinearInteger (sum + -+2**19, / 2**20, toward zero)."""

    dtype: str
    depth: int
    corners: Const            # int32 [pixels * 4]
    weights: Const            # float32 or int32 [pixels * 4]


@dataclass(frozen=True)
class AddN(Step):
    """ADD_N of `xs` (same shape). float32: summed in order from 0. int8 (add_n.h): every input
    byte's scaled value from `table` (raw byte + 128 -> int32), added to `start` (TFLM starts from
    the scaled input offset), then rescaled to the output."""

    xs: tuple[Operand, ...]
    y: int
    count: int
    dtype: str
    table: Const | None = None
    start: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    output_zero_point: int = 0


@dataclass(frozen=True)
class Cumsum(Unary):
    """CUMSUM over one axis of a tensor seen as [before, length, after] (cumsum.h). float32: summed
    in float32 order; int8: AddN's scaled bytes (`table`, from `start`), each partial sum rescaled."""

    dtype: str
    before: int
    length: int
    after: int
    exclusive: bool
    reverse: bool
    table: Const | None = None
    start: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    output_zero_point: int = 0


@dataclass(frozen=True)
class DivInt8(Binary):
    """DIV of int8 tensors (div.h's DivElementwise): the divisor's reciprocal by GetReciprocal, the
    quotient rescaled to the output, clamped to the fused activation."""

    input1_offset: int
    input2_offset: int
    output_multiplier: int
    output_shift: int
    output_zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class SvdfShape:
    """An SVDF's sizes (batch 1): its input, filters (units * rank), rank and memory."""

    n_input: int
    filters: int
    rank: int
    memory: int


@dataclass(frozen=True)
class Svdf(Unary):
    """SVDF (svdf_common.cc), batch 1: the state (a persistent buffer, reset to its zero point before
    every invoke, as the engines run a stateful model) shifted left by one, the feature products
    into its last column, the time weights' products summed over each unit's rank, plus the bias.
    float32: then the fused clamp. int8 (int16 or int8 time weights and state): the products
    rescaled into the state (effective scale 1, clamped to its type) and into the output (2)."""

    dtype: str
    shape: SvdfShape
    state: int
    weights_feature: Const
    weights_time: Const
    bias: Const                # float32 (zeros when absent), or int32
    act_min: float = 0.0
    act_max: float = 0.0
    input_zero_point: int = 0
    state_zero_point: int = 0
    scale1: tuple[int, int] = (0, 0)    # (multiplier, shift)
    scale2: tuple[int, int] = (0, 0)
    output_zero_point: int = 0
