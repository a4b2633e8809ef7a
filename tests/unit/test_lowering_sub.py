"""int8 SUB's multipliers and arithmetic where every output is a near tie: a Keras
Normalization(mean=0.3, variance=0.1) before a convolution, quantized by the converter (the layer
zoo). Its SUB takes the mean, 0.3 stored as 127 at scale 0.3/255 (float32), from an input and an
output at scale 1/255, so each output is x - 0.5 give or take a hair: which way it rounds rests on the last
bits of the multipliers. TFLM's interpreter (the tool's tflite-micro wheel, as LiteRT) divides the
scales in double (as add_common.cc does); the pinned tree's sub_common.cc (2026-08-20) divides
in float32, which rounded 179 of the 256 inputs the other way and moved the digits CNN's outputs
by up to 7 steps. The MicroPython kernel (device/hot_ops.py, run as plain code) and TFLM's
reference arithmetic, written out here, are run with the lowered step's constants."""
from __future__ import annotations

from array import array

import numpy as np

from helpers.emit.micropython import hot_source
from helpers.emit.micropython_names import multiplier_limbs
from helpers.lowering import steps as s
from helpers.lowering.lower import lower
from tests.unit.test_lowering import graph, only_step, options, tensor, tflm_multiplier

S_IN = 0.003921568859368563      # the converter's input and output scale (float32 1/255)
S_MEAN = 0.0011764706578105688   # the constant's (a float32 just above 0.3/255)
COUNT = 64


def _normalization_sub() -> s.AddInt8:
    g = graph([tensor(0, (1, 8, 8, 1), scale=S_IN, zero_point=-128),
               tensor(1, (1, 1, 1, 1), scale=S_MEAN, zero_point=-128, data=np.array([[[[127]]]], np.int8)),
               tensor(2, (1, 8, 8, 1), scale=S_IN, zero_point=-52)],
              [("SUB", (0, 1), (2,), options())])
    return only_step(lower(g), s.AddInt8)


def _sub_common_multipliers(s1: float, s2: float, s_out: float, left_shift: int = 20) -> list[tuple[int, int]]:
    """sub_common.cc's CalculateOpDataSub as TFLM's interpreter runs it: twice the larger float32
    scale, each ratio divided in double."""
    twice_max = float(np.float32(2 * max(np.float32(s1), np.float32(s2))))
    return [tflm_multiplier(real) for real in (s1 / twice_max, s2 / twice_max,
                                               twice_max / ((1 << left_shift) * s_out))]


def _mbqm(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplierSmallerThanOneExp: gemmlowp's doubling high mul, then a
    rounding right shift (half away from zero), on Python ints with C's truncating division."""
    if shift > 0:
        x <<= shift
    product = x * multiplier
    nudged = product + ((1 << 30) if product >= 0 else 1 - (1 << 30))
    high = abs(nudged) // (1 << 31) * (1 if nudged >= 0 else -1)
    exponent = max(-shift, 0)
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> exponent) + (1 if (high & mask) > threshold else 0)


def _tflm_sub(x1: int, x2: int, t: s.AddInt8) -> int:
    """reference/sub.h's BroadcastQuantSubSlow on one element, with the step's constants."""
    a = _mbqm((x1 + t.input1_offset) * (1 << 20), t.input1_multiplier, t.input1_shift)
    b = _mbqm((x2 + t.input2_offset) * (1 << 20), t.input2_multiplier, t.input2_shift)
    raw = _mbqm(a - b, t.output_multiplier, t.output_shift) + t.output_zero_point
    return min(t.act_max, max(t.act_min, raw))


def _kernel_sub(xs: list[int], t: s.AddInt8) -> list[int]:
    """The MicroPython engine's add_i8 as plain code, on int8 bytes as the engine holds them."""
    same = lambda buffer: buffer  # noqa: E731  (plain code indexes the buffers themselves)
    hot: dict = {"ptr8": same, "ptr16": same, "ptr32": same}
    exec(hot_source({"add_i8"}).replace("SIGN_UNIT", "0"), hot)
    quant = [array(kind, values) for m, shift in ((t.input1_multiplier, t.input1_shift),
                                                   (t.input2_multiplier, t.input2_shift),
                                                   (t.output_multiplier, t.output_shift))
             for kind, values in (("h", multiplier_limbs(np.asarray([m])).tolist()), ("i", [shift]))]
    x, y, mean = bytearray(v & 255 for v in xs), bytearray(len(xs)), bytes([int(t.x2.values.reshape(-1)[0]) & 255])
    hot["add_i8"](x, x, 0, mean, array("i", [0] * len(xs)), 1, y, len(xs), t.input1_offset, t.input2_offset,
                  t.output_zero_point, t.act_min, t.act_max, t.sign, tuple(quant), array("i", [0] * COUNT),
                  array("i", [0] * COUNT))
    return [(v ^ 128) - 128 for v in y]


def test_sub_multipliers_are_divided_in_double_as_tflms_sub_common():
    t = _normalization_sub()
    assert t.sign == -1 and (t.input1_offset, t.input2_offset, t.output_zero_point) == (128, 128, -52)
    got = [(t.input1_multiplier, t.input1_shift), (t.input2_multiplier, t.input2_shift),
           (t.output_multiplier, t.output_shift)]
    assert got == _sub_common_multipliers(S_IN, S_MEAN, S_IN)
    assert got[1] == (1288490189, -2)  # 0.15 in double; float32's 0.15000000596 gave 1288490240


def test_normalization_sub_is_tflms_on_every_input_byte():
    t = _normalization_sub()
    xs = list(range(-128, 128))
    tflm = [_tflm_sub(x, 127, t) for x in xs]
    # What TFLM's interpreter (tflite_micro 0.dev20261023182759) and LiteRT gave for this SUB:
    # each is x - 0.5 within 1e-5 of a step, and the fixed point rounds it up from x = -51 on.
    assert tflm == [x if x >= -51 else max(-128, x - 1) for x in xs]
    assert _kernel_sub(xs, t) == tflm
