"""What the engine's own Armv7E-M kernels (helpers/emit/c_own_conv.py, c_kernels/conv_dsp.c) read
is laid out right, checked here without a board: the re-laid weights, multiplied the way SMLAD and
SMLABB/SMLATT multiply them, give the convolution's sums, and the short requantization gives
CMSIS-NN's arm_nn_requantize on every sum the export lets it see. (The boards prove the whole
engine identical to TFLM: tests/e2e/test_own_kernels.py.)"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from helpers.emit.c_own_conv import (MIN_CONV_CHANNELS, conv_columns, depthwise_weights, folded_sums, own_conv,
                                     own_depthwise, own_pointwise, pointwise_weights, short_requantization,
                                     uses_own_kernels)
from helpers.lowering import steps as s
from helpers.lowering.program import Const

RNG = np.random.default_rng(36)


def _halves(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A uint32 word's low and high int16 halves, as SXTB16 and SMLAD see them."""
    words = words.astype(np.int64)
    low, high = words & 0xFFFF, (words >> 16) & 0xFFFF
    return np.where(low > 32767, low - 65536, low), np.where(high > 32767, high - 65536, high)


def _sxtb16(word: np.ndarray, rotate: int) -> tuple[np.ndarray, np.ndarray]:
    """SXTB16 (rotated right by 0 or 8): bytes 0 and 2 (or 1 and 3), sign-extended."""
    raw = word.astype(np.int64) >> rotate
    signed = lambda b: np.where(b > 127, b - 256, b)  # noqa: E731
    return signed(raw & 0xFF), signed((raw >> 16) & 0xFF)


def _step(depthwise: bool, in_c: int, out_c: int, k: int, pad: int) -> s.ConvInt8:
    shape = (1, k, k, out_c) if depthwise else (out_c, k, k, in_c)
    weights = Const(RNG.integers(-127, 128, shape).astype(np.int8))
    bias = Const(RNG.integers(-1000, 1000, out_c).astype(np.int32))
    quant = s.Requantization(multipliers=Const(RNG.integers(2**30, 2**31 - 1, out_c).astype(np.int32)),
                             shifts=Const(RNG.integers(-9, -1, out_c).astype(np.int32)), input_offset=128,
                             output_zero_point=-128, act_min=-128, act_max=127)
    geometry = s.ConvGeometry(in_h=5, in_w=5, in_c=in_c, out_h=5, out_w=5, out_c=out_c, k_h=k, k_w=k, stride_h=1,
                              stride_w=1, dilation_h=1, dilation_w=1, pad_top=pad, pad_left=pad)
    return s.ConvInt8(op="CONV_2D", x=0, y=1, depthwise=depthwise, weights=weights, bias=bias, quant=quant,
                      geometry=geometry)


def _dense(n_in: int, n_out: int) -> s.FullyConnectedInt8:
    conv = _step(False, n_in, n_out, 1, 0)
    return s.FullyConnectedInt8(op="FULLY_CONNECTED", x=0, y=1, weights=Const(conv.weights.values.reshape(n_out, n_in)),
                                bias=conv.bias, quant=conv.quant, batches=1, n_in=n_in, n_out=n_out)


def _extended(x: np.ndarray) -> np.ndarray:
    """mcu_extend_s8's words as int16 pairs: per four inputs, SXTB16 (x0, x2), then rotated (x1, x3)."""
    words = x.view(np.uint8).astype(np.int64).reshape(-1, 4) @ (1 << np.arange(0, 32, 8))
    return np.stack([np.stack(_sxtb16(words, 0), -1), np.stack(_sxtb16(words, 8), -1)], 1).reshape(-1, 2)


def test_the_dense_kernel_pairs_each_int8_weight_word_as_the_inputs_are_paired():
    """mcu_fully_connected_s8 reads the model's int8 rows: SXTB16 of a weight word (and rotated)
    meets the extended inputs pair for pair, so the folded sum plus the SMLADs is the layer's sum."""
    t = _dense(16, 5)
    x = RNG.integers(-128, 128, 16).astype(np.int8)
    wide, sums = _extended(x), folded_sums(t)
    rows = t.weights.values.astype(np.int8)
    for c in range(5):
        got = int(sums[c]) + int((wide * _extended(rows[c])).sum())  # the weight word goes through SXTB16 too
        assert got == int(t.bias.values[c]) + int((x.astype(np.int64) + 128) @ rows[c].astype(np.int64))


