/* LOG_SOFTMAX, L2_NORMALIZATION, RESIZE_BILINEAR, ADD_N and CUMSUM: TFLM's reference arithmetic
   (log_softmax.h, l2normalization.h, resize_bilinear.h, add_n.h, cumsum.h); gemmlowp's fixed point
   from fixedpoint.c. int16 RSQRT (elementwise.cc) is here for L2_NORMALIZATION's inverse square
   root, which it takes per element. */
static inline int32_t mcu_shl_sat(int32_t x, int32_t e) {
  /* SaturatingRoundingMultiplyByPOT, e >= 0 */
  if (e == 0) return x;
  const int32_t limit = (int32_t)(((int64_t)1 << (31 - e)) - 1);
  return x > limit ? INT32_MAX : x < -limit ? INT32_MIN : (int32_t)((uint32_t)x << e);
}

static inline int32_t mcu_clz32(uint32_t x) {
  int32_t n = 32;
  while (x) { x >>= 1; --n; }
  return n;
}

static inline int32_t mcu_one_over_one_plus_x(int32_t a) {
  /* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 */
  const int64_t sum = (int64_t)a + INT32_MAX;
  const int32_t half = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  int32_t x = 1515870810 + mcu_srdhm(half, -1010580540);
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus = 536870912 - mcu_srdhm(half, x);
    x = (int32_t)((uint32_t)x + (uint32_t)mcu_shl_sat(mcu_srdhm(x, one_minus), 2));
  }
  return mcu_shl_sat(x, 1);
}

static inline int32_t mcu_log_q12_to_q5(int32_t v) {
  /* log_x_for_x_greater_than_or_equal_to_1<5, 12>: a Q12.19 value's log in Q5.26 */
  const int32_t quarter = 1 << 23;
  const int32_t za_head = mcu_clz32((uint32_t)v);
  const int32_t r_a = mcu_shl_sat(mcu_srdhm(mcu_shl_sat(v, za_head - 1), 1518500250), 1);
  int64_t za_adj = (int64_t)mcu_shl_sat(12 - za_head, 25) + quarter;
  za_adj = za_adj > INT32_MAX ? INT32_MAX : za_adj;
  const int32_t zb_head = mcu_clz32((uint32_t)mcu_srdhm(v, 1518500250)) - 1;
  const int32_t r_b = mcu_shl_sat(v, zb_head);
  int64_t zb_adj = (int64_t)mcu_shl_sat(12 - zb_head, 25) - quarter;
  zb_adj = zb_adj < INT32_MIN ? INT32_MIN : zb_adj;
  const int32_t r = r_a < r_b ? r_a : r_b;
  const int32_t adj = (int32_t)(za_adj > zb_adj ? za_adj : zb_adj);
  const int64_t s = (int64_t)r + 1805811301;
  const int32_t p = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
  int32_t q = r - 1805811301;
  q = q + q;
  const int32_t sq = mcu_srdhm(q, q);
  const int32_t num = mcu_srdhm(q, r) + mcu_srdhm(mcu_srdhm(q, sq), 117049297);
  const int32_t denom = mcu_srdhm(p, 1057819769 + q + mcu_srdhm(127690142, sq)) + mcu_srdhm(638450708, q);
  const int32_t total = mcu_srdhm(adj, 1488522236) + mcu_srdhm(mcu_rdbp(num, 6), mcu_one_over_one_plus_x(denom));
  return mcu_shl_sat(total, 1);
}

static inline void mcu_log_softmax_i8(const int8_t *x, int8_t *y, int32_t rows, int32_t depth, const int32_t *diffs,
                                      const int32_t *exps, const int32_t *params) {
  /* params: diff_min, the reverse scaling multiplier and shift */
  for (int32_t row = 0; row < rows; ++row) {
    const int8_t *in = x + row * depth;
    int8_t *out = y + row * depth;
    int32_t top = -128, total = 0;
    for (int32_t c = 0; c < depth; ++c) top = in[c] > top ? in[c] : top;
    for (int32_t c = 0; c < depth; ++c) total += exps[top - in[c]];
    const int32_t log_sum = mcu_log_q12_to_q5(total);
    int32_t adjusted = mcu_mbqm((int32_t)((uint32_t)log_sum + 0x80000000u), params[1], params[2]);
    adjusted = adjusted > params[0] - 1 ? adjusted : params[0] - 1;
    for (int32_t c = 0; c < depth; ++c) {
      out[c] = in[c] - top > adjusted ? (int8_t)mcu_clamp(mcu_rdbp(diffs[top - in[c]] - log_sum, 22) + 127, -128, 127)
                                      : (int8_t)-128;
    }
  }
}

