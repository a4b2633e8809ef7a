"""The layer kernels' tricky arithmetic (device/layers.py, the same expressions as
c_kernels/layers.c), checked without TensorFlow against what it approximates, written out here:
gemmlowp's fixed-point log of a Q12.19 sum (LOG_SOFTMAX), GetInvSqrtQuantizedMultiplierExp
(L2_NORMALIZATION), GetReciprocal (DIV), RESIZE_BILINEAR's taps and ADD_N/CUMSUM's byte table.
Bit-exactness with TFLM itself is the op zoo's (tests/unit/test_op_zoo.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.emit.micropython import device_source
from helpers.lowering.fixedpoint import reciprocal
from helpers.lowering.graph import Tensor
from helpers.lowering.ops_layers import bilinear_taps, log_softmax_tables, scaled_inputs


@pytest.fixture(scope="module")
def kernels() -> dict:
    namespace: dict = {"math": math}
    exec(device_source("layers"), namespace)  # noqa: S102 - the engine's own source, run as plain Python
    return namespace


@pytest.mark.parametrize("real", [1.0, 1.37, 2.0, 5.5, 24.0, 300.0, 4095.0])
def test_the_fixed_point_log_is_the_log(kernels, real):
    raw = round(real * (1 << 19))   # Q12.19, as the sum of exps
    assert abs(kernels["_lf_log"](raw) / (1 << 26) - math.log(raw / (1 << 19))) < 2e-6


@pytest.mark.parametrize("total", [2, 3, 17, 1000, 62424, 390150, (1 << 29) + 12345, (1 << 31) - 1])
def test_the_inverse_square_root_multiplier(kernels, total):
    multiplier, shift = kernels["_lf_inv_sqrt"](total)
    assert 0 < multiplier < 1 << 31
    # five Newton steps in Q3.28: about 1e-6 relative
    assert multiplier * 2.0 ** (shift - 31) == pytest.approx(1 / math.sqrt(total), rel=5e-6)


def test_a_sum_of_zero_or_one_is_taken_as_one(kernels):
    assert kernels["_lf_inv_sqrt"](0) == kernels["_lf_inv_sqrt"](1) == (2 ** 31 - 1, 0)


@pytest.mark.parametrize("divisor", [1, 2, 3, 100, 255])
def test_the_device_reciprocal_is_getreciprocals(kernels, divisor):
    head = kernels["_lf_clz"](divisor)
    inv = kernels["_lf_one_over_one_plus_x"](kernels["_lf_wrap"](((divisor << head) & 0xFFFFFFFF) - 2 ** 31))
    assert (inv, 31 - head) == reciprocal(divisor, 31)
    assert inv * 2.0 ** (-31 - (31 - head)) == pytest.approx(1 / divisor, rel=1e-8)


@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True)])
def test_bilinear_taps_interpolate_as_tflm_does(flags):
    """Weights sum to one (2**20 in the integer kernel) and stay between the four source values
    (the integer kernel's 10-bit scale may pick other source pixels than the float one's)."""
    align, half = flags
    pixels, weights = bilinear_taps((4, 5), (7, 6), align, half, integer=False)
    _, iweights = bilinear_taps((4, 5), (7, 6), align, half, integer=True)
    ramp = np.add.outer(np.arange(4) * 10.0, np.arange(5)).reshape(-1)
    for (corners, w), iw in zip(zip(pixels, weights), iweights):
        assert sum(float(v) for v in w) == pytest.approx(1.0, abs=1e-6)
        assert sum(iw) == 1 << 20
        value = sum(ramp[c] * float(v) for c, v in zip(corners, w))
        assert min(ramp[list(corners)]) - 1e-4 <= value <= max(ramp[list(corners)]) + 1e-4


def test_the_scaled_byte_table_is_half_the_shifted_difference():
    x = Tensor(index=0, name="x", shape=(4,), dtype="int8", scales=(0.05,), zero_points=(-7,), quantized_axis=0,
               data=None, variable=False)
    y = Tensor(index=1, name="y", shape=(4,), dtype="int8", scales=(0.2,), zero_points=(3,), quantized_axis=0,
               data=None, variable=False)
    scaled = scaled_inputs(x, y)
    table = scaled["table"].values
    assert [int(table[raw + 128]) for raw in (-128, -7, 0, 127)] == [(raw + 7) << 19 for raw in (-128, -7, 0, 127)]
    assert scaled["start"] == 7 << 19   # TFLM starts from the scaled input offset, not 0


def test_log_softmax_tables_skip_what_tflm_skips():
    diffs, exps, diff_min, (multiplier, shift) = log_softmax_tables(0.1)
    assert diffs[0] == exps[0] - exps[0] == 0 and exps[0] == 1 << 19   # exp(0) in Q12.19
    assert all(e == 0 for d, e in enumerate(exps) if -d < diff_min)
    assert all(a >= b for a, b in zip(exps, exps[1:]))
    assert 0 < multiplier < 1 << 31 and shift <= 0
