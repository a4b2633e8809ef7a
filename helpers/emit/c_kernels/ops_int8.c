/* int8 kernels CMSIS-NN does not have, with the arithmetic of TFLM's reference kernels. */
static inline void mcu_quantize_f_i8(const float *x, int8_t *y, int32_t n, float scale, int32_t zero_point,
                                     int32_t low, int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    /* in float32, half away from zero, as TFLM; bounded first so that adding the zero point cannot
       overflow (every bound of an int8 or int16 output is within 2**16 of it) */
    const int32_t q = mcu_clamp(mcu_round_to_i32(x[i] / scale), -65536, 65536);
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

static inline void mcu_lookup_channels_i8(const int8_t *x, int8_t *y, int32_t n, int32_t channels,
                                          const uint8_t *tables) {
  /* PRELU: a table per channel of the last axis, filled by TFLM's kernel at export. */
  for (int32_t i = 0, c = 0; i < n; ++i) {
    y[i] = (int8_t)tables[c * 256 + (uint8_t)x[i]];
    if (++c == channels) c = 0;
  }
}

static inline void mcu_batch_matmul_i8(const int8_t *lhs, const int8_t *rhs, int8_t *y, const int32_t *layout,
                                       int32_t lhs_offset, int32_t rhs_offset, int32_t multiplier, int32_t shift,
                                       int32_t zero_point) {
  /* TFLM's reference: (lhs + offset) * (rhs + offset) summed in int32, then one multiplier. layout:
     M, N, K, the lhs row and depth strides, the rhs depth and column strides, the batches, then
     each batch's two base offsets (ops_matmul.py). */
  const int32_t rows = layout[0], cols = layout[1], depth = layout[2], batches = layout[7];
  for (int32_t b = 0; b < batches; ++b) {
    const int8_t *l = lhs + layout[8 + 2 * b];
    const int8_t *r = rhs + layout[9 + 2 * b];
    for (int32_t i = 0; i < rows; ++i) {
      for (int32_t j = 0; j < cols; ++j) {
        int32_t total = 0;
        for (int32_t k = 0; k < depth; ++k) {
          total += ((int32_t)l[i * layout[3] + k * layout[4]] + lhs_offset) *
                   ((int32_t)r[k * layout[5] + j * layout[6]] + rhs_offset);
        }
        const int32_t value = mcu_mbqm(total, multiplier, shift) + zero_point;
        y[(b * rows + i) * cols + j] = (int8_t)mcu_clamp(value, -128, 127);
      }
    }
  }
}

static inline void mcu_reduce_i8(const int8_t *x, int8_t *y, const int32_t *groups, int32_t outputs,
                                 int32_t count, int32_t maximum) {
  /* REDUCE_MAX / REDUCE_MIN: the raw values compared (input and output share one quantization). */
  for (int32_t o = 0; o < outputs; ++o) {
    int8_t best = x[groups[o * count]];
    for (int32_t k = 1; k < count; ++k) {
      const int8_t v = x[groups[o * count + k]];
      if (maximum ? v > best : v < best) best = v;
    }
    y[o] = best;
  }
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
