/* The engine's own int8 convolutions and fully connected layers for Armv7E-M (Cortex-M4, M7, M33
   with DSP), chosen per layer at export (helpers/emit/c_own_conv.py, docs/kernels.md). Every call passes the layer's shapes,
   offsets and clamp as literals and the functions are always inlined, so each layer's loops are
   compiled for its constants. Elsewhere (M0+, MVE, the host) the same step calls CMSIS-NN.
   Outputs are bit-exact with CMSIS-NN: the same int32 sums (for the pointwise, im2col and fully
   connected kernels the input offset times each channel's weight sum is folded into the bias at export; int32
   addition wraps the same either way) and CMSIS-NN's requantization (arm_nn_requantize, or a
   shorter form the export proved equal for the layer: mcu_requantize_right_s8). */
#if defined(ARM_MATH_DSP) && !defined(ARM_MATH_MVEI)
/* CMSIS-NN's support header is not -Wconversion clean; the engine builds under it (C and C++) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#include "arm_nnsupportfunctions.h"
#pragma GCC diagnostic pop

#define MCU_INLINE static inline __attribute__((always_inline))

MCU_INLINE int8_t mcu_clamp_s8(int32_t value, const int32_t act_min, const int32_t act_max) {
  if (act_min == -128 && act_max == 127) {  /* int8's whole range: one SSAT (GCC's own clamp takes five) */
    int32_t saturated;
    __asm("ssat %0, #8, %1" : "=r"(saturated) : "r"(value));
    return (int8_t)saturated;
  }
  value = value < act_min ? act_min : value;
  return (int8_t)(value > act_max ? act_max : value);
}

/* arm_nn_requantize's result in fewer instructions, for a right shift (shift <= -1) and a sum the
   export proved below 2^30 in magnitude:
   - CMSIS-NN's doubling high multiply (sum * multiplier + 2^30) >> 31 is one SMMULR of 2 * sum (no
     overflow below 2^30): (2 * sum * multiplier + 2^31) >> 32, the same floor;
   - its divide by 2^-shift rounding half away from zero is (t - [t < 0]) >> (-shift - 1), plus one,
     >> 1 (the same floor, no remainder masks; ~shift is -shift - 1);
   - the output offset joins before that last halving, as 2 * offset (an even number commutes with
     the floor), so for int8's whole range the halving and the clamp are one SSAT with ASR #1.
   7 instructions against 13 for GCC's 64-bit form (tests/unit/test_own_kernel_layouts.py checks
   the identities). */
MCU_INLINE int8_t mcu_requantize_right_s8(const int32_t sum, const int32_t multiplier, const int32_t shift,
                                          const int32_t output_offset, const int32_t act_min,
                                          const int32_t act_max) {
  int32_t t;
  __asm("smmulr %0, %1, %2" : "=r"(t) : "r"((int32_t)((uint32_t)sum << 1)), "r"(multiplier));
  const int32_t biased = ((t + (t >> 31)) >> ~shift) + 1 + 2 * output_offset;
  if (act_min == -128 && act_max == 127) {
    int32_t saturated;
    __asm("ssat %0, #8, %1, asr #1" : "=r"(saturated) : "r"(biased));
    return (int8_t)saturated;
  }
  return mcu_clamp_s8(biased >> 1, act_min, act_max);
}

/* CMSIS-NN's requantization itself, where the export could not prove the short one exact. */
MCU_INLINE int8_t mcu_requantize_s8(const int32_t sum, const int32_t multiplier, const int32_t shift,
                                    const int32_t output_offset, const int32_t act_min, const int32_t act_max) {
  return mcu_clamp_s8(arm_nn_requantize(sum, multiplier, shift) + output_offset, act_min, act_max);
}

#define MCU_REQUANTIZE(right, sum, c) \
  ((right) ? mcu_requantize_right_s8((int32_t)(sum), multipliers[c], shifts[c], output_offset, act_min, act_max) \
           : mcu_requantize_s8((int32_t)(sum), multipliers[c], shifts[c], output_offset, act_min, act_max))

