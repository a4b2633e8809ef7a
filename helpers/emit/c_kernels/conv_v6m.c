/* The engine's own int8 convolutions and fully connected layers for Armv6-M (Cortex-M0+), chosen
   per layer at export (helpers/emit/c_own_conv.py, docs/kernels.md). Plain C: Armv6-M has no SIMD,
   one MULS a multiply, LDRSB only with a register offset, and eight low registers. What CMSIS-NN's
   portable C spends besides the multiplies, these kernels do not:
   - the weights come re-laid at export as w + 128 (uint8), four channels interleaved: one LDRB
     with an immediate offset a weight, no sign extension, and an input loaded once for four
     channels. sum(x * (w + 128)) - 128 * sum(x) is sum(x * w); sum(x) is taken once per pixel;
   - the input offset times each channel's weight sum is folded into the accumulator's start at
     export (bias + input_offset * sum(w)), so the inputs carry no offset;
   - each call passes the layer's shapes as literals and the functions are always inlined, so the
     loops are compiled for the layer's constants.
   The re-laid weights take the int8 weights' place on this core (the same bytes, channels padded
   to a multiple of 4). Outputs are bit-exact with CMSIS-NN: the same int32 sums and its
   requantization, or the export-proved short form of conv_dsp.c's with an exact 32-bit doubling
   high multiply (mcu_v6m_doubling_high). */
#if (defined(__ARM_ARCH_6M__) || defined(MCU_ENGINE_V6M_KERNELS)) && !defined(MCU_ENGINE_CMSIS_NN_ONLY)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#include "arm_nnsupportfunctions.h"
#pragma GCC diagnostic pop

#define MCU_V6M_INLINE static inline __attribute__((always_inline))

MCU_V6M_INLINE int8_t mcu_v6m_clamp_s8(int32_t value, const int32_t act_min, const int32_t act_max) {
  if (act_min == -128 && act_max == 127) {  /* int8's whole range: one unsigned test in range */
    if ((uint32_t)(value + 128) > 255u) value = value < 0 ? -128 : 127;
    return (int8_t)value;
  }
  value = value < act_min ? act_min : value;
  return (int8_t)(value > act_max ? act_max : value);
}

/* arm_nn_requantize's result (shift <= -1, |sum| < 2^30, proved at export), as conv_dsp.c's short
   form: the doubling high multiply, then the divide by 2^-shift rounding half away from zero as
   (t - [t < 0]) >> (-shift - 1), plus one, >> 1. */
MCU_V6M_INLINE int8_t mcu_v6m_requantize(const int32_t sum, const int32_t multiplier, const int32_t shift,
                                         const int32_t output_offset, const int32_t act_min, const int32_t act_max,
                                         const int right) {
  if (!right) return mcu_v6m_clamp_s8(arm_nn_requantize(sum, multiplier, shift) + output_offset, act_min, act_max);
  const int32_t t = mcu_v6m_doubling_high(sum, multiplier);
  const int32_t halved = (t + (t >> 31)) >> ~shift;
  return mcu_v6m_clamp_s8(((halved + 1) >> 1) + output_offset, act_min, act_max);
}

/* One input against four channels' re-laid weights: four LDRB (immediate offsets), four MULS,
   four ADDS. */
#define MCU_V6M_MAC(in, v, i)              \
  do {                                     \
    const int32_t x_ = (in)[i];            \
    a0 += x_ * (int32_t)(v)[4 * (i)];      \
    a1 += x_ * (int32_t)(v)[4 * (i) + 1];  \
    a2 += x_ * (int32_t)(v)[4 * (i) + 2];  \
    a3 += x_ * (int32_t)(v)[4 * (i) + 3];  \
  } while (0)

/* `depth` int8 inputs at x (no offset) against channels c..c+3 of weights laid [c / 4][depth][4]
   as w + 128, each channel's folded start in sums (padded to a multiple of 4 channels), requantized
   into out[0..n), n the channels left (at most 4 stored). `correction` is 128 * sum(x). */