static inline void mcu_inv_sqrt(int32_t v, int32_t *multiplier, int32_t *shift) {
  /* GetInvSqrtQuantizedMultiplierExp(v, kReverseShift) */
  if (v <= 1) { *multiplier = INT32_MAX; *shift = 0; return; }
  int32_t s = 11;
  while (v >= (1 << 29)) { v /= 4; ++s; }
  const int32_t pairs = (mcu_clz32((uint32_t)v) - 1) / 2 - 1;
  s -= pairs;
  v <<= 2 * pairs;
  const int32_t half = mcu_rdbp(v >> 1, 1);
  int32_t x = 1 << 28;
  for (int i = 0; i < 5; ++i) {
    const int32_t x3 = mcu_shl_sat(mcu_srdhm(mcu_srdhm(x, x), x), 6);
    x = mcu_shl_sat(mcu_srdhm(402653184, x) - mcu_srdhm(half, x3), 3);
  }
  x = mcu_srdhm(x, 1518500250);
  if (s < 0) { x = (int32_t)((uint32_t)x << -s); s = 0; }
  *multiplier = x;
  *shift = -s;
}

static inline void mcu_l2_norm_i8(const int8_t *x, int8_t *y, int32_t rows, int32_t depth, int32_t zero_point) {
  for (int32_t row = 0; row < rows; ++row) {
    const int8_t *in = x + row * depth;
    int32_t acc = 0, multiplier, shift;
    for (int32_t c = 0; c < depth; ++c) acc += (in[c] - zero_point) * (in[c] - zero_point);
    mcu_inv_sqrt(acc, &multiplier, &shift);
    for (int32_t c = 0; c < depth; ++c) {
      y[row * depth + c] = (int8_t)mcu_clamp(mcu_mbqm(in[c] - zero_point, multiplier, shift + 7), -128, 127);
    }
  }
}

static inline int32_t mcu_rsqrt_i16(const int16_t *x, int16_t *y, int32_t n, int32_t multiplier, int32_t shift) {
  /* elementwise.cc's RsqrtEvalQuantized<int16_t> (zero points 0). TFLM's Eval fails on a negative
     input ("Rsqrt is only defined for positive values"), so the invoke fails on one too (-1) */
  for (int32_t k = 0; k < n; ++k) {
    const int32_t v = x[k];
    int32_t inv, inv_shift;
    if (v < 0) return -1;
    if (v == 0) { y[k] = INT16_MAX; continue; }
    mcu_inv_sqrt(v, &inv, &inv_shift);
    /* 1 / sqrt(v) with 20 more bits, then rescaled by 2**-20 less: TFLM's kShift */
    const int32_t data = mcu_mbqm(1, inv, inv_shift + 20);
    y[k] = (int16_t)mcu_clamp(mcu_mbqm(data, multiplier, shift - 20), -32768, 32767);
  }
  return 0;
}

static inline void mcu_row_f(const float *x, float *y, int32_t rows, int32_t depth, int32_t log_softmax) {
  for (int32_t row = 0; row < rows; ++row) {
    const float *in = x + row * depth;
    float *out = y + row * depth;
    if (log_softmax) {
      float top = -3.40282347e38f, sum = 0.f;
      for (int32_t c = 0; c < depth; ++c) top = in[c] > top ? in[c] : top;
      for (int32_t c = 0; c < depth; ++c) sum += expf(in[c] - top);
      const float log_sum = logf(sum);
      for (int32_t c = 0; c < depth; ++c) out[c] = in[c] - top - log_sum;
    } else {
      float squares = 0.f;
      for (int32_t c = 0; c < depth; ++c) squares += in[c] * in[c];
      float norm = sqrtf(squares);
      norm = norm > 1e-6f ? norm : 1e-6f;
      for (int32_t c = 0; c < depth; ++c) out[c] = in[c] / norm;
    }
  }
}

