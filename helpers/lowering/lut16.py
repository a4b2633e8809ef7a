"""TFLM's 513-entry int16 lookup tables (LUTPopulateInt16<float>, kernels/internal/common.h), which
the int16 SOFTMAX's Prepare fills for exp and 1 / (1 + x), computed here in float32 step by step
as TFLM does, so the board only interpolates. TFLM evaluates the transform with the C library's
expf: a correctly rounded exp (float64 rounded to float32) agrees with it except where expf is off
by an ulp and that ulp moves a table entry across a rounding boundary; the tests compare the
engines with TFLM's host build to catch that. (On a board TFLM fills the table with the board's
own expf, so TFLM itself can differ between host and board there.)"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

F32 = np.float32
STEPS = 512


def _round(value: np.float32) -> np.float32:
    """roundf: half away from zero."""
    return F32(math.copysign(math.floor(abs(float(value)) + 0.5), float(value)))


def lut_int16(transform: Callable[[np.float32], np.float32], input_scale: np.float32, input_zero_point: int,
              output_scale: np.float32, output_zero_point: int) -> list[int]:
    """LUTPopulateInt16<float>: 512 samples, each biased by half its midpoint's interpolation
    error, and the end point."""
    input_min = input_scale * F32(-32768 - input_zero_point)
    input_max = input_scale * F32(32767 - input_zero_point)
    output_min = output_scale * F32(-32768 - output_zero_point)
    output_max = output_scale * F32(32767 - output_zero_point)
    step = (input_max - input_min) / F32(STEPS)
    half_step = step / F32(2)
    scaling_inv = F32(65536) / (output_max - output_min)
    table = []
    for i in range(STEPS):
        at = input_min + F32(i) * step
        value, midpoint, following = transform(at), transform(at + half_step), transform(input_min + F32(i + 1) * step)
        sample = _round(value * scaling_inv)
        interpolated = _round((following * scaling_inv + _round(value * scaling_inv)) / F32(2))
        bias = _round((interpolated - _round(midpoint * scaling_inv)) / F32(2))
        table.append(int(min(max(sample - bias, F32(-32768)), F32(32767))))
    table.append(int(min(max(_round(transform(input_max) * scaling_inv), F32(-32768)), F32(32767))))
    return table


def _exp(value: np.float32) -> np.float32:
    return F32(math.exp(float(value)))


def _one_over_one_plus(value: np.float32) -> np.float32:
    return F32(1) / (F32(1) + value)


def softmax_luts() -> tuple[list[int], list[int]]:
    """softmax_common.cc's two tables: exp on [-10, 0] and 1 / (1 + x) on [0, 1], both in Q0.15."""
    span = F32(65535)   # int16's max - min
    return (lut_int16(_exp, F32(10) / span, 32767, F32(2) / span, 0),
            lut_int16(_one_over_one_plus, F32(1) / span, -32768, F32(2) / span, 0))