MCU_V6M_INLINE void mcu_v6m_outputs(const int8_t *x, int8_t *out, const uint8_t *weights, const int32_t *sums,
                                    const int32_t *multipliers, const int32_t *shifts, const int32_t depth,
                                    const int32_t out_c, const int32_t correction, const int per_channel,
                                    const int32_t output_offset, const int32_t act_min, const int32_t act_max,
                                    const int right) {
  const uint8_t *v = weights;
  for (int32_t c = 0; c < out_c; c += 4) {
    int32_t a0 = sums[c] - correction, a1 = sums[c + 1] - correction, a2 = sums[c + 2] - correction,
            a3 = sums[c + 3] - correction;
    const int8_t *in = x;
    const int8_t *const end = x + depth;
    if (depth % 4 == 0) {
      for (; in != end; in += 4, v += 16) {
        MCU_V6M_MAC(in, v, 0);
        MCU_V6M_MAC(in, v, 1);
        MCU_V6M_MAC(in, v, 2);
        MCU_V6M_MAC(in, v, 3);
      }
    } else {
      for (; in != end; ++in, v += 4) MCU_V6M_MAC(in, v, 0);
    }
    /* stored one by one, not through an array (which Armv6-M's few registers put on the stack) */
    out[c] = mcu_v6m_requantize(a0, multipliers[per_channel ? c : 0], shifts[per_channel ? c : 0], output_offset,
                                act_min, act_max, right);
    if (c + 1 < out_c)
      out[c + 1] = mcu_v6m_requantize(a1, multipliers[per_channel ? c + 1 : 0], shifts[per_channel ? c + 1 : 0],
                                      output_offset, act_min, act_max, right);
    if (c + 2 < out_c)
      out[c + 2] = mcu_v6m_requantize(a2, multipliers[per_channel ? c + 2 : 0], shifts[per_channel ? c + 2 : 0],
                                      output_offset, act_min, act_max, right);
    if (c + 3 < out_c)
      out[c + 3] = mcu_v6m_requantize(a3, multipliers[per_channel ? c + 3 : 0], shifts[per_channel ? c + 3 : 0],
                                      output_offset, act_min, act_max, right);
  }
}

MCU_V6M_INLINE int32_t mcu_v6m_correction(const int8_t *x, const int32_t depth) {
  int32_t total = 0;
  for (int32_t k = 0; k < depth; ++k) total += x[k];
  return total * 128;
}

/* A 1x1 convolution (stride 1, unpadded) or a fully connected layer: `rows` vectors of `depth`
   inputs, each against every channel. */
MCU_V6M_INLINE void mcu_v6m_rows_s8(const int8_t *x, int8_t *y, const uint8_t *weights, const int32_t *sums,
                                    const int32_t *multipliers, const int32_t *shifts, const int32_t rows,
                                    const int32_t depth, const int32_t out_c, const int per_channel,
                                    const int32_t output_offset, const int32_t act_min, const int32_t act_max,
                                    const int right) {
  for (int32_t r = 0; r < rows; ++r) {
    const int8_t *row = x + r * depth;
    mcu_v6m_outputs(row, y + r * out_c, weights, sums, multipliers, shifts, depth, out_c,
                    mcu_v6m_correction(row, depth), per_channel, output_offset, act_min, act_max, right);
  }
}

/* Any other undilated convolution: each output pixel's patch (k_h, k_w, in_c) gathered as int8 into
   `patch` (an interior window's kernel rows are contiguous: copied; a window over the padding gets
   the input zero point there, which with the folded offset adds nothing, as TFLM's padding), then
   the four-channel dot products over it. The patch is zero-padded to `columns`, a multiple of 4, so
   the dot products run four inputs a step (the re-laid weights are zero there: 128 as stored); an
   RGB layer's 27 columns took 10.6 instructions a MAC one input a step. */