static inline void mcu_resize_bilinear_f(const float *x, float *y, int32_t pixels, int32_t depth,
                                         const int32_t *corners, const float *weights) {
  for (int32_t p = 0; p < pixels; ++p) {
    const int32_t *k = corners + 4 * p;
    const float *w = weights + 4 * p;
    for (int32_t c = 0; c < depth; ++c) {
      *y++ = x[k[0] + c] * w[0] + x[k[1] + c] * w[1] + x[k[2] + c] * w[2] + x[k[3] + c] * w[3];
    }
  }
}

static inline void mcu_resize_bilinear_i8(const int8_t *x, int8_t *y, int32_t pixels, int32_t depth,
                                          const int32_t *corners, const int32_t *weights) {
  for (int32_t p = 0; p < pixels; ++p) {
    const int32_t *k = corners + 4 * p;
    const int32_t *w = weights + 4 * p;
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t v = x[k[0] + c] * w[0] + x[k[1] + c] * w[1] + x[k[2] + c] * w[2] + x[k[3] + c] * w[3];
      *y++ = (int8_t)((v + (v > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20));
    }
  }
}

static inline int8_t mcu_scaled_out(int32_t acc, const int32_t *params) {
  /* params: the scaled start, the output multiplier, shift and zero point */
  return (int8_t)mcu_clamp(mcu_mbqm(acc, params[1], params[2]) + params[3], -128, 127);
}

static inline void mcu_add_n_f(const float *const *xs, int32_t inputs, float *y, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    float acc = 0.f;
    for (int32_t j = 0; j < inputs; ++j) acc += xs[j][i];
    y[i] = acc;
  }
}

static inline void mcu_add_n_i8(const int8_t *const *xs, int32_t inputs, int8_t *y, int32_t n, const int32_t *table,
                                const int32_t *params) {
  for (int32_t i = 0; i < n; ++i) {
    int32_t acc = params[0];
    for (int32_t j = 0; j < inputs; ++j) acc += table[xs[j][i] + 128];
    y[i] = mcu_scaled_out(acc, params);
  }
}

static inline int32_t mcu_cumsum_index(const int32_t *shape, int32_t o, int32_t j, int32_t d) {
  /* shape: before, length, after, exclusive, reverse (cumsum.h's loop order and index) */
  const int32_t r = shape[4];
  return (r ? shape[2] - 1 - o : o) + (r ? shape[0] - 1 - j : j) * shape[1] * shape[2] +
         (r ? shape[1] - 1 - d : d) * shape[2];
}

static inline void mcu_cumsum_f(const float *x, float *y, const int32_t *shape) {
  for (int32_t o = 0; o < shape[2]; ++o) {
    for (int32_t j = 0; j < shape[0]; ++j) {
      float acc = 0.f;
      for (int32_t d = 0; d < shape[1]; ++d) {
        const int32_t i = mcu_cumsum_index(shape, o, j, d);
        const float before = acc;
        acc += x[i];
        y[i] = shape[3] ? before : acc;
      }
    }
  }
}

static inline void mcu_cumsum_i8(const int8_t *x, int8_t *y, const int32_t *shape, const int32_t *table,
                                 const int32_t *params) {
  for (int32_t o = 0; o < shape[2]; ++o) {
    for (int32_t j = 0; j < shape[0]; ++j) {
      int32_t acc = params[0];
      for (int32_t d = 0; d < shape[1]; ++d) {
        const int32_t i = mcu_cumsum_index(shape, o, j, d);
        const int32_t before = acc;
        acc += table[x[i] + 128];
        y[i] = mcu_scaled_out(shape[3] ? before : acc, params);
      }
    }
  }
}

