/* float32 kernels with the summation order of TFLM's reference kernels (products summed, then the
   bias), so outputs agree with TFLM's to float rounding. */
static inline float mcu_clamp_f(float v, float low, float high) { return v < low ? low : v > high ? high : v; }

static inline void mcu_fully_connected_f(const float *x, float *y, const float *w, const float *bias,
                                         int32_t batches, int32_t n_in, int32_t n_out, float low, float high) {
  for (int32_t b = 0; b < batches; ++b) {
    for (int32_t o = 0; o < n_out; ++o) {
      float total = 0.0f;
      for (int32_t i = 0; i < n_in; ++i) total += x[b * n_in + i] * w[o * n_in + i];
      y[b * n_out + o] = mcu_clamp_f(total + bias[o], low, high);
    }
  }
}

typedef struct {
  int32_t in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_top,
      pad_left;
} mcu_conv_geometry;

static inline void mcu_conv_2d_f(const float *x, float *y, const float *w, const float *bias,
                                 const mcu_conv_geometry *g, float low, float high) {
  int32_t o = 0;
  for (int32_t oy = 0; oy < g->out_h; ++oy) {
    for (int32_t ox = 0; ox < g->out_w; ++ox) {
      for (int32_t oc = 0; oc < g->out_c; ++oc) {
        float total = 0.0f;
        for (int32_t ky = 0; ky < g->k_h; ++ky) {
          const int32_t iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
          if (iy < 0 || iy >= g->in_h) continue;
          for (int32_t kx = 0; kx < g->k_w; ++kx) {
            const int32_t ix = ox * g->stride_w - g->pad_left + kx * g->dilation_w;
            if (ix < 0 || ix >= g->in_w) continue;
            const float *xp = x + (iy * g->in_w + ix) * g->in_c;
            const float *wp = w + ((oc * g->k_h + ky) * g->k_w + kx) * g->in_c;
            for (int32_t ic = 0; ic < g->in_c; ++ic) total += xp[ic] * wp[ic];
          }
        }
        y[o++] = mcu_clamp_f(total + bias[oc], low, high);
      }
    }
  }
}

static inline void mcu_depthwise_conv_2d_f(const float *x, float *y, const float *w, const float *bias,
                                           const mcu_conv_geometry *g, float low, float high) {
  const int32_t multiplier = g->out_c / g->in_c;
  int32_t o = 0;
  for (int32_t oy = 0; oy < g->out_h; ++oy) {
    for (int32_t ox = 0; ox < g->out_w; ++ox) {
      for (int32_t oc = 0; oc < g->out_c; ++oc) {
        const int32_t ic = oc / multiplier;
        float total = 0.0f;
        for (int32_t ky = 0; ky < g->k_h; ++ky) {
          const int32_t iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;
          if (iy < 0 || iy >= g->in_h) continue;
          for (int32_t kx = 0; kx < g->k_w; ++kx) {
            const int32_t ix = ox * g->stride_w - g->pad_left + kx * g->dilation_w;
            if (ix < 0 || ix >= g->in_w) continue;
            total += x[(iy * g->in_w + ix) * g->in_c + ic] * w[(ky * g->k_w + kx) * g->out_c + oc];
          }
        }
        y[o++] = mcu_clamp_f(total + bias[oc], low, high);
      }
    }
  }
}

typedef struct {
  int32_t in_h, in_w, channels, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left;
} mcu_pool_geometry;

static inline void mcu_pool_2d_f(const float *x, float *y, const mcu_pool_geometry *g, int32_t average, float low,
                                 float high) {
  int32_t o = 0;
  for (int32_t oy = 0; oy < g->out_h; ++oy) {
    const int32_t y0 = oy * g->stride_h - g->pad_top;
    for (int32_t ox = 0; ox < g->out_w; ++ox) {
      const int32_t x0 = ox * g->stride_w - g->pad_left;
      for (int32_t c = 0; c < g->channels; ++c) {
        float total = 0.0f;
        float best = -3.4e38f;
        int32_t count = 0;
        for (int32_t iy = y0 < 0 ? 0 : y0; iy < g->in_h && iy < y0 + g->k_h; ++iy) {
          for (int32_t ix = x0 < 0 ? 0 : x0; ix < g->in_w && ix < x0 + g->k_w; ++ix) {
            const float v = x[(iy * g->in_w + ix) * g->channels + c];
            total += v;
            best = v > best ? v : best;
            ++count;
          }
        }
        y[o++] = mcu_clamp_f(average ? total / (float)count : best, low, high);
      }
    }
  }
}

static inline void mcu_softmax_f(const float *x, float *y, int32_t rows, int32_t depth, float beta) {
  for (int32_t r = 0; r < rows; ++r) {
    const float *xr = x + r * depth;
    float *yr = y + r * depth;
    float top = xr[0];
    for (int32_t c = 1; c < depth; ++c) top = xr[c] > top ? xr[c] : top;
    float total = 0.0f;
    for (int32_t c = 0; c < depth; ++c) {
      yr[c] = expf((xr[c] - top) * beta);
      total += yr[c];
    }
    for (int32_t c = 0; c < depth; ++c) yr[c] = yr[c] / total;
  }
}

static inline void mcu_logistic_f(const float *x, float *y, int32_t n) {
  for (int32_t i = 0; i < n; ++i) y[i] = x[i] > -88.0f ? 1.0f / (1.0f + expf(-x[i])) : 0.0f;
}

static inline void mcu_tanh_f(const float *x, float *y, int32_t n) {
  for (int32_t i = 0; i < n; ++i) y[i] = tanhf(x[i]);
}

/* ADD, SUB, MUL, broadcasting through the index maps (NULL: element k). */
#define MCU_BINARY_F(name, expression)                                                            \
  static inline void name(const float *x1, const int32_t *i1, const float *x2, const int32_t *i2, \
                          float *y, int32_t n, float low, float high) {                           \
    for (int32_t k = 0; k < n; ++k) {                                                             \
      const float a = x1[i1 ? i1[k] : k];                                                         \
      const float b = x2[i2 ? i2[k] : k];                                                         \
      y[k] = mcu_clamp_f(expression, low, high);                                                  \
    }                                                                                             \
  }
MCU_BINARY_F(mcu_add_f, a + b)
MCU_BINARY_F(mcu_sub_f, a - b)
MCU_BINARY_F(mcu_mul_f, a * b)

static inline void mcu_mean_f(const float *x, float *y, const int32_t *groups, int32_t outputs, int32_t count) {
  for (int32_t o = 0; o < outputs; ++o) {
    float total = 0.0f;
    for (int32_t k = 0; k < count; ++k) total += x[groups[o * count + k]];
    y[o] = total / (float)count;
  }
}
