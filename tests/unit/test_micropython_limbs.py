"""The MicroPython engine's limb arithmetic (device/hot.py, device/ops_int8.py), run as the plain
code a port without viper gets, against gemmlowp's definitions on Python ints
(helpers/lowering/fixedpoint.py). The limbs keep every value a small int on a 32-bit port; these
tests pin that they still give TFLM's numbers, bit for bit, with every intermediate below 2**30."""
from __future__ import annotations

from array import array

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.emit.micropython import device_source, hot_source
from helpers.emit.micropython_calls import exp_limbs, multiplier_limbs
from helpers.lowering import arith
from helpers.lowering.fixedpoint import mbqm, rdbp, reciprocal, srdhm

SMALL_INT = 2**30   # a 32-bit MicroPython's small ints are below this in magnitude


def _plain_namespace() -> dict:
    """The hot loops compiled as the engine compiles them for plain code, with the int8 ops."""
    hot = hot_source().replace("SIGN_UNIT", "0")
    same = lambda buffer: buffer  # noqa: E731  (plain code indexes the buffers themselves)
    namespace: dict = {"ptr8": same, "ptr16": same, "ptr32": same}
    exec(hot, namespace)
    ops = {"_HOT": namespace, "_I32": array("i", [0] * 6)}
    exec(device_source("ops_int8"), ops)
    return ops


OPS = _plain_namespace()
HOT = OPS["_HOT"]


@settings(max_examples=400)
@given(st.integers(min_value=-2**27, max_value=2**27), st.integers(min_value=2**30, max_value=2**31 - 1),
       st.integers(min_value=-20, max_value=3))
def test_scale_acc_is_multiply_by_quantized_multiplier(x, multiplier, shift):
    acc = array("i", [x])
    HOT["scale_acc"](0, 0, 0, acc, 1, 1, acc, array("h", multiplier_limbs(np.asarray([multiplier])).tolist()),
                     array("i", [shift]), 0, 0, acc, 0, 0)
    assert acc[0] == mbqm(x, multiplier, shift)


@settings(max_examples=400)
@given(st.integers(min_value=0, max_value=SMALL_INT - 1), st.integers(min_value=0, max_value=SMALL_INT - 1),
       st.integers(min_value=0, max_value=2**15), st.integers(min_value=0, max_value=2**15 - 1))
def test_hi30_is_the_high_part_of_the_product(p, q, kh, kl):
    assert HOT["hi30"](p, q, kh, kl) == (p * q + kh * 2**15 + kl) >> 30


def _softmax_reference(total: int, exps: list[int]) -> list[int]:
    scale, bits_over_unit = reciprocal(total, 12)
    return [min(127, rdbp(srdhm(scale, e), bits_over_unit + 23) - 128) for e in exps]


def _softmax_limbs(total: int, exps: np.ndarray) -> list[int]:
    r = array("i", [127, total, 0, 0, 0, 0])   # the row's maximum, 127, and the sum
    HOT["softmax_scale"](r)
    limbs = array("h", exp_limbs(exps).tolist())
    x = bytearray((127 - d) & 255 for d in range(256))   # element d: distance d to the maximum
    y = bytearray(256)
    HOT["softmax_out"](x, y, 0, 256, limbs, r)
    return [((v ^ 128) - 128) for v in y]


# Totals whose reciprocal saturates (powers of two) or sits at the ends of Newton's range.
EDGE_TOTALS = [2**19, 2**20, 2**29, 2**19 + 1, 2**20 - 1, 2**30 - 1, 3 << 19, 123456789]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2**19, max_value=2**30 - 1), st.floats(min_value=0.01, max_value=0.5))
def test_softmax_outputs_match_gemmlowps_reciprocal(total, scale):
    exps = np.asarray(arith.softmax_tables(scale, 1.0)[0], np.int64)
    assert _softmax_limbs(total, exps) == _softmax_reference(total, exps.tolist())


