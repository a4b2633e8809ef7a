"""The parameter records of the C engine's own elementwise int8 kernels (c_kernels/ops_int8.c:
mcu_add_params, mcu_mul_params, mcu_squared_difference_params), in their field order. The C engine
declares them as structs; the MicroPython kernels module is passed them as one int32 array and
reads that array as the same struct, so both take the order from here."""
from __future__ import annotations

from helpers.lowering import steps as s


def add_record(t: s.AddInt8) -> list[int]:
    return [t.input1_offset, t.input2_offset, t.input1_multiplier, t.input1_shift, t.input2_multiplier,
            t.input2_shift, t.output_multiplier, t.output_shift, t.output_zero_point, t.act_min, t.act_max, t.sign]


def mul_record(t: s.MulInt8) -> list[int]:
    return [t.input1_offset, t.input2_offset, t.output_multiplier, t.output_shift, t.output_zero_point, t.act_min,
            t.act_max]


def squared_difference_record(t: s.SquaredDifferenceInt8) -> list[int]:
    return [t.input1_offset, t.input2_offset, t.input1_multiplier, t.input1_shift, t.input2_multiplier,
            t.input2_shift, t.output_multiplier, t.output_shift, t.output_zero_point]