MCU_V6M_INLINE void mcu_v6m_conv_s8(const int8_t *x, int8_t *y, const uint8_t *weights, const int32_t *sums,
                                    const int32_t *multipliers, const int32_t *shifts, int8_t *patch,
                                    const int32_t in_h, const int32_t in_w, const int32_t in_c, const int32_t out_h,
                                    const int32_t out_w, const int32_t out_c, const int32_t k_h, const int32_t k_w,
                                    const int32_t stride_h, const int32_t stride_w, const int32_t pad_top,
                                    const int32_t pad_left, const int32_t input_offset, const int32_t columns,
                                    const int32_t output_offset, const int32_t act_min, const int32_t act_max,
                                    const int right) {
  const int32_t length = k_w * in_c;
  for (int32_t k = k_h * length; k < columns; ++k) patch[k] = 0;
  const int8_t zero_point = (int8_t)-input_offset;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const int32_t top = oy * stride_h - pad_top, left = ox * stride_w - pad_left;
      int8_t *p = patch;
      for (int32_t ky = 0; ky < k_h; ++ky) {
        const int32_t iy = top + ky;
        if (iy >= 0 && iy < in_h && left >= 0 && left + k_w <= in_w) {
          const int8_t *source = x + (iy * in_w + left) * in_c;
          for (int32_t k = 0; k < length; ++k) p[k] = source[k];
        } else {
          for (int32_t kx = 0; kx < k_w; ++kx) {
            const int32_t ix = left + kx;
            const int inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
            const int8_t *source = x + (iy * in_w + ix) * in_c;
            for (int32_t c = 0; c < in_c; ++c) p[kx * in_c + c] = inside ? source[c] : zero_point;
          }
        }
        p += length;
      }
      mcu_v6m_outputs(patch, y + (oy * out_w + ox) * out_c, weights, sums, multipliers, shifts, columns, out_c,
                      mcu_v6m_correction(patch, k_h * length), 1, output_offset, act_min, act_max, right);
    }
  }
}

/* A depthwise convolution of depth multiplier 1, any kernel, stride and padding: per output pixel
   and channel, the taps against the channel's weights laid [channel][k_h * k_w] (int8, the model's
   bytes in another order). An interior window starts from the folded sum (bias + input_offset *
   sum(w)) and reads the inputs as they are; a window over the padding starts from the bias and
   adds the offset to the taps inside (TFLM's padding adds nothing). */
MCU_V6M_INLINE void mcu_v6m_depthwise_s8(const int8_t *x, int8_t *y, const int8_t *weights, const int32_t *bias,
                                         const int32_t *sums, const int32_t *multipliers, const int32_t *shifts,
                                         const int32_t in_h, const int32_t in_w, const int32_t channels,
                                         const int32_t out_h, const int32_t out_w, const int32_t k_h,
                                         const int32_t k_w, const int32_t stride_h, const int32_t stride_w,
                                         const int32_t pad_top, const int32_t pad_left, const int32_t input_offset,
                                         const int32_t output_offset, const int32_t act_min, const int32_t act_max,
                                         const int right) {
  const int32_t taps = k_h * k_w, row = in_w * channels;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    const int32_t top = oy * stride_h - pad_top;
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const int32_t left = ox * stride_w - pad_left;
      int8_t *out = y + (oy * out_w + ox) * channels;
      if (top >= 0 && top + k_h <= in_h && left >= 0 && left + k_w <= in_w) {
        const int8_t *at = x + top * row + left * channels;
        const int8_t *w = weights;
        for (int32_t c = 0; c < channels; ++c, ++at, w += taps) {
          int32_t acc = sums[c];
          if (k_h == 3 && k_w == 3) {  /* unrolled: each tap one LDRSB at a constant offset */
            acc += at[0] * w[0] + at[channels] * w[1] + at[2 * channels] * w[2];
            acc += at[row] * w[3] + at[row + channels] * w[4] + at[row + 2 * channels] * w[5];
            acc += at[2 * row] * w[6] + at[2 * row + channels] * w[7] + at[2 * row + 2 * channels] * w[8];
          } else {
            const int8_t *line = at;
            for (int32_t ky = 0; ky < k_h; ++ky, line += row) {
              for (int32_t kx = 0; kx < k_w; ++kx) acc += line[kx * channels] * w[ky * k_w + kx];
            }
          }
          out[c] = mcu_v6m_requantize(acc, multipliers[c], shifts[c], output_offset, act_min, act_max, right);
        }
      } else {
        for (int32_t c = 0; c < channels; ++c) {
          int32_t acc = bias[c];
          for (int32_t ky = 0; ky < k_h; ++ky) {
            const int32_t iy = top + ky;
            if (iy < 0 || iy >= in_h) continue;
            for (int32_t kx = 0; kx < k_w; ++kx) {
              const int32_t ix = left + kx;
              if (ix < 0 || ix >= in_w) continue;
              acc += (x[iy * row + ix * channels + c] + input_offset) * weights[c * taps + ky * k_w + kx];
            }
          }
          out[c] = mcu_v6m_requantize(acc, multipliers[c], shifts[c], output_offset, act_min, act_max, right);
        }
      }
    }
  }
}
#endif