def test_the_pointwise_layout_times_extended_inputs_gives_the_convolutions_sums():
    for out_c in (6, 7):  # channel pairs, and an odd last channel laid alone
        t = _step(False, 12, out_c, 1, 0)
        assert own_pointwise(t) and not own_depthwise(t)
        laid, sums = pointwise_weights(t), folded_sums(t)
        x = RNG.integers(-128, 128, 12).astype(np.int8)
        wide = _extended(x)
        cursor, got = 0, []
        for c in range(0, out_c, 2):
            channels = [c, c + 1] if c + 1 < out_c else [c]
            acc = {ch: int(sums[ch]) for ch in channels}
            for group in range(3):
                for ch in channels:
                    for half in range(2):
                        lo, hi = _halves(laid[cursor:cursor + 1])
                        acc[ch] += int(wide[2 * group + half] @ np.array([lo[0], hi[0]]))
                        cursor += 1
            got += [acc[ch] for ch in channels]
        w = t.weights.values.reshape(out_c, 12).astype(np.int64)
        expected = t.bias.values + (x.astype(np.int64) + 128) @ w.T
        assert cursor == len(laid) == out_c * 6 and got == expected.tolist()


def test_a_dense_layer_of_an_input_length_not_a_multiple_of_4_keeps_cmsis_nn():
    assert not uses_own_kernels(_dense(10, 4)) and uses_own_kernels(_dense(8, 4))
    assert short_requantization(_dense(8, 4))


def test_the_depthwise_layout_gives_each_channels_taps():
    t = _step(True, 8, 8, 3, 1)
    assert own_depthwise(t) and not own_pointwise(t)
    laid = depthwise_weights(t).reshape(9, 4)
    w = t.weights.values.reshape(9, 8)
    low, high = _halves(laid)
    for tap in range(9):
        for quad in range(2):
            # word 0 of a quad holds channels (0, 2), word 1 channels (1, 3): what SXTAB16 makes of the inputs
            c = 4 * quad
            assert (low[tap, 2 * quad], high[tap, 2 * quad]) == (w[tap, c], w[tap, c + 2])
            assert (low[tap, 2 * quad + 1], high[tap, 2 * quad + 1]) == (w[tap, c + 1], w[tap, c + 3])


def _arm_nn_requantize(value: int, multiplier: int, shift: int) -> int:
    """CMSIS-NN's default branch: doubling high multiply, then a divide rounding half away from zero."""
    left, right = max(shift, 0), max(-shift, 0)
    product = ((value * (1 << left)) * multiplier + (1 << 30)) >> 31
    product = (product + 2**31) % 2**32 - 2**31  # its int32 result
    mask = (1 << right) - 1
    remainder, result = product & mask, product >> right
    threshold = (mask >> 1) + (1 if result < 0 else 0)
    return result + (1 if remainder > threshold else 0)


def _smmulr(a: int, b: int) -> int:
    """SMMULR: the high word of a * b + 2^31, of int32 operands."""
    assert -2**31 <= a < 2**31 and -2**31 <= b < 2**31, "SMMULR's operands are int32"
    return (a * b + (1 << 31)) >> 32


def _short(value: int, multiplier: int, shift: int, output_offset: int = 0) -> int:
    """mcu_requantize_right_s8 before its clamp: SMMULR of 2 * value, the halving divide, the
    output offset joined as 2 * offset before the last halving (SSAT's ASR #1)."""
    t = _smmulr(value << 1, multiplier)
    halved = (t + (t >> 31)) >> (-shift - 1)  # t >> 31 is -1 for a negative int32 t, else 0
    return (halved + 1 + 2 * output_offset) >> 1


def test_the_short_requantization_is_cmsis_nns_on_every_sum_below_two_to_the_30():
    values = np.concatenate([RNG.integers(-2**30 + 1, 2**30, 20_000), np.arange(-4096, 4096),
                             [2**30 - 1, -2**30 + 1, 0, 1, -1]])
    for shift in range(-31, 0):
        multiplier = int(RNG.integers(2**30, 2**31 - 1))
        for value in values[RNG.integers(0, len(values), 2_000)].tolist() + [-(2**30) + 1, 2**30 - 1]:
            offset = int(RNG.integers(-128, 128))
            assert (_short(value, multiplier, shift, offset)
                    == _arm_nn_requantize(value, multiplier, shift) + offset), (value, shift, offset)


def test_the_export_takes_the_short_requantization_only_where_it_proved_it():
    assert short_requantization(_step(False, 12, 6, 1, 0))
    left = _step(False, 12, 6, 1, 0)
    left.quant.shifts.values[2] = 1  # one channel shifting left: CMSIS-NN's requantization for the layer
    assert not short_requantization(left)
    large = _step(False, 12, 6, 1, 0)
    large.bias.values[0] = 2**30 - 1  # a sum that could reach 2^30: not proved, so not taken
    assert not short_requantization(large)


