/* int16 kernels of the engine's own (TFLM's reference arithmetic) where CMSIS-NN has none; fixedpoint.c
   comes with them. */
static inline void mcu_quantize_f_i16(const float *x, int16_t *y, int32_t n, float scale, int32_t zero_point,
                                      int32_t low, int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    /* in float32, half away from zero, as TFLM; bounded first so that adding the zero point cannot
       overflow (every bound of an int8 or int16 output is within 2**16 of it) */
    const int32_t q = mcu_clamp(mcu_round_to_i32(x[i] / scale), -65536, 65536);
    y[i] = (int16_t)mcu_clamp(q + zero_point, low, high);
  }
}

static inline void mcu_dequantize_i16(const int16_t *x, float *y, int32_t n, float scale, int32_t zero_point) {
  for (int32_t i = 0; i < n; ++i) y[i] = scale * (float)((int32_t)x[i] - zero_point);
}

static inline void mcu_requantize_i16(const int16_t *x, int16_t *y, int32_t n, int32_t x_zero_point,
                                      int32_t multiplier, int32_t shift, int32_t zero_point, int32_t low,
                                      int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v = mcu_mbqm((int32_t)x[i] - x_zero_point, multiplier, shift) + zero_point;
    y[i] = (int16_t)mcu_clamp(v, low, high);
  }
}

typedef struct {
  int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift, output_multiplier, output_shift;
  int32_t act_min, act_max, sign;
} mcu_add_i16_params;

static inline void mcu_add_i16(const int16_t *x1, const int32_t *map1, const int16_t *x2, const int32_t *map2,
                               int16_t *y, int32_t n, const mcu_add_i16_params *p) {
  /* ADD (sign 1) or SUB (sign -1): TFLM's AddElementwise/SubElementwise with left_shift 15; a
     broadcast input read through its index map. */
  for (int32_t i = 0; i < n; ++i) {
    const int32_t a = (int32_t)x1[map1 ? map1[i] : i] * (1 << 15);
    const int32_t b = (int32_t)x2[map2 ? map2[i] : i] * (1 << 15);
    const int32_t raw = mcu_mbqm(a, p->input1_multiplier, p->input1_shift) +
                        p->sign * mcu_mbqm(b, p->input2_multiplier, p->input2_shift);
    y[i] = (int16_t)mcu_clamp(mcu_mbqm(raw, p->output_multiplier, p->output_shift), p->act_min, p->act_max);
  }
}

static inline void mcu_mul_i16(const int16_t *x1, const int32_t *map1, const int16_t *x2, const int32_t *map2,
                               int16_t *y, int32_t n, int32_t multiplier, int32_t shift, int32_t low,
                               int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t raw = (int32_t)x1[map1 ? map1[i] : i] * (int32_t)x2[map2 ? map2[i] : i];
    y[i] = (int16_t)mcu_clamp(mcu_mbqm(raw, multiplier, shift), low, high);
  }
}

static inline void mcu_sigmoid_i16(const int16_t *x, int16_t *y, int32_t n, int32_t multiplier, int32_t shift,
                                   const uint16_t *table, int tanh) {
  /* TFLM's reference int16 LOGISTIC (tanh 0) and TANH (tanh 1): the input onto the table's grid,
     then interpolated in sigmoid(i / 24) (tanh(x) = 2 sigmoid(2x) - 1: half the grid step). */
  const int32_t round = shift > 0 ? 1 << (shift - 1) : 0;
  const uint32_t step_bits = tanh ? 8u : 9u;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v = ((int32_t)x[i] * multiplier + round) >> shift;
    const uint32_t a = (uint32_t)(v < 0 ? -v : v);
    const uint32_t h = a >> step_bits;
    uint32_t r;
    if (h >= 255u) {
      r = tanh ? (0xFFFFu << 8) : (0x7FFFu << 10);
    } else {
      const uint32_t ua = table[h], ub = table[h + 1u];
      r = (ua << step_bits) + (a & ((1u << step_bits) - 1u)) * (ub - ua);
    }
    if (tanh) {
      const int32_t t = v >= 0 ? (int32_t)r - (1 << 23) + (1 << 7) : -(int32_t)r + (1 << 23) + (1 << 7) - 1;
      y[i] = (int16_t)(t >> 8);
    } else {
      r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
      y[i] = (int16_t)(r >> 10);
    }
  }
}

static inline void mcu_mean_i16(const int16_t *x, int16_t *y, const int32_t *groups, int32_t outputs, int32_t count,
                                int32_t multiplier, int32_t shift) {
  /* groups[o * count + k]: the input elements output o averages (zero points are 0 for int16). */
  for (int32_t o = 0; o < outputs; ++o) {
    int32_t total = 0;
    for (int32_t k = 0; k < count; ++k) total += x[groups[o * count + k]];
    y[o] = (int16_t)mcu_clamp(mcu_mbqm(total, multiplier, shift), -32768, 32767);
  }
}

