"""The C engine's int8 TRANSPOSE_CONV is CMSIS-NN's wrapper, as TFLM's Cortex-M kernel calls it, with
its two scratch buffers in the grid the portable paths use when they fit, else in the shared scratch
(the op zoo's transpose_conv cases prove the outputs; this proves which path each one takes)."""
from __future__ import annotations

from helpers.emit.c_calls import c_calls
from helpers.emit.c_transpose_conv import scratch_sizes
from helpers.lowering import steps as s
from helpers.lowering.lower import lower_model
from tests.op_zoo import ZOO_DIR


def _lowered(case: str) -> tuple[s.TransposeConvInt8, str, int]:
    program = lower_model((ZOO_DIR / case / "model.tflite").read_bytes()).program
    (index, step), = [(i, t) for i, t in enumerate(program.steps) if isinstance(t, s.TransposeConvInt8)]
    lines, names = c_calls(program)
    return step, lines[index][1], names.scratch_bytes


def test_a_shallow_layer_takes_cmsis_nns_accumulator_path_in_the_grid():
    step, line, scratch = _lowered("transpose_conv_int8")
    assert step.geometry.in_c <= 16 and scratch_sizes(step.geometry)[1] == 0  # no reversed kernel
    assert line.startswith("if (arm_transpose_conv_wrapper_s8(") and scratch == 0


def test_a_deep_layer_reverses_its_kernel_in_the_grid():
    step, line, scratch = _lowered("transpose_conv_deep_int8")
    accumulator, reversed_kernel = scratch_sizes(step.geometry)
    assert step.geometry.in_c > 16 and reversed_kernel == 20 * 3 * 3 * 4 and accumulator > 0
    assert scratch == 0  # both fit in the grid: the engine reserves nothing more


def test_a_wide_layer_whose_reversed_kernel_outgrows_the_grid_uses_the_shared_scratch():
    step, line, scratch = _lowered("transpose_conv_wide_int8")
    accumulator, reversed_kernel = scratch_sizes(step.geometry)
    assert reversed_kernel == 20 * 3 * 3 * 24
    assert scratch >= accumulator + reversed_kernel