/* Four inputs of two pixels (already extended: (x0, x2), (x1, x3) at in0 and in1) against two
   channels' re-laid weights (channel c: (w0, w2), (w1, w3); then channel c+1's), pointers moved
   on: four LDRDs and eight SMLADs for 16 MACs. Written as assembly because GCC at -Os splits the
   LDRDs and spills around CMSIS-NN's volatile SMLAD (measured: 72 instructions for four steps in C,
   48 here). Thumb-2 with the DSP extension only, as this whole file. */
#define MCU_PW_STEP                                                                                    \
  __asm volatile(                                                                                      \
      "ldrd %[xa], %[xb], [%[in0]], #8\n\t"                                                            \
      "ldrd %[wa], %[wb], [%[w]], #16\n\t"                                                             \
      "smlad %[r00], %[xa], %[wa], %[r00]\n\t"                                                         \
      "smlad %[r00], %[xb], %[wb], %[r00]\n\t"                                                         \
      "ldrd %[ya], %[yb], [%[in1]], #8\n\t"                                                            \
      "smlad %[r10], %[ya], %[wa], %[r10]\n\t"                                                         \
      "smlad %[r10], %[yb], %[wb], %[r10]\n\t"                                                         \
      "ldrd %[wa], %[wb], [%[w], #-8]\n\t"                                                             \
      "smlad %[r01], %[xa], %[wa], %[r01]\n\t"                                                         \
      "smlad %[r01], %[xb], %[wb], %[r01]\n\t"                                                         \
      "smlad %[r11], %[ya], %[wa], %[r11]\n\t"                                                         \
      "smlad %[r11], %[yb], %[wb], %[r11]"                                                             \
      : [r00] "+r"(r00), [r01] "+r"(r01), [r10] "+r"(r10), [r11] "+r"(r11), [in0] "+r"(in0),            \
        [in1] "+r"(in1), [w] "+r"(w), [xa] "=&r"(xa), [xb] "=&r"(xb), [ya] "=&r"(ya), [yb] "=&r"(yb),    \
        [wa] "=&r"(wa), [wb] "=&r"(wb)                                                                 \
      :                                                                                                \
      : "memory")

/* `count` input bytes as SXTB16 words, (x0, x2) then (x1, x3) per four: extended once here for
   every channel that reads them. */
MCU_INLINE void mcu_extend_s8(const int8_t *x, uint32_t *wide, const int32_t count) {
  for (int32_t k = 0; k < count; k += 4) {
    const uint32_t v = (uint32_t)arm_nn_read_s8x4(x + k);
    wide[0] = SXTB16(v);
    wide[1] = SXTB16_RORn(v, 8);
    wide += 2;
  }
}

/* Two output pixels' sums over every channel, two channels at a time, requantized and stored at
   out and out + out_c (the second only when `two`). `wide` holds the two pixels' inputs as int16
   pairs, `half` words each (a multiple of 2: four inputs a step), in the pairing the weights were
   re-laid for; `sums` is each channel's bias + input_offset * (its weight sum), so the inputs carry
   no offset. `right` (a literal) selects the short requantization. */
MCU_INLINE void mcu_pixel_pair_s8(const uint32_t *wide, const int32_t half, int8_t *out, const int two,
                                  const uint32_t *weights, const int32_t *sums, const int32_t *multipliers,
                                  const int32_t *shifts, const int32_t out_c, const int32_t output_offset,
                                  const int32_t act_min, const int32_t act_max, const int right) {
  const uint32_t *w = weights;
  int32_t c = 0;
  for (; c + 2 <= out_c; c += 2) {
    uint32_t r00 = (uint32_t)sums[c], r01 = (uint32_t)sums[c + 1], r10 = r00, r11 = r01;
    uint32_t xa, xb, ya, yb, wa, wb;
    const uint32_t *in0 = wide, *in1 = wide + half;
    const uint32_t *const end = wide + half;
    if (half % 8 == 0) {
      while (in0 != end) {
        MCU_PW_STEP;
        MCU_PW_STEP;
        MCU_PW_STEP;
        MCU_PW_STEP;
      }
    } else {
      while (in0 != end) MCU_PW_STEP;
    }
    out[c] = MCU_REQUANTIZE(right, r00, c);
    out[c + 1] = MCU_REQUANTIZE(right, r01, c + 1);
    if (two) {
      out[out_c + c] = MCU_REQUANTIZE(right, r10, c);
      out[out_c + c + 1] = MCU_REQUANTIZE(right, r11, c + 1);
    }
  }
  if (c < out_c) {  /* an odd last channel, laid alone: two words per four inputs */
    uint32_t r0 = (uint32_t)sums[c], r1 = r0;
    for (int32_t k = 0; k < half; k += 2) {
      r0 = SMLAD(wide[k], w[0], r0);
      r1 = SMLAD(wide[half + k], w[0], r1);
      r0 = SMLAD(wide[k + 1], w[1], r0);
      r1 = SMLAD(wide[half + k + 1], w[1], r1);
      w += 2;
    }
    out[c] = MCU_REQUANTIZE(right, r0, c);
    if (two) out[out_c + c] = MCU_REQUANTIZE(right, r1, c);
  }
}

