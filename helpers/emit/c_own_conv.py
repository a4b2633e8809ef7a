"""The C engine's own int8 convolution and fully connected kernels for Armv7E-M (c_kernels/conv_dsp.c):
which layers they take, what they read, and the call for the step's Armv7E-M branch
(c_own_kernels joins it with the Armv6-M branch and CMSIS-NN's call; docs/kernels.md).

What the own kernels read is laid out here, at export: the weights as the int16 pairs SMLAD
multiplies (no sign extension on the board), and each channel's bias plus input offset times its
weight sum (the accumulator's start). Both are declared only under the same `#if`."""
from __future__ import annotations

import numpy as np

from helpers.emit.c_names import CNames, c_int
from helpers.emit.cmsis_params import is_per_tensor
from helpers.lowering import steps as s

# MCU_ENGINE_CMSIS_NN_ONLY compiles every layer with CMSIS-NN's call on Armv7E-M too: the build the
# export's kernel choice measures against (helpers/targets/kernel_choice.py); a firmware may define it.
DSP_ONLY = "defined(ARM_MATH_DSP) && !defined(ARM_MATH_MVEI) && !defined(MCU_ENGINE_CMSIS_NN_ONLY)"


def own_pointwise(t: s.ConvInt8) -> bool:
    """A 1x1, stride-1, unpadded int8 convolution whose input depth is a multiple of 4 (whole
    SXTB16 words per pixel): the own pointwise kernel takes it on Armv7E-M."""
    g = t.geometry
    return (not t.depthwise and g.k_h == g.k_w == 1 and g.stride_h == g.stride_w == 1
            and g.dilation_h == g.dilation_w == 1 and g.pad_top == g.pad_left == 0 and g.in_c % 4 == 0
            and g.in_h == g.out_h and g.in_w == g.out_w)


def _middle_tap_inside(pad: int, stride: int, size: int, out: int) -> bool:
    """Whether every window's middle row (or column) lies inside the input: the own depthwise
    kernel tests only the outer taps against the padding."""
    return 0 <= 1 - pad and (out - 1) * stride - pad + 1 <= size - 1


def own_depthwise(t: s.ConvInt8) -> bool:
    """A 3x3 depthwise convolution of stride 1 or 2 (the same both ways), depth multiplier 1,
    channels a multiple of 4, padded so that every window's middle row and column are inside the
    input ("same" and "valid" both are): the own depthwise kernel takes it on Armv7E-M."""
    g = t.geometry
    return (t.depthwise and g.k_h == g.k_w == 3 and g.stride_h == g.stride_w and g.stride_h in (1, 2)
            and g.depth_multiplier == 1 and g.dilation_h == g.dilation_w == 1 and g.in_c % 4 == 0
            and _middle_tap_inside(g.pad_top, g.stride_h, g.in_h, g.out_h)
            and _middle_tap_inside(g.pad_left, g.stride_w, g.in_w, g.out_w))


# The im2col kernel gathers a patch per pixel pair for all channels: measured faster than CMSIS-NN
# from 64 channels (DS-CNN's first layer, 0.49x) down to 8 (0.43x, 0.64x; BENCHMARKS.md). Below 8
# nothing was measured, so those layers keep CMSIS-NN.
MIN_CONV_CHANNELS = 8


def own_conv(t: s.ConvInt8) -> bool:
    """Any other undilated int8 convolution with enough output channels: the own im2col kernel."""
    g = t.geometry
    return (not t.depthwise and not own_pointwise(t) and g.dilation_h == g.dilation_w == 1
            and g.out_c >= MIN_CONV_CHANNELS)


def own_fully_connected(t: s.FullyConnectedInt8) -> bool:
    """An int8 fully connected layer whose input length is a multiple of 4 (whole SXTB16 words)."""
    return t.n_in % 4 == 0


def uses_own_kernels(step: object) -> bool:
    if isinstance(step, s.FullyConnectedInt8):
        return own_fully_connected(step)
    return isinstance(step, s.ConvInt8) and (own_pointwise(step) or own_depthwise(step) or own_conv(step))


def _wrap32(values: np.ndarray) -> np.ndarray:
    return ((values.astype(np.int64) + 2**31) % 2**32 - 2**31).astype(np.int64)


def channel_rows(t: s.ConvInt8 | s.FullyConnectedInt8) -> np.ndarray:
    """The weights as [output channels, inputs summed into each]."""
    if isinstance(t, s.FullyConnectedInt8):
        return t.weights.values.reshape(t.n_out, t.n_in)
    g = t.geometry
    return t.weights.values.reshape(-1, g.out_c).T if t.depthwise else t.weights.values.reshape(g.out_c, -1)