typedef struct {
  int32_t rescale, multiplier, shift, negative_multiplier, negative_shift, negate, act_min, act_max, absolute;
} mcu_activation_i16_params;

static inline void mcu_activation_i16(const int16_t *x, int16_t *y, int32_t n, const mcu_activation_i16_params *p) {
  /* RELU (both signs by one multiplier), LEAKY_RELU (negatives by alpha's), RELU6 (the raw value),
     ABS (|x|, then as RELU). */
  for (int32_t i = 0; i < n; ++i) {
    int32_t v = x[i];
    if (p->absolute && v < 0) v = -v;
    if (p->rescale) {
      if (v >= 0) {
        v = mcu_mbqm(v, p->multiplier, p->shift);
      } else {
        v = mcu_mbqm(v, p->negative_multiplier, p->negative_shift);
        if (p->negate) v = -v;
      }
    }
    y[i] = (int16_t)mcu_clamp(v, p->act_min, p->act_max);
  }
}

static inline int32_t mcu_mbqm64_i16(int64_t x, int32_t multiplier, int32_t shift) {
  /* TFLM's MultiplyByQuantizedMultiplier for an int64 value: the multiplier rounded to 16 bits, one
     rounding shift (CMSIS-NN's arm_nn_requantize_s64). */
  const int64_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
  const int32_t total = 15 - shift;
  return (int32_t)((x * reduced + ((int64_t)1 << (total - 1))) >> total);
}

static inline void mcu_batch_matmul_i16(const int16_t *lhs, const int16_t *rhs, int16_t *y, const int32_t *layout,
                                        int32_t multiplier, int32_t shift) {
  /* TFLM's reference BatchMatMul<int16_t, int64_t>: products summed in int64 (zero points are 0).
     layout: as mcu_batch_matmul_i8's (ops_matmul.py). */
  const int32_t rows = layout[0], cols = layout[1], depth = layout[2], batches = layout[7];
  for (int32_t b = 0; b < batches; ++b) {
    const int16_t *l = lhs + layout[8 + 2 * b];
    const int16_t *r = rhs + layout[9 + 2 * b];
    for (int32_t i = 0; i < rows; ++i) {
      for (int32_t j = 0; j < cols; ++j) {
        int64_t total = 0;
        for (int32_t k = 0; k < depth; ++k) {
          total += (int32_t)l[i * layout[3] + k * layout[4]] * (int32_t)r[k * layout[5] + j * layout[6]];
        }
        y[(b * rows + i) * cols + j] = (int16_t)mcu_clamp(mcu_mbqm64_i16(total, multiplier, shift), -32768, 32767);
      }
    }
  }
}

typedef struct {
  int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift, output_multiplier, output_shift;
} mcu_squared_difference_i16_params;

static inline void mcu_squared_difference_i16(const int16_t *x1, const int32_t *map1, const int16_t *x2,
                                              const int32_t *map2, int16_t *y, int32_t n,
                                              const mcu_squared_difference_i16_params *p) {
  /* squared_difference.cc with left_shift 0: each input rescaled, the difference squared in int32
     (at most 2**30), rescaled to the output. */
  for (int32_t i = 0; i < n; ++i) {
    const int32_t a = mcu_mbqm(x1[map1 ? map1[i] : i], p->input1_multiplier, p->input1_shift);
    const int32_t b = mcu_mbqm(x2[map2 ? map2[i] : i], p->input2_multiplier, p->input2_shift);
    const int32_t d = a - b;
    y[i] = (int16_t)mcu_clamp(mcu_mbqm(d * d, p->output_multiplier, p->output_shift), -32768, 32767);
  }
}

typedef struct {
  int32_t input_offset, output_offset, multiplier_1, shift_1, multiplier_2, shift_2;
} mcu_prelu_i16_params;

static inline void mcu_prelu_i16(const int16_t *x, int16_t *y, int32_t n, const int16_t *alphas, int32_t period,
                                 const mcu_prelu_i16_params *p) {
  /* prelu_common.cc: x >= 0 by the first multiplier, x * alpha by the second; alphas[i % period]
     with their zero point already taken off. */
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v = (int32_t)x[i] + p->input_offset;
    const int32_t out = v >= 0 ? mcu_mbqm(v, p->multiplier_1, p->shift_1)
                               : mcu_mbqm(v * (int32_t)alphas[i % period], p->multiplier_2, p->shift_2);
    y[i] = (int16_t)mcu_clamp(out + p->output_offset, -32768, 32767);
  }
}
