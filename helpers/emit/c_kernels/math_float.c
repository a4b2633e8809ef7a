/* float32 elementwise ops with one input, each the expression of TFLM's reference kernel in the same
   float operations and order (HARD_SWISH multiplies before it divides by 6, RSQRT is 1 / sqrt, ROUND
   rounds half to even), so outputs agree with TFLM's to the last bit where libm agrees. */
#define MCU_MATH_F(name, expression)                                   \
  static inline void name(const float *x, float *y, int32_t n, float alpha) { \
    (void)alpha;                                                       \
    for (int32_t i = 0; i < n; ++i) {                                  \
      const float v = x[i];                                            \
      y[i] = (expression);                                             \
    }                                                                  \
  }

static inline float mcu_round_half_even_f(float v) {
  const float below = floorf(v);
  const float diff = v - below;
  if (diff < 0.5f || (diff == 0.5f && ((int32_t)below % 2) == 0)) return below;
  return below + 1.0f;
}

MCU_MATH_F(mcu_relu_f, v > 0.0f ? v : 0.0f)
MCU_MATH_F(mcu_relu6_f, v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v)
MCU_MATH_F(mcu_relu_n1_to_1_f, v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v)
MCU_MATH_F(mcu_relu_0_to_1_f, v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v)
MCU_MATH_F(mcu_leaky_relu_f, v > 0.0f ? v : v * alpha)
MCU_MATH_F(mcu_hard_swish_f, v * fminf(6.0f, fmaxf(0.0f, v + 3.0f)) / 6.0f)
MCU_MATH_F(mcu_elu_f, v < 0.0f ? expm1f(v) : v)
MCU_MATH_F(mcu_exp_f, expf(v))
MCU_MATH_F(mcu_log_f, logf(v))
MCU_MATH_F(mcu_sqrt_f, sqrtf(v))
MCU_MATH_F(mcu_rsqrt_f, 1.0f / sqrtf(v))
MCU_MATH_F(mcu_square_f, v * v)
MCU_MATH_F(mcu_abs_f, fabsf(v))
MCU_MATH_F(mcu_neg_f, -v)
MCU_MATH_F(mcu_floor_f, floorf(v))
MCU_MATH_F(mcu_ceil_f, ceilf(v))
MCU_MATH_F(mcu_round_f, mcu_round_half_even_f(v))
MCU_MATH_F(mcu_sin_f, sinf(v))
MCU_MATH_F(mcu_cos_f, cosf(v))

static inline void mcu_prelu_f(const float *x, float *y, int32_t n, int32_t channels, const float *alpha) {
  for (int32_t i = 0, c = 0; i < n; ++i) {
    y[i] = x[i] >= 0.0f ? x[i] : x[i] * alpha[c];
    if (++c == channels) c = 0;
  }
}

static inline void mcu_batch_matmul_f(const float *lhs, const float *rhs, float *y, const int32_t *layout) {
  /* layout: see mcu_batch_matmul_i8; products summed in depth order, as TFLM's reference. */
  const int32_t rows = layout[0], cols = layout[1], depth = layout[2], batches = layout[7];
  for (int32_t b = 0; b < batches; ++b) {
    const float *l = lhs + layout[8 + 2 * b];
    const float *r = rhs + layout[9 + 2 * b];
    for (int32_t i = 0; i < rows; ++i) {
      for (int32_t j = 0; j < cols; ++j) {
        float total = 0.0f;
        for (int32_t k = 0; k < depth; ++k) total += l[i * layout[3] + k * layout[4]] * r[k * layout[5] + j * layout[6]];
        y[(b * rows + i) * cols + j] = total;
      }
    }
  }
}

static inline void mcu_reduce_f(const float *x, float *y, const int32_t *groups, int32_t outputs, int32_t count,
                                int32_t kind) {
  /* kind 0: SUM, in the input's order as TFLM adds; 1: REDUCE_MAX; 2: REDUCE_MIN. */
  for (int32_t o = 0; o < outputs; ++o) {
    float acc = kind == 0 ? 0.0f : x[groups[o * count]];
    for (int32_t k = kind == 0 ? 0 : 1; k < count; ++k) {
      const float v = x[groups[o * count + k]];
      acc = kind == 0 ? acc + v : kind == 1 ? (v > acc ? v : acc) : (v < acc ? v : acc);
    }
    y[o] = acc;
  }
}