/* One 1x1 convolution (stride 1, no padding): two pixels by two channels at a time. Each pixel
   pair's inputs are sign-extended once (SXTB16: (x0, x2), (x1, x3) per four) into `wide` (in_c
   words, 8-byte aligned) for all out_c channels; a copy of the whole input would save nothing
   more (the extension is about 1% of the work) and cost RAM. The weights come re-laid at export in
   the same pairing: per channel pair and per four inputs, channel c's (w0, w2) and (w1, w3), then
   channel c+1's. in_c is a multiple of 4. */
MCU_INLINE void mcu_pointwise_s8(const int8_t *x, int8_t *y, const uint32_t *weights, const int32_t *sums,
                                 const int32_t *multipliers, const int32_t *shifts, uint32_t *wide,
                                 const int32_t pixels, const int32_t in_c, const int32_t out_c,
                                 const int32_t output_offset, const int32_t act_min, const int32_t act_max,
                                 const int right) {
  const int32_t half = in_c / 2;  /* words per pixel in `wide` */
  for (int32_t p = 0; p < pixels; p += 2) {
    const int two = p + 2 <= pixels;  /* an odd last pixel runs as a pair with itself, stored once */
    mcu_extend_s8(x + p * in_c, wide, in_c);
    mcu_extend_s8(x + (two ? p + 1 : p) * in_c, wide + half, in_c);
    mcu_pixel_pair_s8(wide, half, y + p * out_c, two, weights, sums, multipliers, shifts, out_c, output_offset,
                      act_min, act_max, right);
  }
}

/* One kernel row's `length` contiguous int8 inputs into the patch: its whole words extended by
   SXTB16 at `words` ((x0, x2), (x1, x3) per four bytes, as the pointwise kernel's inputs; Armv7E-M's
   LDR takes any alignment), the bytes left over as int16 at `tail`. */
MCU_INLINE void mcu_patch_row_s8(const int8_t *row, uint32_t *words, int16_t *tail, const int32_t length) {
  const int32_t body = length & ~3;
  for (int32_t k = 0; k < body; k += 4) {
    const uint32_t v = (uint32_t)arm_nn_read_s8x4(row + k);
    words[0] = SXTB16(v);
    words[1] = SXTB16_RORn(v, 8);
    words += 2;
  }
  for (int32_t k = body; k < length; ++k) *tail++ = row[k];
}

/* One output pixel's patch (im2col) as int16, in the order the weights were re-laid for
   (c_own_conv.conv_patch_order): per kernel row (k_w * in_c inputs, contiguous in NHWC) its whole
   words, then every row's leftover bytes in a tail, zero-padded to `columns` (the weights are zero
   there too). An interior window's rows are read in place. A row over the padding is first copied
   tap by tap into `row_buffer` (k_w * in_c bytes), a padded tap given the input zero point (with the
   folded offset it adds nothing, as TFLM's padding adds nothing), and read from there. MobileNetV1's
   first layer (3x3x3 of an RGB input) took about 400 instructions a pixel with a test per tap; the
   row words take about 50. */
