"""The dead-channel pass on hand-made programs, without TensorFlow: two int8 fully connected layers,
the first with dead units, computed with TFLM's arithmetic (gemmlowp's MultiplyByQuantizedMultiplier)
before and after the pass on every input: identical. And where it must not apply: a live bias, a
clamp that excludes the zero point, a tensor read twice, a graph output."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from helpers.lowering.fixedpoint import mbqm
from helpers.lowering.passes import remove_dead_channels
from helpers.lowering.program import Buffer, Const, Port, Program
from helpers.lowering.steps import ConvGeometry, ConvInt8, FullyConnectedInt8, Requantization

RNG = np.random.default_rng(0)


def _fc(x: int, y: int, n_in: int, n_out: int, dead: tuple[int, ...] = (), zero_point: int = -128,
        input_offset: int = 5, act_min: int = -128) -> FullyConnectedInt8:
    weights = RNG.integers(-127, 128, size=(n_out, n_in)).astype(np.int8)
    bias = RNG.integers(-2000, 2000, size=n_out).astype(np.int32)
    weights[list(dead)] = 0
    bias[list(dead)] = 0
    quant = Requantization(multipliers=Const(np.full(n_out, 1 << 30, np.int32)), shifts=Const(np.full(n_out, -6, np.int32)),
                           input_offset=input_offset, output_zero_point=zero_point, act_min=act_min, act_max=127)
    return FullyConnectedInt8(op="FULLY_CONNECTED", x=x, y=y, weights=Const(weights.reshape(-1)), bias=Const(bias),
                              quant=quant, batches=1, n_in=n_in, n_out=n_out)


def _program(*steps, output: int = 2) -> Program:
    buffers = tuple(Buffer(id=i, dtype="int8", elements=64, role="tensor", persistent=i == 0) for i in range(4))
    return Program(steps=steps, buffers=buffers, resets=(), inputs=(Port(0, "int8", 6),),
                   outputs=(Port(output, "int8", 4),), accumulator_elements=1, arena_bytes=256,
                   graph_ops=tuple(s.op for s in steps), step_ops=tuple(range(len(steps))))


def _run(step: FullyConnectedInt8, x: np.ndarray) -> np.ndarray:
    """TFLM's int8 fully connected, per output."""
    weights = step.weights.values.reshape(step.n_out, step.n_in).astype(np.int64)
    out = []
    for o in range(step.n_out):
        acc = int(((x.astype(np.int64) + step.quant.input_offset) * weights[o]).sum()) + int(step.bias.values[o])
        value = mbqm(acc, int(step.quant.multipliers.values[o]), int(step.quant.shifts.values[o]))
        out.append(min(max(value + step.quant.output_zero_point, step.quant.act_min), step.quant.act_max))
    return np.array(out)


def test_dead_units_are_removed_and_every_output_stays_identical():
    first = _fc(0, 1, 6, 5, dead=(1, 3))
    second = _fc(1, 2, 5, 4, input_offset=128)          # reads the first's output: offset = -zero point
    program, removed = remove_dead_channels(_program(first, second))
    assert len(removed) == 1 and removed[0].channels == (1, 3) and removed[0].weights_removed == 2 * 6 + 2 * 4
    narrow_first, narrow_second = program.steps
    assert (narrow_first.n_out, narrow_second.n_in) == (3, 3)
    for _ in range(200):
        x = RNG.integers(-128, 128, size=6)
        assert np.array_equal(_run(second, _run(first, x)), _run(narrow_second, _run(narrow_first, x)))


def test_nothing_is_removed_where_it_would_not_be_exact():
    second = _fc(1, 2, 5, 4, input_offset=128)
    live_bias = _fc(0, 1, 6, 5, dead=(1,))
    live_bias = replace(live_bias, bias=Const(np.where(np.arange(5) == 1, 7, live_bias.bias.values).astype(np.int32)))
    clamped = _fc(0, 1, 6, 5, dead=(1,), act_min=-100)   # the zero point -128 is clamped to -100
    assert remove_dead_channels(_program(live_bias, second))[1] == ()
    assert remove_dead_channels(_program(clamped, second))[1] == ()
    first = _fc(0, 1, 6, 5, dead=(1,))
    assert remove_dead_channels(_program(first, second, output=1))[1] == ()   # the first's tensor is an output
    # read twice: a second consumer of buffer 1 after the first
    assert remove_dead_channels(_program(first, second, _fc(1, 3, 5, 4, input_offset=128), output=3))[1] == ()
    # a consumer whose input offset is not minus the producer's zero point
    assert remove_dead_channels(_program(first, _fc(1, 2, 5, 4, input_offset=3)))[1] == ()


