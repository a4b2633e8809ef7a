/* int16 kernels of the engine's own (TFLM's reference arithmetic) where CMSIS-NN has none. */
static inline int32_t mcu_clamp16(int32_t v, int32_t low, int32_t high) {
  return v < low ? low : (v > high ? high : v);
}

static inline void mcu_quantize_f_i16(const float *x, int16_t *y, int32_t n, float scale, int32_t zero_point,
                                      int32_t low, int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t q = (int32_t)roundf(x[i] / scale);  /* in float32, half away from zero, as TFLM */
    y[i] = (int16_t)mcu_clamp16(q + zero_point, low, high);
  }
}

static inline void mcu_dequantize_i16(const int16_t *x, float *y, int32_t n, float scale, int32_t zero_point) {
  for (int32_t i = 0; i < n; ++i) y[i] = scale * (float)((int32_t)x[i] - zero_point);
}
