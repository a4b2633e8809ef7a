"""The int16x8 kernel steps (int16 activations, int8 weights, int64 biases), beside steps.py's
int8 and float32 ones. TFLM requires int16 zero points of 0, so no step carries an offset; the
activation clamps are in int16's range."""
from __future__ import annotations

from dataclasses import dataclass

from helpers.lowering.program import Const
from helpers.lowering.steps import BatchMatMulFloat, Binary, ConvGeometry, PoolGeometry, Requantization, Unary


@dataclass(frozen=True)
class FullyConnectedInt16(Unary):
    """TFLM's reference int16 FULLY_CONNECTED: an int64 accumulator, the 64-bit
    MultiplyByQuantizedMultiplier (the multiplier rounded to 16 bits); per tensor or per channel."""

    weights: Const            # int8 [n_out, n_in]
    bias: Const               # int64 [n_out] (zeros when the model has none)
    quant: Requantization     # offsets 0; clamps in int16
    batches: int
    n_in: int
    n_out: int


@dataclass(frozen=True)
class ConvInt16(Unary):
    depthwise: bool
    weights: Const            # int8 [out_c, k_h, k_w, in_c] (depthwise: [1, k_h, k_w, out_c])
    bias: Const               # int64 [out_c]
    quant: Requantization
    geometry: ConvGeometry


@dataclass(frozen=True)
class PoolInt16(Unary):
    average: bool
    geometry: PoolGeometry
    act_min: int
    act_max: int


@dataclass(frozen=True)
class AddInt16(Binary):
    """ADD (sign 1) or SUB (sign -1) of int16 tensors, TFLM's add_common/sub_common arithmetic:
    each input shifted left 15 bits, scaled by its multiplier, summed, scaled to the output (the
    int8 arithmetic with left_shift 15); a smaller input broadcast through its index map."""

    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int
    sign: int


@dataclass(frozen=True)
class MulInt16(Binary):
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class QuantizeFloatToInt16(Unary):
    """float32 -> int16: round(x / scale) in float32, half away from zero, clamped (TFLM's
    AffineQuantize)."""

    count: int
    scale: float
    zero_point: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class DequantizeInt16(Unary):
    """int16 -> float32: scale * (x - zero_point); TFLM computes it in double and rounds once, the
    same value as float32's one rounding of the exact product (24 + 16 bits fit a double)."""

    count: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class SoftmaxInt16(Unary):
    """TFLM's reference SoftmaxInt16: each difference to the row's max scaled onto [-10, 0], exp by
    the interpolated table, the sum's reciprocal by the 1 / (1 + x) table; output scale 1/32768."""

    rows: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    exp_table: Const          # int16 [513]
    reciprocal_table: Const   # int16 [513]


@dataclass(frozen=True)
class RequantizeInt16(Unary):
    """int16 -> int16 QUANTIZE (the converter puts one before a CONCATENATION whose inputs differ in
    scale): TFLM's Requantize, the 32-bit MultiplyByQuantizedMultiplier."""

    count: int
    multiplier: int
    shift: int


@dataclass(frozen=True)
class SigmoidInt16(Unary):
    """int16 LOGISTIC or TANH (TFLM's reference_integer_ops): the input rescaled by
    (x * input_multiplier + round) >> input_left_shift (a power-of-two scale already folded into
    the multiplier), then interpolated in TFLM's sigmoid table; output scale 2**-15."""

    tanh: bool
    count: int
    input_multiplier: int
    input_left_shift: int
    table: Const              # uint16 [256], TFLM's sigmoid_table_uint16


@dataclass(frozen=True)
class MeanInt16(Unary):
    """TFLM's QuantizedMeanOrSum for int16 (the int8 arithmetic: an int32 sum, for MEAN the 1/count
    folded into the multiplier), clamped in int16; groups[j]: the input positions summed into output j."""

    groups: Const             # int32 [outputs, count]
    multiplier: int
    shift: int


@dataclass(frozen=True)
class ActivationInt16(Unary):
    """RELU, RELU6, LEAKY_RELU and ABS on int16 (TFLM's ReluQuantized, Relu6Quantized,
    QuantizeLeakyRelu, AbsEvalQuantized): x made |x| first when `absolute` (ABS); with `rescale`,
    x >= 0 scaled by (multiplier, shift), x < 0 by (negative_multiplier, negative_shift), negated
    when `negate` (a negative alpha); without (RELU6, ABS of equal scales), the raw value; then
    clamped to [act_min, act_max]."""

    count: int
    rescale: bool
    multiplier: int
    shift: int
    negative_multiplier: int
    negative_shift: int
    negate: bool
    act_min: int
    act_max: int
    absolute: bool = False


@dataclass(frozen=True)
class SquaredDifferenceInt16(Binary):
    """SQUARED_DIFFERENCE of int16 tensors (squared_difference.cc, left_shift 0): each input
    rescaled by its multiplier (to half the larger scale), the difference squared in int32 and
    rescaled to the output, clamped to int16; zero points are 0."""

    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int


@dataclass(frozen=True)
class BatchMatMulInt16(BatchMatMulFloat):
    """TFLM's reference BatchMatMul<int16_t, int64_t>: products summed in int64, the 64-bit
    MultiplyByQuantizedMultiplier, clamped to int16 (zero points 0)."""

    multiplier: int
    shift: int


@dataclass(frozen=True)
class PreluInt16(Unary):
    """int16 PRELU with int8 alphas (prelu_common.cc): x + input_offset >= 0 scaled by
    (multiplier_1, shift_1), else (x + input_offset) * (alpha + alpha_offset) by (multiplier_2,
    shift_2); plus the output offset, clamped to int16. alphas[i % period] belongs to element i
    (offset already added at export)."""

    count: int
    period: int
    alphas: Const             # int16 [period]
    input_offset: int
    output_offset: int
    multiplier_1: int
    shift_1: int
    multiplier_2: int
    shift_2: int
