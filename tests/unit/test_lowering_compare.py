"""The lowering of the comparisons, SELECT_V2, CAST and ARG_MAX/ARG_MIN without TensorFlow: the
int8 comparison's constants against TFLM's Prepare arithmetic, and its result (gemmlowp's fixed
point written out here) against the expectations of TFLM's own comparisons_test.cc."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.lowering import steps as s
from helpers.lowering.graph import Unsupported
from helpers.lowering.lower import lower
from tests.unit.test_lowering import graph, only_step, tensor, tflm_multiplier


def _srdhm(a: int, b: int) -> int:
    if a == b == -2**31:
        return 2**31 - 1
    product = a * b
    nudge = 1 << 30 if product >= 0 else 1 - (1 << 30)
    total = product + nudge
    return abs(total) // 2**31 * (1 if total >= 0 else -1)  # C's division truncates toward zero


def _rounding_divide(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder, threshold = x & mask, (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _scaled(value: int, offset: int, multiplier: int, shift: int, left_shift: int) -> int:
    """ComparisonWithScaling's operand: (value + offset) << left_shift, times the multiplier."""
    return _rounding_divide(_srdhm((value + offset) * (1 << left_shift), multiplier), -shift)


def _compare_program(name, scale1, zp1, scale2, zp2, constant, shape=(1, 6)):
    tensors = [tensor(0, shape, scale=scale1, zero_point=zp1),
               tensor(1, (1,), scale=scale2, zero_point=zp2, data=np.asarray(constant, np.int8)),
               tensor(2, shape, dtype="bool")]
    return lower(graph(tensors, [(name, (0, 1), (2,), None)]))


def test_int8_greater_rescales_both_inputs_as_comparisons_prepare():
    # comparisons_test.cc, GreaterQuantizedInt8WithBroadcast: {20, -2, -71, 8, 11, 20} > 8, both
    # quantized with scale 0.5 and zero point -9
    program = _compare_program("GREATER", 0.5, -9, 0.5, -9, [8 * 2 - 9])
    step = only_step(program, s.CompareInt8)
    assert (step.input1_multiplier, step.input1_shift) == tflm_multiplier(0.5) == (2**30, 0)
    assert (step.input1_offset, step.left_shift, step.kind) == (9, 8, "greater")
    assert step.x2_index is not None and step.x2_index.values.tolist() == [0] * 6
    values = [int(v * 2 - 9) for v in (20, -2, -71, 8, 11, 20)]
    right = _scaled(8 * 2 - 9, step.input2_offset, step.input2_multiplier, step.input2_shift, 8)
    got = [_scaled(v, step.input1_offset, step.input1_multiplier, step.input1_shift, 8) > right for v in values]
    assert got == [True, False, False, False, True, True]


def test_int8_inputs_of_different_scales_compare_their_rescaled_values():
    program = _compare_program("EQUAL", 0.02, 3, 0.0125, -128, [-48])
    step = only_step(program, s.CompareInt8)
    assert (step.input2_multiplier, step.input2_shift) == tflm_multiplier(0.0125)
    assert (step.input1_offset, step.input2_offset) == (-3, 128)
    # (-48 + 128) * 0.0125 = 1.0 = (53 - 3) * 0.02: equal after both rescalings
    right = _scaled(-48, 128, step.input2_multiplier, step.input2_shift, 8)
    assert _scaled(53, -3, step.input1_multiplier, step.input1_shift, 8) == right


def test_an_int8_scale_of_one_or_more_and_int16_comparisons_are_refused():
    with pytest.raises(Unsupported, match="scale"):
        _compare_program("LESS", 1.5, 0, 0.5, 0, [1])
    tensors = [tensor(0, (1, 6), dtype="int16", scale=0.5), tensor(1, (1,), dtype="int16", scale=0.5,
                                                                   data=np.asarray([3], np.int16)),
               tensor(2, (1, 6), dtype="bool")]
    with pytest.raises(Unsupported, match="GREATER"):
        lower(graph(tensors, [("GREATER", (0, 1), (2,), None)]))


def test_select_cast_and_arg_max_steps_and_their_buffers():
    tensors = [tensor(0, (1, 4, 6), dtype="float32"), tensor(1, (4, 1), dtype="bool",
                                                             data=np.asarray([[1], [0], [0], [1]], bool)),
               tensor(2, (6,), dtype="float32", data=np.zeros(6, np.float32)), tensor(3, (1, 4, 6), dtype="float32"),
               tensor(4, (1,), dtype="int32", data=np.asarray([-2], np.int32)), tensor(5, (1, 6), dtype="int32"),
               tensor(6, (1, 6), dtype="int8")]
    program = lower(graph(tensors, [("SELECT_V2", (1, 0, 2), (3,), None), ("ARG_MAX", (3, 4), (5,), None),
                                    ("CAST", (5,), (6,), None)]))
    select, arg, cast = program.steps
    assert isinstance(select, s.Select) and select.condition.values.dtype == np.uint8
    assert select.condition_index.values.tolist() == np.repeat(np.arange(4), 6).tolist()
    assert isinstance(arg, s.ArgMinMax) and (arg.outer, arg.axis, arg.inner, arg.maximum) == (1, 4, 6, True)
    assert isinstance(cast, s.Cast) and (cast.source, cast.target) == ("int32", "int8")
    assert [program.buffer(step.y).dtype for step in program.steps] == ["float32", "int32", "int8"]
    assert program.buffer(arg.y).nbytes == 24 and program.output_dtype == "int8"