def folded_sums(t: s.ConvInt8 | s.FullyConnectedInt8) -> np.ndarray:
    """bias + input_offset * sum(weights) per output channel, wrapped to int32 as the board's adds wrap."""
    weights = channel_rows(t).astype(np.int64)
    bias = t.bias.values.reshape(-1).astype(np.int64) if t.bias is not None else np.zeros(len(weights), np.int64)
    return _wrap32(bias + int(t.quant.input_offset) * weights.sum(axis=1))


def _pairs(rows: np.ndarray, natural: bool = False) -> np.ndarray:
    """[channels, n] int8 (n a multiple of 4) as [channels, n / 2] words, low half first: per four
    inputs (w0, w2) then (w1, w3), what SXTB16 and its 8-bit rotation make of four input bytes; or,
    `natural`, (w0, w1) then (w2, w3), for inputs gathered as int16 in order."""
    quads = rows.astype(np.int64).reshape(len(rows), -1, 4)
    first, second = (1, 2) if natural else (2, 1)
    low = np.stack([quads[..., 0], quads[..., second]], axis=-1) & 0xFFFF
    high = np.stack([quads[..., first], quads[..., 3]], axis=-1) & 0xFFFF
    return (low | (high << 16)).reshape(len(rows), -1)


def conv_patch_order(t: s.ConvInt8) -> np.ndarray:
    """Which of the layer's (k_h, k_w, in_c) columns each int16 of mcu_patch_s8's patch holds, -1
    for the zero padding: per kernel row, its whole words of k_w * in_c contiguous inputs in SXTB16's
    pairing ((x0, x2), (x1, x3) per four); then every row's leftover inputs in order; then zeros up
    to a whole SMLAD step of 4."""
    g = t.geometry
    length = g.k_w * g.in_c
    body = length - length % 4
    order = [row * length + start + j for row in range(g.k_h) for start in range(0, body, 4) for j in (0, 2, 1, 3)]
    order += [row * length + j for row in range(g.k_h) for j in range(body, length)]
    return np.array(order + [-1] * (-len(order) % 4), dtype=np.int64)


def conv_columns(t: s.ConvInt8) -> int:
    """A patch's length: k_h * k_w * in_c and its padding to whole SMLAD steps of 4."""
    return len(conv_patch_order(t))


def pointwise_weights(t: s.ConvInt8 | s.FullyConnectedInt8) -> np.ndarray:
    """The weights as mcu_pixel_pair_s8 reads them: per channel pair, per four inputs, channel c's
    two words then channel c+1's; an odd last channel's words alone at the end. uint32 bit patterns.
    For mcu_conv_s8 (not 1x1) each channel's columns are put in the patch's order first (zeros where
    it is padded) and paired as they lie."""
    rows = channel_rows(t)
    natural = isinstance(t, s.ConvInt8) and not own_pointwise(t)
    if natural:
        order = conv_patch_order(t)
        rows = np.where(order >= 0, rows[:, np.maximum(order, 0)], 0)
    words = _pairs(rows, natural)
    laid = []
    for c in range(0, len(rows) - 1, 2):
        laid.append(np.stack([words[c].reshape(-1, 2), words[c + 1].reshape(-1, 2)], axis=1).reshape(-1))
    if len(rows) % 2:
        laid.append(words[-1])
    return np.concatenate(laid).astype(np.uint32)


def depthwise_weights(t: s.ConvInt8) -> np.ndarray:
    """[1, 3, 3, C] int8 as mcu_depthwise_3x3_s8 reads them: [tap][C / 2] words, per four channels
    (w0, w2) then (w1, w3). uint32 bit patterns."""
    return _pairs(t.weights.values.reshape(9, t.geometry.out_c)).reshape(-1).astype(np.uint32)


def short_requantization(t: s.ConvInt8 | s.FullyConnectedInt8) -> bool:
    """Whether mcu_requantize_right_s8 gives arm_nn_requantize's result on every input: every
    channel shifts right, and no sum can reach 2^30 (bias plus 255 times the channel's absolute
    weight sum bounds it: an input plus its offset lies within -255..255)."""
    rows = channel_rows(t)
    bound = np.abs(t.bias.values.reshape(-1).astype(np.int64)) + 255 * np.abs(rows.astype(np.int64)).sum(axis=1)
    return bool((t.quant.shifts.values <= -1).all() and (bound < 2**30).all())


def _declare(n: CNames, ctype: str, values: np.ndarray) -> str:
    """A constant array compiled only on Armv7E-M without MVE (the only cores that read it)."""
    name, nbytes = n.guarded_array("dsp", DSP_ONLY, ctype, values, 8)  # 8: the kernels read two words at a time (LDRD)
    n.dsp_only_bytes += nbytes
    return name