def _laid_rows(laid: np.ndarray, out_c: int, columns: int) -> np.ndarray:
    """pointwise_weights' words back as [channel, column] int16 in the patch's memory order: per
    channel pair and per four columns, channel c's two words then channel c+1's."""
    low, high = _halves(laid)
    halves = np.stack([low, high], axis=-1).reshape(-1)
    rows, cursor = np.zeros((out_c, columns), np.int64), 0
    for c in range(0, out_c, 2):
        channels = [c, c + 1] if c + 1 < out_c else [c]
        for group in range(columns // 4):
            for ch in channels:
                rows[ch, 4 * group:4 * group + 4] = halves[cursor:cursor + 4]
                cursor += 4
    assert cursor == len(halves)
    return rows


def _gathered_patch(window: np.ndarray, columns: int) -> np.ndarray:
    """mcu_patch_s8's interior gather of a [k_h, k_w, in_c] window, as int16 in memory order: each
    kernel row's whole words extended as SXTB16 pairs them, then the rows' leftover bytes, then zeros."""
    rows = window.reshape(window.shape[0], -1)
    body = rows.shape[1] - rows.shape[1] % 4
    words = [_extended(row[:body]).reshape(-1) for row in rows if body]
    tail = rows[:, body:].reshape(-1).astype(np.int64)
    patch = np.concatenate(words + [tail]) if words else tail
    return np.pad(patch, (0, columns - len(patch)))


def test_the_im2col_layout_times_the_gathered_patch_gives_the_convolutions_sums():
    # (in_c, k): rows of 9 bytes (two words and one left over, MobileNet's RGB layer), 3 bytes (no
    # whole word), 12 (whole words only), 10 (a 5x5 of 2 channels); out_c 9 leaves a channel alone
    for in_c, k, columns in ((3, 3, 28), (1, 3, 12), (4, 3, 36), (2, 5, 52)):
        t = _step(False, in_c, 9, k, 1)
        assert own_conv(t) and conv_columns(t) == columns, (in_c, k, conv_columns(t))
        laid = _laid_rows(pointwise_weights(t), 9, columns)
        window = RNG.integers(-128, 128, (k, k, in_c)).astype(np.int8)
        patch = _gathered_patch(window, columns)
        w = t.weights.values.reshape(9, -1).astype(np.int64)
        expected = t.bias.values + (window.reshape(-1).astype(np.int64) + 128) @ w.T
        assert (folded_sums(t) + laid @ patch).tolist() == expected.tolist(), (in_c, k)
    few = _step(False, 1, MIN_CONV_CHANNELS - 1, 3, 1)
    assert not own_conv(few) and not uses_own_kernels(few)  # too few channels: CMSIS-NN's


def test_the_own_kernels_file_pulls_in_no_cmsis_nn_source():
    """The engine's CMSIS-NN sources (and --package's copies of them) are found by the function names
    its text holds: the own kernels' file, pasted into every engine that uses it, must name none
    (its comments once named CMSIS-NN's per-tensor dense kernel and pulled in two sources)."""
    from helpers.targets.cmsis_sources import needed_sources
    from tests.conftest import TFLM_DIR, require_tool

    require_tool("tflm")
    kernels = Path(__file__).resolve().parents[2] / "helpers" / "emit" / "c_kernels" / "conv_dsp.c"
    assert needed_sources(TFLM_DIR, kernels.read_text()) == ()


def test_the_op_table_names_the_own_kernel_where_it_runs_and_cmsis_nn_elsewhere():
    """report.md's and --check's op table: a guarded layer is neither plain `cmsis-nn` (its #else) nor
    plain `own kernel` (MVE cores and the host run CMSIS-NN's call), and it names the cores whose
    own kernel runs it."""
    from helpers.emit.c_own_kernels import _chain
    from helpers.emit.placement import OWN_ON_ARMV6M, OWN_ON_ARMV7EM, OWN_ON_BOTH, _c_kind

    cmsis = "arm_convolve_1x1_s8_fast(&k3, &p4, input, output);"
    both = _chain("mcu_pointwise_s8(k1, k2, input, output);", "mcu_v6m_rows_s8(v5, v6, input, output);", cmsis)
    assert _c_kind(both) == OWN_ON_BOTH
    assert both.count("(void)k3; (void)p4;") == 2 and both.index("#elif") > both.index("mcu_pointwise_s8")
    assert _c_kind(_chain("mcu_pointwise_s8(k1, k2, input, output);", None, cmsis)) == OWN_ON_ARMV7EM
    assert _c_kind(_chain(None, "mcu_v6m_rows_s8(v5, v6, input, output);", cmsis)) == OWN_ON_ARMV6M
    assert _chain(None, None, cmsis) == cmsis
    assert _c_kind(cmsis) == "cmsis-nn"
    assert _c_kind("mcu_hard_swish_s8(input, output, 16);") == "own kernel"


def test_the_depthwise_kernel_takes_strides_1_and_2_where_every_windows_middle_tap_is_inside():
    """The kernel tests only the outer taps against the padding (conv_dsp.c), so it takes a layer
    only where each window's middle row and column lie inside the input: TF's "same" padding at
    stride 1 and 2 (odd and even sizes: pad 1 or 0 on top) and "valid"; not stride 3, a pad of 2, or
    stride 2 with a pad that leaves the last window's middle outside."""
    def depthwise(size: int, out: int, stride: int, pad: int, channels: int = 8) -> s.ConvInt8:
        t = _step(True, channels, channels, 3, pad)
        g = replace(t.geometry, in_h=size, in_w=size, out_h=out, out_w=out, stride_h=stride, stride_w=stride,
                    pad_top=pad, pad_left=pad)
        return replace(t, geometry=g)

    assert own_depthwise(depthwise(5, 5, 1, 1))          # same, stride 1
    assert own_depthwise(depthwise(5, 3, 1, 0))          # valid, stride 1
    assert own_depthwise(depthwise(96, 48, 2, 0))        # same, stride 2, even size (MobileNet's)
    assert own_depthwise(depthwise(7, 4, 2, 1))          # same, stride 2, odd size
    assert own_depthwise(depthwise(7, 3, 2, 0))          # valid, stride 2
    assert not own_depthwise(depthwise(9, 3, 3, 0))      # stride 3
    assert not own_depthwise(depthwise(5, 5, 1, 2))      # a pad of 2: the first window's middle is outside
    assert not own_depthwise(depthwise(6, 4, 2, 1))      # the last window's middle row is row 6: outside
    assert not own_depthwise(depthwise(96, 48, 2, 0, channels=6))  # channels not a multiple of 4


V6M_HARNESS = r"""
#include <stdint.h>
#include <stdio.h>
#include "fixedpoint_v6m.c"
int main(void) {
  uint64_t state = 88172645463325252ull, wrong = 0, count = 0;
  const int32_t edges[] = {0, 1, -1, 2, -2, 1 << 29, -(1 << 29), (1 << 30) - 1, -(1 << 30) + 1, 65535, -65536, 65536,
                           1 << 30, -(1 << 30), INT32_MAX, INT32_MIN};
  for (int32_t i = 0; i < 400000; ++i) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    const int32_t multiplier = (int32_t)((1u << 30) + (uint32_t)(state >> 34)) | (i & 1);
    /* sums below 2^30 in magnitude (the convolutions') for half, any int32 (the LSTM's) for the rest */
    int32_t sum = (i & 2) ? (int32_t)(uint32_t)state : (int32_t)(state & 0x7FFFFFFFu) - (1 << 30);
    if (!(i & 2) && sum <= -(1 << 30)) sum = -(1 << 30) + 1;
    if (i < 16 * 16) sum = edges[i % 16];
    const int32_t want = (int32_t)(((int64_t)sum * multiplier + (1 << 30)) >> 31);
    wrong += mcu_v6m_doubling_high(sum, multiplier) != want;
    ++count;
  }
  printf("%llu of %llu\n", (unsigned long long)wrong, (unsigned long long)count);
  return wrong != 0;
}
"""


def test_the_armv6m_doubling_high_multiply_is_the_64_bit_one(tmp_path):
    """mcu_v6m_doubling_high (fixedpoint_v6m.c: four 16 x 16-bit products, no 64-bit arithmetic)
    against (sum * multiplier + 2^30) >> 31 in 64 bits, compiled here, on 400,000 sums, half below
    2^30 in magnitude and half anywhere in int32 (edges included), and multipliers in [2^30, 2^31)."""
    import subprocess

    from tests.conftest import TFLM_DIR, require_tool
    require_tool("tflm")
    require_tool("cc")
    kernels = Path(__file__).resolve().parents[2] / "helpers" / "emit" / "c_kernels"
    (tmp_path / "test.c").write_text(V6M_HARNESS)
    cmsis = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads/cmsis_nn/Include"
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function", "-DMCU_ENGINE_V6M_KERNELS",
                    f"-I{kernels}", f"-I{cmsis}", str(tmp_path / "test.c"), "-o", str(tmp_path / "test")], check=True)
    result = subprocess.run([str(tmp_path / "test")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("0 of 400000"), result.stdout
