"""The C engine's own int8 kernels for Armv6-M (Cortex-M0+; c_kernels/conv_v6m.c): which layers they
take, what they read, laid out at export, and the call. c_own_kernels puts the call in the step's
Armv6-M branch (unless the export measured CMSIS-NN faster for the layer on an Armv6-M target);
every other core runs what it ran before.

What the kernels read:
- convolutions (1x1 or any other undilated one) and fully connected layers: the weights as
  w + 128 (uint8, so one LDRB with an immediate offset loads each, no sign extension), four channels
  interleaved per input ([channels / 4][inputs][4]), channels padded to a multiple of 4; each
  channel's bias + input offset x weight sum, padded the same way;
- depthwise convolutions (depth multiplier 1): the int8 weights channel by channel
  ([channel][k_h * k_w]), the folded sums and the bias (for windows over the padding).
On this core the model's int8 weights of such a layer are not linked (nothing reads them), so the
re-laid bytes take their place; the engine's header comment counts them."""
from __future__ import annotations

import numpy as np

from helpers.emit.c_names import CNames, c_int
from helpers.emit.c_own_conv import channel_rows, folded_sums, short_requantization
from helpers.emit.cmsis_params import is_per_tensor
from helpers.lowering import steps as s

# MCU_ENGINE_CMSIS_NN_ONLY turns these kernels off too (the kernel choice's reference build).
# MCU_ENGINE_V6M_KERNELS compiles them on any other core without Armv7E-M's kernels (plain C: a
# Cortex-M3, or the host, where tests/unit/test_c_engine_host.py checks them against TFLM).
V6M_ONLY = ("(defined(__ARM_ARCH_6M__) || defined(MCU_ENGINE_V6M_KERNELS)) && !defined(MCU_ENGINE_CMSIS_NN_ONLY)")


def takes_conv(t: s.ConvInt8) -> bool:
    """Any undilated int8 convolution; depthwise ones of depth multiplier 1."""
    g = t.geometry
    return g.dilation_h == g.dilation_w == 1 and (not t.depthwise or g.depth_multiplier == 1)


def _is_rows(t: s.ConvInt8) -> bool:
    """A 1x1 convolution of stride 1, unpadded: each pixel's inputs are one contiguous row."""
    g = t.geometry
    return (not t.depthwise and g.k_h == g.k_w == 1 and g.stride_h == g.stride_w == 1 and g.pad_top == g.pad_left == 0
            and g.in_h == g.out_h and g.in_w == g.out_w)


def _padded(values: np.ndarray) -> np.ndarray:
    """Rows (or values) padded with zeros to a multiple of 4 channels."""
    return np.pad(values, [(0, -len(values) % 4)] + [(0, 0)] * (values.ndim - 1))


