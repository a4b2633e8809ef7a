"""Export-time arithmetic: the constants TFLM's kernels compute in their Prepare step (fixed-point
multipliers, activation ranges, lookup tables), computed here the way TFLM computes them, so the
board only ever does integer arithmetic with them (a board's floats may be single precision)."""
from __future__ import annotations

import math

import numpy as np

from helpers.lowering.fixedpoint import (
    mbqm,
    one_minus_x_over_one_plus_x,
    one_over_one_plus_x,
    rdbp,
    sat_shift_left,
    srdhm,
)
from helpers.lowering.graph import Unsupported

INT_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767), "uint8": (0, 255), "int32": (-2**31, 2**31 - 1)}


def tflite_round(value: float) -> int:
    """std::round: half away from zero."""
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLM's QuantizeMultiplier: (Q0.31 significand, shift) with real = significand * 2**(shift-31)."""
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        # a tensor whose scale is all but 0 (a layer that always outputs 0, as a dead ReLU);
        # QuantizeMultiplier has no defined value for it, so neither has TFLM's answer
        raise Unsupported(f"a rescaling multiplier is {real} (a tensor's scale is all but 0)")
    fraction, shift = math.frexp(real)
    fixed = tflite_round(fraction * (1 << 31))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def float32(value: float) -> float:
    """The nearest float32, as TFLM's float arithmetic would hold it."""
    return float(np.float32(value))


def quantize_float32(value: float, scale: float, zero_point: int) -> int:
    """TFLM's Quantize helper: round(value / scale) in float32, plus the zero point."""
    return zero_point + tflite_round(float(np.float32(value) / np.float32(scale)))


def activation_range(activation: int, dtype: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the clamp a fused RELU/RELU6/RELU_N1_TO_1 becomes."""
    low, high = INT_RANGES[dtype]
    if activation == 1:      # RELU
        return max(low, quantize_float32(0.0, scale, zero_point)), high
    if activation == 3:      # RELU6
        return (max(low, quantize_float32(0.0, scale, zero_point)),
                min(high, quantize_float32(6.0, scale, zero_point)))
    if activation == 2:      # RELU_N1_TO_1
        return (max(low, quantize_float32(-1.0, scale, zero_point)),
                min(high, quantize_float32(1.0, scale, zero_point)))
    return low, high


def float_activation_range(activation: int) -> tuple[float, float]:
    """The float clamp of a fused activation (inf: none)."""
    return {1: (0.0, math.inf), 3: (0.0, 6.0), 2: (-1.0, 1.0)}.get(activation, (-math.inf, math.inf))


def _exp_interval(a: int) -> int:
    # gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31.
    constant_term, one_third = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    poly = rdbp(srdhm(rdbp(x4, 2) + x3, one_third) + x2, 1)
    return constant_term + srdhm(constant_term, x + poly)


_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
           (4, 242))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """gemmlowp exp_on_negative_values: exp(a) for a <= 0 in Q(integer_bits), as Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod = (a & (one_quarter - 1)) - one_quarter
    result = _exp_interval(sat_shift_left(a_mod, integer_bits))
    remainder = a_mod - a
    for exponent, multiplier in _BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = srdhm(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return 2147483647 if a == 0 else result


def _logistic_q(a: int, integer_bits: int) -> int:
    # gemmlowp logistic: Q(integer_bits) in, Q0.31 out.
    if a == 0:
        return 1 << 30
    positive = one_over_one_plus_x(exp_on_negative_values(-abs(a), integer_bits))
    return positive if a > 0 else 2147483647 - positive


def _tanh_q(a: int, integer_bits: int) -> int:
    # gemmlowp tanh: Q(integer_bits) in, Q0.31 out (exp of 2a: one more integer bit, same raw value).
    if a == 0:
        return 0
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(-abs(a), integer_bits + 1))
    return -t if a < 0 else t


def elementwise_int8_table(op: str, input_scale: float, input_zero_point: int, output_zero_point: int) -> bytes:
    """An int8 LOGISTIC or TANH as TFLM's reference kernel computes it (its Prepare's multiplier
    and input radius, gemmlowp's fixed point), for all 256 inputs: indexed by the raw input byte."""
    integer_bits = 4
    fraction, left_shift = math.frexp(float(input_scale) * float(1 << (31 - integer_bits)))
    multiplier = tflite_round(fraction * (1 << 31))
    radius = math.floor(((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift))
    table = bytearray(256)
    for raw in range(256):
        value = (raw ^ 128) - 128 - input_zero_point
        if value <= -radius:
            out = -128
        elif value >= radius:
            out = 127
        else:
            q4 = mbqm(value, multiplier, left_shift)
            if op == "LOGISTIC":
                out = rdbp(_logistic_q(q4, integer_bits), 23) + output_zero_point
            else:
                out = rdbp(_tanh_q(q4, integer_bits), 24)
            out = max(-128, min(127, out))
        table[raw] = out & 255
    return bytes(table)


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """QuantizedMeanOrSum's multiplier and shift for the mean of `count` elements."""
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << extra) // count, shift - extra


SOFTMAX_DIFF_BITS = 5     # kScaledDiffIntegerBits
SOFTMAX_ACCUMULATION_BITS = 12


def softmax_scaling(input_scale: float, beta: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling for int8: the input's multiplier and left shift into the scaled
    difference, and diff_min (differences below it contribute nothing), as CMSIS-NN takes them."""
    real = min(float(beta) * float(input_scale) * (1 << (31 - SOFTMAX_DIFF_BITS)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier(real)
    radius = math.floor(((1 << SOFTMAX_DIFF_BITS) - 1) * (1 << (31 - SOFTMAX_DIFF_BITS)) / (1 << left_shift))
    return multiplier, left_shift, -radius


def softmax_tables(input_scale: float, beta: float) -> tuple[list[int], list[int]]:
    """For an int8 SOFTMAX: exp of every input difference 0..-255 as Q0.31 (0 below TFLM's diff_min,
    which TFLM skips) and the same rescaled to the accumulator's Q12.19."""
    multiplier, left_shift, diff_min = softmax_scaling(input_scale, beta)
    radius = -diff_min
    exps, rescaled = [], []
    for distance in range(256):
        diff = -distance
        if diff >= -radius:
            value = exp_on_negative_values(srdhm(diff * (1 << left_shift), multiplier), SOFTMAX_DIFF_BITS)
        else:
            value = 0
        exps.append(value)
        rescaled.append(rdbp(value, SOFTMAX_ACCUMULATION_BITS))
    return exps, rescaled


# TFLM's sigmoid_table_uint16 (tensorflow/lite/kernels/internal/common.h): sigmoid(i/24) in
# 0.16 as TFLM tabulates it (not a formula that reproduces every entry, so it is kept as data).
# The int16 LOGISTIC and TANH and the int8 LSTM's gates interpolate in it.
SIGMOID_TABLE_UINT16 = (
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
)