static inline void mcu_div_i8(const int8_t *x1, const int32_t *i1, const int8_t *x2, const int32_t *i2, int8_t *y,
                              int32_t n, const int32_t *p) {
  /* div.h's DivElementwise; p: input1 offset, input2 offset, output multiplier, shift, zero point,
     clamp low, high */
  for (int32_t k = 0; k < n; ++k) {
    int32_t a = x1[i1 ? i1[k] : k] + p[0];
    int32_t d = x2[i2 ? i2[k] : k] + p[1];
    if (d < 0) { a = -a; d = -d; }
    /* GetReciprocal(d, 31); a zero divisor gives what TFLM gives on the host (shift by 32 is by 0) */
    const int32_t head = mcu_clz32((uint32_t)d);
    const uint32_t shifted = head >= 32 ? (uint32_t)d : (uint32_t)d << head;
    const int32_t inv = mcu_one_over_one_plus_x((int32_t)(shifted - 0x80000000u));
    const int32_t room = a == 0 ? 31 : a > 0 ? mcu_clz32((uint32_t)a) - 1 : mcu_clz32(~(uint32_t)a) - 1;
    const int32_t q = mcu_srdhm((int32_t)((uint32_t)a << room), inv);
    /* a divide by 2**32 or more (a tiny dividend) shifts as TFLM's RoundingDivideByPOT does on the
       same core: mcu_rdbp is its expression */
    const int32_t out = mcu_rdbp(mcu_srdhm(q, p[2]), -(p[3] - (31 - head) - room)) + p[4];
    y[k] = (int8_t)mcu_clamp(out, p[5], p[6]);
  }
}

typedef struct {
  int32_t n_input, filters, rank, memory;
  int32_t input_zero_point, state_zero_point, multiplier1, shift1, multiplier2, shift2, output_zero_point;
  float act_min, act_max;
} mcu_svdf_params;

static inline void mcu_svdf_f(const float *x, float *y, float *state, const float *wf, const float *wt,
                              const float *bias, const mcu_svdf_params *p) {
  /* svdf_common.cc's EvalFloatSvdfReference, batch 1 */
  const int32_t memory = p->memory;
  for (int32_t i = 0; i < p->filters * memory - 1; ++i) state[i] = state[i + 1];
  for (int32_t f = 0; f < p->filters; ++f) {
    float dot = 0.f;
    for (int32_t k = 0; k < p->n_input; ++k) dot += wf[f * p->n_input + k] * x[k];
    state[f * memory + memory - 1] = dot;
  }
  for (int32_t u = 0; u < p->filters / p->rank; ++u) {
    float total = bias[u];
    for (int32_t f = u * p->rank; f < (u + 1) * p->rank; ++f) {
      float part = 0.f;
      for (int32_t m = 0; m < memory; ++m) part += wt[f * memory + m] * state[f * memory + m];
      total += part;
    }
    y[u] = total < p->act_min ? p->act_min : total > p->act_max ? p->act_max : total;
  }
}

#define MCU_SVDF_INTEGER(name, T, T_MIN, T_MAX)                                                              \
  static inline void name(const int8_t *x, int8_t *y, T *state, const int8_t *wf, const T *wt,               \
                          const int32_t *bias, const mcu_svdf_params *p) {                                   \
    /* svdf_common.cc's EvalIntegerSvdfReference<T>, batch 1 */                                              \
    const int32_t memory = p->memory;                                                                        \
    for (int32_t i = 0; i < p->filters * memory - 1; ++i) state[i] = state[i + 1];                           \
    for (int32_t f = 0; f < p->filters; ++f) {                                                               \
      int32_t dot = 0;                                                                                       \
      for (int32_t k = 0; k < p->n_input; ++k) dot += wf[f * p->n_input + k] * (x[k] - p->input_zero_point); \
      dot = mcu_clamp(mcu_mbqm(dot, p->multiplier1, p->shift1), T_MIN, T_MAX);                               \
      state[f * memory + memory - 1] = (T)(p->state_zero_point + dot);                                       \
    }                                                                                                        \
    for (int32_t u = 0; u < p->filters / p->rank; ++u) {                                                     \
      int32_t total = bias[u];                                                                               \
      for (int32_t f = u * p->rank; f < (u + 1) * p->rank; ++f) {                                            \
        int32_t part = 0;                                                                                    \
        for (int32_t m = 0; m < memory; ++m) {                                                               \
          part += wt[f * memory + m] * (state[f * memory + m] - p->state_zero_point);                        \
        }                                                                                                    \
        total += part;                                                                                       \
      }                                                                                                      \
      y[u] = (int8_t)mcu_clamp(mcu_mbqm(total, p->multiplier2, p->shift2) + p->output_zero_point, -128, 127); \
    }                                                                                                        \
  }
MCU_SVDF_INTEGER(mcu_svdf_int16, int16_t, -32768, 32767)
MCU_SVDF_INTEGER(mcu_svdf_int8, int8_t, -128, 127)
