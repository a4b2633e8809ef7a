"""The elementwise steps (one value out per value in, or per pair, with broadcasting) and the
reductions over index groups."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const
from helpers.lowering.steps.base import Unary, Binary


@dataclass(frozen=True)
class QuantizeFloatToInt8(Unary):
    count: int
    scale: float
    zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class RequantizeInt8(Unary):
    count: int
    input_zero_point: int
    multiplier: int
    shift: int
    output_zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class DequantizeInt8(Unary):
    count: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class AddInt8(Binary):
    """ADD (sign 1) or SUB (sign -1) of int8 tensors, TFLM's add_common/sub_common arithmetic."""

    input1_offset: int
    input2_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    output_zero_point: int
    act_min: int
    act_max: int
    sign: int


@dataclass(frozen=True)
class MulInt8(Binary):
    input1_offset: int
    input2_offset: int
    output_multiplier: int
    output_shift: int
    output_zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class BinaryFloat(Binary):
    kind: str                 # "add", "sub" or "mul"
    act_min: float
    act_max: float


@dataclass(frozen=True)
class BinaryMath(Binary):
    """A binary op without rescaling: float32 DIV, SQUARED_DIFFERENCE, FLOOR_DIV, FLOOR_MOD, MAXIMUM,
    MINIMUM; and MAXIMUM, MINIMUM on the raw values of int8 or int16 tensors quantized alike (TFLM
    compares the stored values)."""

    kind: str                 # "div", "squared_difference", "floor_div", "floor_mod", "maximum", "minimum"
    dtype: str                # "float32", "int8" or "int16"
    act_min: float            # DIV's fused activation (float32 only); -inf / inf: no clamp
    act_max: float
    shapes: tuple[tuple[int, ...], ...] = ()   # x1's, x2's and y's: CMSIS-NN broadcasts by shape


@dataclass(frozen=True)
class SquaredDifferenceInt8(Binary):
    """SQUARED_DIFFERENCE of int8 tensors (squared_difference.cc): each input << 7 and rescaled by
    its multiplier, the difference squared and rescaled to the output, clamped to int8."""

    input1_offset: int
    input2_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    output_zero_point: int


@dataclass(frozen=True)
class LookupInt8(Unary):
    """An int8 elementwise op (LOGISTIC, TANH) tabulated for the 256 inputs, indexed by the raw byte."""

    count: int
    table: Const              # uint8 [256]


@dataclass(frozen=True)
class UnaryFloat(Unary):
    kind: str                 # "logistic" or "tanh"
    count: int


@dataclass(frozen=True)
class ChannelLookupInt8(Unary):
    """An int8 elementwise op with a per-channel constant (PRELU): one 256-entry table per channel of
    the last axis, y[i] = tables[(i % channels) * 256 + raw byte of x[i]]."""

    count: int
    channels: int
    tables: Const             # uint8 [channels * 256]


@dataclass(frozen=True)
class PreluFloat(Unary):
    """y = x where x >= 0, else x * alpha[i % channels] (TFLM's reference PRELU)."""

    count: int
    alpha: Const              # float32 [channels]


@dataclass(frozen=True)
class MathFloat(Unary):
    """A float32 elementwise op of ops_unary.FLOAT_KINDS (RELU, HARD_SWISH, EXP, ROUND, ...);
    `alpha`: LEAKY_RELU's slope, else 0."""

    kind: str
    count: int
    alpha: float


@dataclass(frozen=True)
class MeanInt8(Unary):
    """groups[j]: the input positions averaged into output j."""

    groups: Const             # int32 [outputs, count]
    input_zero_point: int
    multiplier: int
    shift: int
    output_zero_point: int


@dataclass(frozen=True)
class MeanFloat(Unary):
    groups: Const


@dataclass(frozen=True)
class ReduceFloat(Unary):
    """SUM, REDUCE_MAX or REDUCE_MIN (kind "sum", "max", "min") of each group, in its order (TFLM's:
    the input's)."""

    kind: str
    groups: Const             # int32 [outputs, count]


@dataclass(frozen=True)
class ReduceInt8(Unary):
    """REDUCE_MAX or REDUCE_MIN of int8 (kind "max", "min"): TFLM compares the raw values, input and
    output sharing one quantization."""

    kind: str
    groups: Const
