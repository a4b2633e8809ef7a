"""The integer arithmetic the MicroPython engine shares with TFLM: C's int32 semantics checked
against a direct int64 model of gemmlowp's definitions, and the export-time constants."""
from __future__ import annotations

import math
import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from helpers.lowering import arith
from helpers.lowering.fixedpoint import mbqm, rdbp, reciprocal, srdhm
from tests.conftest import TFLM_DIR, require_tool

INT32 = st.integers(min_value=-2**31, max_value=2**31 - 1)


def _c_div(a: int, b: int) -> int:
    """C's integer division: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _srdhm_reference(a: int, b: int) -> int:
    if a == b == -2**31:
        return 2**31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _c_div(ab + nudge, 1 << 31)


def _rdbp_reference(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@given(INT32, INT32)
def test_saturating_rounding_doubling_high_mul_is_gemmlowps(a, b):
    assert srdhm(a, b) == _srdhm_reference(a, b)


@given(INT32, st.integers(min_value=0, max_value=31))
def test_rounding_divide_by_power_of_two_rounds_half_away_from_zero(x, exponent):
    assert rdbp(x, exponent) == _rdbp_reference(x, exponent)
    if exponent:
        assert abs(rdbp(x, exponent) - x / 2**exponent) <= 0.5


@given(st.floats(min_value=1e-6, max_value=0.999), st.integers(min_value=-2**20, max_value=2**20))
def test_quantized_multiplier_reproduces_the_real_multiplier(real, x):
    multiplier, shift = arith.quantize_multiplier(real)
    assert 2**30 <= multiplier < 2**31 and shift <= 0
    assert abs(multiplier * 2.0 ** (shift - 31) - real) <= real * 2**-30
    assert abs(mbqm(x, multiplier, shift) - x * real) <= 1 + abs(x * real) * 2**-29


def test_softmax_tables_are_exp_of_the_distance_in_q0_31():
    scale = 0.1
    exps, rescaled = arith.softmax_tables(scale, 1.0)
    assert exps[0] == 2**31 - 1 and all(a >= b for a, b in zip(exps, exps[1:]))
    for distance in (1, 5, 20):
        assert abs(exps[distance] / 2**31 - math.exp(-distance * scale)) < 1e-6
    assert rescaled[0] == rdbp(exps[0], 12)


@given(st.integers(min_value=1 << 19, max_value=(1 << 30)))
def test_reciprocal_is_one_over_the_sum(total):
    scale, bits_over_unit = reciprocal(total, 12)
    value = total / 2**19                   # Q12.19
    assert abs(scale / 2**31 * 2.0 ** -bits_over_unit - 1 / value) <= 1e-6 / value


def test_int8_logistic_and_tanh_tables_follow_the_functions():
    scale = 0.05
    logistic = arith.elementwise_int8_table("LOGISTIC", scale, 0, -128)
    tanh = arith.elementwise_int8_table("TANH", scale, 0, 0)
    for raw in range(256):
        x = ((raw ^ 128) - 128) * scale
        assert abs(((logistic[raw] ^ 128) - 128 + 128) / 256 - 1 / (1 + math.exp(-x))) <= 1 / 256 + 1e-9
        assert abs(((tanh[raw] ^ 128) - 128) / 128 - math.tanh(x)) <= 1 / 128 + 1e-9


def test_mean_multiplier_divides_by_the_count():
    multiplier, shift = arith.mean_multiplier(0.02, 0.01, 49)
    assert abs(multiplier * 2.0 ** (shift - 31) - 2 / 49) < 1e-8


def test_the_sigmoid_table_is_tflms():
    require_tool("tflm")
    text = (TFLM_DIR / "tensorflow/lite/kernels/internal/common.h").read_text()
    body = text[text.index("sigmoid_table_uint16[256] = {"):]
    values = [int(v) for v in re.findall(r"\d+", body[body.index("{"):body.index("}")])]
    assert tuple(values) == arith.SIGMOID_TABLE_UINT16


def test_activation_ranges_quantize_in_float32():
    assert arith.activation_range(1, "int8", 0.1, -10) == (-10, 127)
    assert arith.activation_range(3, "int8", 0.1, -10) == (-10, 50)
    assert arith.activation_range(0, "int8", 0.1, -10) == (-128, 127)
    assert np.float32(arith.float32(0.1)) == np.float32(0.1)


def test_an_infinite_multiplier_is_unsupported_not_a_crash():
    # issue 34's autoencoder, int16x8: a dead layer's output scale is all but 0, the rescaling
    # multiplier overflows to inf; the variant gets no engine (was: OverflowError, the run stopped)
    import pytest

    from helpers.lowering.graph import Unsupported

    with pytest.raises(Unsupported, match="all but 0"):
        arith.quantize_multiplier(float("inf"))
