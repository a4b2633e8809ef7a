/* Binary ops without rescaling (DIV, SQUARED_DIFFERENCE, FLOOR_DIV, FLOOR_MOD, MAXIMUM, MINIMUM),
   broadcasting through the index maps (NULL: element k), with the arithmetic of TFLM's reference
   kernels: floor_div.h divides in double, floor_mod.h takes fmod and moves it to the divisor's sign. */
#define MCU_BINARY_MATH(name, type, expression)                                                 \
  static inline void name(const type *x1, const int32_t *i1, const type *x2, const int32_t *i2, \
                          type *y, int32_t n) {                                                 \
    for (int32_t k = 0; k < n; ++k) {                                                           \
      const type a = x1[i1 ? i1[k] : k];                                                        \
      const type b = x2[i2 ? i2[k] : k];                                                        \
      y[k] = (type)(expression);                                                                \
    }                                                                                           \
  }

static inline float mcu_floor_mod_value_f(float a, float b) {
  const float mod = fmodf(a, b);
  return (mod != 0.0f && ((b < 0.0f) != (mod < 0.0f))) ? mod + b : mod;
}

MCU_BINARY_MATH(mcu_squared_difference_f, float, (a - b) * (a - b))
MCU_BINARY_MATH(mcu_floor_div_f, float, floor((double)a / (double)b))
MCU_BINARY_MATH(mcu_floor_mod_f, float, mcu_floor_mod_value_f(a, b))
MCU_BINARY_MATH(mcu_maximum_f, float, a > b ? a : b)
MCU_BINARY_MATH(mcu_minimum_f, float, a < b ? a : b)
/* int8 and int16: TFLM compares the stored values (the inputs and output are quantized alike). */
MCU_BINARY_MATH(mcu_maximum_int8, int8_t, a > b ? a : b)
MCU_BINARY_MATH(mcu_minimum_int8, int8_t, a < b ? a : b)
MCU_BINARY_MATH(mcu_maximum_int16, int16_t, a > b ? a : b)
MCU_BINARY_MATH(mcu_minimum_int16, int16_t, a < b ? a : b)

static inline void mcu_div_f(const float *x1, const int32_t *i1, const float *x2, const int32_t *i2, float *y,
                             int32_t n, float low, float high) {
  /* DIV's fused activation clamps the quotient (ActivationFunctionWithMinMax). */
  for (int32_t k = 0; k < n; ++k) {
    const float v = x1[i1 ? i1[k] : k] / x2[i2 ? i2[k] : k];
    y[k] = v < low ? low : v > high ? high : v;
  }
}