def pointwise_i8(n: CNames, t: s.ConvInt8) -> str:
    """The own pointwise kernel's call."""
    g, q = t.geometry, t.quant
    x, y = n.operand(t.x), n.buffer(t.y)
    weights = _declare(n, "uint32_t", pointwise_weights(t))
    sums = _declare(n, "int32_t", folded_sums(t))
    multipliers, shifts = n.array(q.multipliers), n.array(q.shifts)
    n.own_kernel(f"{t.op} 1x1 {g.in_h}x{g.in_w}x{g.in_c} -> {g.out_c}: mcu_pointwise_s8")
    n.need_scratch(4 * g.in_c)  # a pixel pair's inputs, sign-extended to int16 (the arena is 16-byte aligned)
    args = [x, y, weights, sums, multipliers, shifts, "(uint32_t *)mcu_scratch", str(g.out_h * g.out_w), str(g.in_c),
            str(g.out_c),
            c_int(q.output_zero_point), c_int(q.act_min), c_int(q.act_max), str(int(short_requantization(t)))]
    return n.shared.call("mcu_pointwise_s8", args, DSP_ONLY)


def depthwise_i8(n: CNames, t: s.ConvInt8) -> str:
    """The own 3x3 depthwise kernel's call."""
    g, q = t.geometry, t.quant
    x, y = n.operand(t.x), n.buffer(t.y)
    weights = _declare(n, "uint32_t", depthwise_weights(t))
    bias, multipliers, shifts = n.array(t.bias), n.array(q.multipliers), n.array(q.shifts)
    strided = "" if g.stride_h == 1 else f"/{g.stride_h}x{g.stride_w}"
    n.own_kernel(f"{t.op} 3x3{strided} {g.in_h}x{g.in_w}x{g.in_c}: mcu_depthwise_3x3_s8")
    args = [x, y, weights, bias, multipliers, shifts, *map(str, (g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.stride_h,
                                                                   g.pad_top, g.pad_left)),
            c_int(q.input_offset), c_int(q.output_zero_point), c_int(q.act_min), c_int(q.act_max),
            str(int(short_requantization(t)))]
    return n.shared.call("mcu_depthwise_3x3_s8", args, DSP_ONLY)


def im2col_i8(n: CNames, t: s.ConvInt8) -> str:
    """The own im2col convolution's call."""
    g, q = t.geometry, t.quant
    x, y = n.operand(t.x), n.buffer(t.y)
    weights = _declare(n, "uint32_t", pointwise_weights(t))
    sums = _declare(n, "int32_t", folded_sums(t))
    multipliers, shifts = n.array(q.multipliers), n.array(q.shifts)
    columns = conv_columns(t)
    n.own_kernel(f"{t.op} {g.k_h}x{g.k_w}/{g.stride_h}x{g.stride_w} {g.in_h}x{g.in_w}x{g.in_c} -> "
                               f"{g.out_c}: mcu_conv_s8")
    n.need_scratch(4 * columns + g.k_w * g.in_c)  # two patches of int16, one kernel row of int8 (mcu_patch_s8)
    args = [x, y, weights, sums, multipliers, shifts, "(uint32_t *)mcu_scratch", *map(str, (
        g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top,
        g.pad_left)), c_int(q.input_offset), str(columns), c_int(q.output_zero_point), c_int(q.act_min),
        c_int(q.act_max), str(int(short_requantization(t)))]
    return n.shared.call("mcu_conv_s8", args, DSP_ONLY)


def fully_connected_i8(n: CNames, t: s.FullyConnectedInt8) -> str:
    """The own fully connected kernel's call (own_fully_connected takes the layer)."""
    q = t.quant
    x, y = n.operand(t.x), n.buffer(t.y)
    weights = n.array(t.weights)  # the int8 rows CMSIS-NN reads: SXTB16 pairs them on the board
    sums = _declare(n, "int32_t", folded_sums(t))
    per_channel = not is_per_tensor(q)
    if per_channel:
        multipliers, shifts = n.array(q.multipliers), n.array(q.shifts)
    else:  # one multiplier and shift for the layer, as CMSIS-NN's per-tensor kernel takes them
        multipliers, shifts = (_declare(n, "int32_t", c.values.reshape(-1)[:1]) for c in (q.multipliers, q.shifts))
    n.own_kernel(f"{t.op} {t.n_in} -> {t.n_out}: mcu_fully_connected_s8")
    n.need_scratch(2 * t.n_in)  # a row's inputs, sign-extended to int16 (the arena is 16-byte aligned)
    args = [x, y, weights, sums, multipliers, shifts, "(uint32_t *)mcu_scratch", str(t.batches), str(t.n_in),
            str(t.n_out), c_int(q.output_zero_point), c_int(q.act_min), c_int(q.act_max),
            str(int(short_requantization(t))), str(int(per_channel))]
    return n.shared.call("mcu_fully_connected_s8", args, DSP_ONLY)


def conv_call(n: CNames, t: s.ConvInt8) -> str | None:
    """The Armv7E-M kernel's call for a convolution one of them takes, else None."""
    if own_pointwise(t):
        return pointwise_i8(n, t)
    if own_depthwise(t):
        return depthwise_i8(n, t)
    if own_conv(t):
        return im2col_i8(n, t)
    return None