def patch_columns(t: s.ConvInt8) -> int:
    """mcu_v6m_conv_s8's patch: k_h * k_w * in_c, zero-padded to a multiple of 4."""
    g = t.geometry
    return -(-g.k_h * g.k_w * g.in_c // 4) * 4


def grouped_weights(t: s.ConvInt8 | s.FullyConnectedInt8, columns: int | None = None) -> np.ndarray:
    """w + 128 as uint8, laid [channels / 4][inputs][4]: what mcu_v6m_outputs reads; each channel's
    inputs zero-padded to `columns` first when given."""
    rows = channel_rows(t).astype(np.int16)
    if columns is not None:
        rows = np.pad(rows, ((0, 0), (0, columns - rows.shape[1])))
    rows = _padded(rows) + 128
    return rows.reshape(-1, 4, rows.shape[1]).transpose(0, 2, 1).reshape(-1).astype(np.uint8)


def _declare(n: CNames, ctype: str, values: np.ndarray) -> str:
    """A constant array compiled only on Armv6-M (the only core that reads it), 4-byte aligned."""
    name, nbytes = n.guarded_array("v6m", V6M_ONLY, ctype, values, 4)
    n.v6m_only_bytes += nbytes
    return name


def conv_call(n: CNames, t: s.ConvInt8) -> str:
    """The Armv6-M kernel's call for a convolution `takes_conv` accepts."""
    g, q = t.geometry, t.quant
    x, y, short = n.operand(t.x), n.buffer(t.y), short_requantization(t)
    multipliers, shifts = n.array(q.multipliers), n.array(q.shifts)
    tail = [c_int(q.output_zero_point), c_int(q.act_min), c_int(q.act_max), str(int(short))]
    if t.depthwise:
        weights = _declare(n, "int8_t", channel_rows(t).reshape(-1))
        sums = _declare(n, "int32_t", folded_sums(t))
        bias = _declare(n, "int32_t", t.bias.values.reshape(-1) if t.bias is not None else np.zeros(g.out_c, np.int64))
        n.own_kernel_v6m(f"{t.op} {g.k_h}x{g.k_w}/{g.stride_h}x{g.stride_w} {g.in_h}x{g.in_w}x{g.in_c}: "
                         "mcu_v6m_depthwise_s8")
        args = [x, y, weights, bias, sums, multipliers, shifts, *map(str, (
            g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left)),
            c_int(q.input_offset), *tail]
        return n.shared.call("mcu_v6m_depthwise_s8", args, V6M_ONLY)
    rows = _is_rows(t)
    columns = None if rows else patch_columns(t)
    weights = _declare(n, "uint8_t", grouped_weights(t, columns))
    sums = _declare(n, "int32_t", _padded(folded_sums(t)))
    if rows:
        n.own_kernel_v6m(f"{t.op} 1x1 {g.in_h}x{g.in_w}x{g.in_c} -> {g.out_c}: mcu_v6m_rows_s8")
        args = [x, y, weights, sums, multipliers, shifts, str(g.out_h * g.out_w), str(g.in_c), str(g.out_c), "1"]
        return n.shared.call("mcu_v6m_rows_s8", args + tail, V6M_ONLY)
    n.own_kernel_v6m(f"{t.op} {g.k_h}x{g.k_w}/{g.stride_h}x{g.stride_w} {g.in_h}x{g.in_w}x{g.in_c} -> {g.out_c}: "
                     "mcu_v6m_conv_s8")
    n.need_scratch(columns)  # one pixel's patch, int8
    args = [x, y, weights, sums, multipliers, shifts, "(int8_t *)mcu_scratch", *map(str, (
        g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.out_c, g.k_h, g.k_w, g.stride_h, g.stride_w, g.pad_top,
        g.pad_left)), c_int(q.input_offset), str(columns)]
    return n.shared.call("mcu_v6m_conv_s8", args + tail, V6M_ONLY)


def fully_connected_call(n: CNames, t: s.FullyConnectedInt8) -> str:
    """The Armv6-M kernel's call for a fully connected layer (any input length)."""
    q = t.quant
    x, y, short = n.operand(t.x), n.buffer(t.y), short_requantization(t)
    weights = _declare(n, "uint8_t", grouped_weights(t))
    sums = _declare(n, "int32_t", _padded(folded_sums(t)))
    per_channel = not is_per_tensor(q)
    if per_channel:
        multipliers, shifts = n.array(q.multipliers), n.array(q.shifts)
    else:
        multipliers, shifts = (_declare(n, "int32_t", c.values.reshape(-1)[:1]) for c in (q.multipliers, q.shifts))
    n.own_kernel_v6m(f"{t.op} {t.n_in} -> {t.n_out}: mcu_v6m_rows_s8")
    args = [x, y, weights, sums, multipliers, shifts, str(t.batches), str(t.n_in), str(t.n_out), str(int(per_channel)),
            c_int(q.output_zero_point), c_int(q.act_min), c_int(q.act_max), str(int(short))]
    return n.shared.call("mcu_v6m_rows_s8", args, V6M_ONLY)