MCU_INLINE void mcu_patch_s8(const int8_t *x, int16_t *patch, int8_t *row_buffer, const int32_t top,
                             const int32_t left, const int32_t in_h, const int32_t in_w, const int32_t in_c,
                             const int32_t k_h, const int32_t k_w, const int8_t zero_point, const int32_t columns) {
  const int32_t length = k_w * in_c, body = length & ~3, rest = length - body;
  int16_t *const tail = patch + k_h * body;
  const int across = left >= 0 && left + k_w <= in_w;
  for (int32_t ky = 0; ky < k_h; ++ky) {
    const int32_t iy = top + ky;
    const int8_t *row = x + (iy * in_w + left) * in_c;
    if (!(across && iy >= 0 && iy < in_h)) {
      for (int32_t kx = 0; kx < k_w; ++kx) {
        const int32_t ix = left + kx;
        int8_t *to = row_buffer + kx * in_c;
        if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
          for (int32_t c = 0; c < in_c; ++c) to[c] = row[kx * in_c + c];
        } else {
          for (int32_t c = 0; c < in_c; ++c) to[c] = zero_point;
        }
      }
      row = row_buffer;
    }
    mcu_patch_row_s8(row, (uint32_t *)(patch + ky * body), tail + ky * rest, length);
  }
  for (int16_t *pad = tail + k_h * rest; pad < patch + columns; ++pad) *pad = 0;
}

/* Any other int8 convolution (no dilation): two output pixels' patches gathered into `wide`
   (2 * columns int16, 8-byte aligned, then k_w * in_c bytes for a row over the padding), then the
   pointwise tile over them. The weights come
   re-laid at export per channel pair and per four columns as (w0, w1), (w2, w3) of the patch's
   order (mcu_patch_s8), each channel's columns padded with zeros to `columns`. */
MCU_INLINE void mcu_conv_s8(const int8_t *x, int8_t *y, const uint32_t *weights, const int32_t *sums,
                            const int32_t *multipliers, const int32_t *shifts, uint32_t *wide, const int32_t in_h,
                            const int32_t in_w, const int32_t in_c, const int32_t out_h, const int32_t out_w,
                            const int32_t out_c, const int32_t k_h, const int32_t k_w, const int32_t stride_h,
                            const int32_t stride_w, const int32_t pad_top, const int32_t pad_left,
                            const int32_t input_offset, const int32_t columns, const int32_t output_offset,
                            const int32_t act_min, const int32_t act_max, const int right) {
  const int32_t pixels = out_h * out_w, half = columns / 2;
  for (int32_t p = 0; p < pixels; p += 2) {
    const int two = p + 2 <= pixels;
    for (int32_t i = 0; i < 2; ++i) {
      const int32_t q = two ? p + i : p;
      const int32_t oy = q / out_w, ox = q % out_w;
      mcu_patch_s8(x, (int16_t *)(wide + i * half), (int8_t *)(wide + columns), oy * stride_h - pad_top,
                   ox * stride_w - pad_left, in_h, in_w, in_c, k_h, k_w, (int8_t)-input_offset, columns);
    }
    mcu_pixel_pair_s8(wide, half, y + p * out_c, two, weights, sums, multipliers, shifts, out_c, output_offset,
                      act_min, act_max, right);
  }
}

/* Four inputs of one vector (already extended: (x0, x2), (x1, x3) at `in`) against the same four
   int8 weights of two rows, pointers moved on: SXTB16 and its 8-bit rotation pair a weight word as
   the inputs were paired, so the weights stay the model's int8 rows (no flash beyond CMSIS-NN's).
   One LDRD, two LDRs, four SXTB16 and four SMLADs for 8 MACs; CMSIS-NN's vector-matrix kernel
   extends the inputs again for every pair of rows and adds their offset there. */
#define MCU_FC_STEP                                                                                    \
  __asm volatile(                                                                                      \
      "ldrd %[xa], %[xb], [%[in]], #8\n\t"                                                             \
      "ldr %[wa], [%[w0]], #4\n\t"                                                                    \
      "ldr %[wb], [%[w1]], #4\n\t"                                                                    \
      "sxtb16 %[lo], %[wa]\n\t"                                                                        \
      "sxtb16 %[hi], %[wa], ror #8\n\t"                                                                \
      "smlad %[r0], %[xa], %[lo], %[r0]\n\t"                                                           \
      "smlad %[r0], %[xb], %[hi], %[r0]\n\t"                                                           \
      "sxtb16 %[lo], %[wb]\n\t"                                                                        \
      "sxtb16 %[hi], %[wb], ror #8\n\t"                                                                \
      "smlad %[r1], %[xa], %[lo], %[r1]\n\t"                                                           \
      "smlad %[r1], %[xb], %[hi], %[r1]"                                                               \
      : [r0] "+r"(r0), [r1] "+r"(r1), [in] "+r"(in), [w0] "+r"(w0), [w1] "+r"(w1), [xa] "=&r"(xa),        \
        [xb] "=&r"(xb), [wa] "=&r"(wa), [wb] "=&r"(wb), [lo] "=&r"(lo), [hi] "=&r"(hi)                   \
      :                                                                                                \
      : "memory")

