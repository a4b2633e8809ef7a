"""Exact passes on the lowered Program (the engines' only; TFLM keeps the .tflite as converted).

Dead output channels: an int8 convolution or fully connected layer whose output channel has
all-zero weights and a zero bias computes an accumulator of 0 there, which requantizes to exactly
its output zero point (0 times any multiplier is 0; the clamp is checked to hold the zero point).
Max and average pooling keep a channel of equal values at that value. The next convolution or
fully connected layer reads the channel through its input offset, -zero point, so every product
with it is weight x 0: that input channel adds nothing to any output, padded positions included
(TFLM's and CMSIS-NN's kernels skip the padding, which is the same as adding 0). The pass drops the
channel from the producer (weights, bias, multipliers, shifts), from the pooling between, and the
matching input channel from the consumer, which then computes the same sums without the zero terms:
identical outputs, fewer multiply-accumulates and less flash. Only where the producer's tensor has
that one consumer and is not a graph output."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from helpers.core.passes import RemovedChannels
from helpers.lowering.builder import step_buffers
from helpers.lowering.program import Const, Program, Step
from helpers.lowering.steps import ConvInt8, FullyConnectedInt8, PoolInt8


def _dead_channels(step: Step) -> tuple[int, ...]:
    if isinstance(step, ConvInt8) and not step.depthwise:
        out_c = step.geometry.out_c
    elif isinstance(step, FullyConnectedInt8):
        out_c = step.n_out
    else:
        return ()
    q = step.quant
    if not q.act_min <= q.output_zero_point <= q.act_max:
        return ()
    weights = step.weights.values.reshape(out_c, -1)
    dead = np.flatnonzero(~weights.any(axis=1) & (step.bias.values.reshape(-1) == 0))
    return tuple(int(c) for c in dead) if len(dead) < out_c else tuple(int(c) for c in dead[1:])


def _reads(step: Step, buffer: int) -> bool:
    return any(value == buffer for name, value in _operands(step) if name != "y")


def _operands(step: Step) -> list[tuple[str, int]]:
    named = [(name, getattr(step, name)) for name in ("x", "x1", "x2", "condition", "y") if hasattr(step, name)]
    named = [(n, v) for n, v in named if isinstance(v, int) and not isinstance(v, bool)]
    others = [v for v in step_buffers(step) if v not in [v for _, v in named]]
    return named + [("other", v) for v in others]


def _chain(program: Program, start: int) -> tuple[list[int], int] | None:
    """The pooling steps and the one consumer that read step `start`'s output, or None."""
    outputs = {port.operand for port in program.outputs if isinstance(port.operand, int)}
    steps, chain, position = program.steps, [], start
    while True:
        buffer = steps[position].y
        if program.buffer(buffer).persistent:
            return None
        users = [i for i in range(position + 1, len(steps)) if buffer in step_buffers(steps[i])]
        reader = users[0] if users else None
        if reader is None or getattr(steps[reader], "x", None) != buffer or steps[reader].y == buffer:
            return None
        # buffers are shared by tensors whose lifetimes do not overlap: the next use after the reader
        # must overwrite the buffer with another tensor, else the tensor is read again or is an output
        later = users[1] if len(users) > 1 else None
        if later is None and buffer in outputs:
            return None
        if later is not None and (_reads(steps[later], buffer) or steps[later].y != buffer):
            return None
        if isinstance(steps[reader], PoolInt8):
            chain.append(reader)
            position = reader
            continue
        if (isinstance(steps[reader], ConvInt8) and not steps[reader].depthwise) or \
                isinstance(steps[reader], FullyConnectedInt8):
            return chain, reader
        return None


def remove_dead_channels(program: Program) -> tuple[Program, tuple[RemovedChannels, ...]]:
    """The program without the dead output channels it can prove away, and what was removed."""
    steps = list(program.steps)
    removed = []
    for index in range(len(steps)):
        dead = _dead_channels(steps[index])
        found = _chain(replace(program, steps=tuple(steps)), index) if dead else None
        if not found:
            continue
        pools, consumer = found
        producer = steps[index]
        value = producer.quant.output_zero_point
        if any(not steps[p].act_min <= value <= steps[p].act_max for p in pools) or \
                steps[consumer].quant.input_offset != -value:
            continue
        narrowed = _narrow_consumer(steps[consumer], dead, _channels(producer))
        if narrowed is None:
            continue
        before = producer.weights.values.size + steps[consumer].weights.values.size
        steps[index] = _narrow_producer(producer, dead)
        for p in pools:
            g = steps[p].geometry
            steps[p] = replace(steps[p], geometry=replace(g, channels=g.channels - len(dead)))
        steps[consumer] = narrowed
        after = steps[index].weights.values.size + narrowed.weights.values.size
        positions = program.step_ops or tuple(range(len(steps)))
        removed.append(RemovedChannels(producer=positions[index], producer_op=producer.op,
                                       consumer=positions[consumer], consumer_op=narrowed.op, channels=dead,
                                       of_channels=_channels(producer), weights_removed=before - after,
                                       through=len(pools)))
    return replace(program, steps=tuple(steps)), tuple(removed)


def _channels(step: ConvInt8 | FullyConnectedInt8) -> int:
    return step.geometry.out_c if isinstance(step, ConvInt8) else step.n_out


def _keep(values: Const, dead: tuple[int, ...], axis: int) -> Const:
    return Const(np.ascontiguousarray(np.delete(values.values, list(dead), axis=axis)))


def _narrow_producer(step: ConvInt8 | FullyConnectedInt8, dead: tuple[int, ...]) -> Step:
    q = step.quant
    quant = replace(q, multipliers=_keep(q.multipliers, dead, 0), shifts=_keep(q.shifts, dead, 0))
    # weights are kept flat, output channel outermost: [out_c, k_h, k_w, in_c] or [n_out, n_in]
    rows = step.weights.values.reshape(_channels(step), -1)
    weights = Const(np.ascontiguousarray(np.delete(rows, list(dead), axis=0).reshape(-1)))
    common = {"weights": weights, "bias": _keep(step.bias, dead, 0), "quant": quant}
    if isinstance(step, ConvInt8):
        return replace(step, geometry=replace(step.geometry, out_c=step.geometry.out_c - len(dead)), **common)
    return replace(step, n_out=step.n_out - len(dead), **common)


def _narrow_consumer(step: ConvInt8 | FullyConnectedInt8, dead: tuple[int, ...], channels: int) -> Step | None:
    """The consumer without the input channels `dead` of a tensor whose innermost axis has
    `channels` (a fully connected layer reads it flattened: every position's channels in turn)."""
    if isinstance(step, ConvInt8):
        if step.geometry.in_c != channels:
            return None
        g = step.geometry
        kernel = step.weights.values.reshape(g.out_c, g.k_h, g.k_w, g.in_c)
        weights = Const(np.ascontiguousarray(np.delete(kernel, list(dead), axis=3).reshape(-1)))
        return replace(step, weights=weights, geometry=replace(step.geometry, in_c=channels - len(dead)))
    if step.n_in % channels:
        return None
    n_out = step.n_out
    grid = step.weights.values.reshape(n_out, step.n_in // channels, channels)
    weights = np.delete(grid, list(dead), axis=2).reshape(n_out, -1)
    return replace(step, weights=Const(np.ascontiguousarray(weights.reshape(-1))), n_in=weights.shape[1])
