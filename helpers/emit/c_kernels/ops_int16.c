/* int16 kernels of the engine's own (TFLM's reference arithmetic) where CMSIS-NN has none; fixedpoint.c
   comes with them. */
static inline void mcu_quantize_f_i16(const float *x, int16_t *y, int32_t n, float scale, int32_t zero_point,
                                      int32_t low, int32_t high) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t q = (int32_t)roundf(x[i] / scale);  /* in float32, half away from zero, as TFLM */
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