/* One fully connected layer, batch row by batch row: the row's inputs sign-extended once into
   `wide` (n_in / 2 words, 8-byte aligned), then two output channels at a time over them, reading
   the model's int8 weights [n_out][n_in] (word loads: Armv7E-M's LDR takes any alignment); an odd
   last channel alone. `sums` is each channel's bias + input_offset * (its weight sum), so the
   inputs carry no offset. `per_channel` (a literal) says whether multipliers and shifts hold one
   value per channel or one for the layer (CMSIS-NN's per-tensor form). n_in is a multiple of 4.
   (No CMSIS-NN function is named in this file's comments: the engine's CMSIS-NN sources are found
   by the names its text holds, helpers/targets/cmsis_sources.py.) */
MCU_INLINE void mcu_fully_connected_s8(const int8_t *x, int8_t *y, const int8_t *weights, const int32_t *sums,
                                       const int32_t *multipliers, const int32_t *shifts, uint32_t *wide,
                                       const int32_t batches, const int32_t n_in, const int32_t n_out,
                                       const int32_t output_offset, const int32_t act_min, const int32_t act_max,
                                       const int right, const int per_channel) {
  const int32_t half = n_in / 2;
  for (int32_t b = 0; b < batches; ++b) {
    int8_t *out = y + b * n_out;
    mcu_extend_s8(x + b * n_in, wide, n_in);
    int32_t c = 0;
    for (; c + 2 <= n_out; c += 2) {
      uint32_t r0 = (uint32_t)sums[c], r1 = (uint32_t)sums[c + 1];
      uint32_t xa, xb, wa, wb, lo, hi;
      const int8_t *w0 = weights + c * n_in, *w1 = w0 + n_in;
      const uint32_t *in = wide;
      const uint32_t *const end = wide + half;
      if (half % 8 == 0) {
        while (in != end) {
          MCU_FC_STEP;
          MCU_FC_STEP;
          MCU_FC_STEP;
          MCU_FC_STEP;
        }
      } else {
        while (in != end) MCU_FC_STEP;
      }
      out[c] = MCU_REQUANTIZE(right, r0, per_channel ? c : 0);
      out[c + 1] = MCU_REQUANTIZE(right, r1, per_channel ? c + 1 : 0);
    }
    if (c < n_out) {  /* an odd last channel alone */
      const int8_t *w = weights + c * n_in;
      uint32_t r0 = (uint32_t)sums[c];
      for (int32_t k = 0; k < half; k += 2) {
        const uint32_t v = (uint32_t)arm_nn_read_s8x4(w + 2 * k);
        r0 = SMLAD(wide[k], SXTB16(v), r0);
        r0 = SMLAD(wide[k + 1], SXTB16_RORn(v, 8), r0);
      }
      out[c] = MCU_REQUANTIZE(right, r0, per_channel ? c : 0);
    }
  }
}

/* Two weight words in one LDRD (the re-laid weights are 8-byte aligned). */
typedef uint64_t __attribute__((may_alias)) mcu_pair_t;

/* Four channels of one 3x3 depthwise tap: SXTAB16 adds the input offset while it extends the
   input bytes (c0, c2) and (c1, c3); the weights come extended at export in the same pairs. */
#define MCU_DW_TAP(input, pair)                                                   \
  do {                                                                            \
    const uint32_t v_ = (uint32_t)arm_nn_read_s8x4(input);                        \
    const uint64_t w_ = *(const mcu_pair_t *)(pair);                              \
    const uint32_t a_ = SXTAB16(offsets, v_), b_ = SXTAB16_RORn(offsets, v_, 8);  \
    r0 = SMLABB((int32_t)a_, (int32_t)(uint32_t)w_, r0);                          \
    r2 = SMLATT((int32_t)a_, (int32_t)(uint32_t)w_, r2);                          \
    r1 = SMLABB((int32_t)b_, (int32_t)(uint32_t)(w_ >> 32), r1);                  \
    r3 = SMLATT((int32_t)b_, (int32_t)(uint32_t)(w_ >> 32), r3);                  \
  } while (0)

