# Integer arithmetic of TFLM's reference kernels (gemmlowp's fixed point), on Python ints, for the
# exporter: its tables and constants, and the tests' reference for the engine's limb arithmetic.
# C's int32 semantics are spelled out: division truncates toward zero, shifts of negative values


def srdhm(a, b):
    # SaturatingRoundingDoublingHighMul: the high 32 bits of 2*a*b, rounded.
    if a == b and a == -2147483648:
        return 2147483647
    ab = a * b
    if ab >= 0:
        return (ab + 1073741824) >> 31
    return -((-(ab + 1 - 1073741824)) >> 31)


def rdbp(x, exponent):
    # RoundingDivideByPOT: x / 2**exponent, rounded half away from zero.
    if exponent == 0:
        return x
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def mbqm(x, multiplier, shift):
    # MultiplyByQuantizedMultiplier (double rounding, TFLM's default build).
    if shift > 0:
        return srdhm(x * (1 << shift), multiplier)
    return rdbp(srdhm(x, multiplier), -shift)


def sat_shift_left(x, exponent):
    # SaturatingRoundingMultiplyByPOT with a positive exponent, on int32.
    limit = (1 << (31 - exponent)) - 1
    if x > limit:
        return 2147483647
    if x < -limit:
        return -2147483648
    return x << exponent


def _newton_reciprocal(a):
    # gemmlowp's Newton-Raphson for 1 / (1 + a), a in Q0.31 [0, 1): the Q2.29 estimate.
    total = a + 2147483647
    half_denominator = (total + 1) // 2 if total >= 0 else -((-(total - 1)) // 2)
    x = 1515870810 + srdhm(half_denominator, -1010580540)
    for _ in range(3):
        one_minus = 536870912 - srdhm(half_denominator, x)
        x = _wrap32(x + sat_shift_left(srdhm(x, one_minus), 2))
    return x


def one_over_one_plus_x(a):
    # gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 in, Q0.31 out.
    return sat_shift_left(_newton_reciprocal(a), 1)


def one_minus_x_over_one_plus_x(a):
    # gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1: Q0.31 in, Q0.31 out.
    return sat_shift_left(_newton_reciprocal(a) - 536870912, 2)


def _wrap32(v):
    v &= 0xFFFFFFFF
    return v - 4294967296 if v > 2147483647 else v


def reciprocal(x, integer_digits):
    # GetReciprocal: (Q0.31 of 1/(x as Q(integer_digits)) scaled into [0.5, 1), bits over one).
    headroom_plus_one = 32 - _bit_length(x)
    shifted_minus_one = _wrap32(((x << headroom_plus_one) & 0xFFFFFFFF) - 2147483648)
    return one_over_one_plus_x(shifted_minus_one), integer_digits - headroom_plus_one


def _bit_length(x):
    n = 0
    while x:
        x >>= 1
        n += 1
    return n
