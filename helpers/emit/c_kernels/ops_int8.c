/* int8 kernels CMSIS-NN does not have, with the arithmetic of TFLM's reference kernels. */
static inline void mcu_quantize_f_i8(const float *x, int8_t *y, int32_t n, float scale, int32_t zero_point,
                                     int32_t low, int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t q = (int32_t)roundf(x[i] / scale);  /* in float32, half away from zero, as TFLM */
    y[i] = (int8_t)mcu_clamp(q + zero_point, low, high);
  }
}

static inline void mcu_requantize_i8(const int8_t *x, int8_t *y, int32_t n, int32_t x_zero_point,
                                     int32_t multiplier, int32_t shift, int32_t zero_point, int32_t low,
                                     int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v = mcu_mbqm((int32_t)x[i] - x_zero_point, multiplier, shift) + zero_point;
    y[i] = (int8_t)mcu_clamp(v, low, high);
  }
}

static inline void mcu_dequantize_i8(const int8_t *x, float *y, int32_t n, float scale, int32_t zero_point) {
  for (int32_t i = 0; i < n; ++i) y[i] = scale * (float)((int32_t)x[i] - zero_point);
}

static inline void mcu_lookup_i8(const int8_t *x, int8_t *y, int32_t n, const uint8_t *table) {
  /* LOGISTIC, TANH: the 256 outputs TFLM's Prepare tabulates, indexed by the raw input byte. */
  for (int32_t i = 0; i < n; ++i) y[i] = (int8_t)table[(uint8_t)x[i]];
}

static inline void mcu_mean_i8(const int8_t *x, int8_t *y, const int32_t *groups, int32_t outputs,
                               int32_t count, int32_t x_zero_point, int32_t multiplier, int32_t shift,
                               int32_t zero_point) {
  /* groups[o * count + k]: the input elements output o averages. */
  for (int32_t o = 0; o < outputs; ++o) {
    int32_t total = 0;
    for (int32_t k = 0; k < count; ++k) total += x[groups[o * count + k]];
    const int32_t v = mcu_mbqm(total - x_zero_point * count, multiplier, shift) + zero_point;
    y[o] = (int8_t)mcu_clamp(v, -128, 127);
  }
}

typedef struct {
  int32_t offset1, offset2, multiplier1, shift1, multiplier2, shift2, out_multiplier, out_shift, zero_point, low,
      high, sign;
} mcu_add_params;

static inline void mcu_add_i8(const int8_t *x1, const int32_t *i1, const int8_t *x2, const int32_t *i2, int8_t *y,
                              int32_t n, const mcu_add_params *q) {
  /* ADD (sign 1) or SUB (sign -1), broadcasting through the index maps (NULL: element k). */
  for (int32_t k = 0; k < n; ++k) {
    const int32_t a = (int32_t)x1[i1 ? i1[k] : k] + q->offset1;
    const int32_t b = (int32_t)x2[i2 ? i2[k] : k] + q->offset2;
    const int32_t scaled = mcu_mbqm(a * (1 << 20), q->multiplier1, q->shift1) +
                           q->sign * mcu_mbqm(b * (1 << 20), q->multiplier2, q->shift2);
    y[k] = (int8_t)mcu_clamp(mcu_mbqm(scaled, q->out_multiplier, q->out_shift) + q->zero_point, q->low, q->high);
  }
}

typedef struct {
  int32_t offset1, offset2, out_multiplier, out_shift, zero_point, low, high;
} mcu_mul_params;

static inline void mcu_mul_i8(const int8_t *x1, const int32_t *i1, const int8_t *x2, const int32_t *i2, int8_t *y,
                              int32_t n, const mcu_mul_params *q) {
  for (int32_t k = 0; k < n; ++k) {
    const int32_t a = (int32_t)x1[i1 ? i1[k] : k] + q->offset1;
    const int32_t b = (int32_t)x2[i2 ? i2[k] : k] + q->offset2;
    y[k] = (int8_t)mcu_clamp(mcu_mbqm(a * b, q->out_multiplier, q->out_shift) + q->zero_point, q->low, q->high);
  }
}

typedef struct {
  int32_t offset1, offset2, multiplier1, shift1, multiplier2, shift2, out_multiplier, out_shift, zero_point;
} mcu_squared_difference_params;

static inline void mcu_squared_difference_i8(const int8_t *x1, const int32_t *i1, const int8_t *x2,
                                             const int32_t *i2, int8_t *y, int32_t n,
                                             const mcu_squared_difference_params *q) {
  /* squared_difference.cc: each input << 7 and rescaled (the multipliers are below one, so
     MultiplyByQuantizedMultiplierSmallerThanOneExp is mcu_mbqm), the difference squared (at most
     32640 squared: no overflow), rescaled to the output. */
  for (int32_t k = 0; k < n; ++k) {
    const int32_t a = mcu_mbqm(((int32_t)x1[i1 ? i1[k] : k] + q->offset1) * (1 << 7), q->multiplier1, q->shift1);
    const int32_t b = mcu_mbqm(((int32_t)x2[i2 ? i2[k] : k] + q->offset2) * (1 << 7), q->multiplier2, q->shift2);
    const int32_t v = mcu_mbqm((a - b) * (a - b), q->out_multiplier, q->out_shift) + q->zero_point;
    y[k] = (int8_t)mcu_clamp(v, -128, 127);
  }
}
