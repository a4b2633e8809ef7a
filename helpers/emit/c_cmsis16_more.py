"""The C engine's calls for ops_int16_more's steps: the engine's own kernels in c_kernels/ops_int16.c
(TFLM's reference arithmetic; CMSIS-NN has no s16 kernel for them)."""
from __future__ import annotations

from typing import Callable

from helpers.emit.c_names import CNames, c_int
from helpers.lowering import steps_int16 as s16
from helpers.lowering.program import Step


def squared_difference_i16(n: CNames, t: s16.SquaredDifferenceInt16) -> str:
    params = n.record("mcu_squared_difference_i16_params", [c_int(v) for v in (
        t.input1_multiplier, t.input1_shift, t.input2_multiplier, t.input2_shift, t.output_multiplier,
        t.output_shift)])
    return (f"mcu_squared_difference_i16({n.operand(t.x1)}, {n.index(t.x1_index)}, {n.operand(t.x2)}, "
            f"{n.index(t.x2_index)}, {n.buffer(t.y)}, {t.count}, &{params});")


def batch_matmul_i16(n: CNames, t: s16.BatchMatMulInt16) -> str:
    return (f"mcu_batch_matmul_i16({n.operand(t.x1)}, {n.operand(t.x2)}, {n.buffer(t.y)}, {n.array(t.layout)}, "
            f"{c_int(t.multiplier)}, {c_int(t.shift)});")


def prelu_i16(n: CNames, t: s16.PreluInt16) -> str:
    params = n.record("mcu_prelu_i16_params", [c_int(v) for v in (
        t.input_offset, t.output_offset, t.multiplier_1, t.shift_1, t.multiplier_2, t.shift_2)])
    return (f"mcu_prelu_i16({n.operand(t.x)}, {n.buffer(t.y)}, {t.count}, {n.array(t.alphas)}, {t.period}, "
            f"&{params});")


FORMATTERS: dict[type, Callable[[CNames, Step], str]] = {  # type: ignore[dict-item]
    s16.SquaredDifferenceInt16: squared_difference_i16, s16.BatchMatMulInt16: batch_matmul_i16,
    s16.PreluInt16: prelu_i16,
}
OWN_FAMILIES: dict[type, str] = {step: "ops_int16" for step in FORMATTERS}
