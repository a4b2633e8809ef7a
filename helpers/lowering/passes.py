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
that one consumer and is not a graph output.

Through a depthwise convolution (one filter per channel): its dead input channel holds the zero
point everywhere, so its accumulator there is its bias (the padded taps are skipped, as the live
ones add weight x 0), and its output a constant: the bias requantized and clamped. A 1x1
convolution without padding or a fully connected layer reads that constant at every position:
weight x (constant + input offset), the same at every output, added to its bias at export. The
depthwise channel goes too."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from helpers.core.passes import RemovedChannels
from helpers.lowering.builder import step_buffers
from helpers.lowering.fixedpoint import mbqm
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


def _pointwise(step: Step) -> bool:
    """A 1x1 convolution without padding: every output reads one input position, never padding."""
    g = step.geometry
    return g.k_h == g.k_w == 1 and g.pad_top == g.pad_left == 0


def _chain(program: Program, start: int) -> tuple[list[int], int | None, int] | None:
    """The pooling steps, at most one depthwise convolution (one filter per channel) and the one
    consumer that read step `start`'s output in turn, or None. After a depthwise step the consumer
    must be a 1x1 convolution without padding or a fully connected layer (its bias takes the
    constant the depthwise step makes of a dead channel)."""
    outputs = {port.operand for port in program.outputs if isinstance(port.operand, int)}
    steps, pools, depthwise, position = program.steps, [], None, start
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
        step = steps[reader]
        if isinstance(step, PoolInt8) and depthwise is None:
            pools.append(reader)
        elif isinstance(step, ConvInt8) and step.depthwise and depthwise is None and \
                step.geometry.in_c == step.geometry.out_c:
            depthwise = reader
        elif isinstance(step, FullyConnectedInt8) or \
                (isinstance(step, ConvInt8) and not step.depthwise and (depthwise is None or _pointwise(step))):
            return pools, depthwise, reader
        else:
            return None
        position = reader


def remove_dead_channels(program: Program) -> tuple[Program, tuple[RemovedChannels, ...]]:
    """The program without the dead output channels it can prove away, and what was removed."""
    steps = list(program.steps)
    removed = []
    for index in range(len(steps)):
        dead = _dead_channels(steps[index])
        found = _chain(replace(program, steps=tuple(steps)), index) if dead else None
        if not found:
            continue
        pools, depthwise, consumer = found
        producer = steps[index]
        value = producer.quant.output_zero_point
        if any(not steps[p].act_min <= value <= steps[p].act_max for p in pools):
            continue
        # what the consumer reads from each dead channel, plus its input offset: 0 straight from the
        # producer; after a depthwise step, the constant its bias makes there (folded into the bias)
        reads = [value] * len(dead)
        if depthwise is not None:
            if steps[depthwise].quant.input_offset != -value:
                continue
            reads = _depthwise_constants(steps[depthwise], dead)
        offsets = [v + steps[consumer].quant.input_offset for v in reads]
        if any(offsets) and depthwise is None:
            continue
        narrowed = _narrow_consumer(steps[consumer], dead, _channels(producer), offsets)
        if narrowed is None:
            continue
        middle = [depthwise] if depthwise is not None else []
        before = sum(steps[i].weights.values.size for i in (index, *middle, consumer))
        steps[index] = _narrow_producer(producer, dead)
        for p in pools:
            g = steps[p].geometry
            steps[p] = replace(steps[p], geometry=replace(g, channels=g.channels - len(dead)))
        if depthwise is not None:
            steps[depthwise] = _narrow_depthwise(steps[depthwise], dead)
        steps[consumer] = narrowed
        after = sum(steps[i].weights.values.size for i in (index, *middle, consumer))
        positions = program.step_ops or tuple(range(len(steps)))
        removed.append(RemovedChannels(producer=positions[index], producer_op=producer.op,
                                       consumer=positions[consumer], consumer_op=narrowed.op, channels=dead,
                                       of_channels=_channels(producer), weights_removed=before - after,
                                       through=len(pools),
                                       folded_through=positions[depthwise] if depthwise is not None else None))
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


def _narrow_consumer(step: ConvInt8 | FullyConnectedInt8, dead: tuple[int, ...], channels: int,
                     offsets: list[int]) -> Step | None:
    """The consumer without the input channels `dead` of a tensor whose innermost axis has
    `channels` (a fully connected layer reads it flattened: every position's channels in turn),
    each channel's constant products (weight x its value plus the input offset, `offsets`) added to
    the bias; None when the new bias would leave int32."""
    if isinstance(step, ConvInt8):
        g = step.geometry
        if g.in_c != channels:
            return None
        grid = step.weights.values.reshape(g.out_c, g.k_h * g.k_w, g.in_c)
    else:
        if step.n_in % channels:
            return None
        grid = step.weights.values.reshape(step.n_out, step.n_in // channels, channels)
    folded = (grid[:, :, list(dead)].astype(np.int64) * np.array(offsets, np.int64)).sum(axis=(1, 2))
    bias = step.bias.values.astype(np.int64) + folded
    if bias.min() < -(1 << 31) or bias.max() >= 1 << 31:
        return None
    kept = np.ascontiguousarray(np.delete(grid, list(dead), axis=2).reshape(-1))
    common = {"weights": Const(kept), "bias": Const(bias.astype(np.int32)) if folded.any() else step.bias}
    if isinstance(step, ConvInt8):
        return replace(step, geometry=replace(step.geometry, in_c=channels - len(dead)), **common)
    return replace(step, n_in=kept.size // step.n_out, **common)


def _depthwise_constants(step: ConvInt8, channels: tuple[int, ...]) -> list[int]:
    """A depthwise step's output on channels whose input is its zero point everywhere: every product
    is weight x 0 (padded taps are skipped), so the accumulator is the bias, requantized as TFLM
    does (MultiplyByQuantizedMultiplier) and clamped: one constant per channel."""
    q = step.quant
    values = []
    for c in channels:
        scaled = mbqm(int(step.bias.values[c]), int(q.multipliers.values[c]), int(q.shifts.values[c]))
        values.append(min(max(scaled + q.output_zero_point, q.act_min), q.act_max))
    return values


def _narrow_depthwise(step: ConvInt8, dead: tuple[int, ...]) -> Step:
    """A depthwise step without the channels `dead` (weights [1, k_h, k_w, channels], flat)."""
    g, q = step.geometry, step.quant
    kernel = step.weights.values.reshape(g.k_h * g.k_w, g.out_c)
    quant = replace(q, multipliers=_keep(q.multipliers, dead, 0), shifts=_keep(q.shifts, dead, 0))
    return replace(step, weights=Const(np.ascontiguousarray(np.delete(kernel, list(dead), axis=1).reshape(-1))),
                   bias=_keep(step.bias, dead, 0), quant=quant,
                   geometry=replace(g, in_c=g.in_c - len(dead), out_c=g.out_c - len(dead)))