/* One 3x3 depthwise convolution (stride 1 or 2, depth multiplier 1), four channels at a time. The
   weights are laid at export as [tap][channels / 2] words: per four channels (w0, w2) then (w1, w3),
   sign-extended to int16. Output pixel (oy, ox) reads the window whose top-left input pixel is
   (oy * stride - pad_top, ox * stride - pad_left). Interior windows run the nine taps unrolled with
   no bounds tests; border windows skip the taps that fall in the padding (TFLM's padding adds
   nothing). The export takes this kernel only where every window's middle row and column are
   inside the input (c_own_conv.own_depthwise), so only the outer taps need flags. channels is a
   multiple of 4. */
MCU_INLINE void mcu_depthwise_3x3_s8(const int8_t *x, int8_t *y, const uint32_t *weights, const int32_t *bias,
                                     const int32_t *multipliers, const int32_t *shifts, const int32_t in_h,
                                     const int32_t in_w, const int32_t channels, const int32_t out_h,
                                     const int32_t out_w, const int32_t stride, const int32_t pad_top,
                                     const int32_t pad_left, const int32_t input_offset, const int32_t output_offset,
                                     const int32_t act_min, const int32_t act_max, const int right) {
  const uint32_t offsets = ((uint32_t)input_offset & 0xFFFFu) | ((uint32_t)input_offset << 16);
  const int32_t row = in_w * channels, tap = channels / 2;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    const int32_t top = oy * stride - pad_top;
    const int north = top >= 0, south = top + 2 < in_h;
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const int32_t left = ox * stride - pad_left;
      const int west = left >= 0, east = left + 2 < in_w;
      const int interior = north && south && west && east;
      /* the window's top-left pixel: positive offsets from it (LDR's 12-bit immediate); on a border
         it may lie in the padding, and only the taps inside are read */
      const int8_t *window = x + top * row + left * channels;
      int8_t *out = y + (oy * out_w + ox) * channels;
      for (int32_t c = 0; c < channels; c += 4) {
        int32_t r0 = bias[c], r1 = bias[c + 1], r2 = bias[c + 2], r3 = bias[c + 3];
        const int8_t *corner = window + c;
        const uint32_t *w = weights + c / 2;
        if (interior) {
          MCU_DW_TAP(corner, w);
          MCU_DW_TAP(corner + channels, w + tap);
          MCU_DW_TAP(corner + 2 * channels, w + 2 * tap);
          MCU_DW_TAP(corner + row, w + 3 * tap);
          MCU_DW_TAP(corner + row + channels, w + 4 * tap);
          MCU_DW_TAP(corner + row + 2 * channels, w + 5 * tap);
          MCU_DW_TAP(corner + 2 * row, w + 6 * tap);
          MCU_DW_TAP(corner + 2 * row + channels, w + 7 * tap);
          MCU_DW_TAP(corner + 2 * row + 2 * channels, w + 8 * tap);
        } else {  /* a border window: the same taps, those in the padding skipped (flags fixed per pixel) */
          if (north) {
            if (west) MCU_DW_TAP(corner, w);
            MCU_DW_TAP(corner + channels, w + tap);
            if (east) MCU_DW_TAP(corner + 2 * channels, w + 2 * tap);
          }
          if (west) MCU_DW_TAP(corner + row, w + 3 * tap);
          MCU_DW_TAP(corner + row + channels, w + 4 * tap);
          if (east) MCU_DW_TAP(corner + row + 2 * channels, w + 5 * tap);
          if (south) {
            if (west) MCU_DW_TAP(corner + 2 * row, w + 6 * tap);
            MCU_DW_TAP(corner + 2 * row + channels, w + 7 * tap);
            if (east) MCU_DW_TAP(corner + 2 * row + 2 * channels, w + 8 * tap);
          }
        }
        out[c] = MCU_REQUANTIZE(right, r0, c);
        out[c + 1] = MCU_REQUANTIZE(right, r1, c + 1);
        out[c + 2] = MCU_REQUANTIZE(right, r2, c + 2);
        out[c + 3] = MCU_REQUANTIZE(right, r3, c + 3);
      }
    }
  }
}
#endif