def _conv(x: int, y: int, geometry: ConvGeometry, depthwise: bool, dead: tuple[int, ...] = (),
          zero_point: int = -128, input_offset: int = 128) -> ConvInt8:
    g = geometry
    shape = (1, g.k_h, g.k_w, g.out_c) if depthwise else (g.out_c, g.k_h, g.k_w, g.in_c)
    weights = RNG.integers(-127, 128, size=shape).astype(np.int8)
    bias = RNG.integers(-3000, 3000, size=g.out_c).astype(np.int32)
    if not depthwise:
        weights[list(dead)] = 0
        bias[list(dead)] = 0
    quant = Requantization(multipliers=Const(np.full(g.out_c, 1 << 30, np.int32)),
                           shifts=Const(np.full(g.out_c, -7, np.int32)), input_offset=input_offset,
                           output_zero_point=zero_point, act_min=-128, act_max=127)
    return ConvInt8(op="DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", x=x, y=y, depthwise=depthwise,
                    weights=Const(weights.reshape(-1)), bias=Const(bias), quant=quant, geometry=g)


def _run_conv(step: ConvInt8, x: np.ndarray) -> np.ndarray:
    """TFLM's int8 (depthwise) convolution, stride 1: out-of-image taps are skipped."""
    g, q = step.geometry, step.quant
    shape = (g.k_h, g.k_w, g.out_c) if step.depthwise else (g.out_c, g.k_h, g.k_w, g.in_c)
    w = step.weights.values.reshape(shape).astype(np.int64)
    out = np.zeros((g.out_h, g.out_w, g.out_c), np.int64)
    for oy in range(g.out_h):
        for ox in range(g.out_w):
            for o in range(g.out_c):
                acc = int(step.bias.values[o])
                for ky in range(g.k_h):
                    for kx in range(g.k_w):
                        iy, ix = oy - g.pad_top + ky, ox - g.pad_left + kx
                        if 0 <= iy < g.in_h and 0 <= ix < g.in_w:
                            if step.depthwise:
                                acc += (int(x[iy, ix, o]) + q.input_offset) * int(w[ky, kx, o])
                            else:
                                acc += int(((x[iy, ix].astype(np.int64) + q.input_offset) * w[o, ky, kx]).sum())
                value = mbqm(acc, int(q.multipliers.values[o]), int(q.shifts.values[o])) + q.output_zero_point
                out[oy, ox, o] = min(max(value, q.act_min), q.act_max)
    return out


def test_dead_channels_through_a_depthwise_step_fold_into_the_bias_exactly():
    def geometry(in_c: int, out_c: int, k: int) -> ConvGeometry:
        return ConvGeometry(in_h=4, in_w=4, in_c=in_c, out_h=4, out_w=4, out_c=out_c, k_h=k, k_w=k, stride_h=1,
                            stride_w=1, dilation_h=1, dilation_w=1, pad_top=k // 2, pad_left=k // 2)

    first = _conv(0, 1, geometry(3, 6, 1), False, dead=(1, 4))
    middle = _conv(1, 2, geometry(6, 6, 3), True, zero_point=-20)   # its bias makes the dead channels constants
    last = _conv(2, 3, geometry(6, 5, 1), False, input_offset=20)
    program, removed = remove_dead_channels(_program(first, middle, last, output=3))
    assert len(removed) == 1 and removed[0].channels == (1, 4) and removed[0].folded_through == 1
    narrow = program.steps
    assert narrow[1].geometry.out_c == narrow[2].geometry.in_c == 4
    assert not np.array_equal(narrow[2].bias.values, last.bias.values)   # the constants were folded in
    for _ in range(20):
        x = RNG.integers(-128, 128, size=(4, 4, 3))
        expected = _run_conv(last, _run_conv(middle, _run_conv(first, x)))
        assert np.array_equal(expected, _run_conv(narrow[2], _run_conv(narrow[1], _run_conv(narrow[0], x))))