def test_softmax_at_the_edges_of_the_reciprocal():
    exps = np.asarray(arith.softmax_tables(0.0625, 1.0)[0], np.int64)
    for total in EDGE_TOTALS:
        assert _softmax_limbs(total, exps) == _softmax_reference(total, exps.tolist()), total


def test_every_softmax_intermediate_is_a_small_int():
    # The reciprocal's Newton steps, traced: what would be a big int on a 32-bit port.
    seen: list[int] = []
    hi30 = HOT["hi30"]

    def traced(p: int, q: int, kh: int, kl: int) -> int:
        assert max(p, q) < SMALL_INT
        value = hi30(p, q, kh, kl)
        seen.append(value)
        return value

    HOT["hi30"] = traced
    try:
        for total in EDGE_TOTALS + list(range(2**19, 2**30, 7_654_321)):
            r = array("i", [0, total, 0, 0, 0, 0])
            HOT["softmax_scale"](r)
            assert all(0 <= v < SMALL_INT for v in r)
    finally:
        HOT["hi30"] = hi30
    assert seen and max(abs(v) for v in seen) < SMALL_INT


def test_int16_gate_steps_match_the_reference():
    # activate16 (TFLM's int16 logistic and tanh) on values across the int16 range, and scale_acc's
    # int16 modes (saturate; add, saturate, clip), against a direct transcription of TFLM's
    # reference kernels.
    table = array("H", arith.SIGMOID_TABLE_UINT16)
    values = list(range(-32768, 32768, 97)) + [-32768, 32767, 0]
    src = array("h", values)
    out = array("h", [0] * len(values))
    HOT["activate16"](0, 0, 0, src, out, len(values), table, 1, 3, 0)
    assert list(out) == [_sigmoid16(v) for v in values]
    for mult, shift in ((3, 0), (6, 0), (3, 2)):
        HOT["activate16"](0, 0, 0, src, out, len(values), table, 0, mult, shift)
        assert list(out) == [_tanh16(v, mult, shift) for v in values]
    multiplier, exponent = arith.quantize_multiplier(1.7)
    limbs = array("h", multiplier_limbs(np.asarray([multiplier])).tolist())
    shifts = array("i", [exponent])
    wide = [v * 3 for v in values]
    cell = array("h", values)
    HOT["scale_acc"](0, 0, 0, array("i", wide), len(values), 1, cell, limbs, shifts, 0, 0, cell, 2, 20000)
    assert list(cell) == [max(-20000, min(20000, _sat16(v + _sat16(mbqm(w, multiplier, exponent)))))
                          for v, w in zip(values, wide)]
    HOT["scale_acc"](0, 0, 0, array("i", wide), len(values), 1, cell, limbs, shifts, 0, 0, cell, 1, 0)
    assert list(cell) == [_sat16(mbqm(w, multiplier, exponent)) for w in wide]


def _sat16(v: int) -> int:
    return max(-32768, min(32767, v))


def _sigmoid16(v: int) -> int:
    v *= 3
    a = abs(v)
    uh = a >> 9
    t = arith.SIGMOID_TABLE_UINT16
    r = 0x7FFF << 10 if uh >= 255 else (t[uh] << 9) + (a & 0x1FF) * (t[uh + 1] - t[uh])
    r = r + 512 if v >= 0 else (1 << 25) - r + 511
    return r >> 10


def _tanh16(v: int, mult: int, shift: int) -> int:
    v = (v * mult + ((1 << (shift - 1)) if shift > 0 else 0)) >> shift
    a = abs(v)
    uh = a >> 8
    t = arith.SIGMOID_TABLE_UINT16
    r = 0xFFFF << 8 if uh >= 255 else (t[uh] << 8) + (a & 0xFF) * (t[uh + 1] - t[uh])
    r = r - (1 << 23) + 128 if v >= 0 else -r + (1 << 23) + 127
    return r >> 8
