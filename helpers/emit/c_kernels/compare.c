/* The ops that make or read bool (one byte, 0 or 1) and int32 tensors, with the arithmetic of
   TFLM's reference kernels: the comparisons (comparisons.h; int8 rescaled WithScaling), SELECT_V2
   (select.h), CAST (cast.cc's static_cast) and ARG_MAX, ARG_MIN (arg_min_max.h: the first index of
   the extremum). Broadcasting goes through the index maps (NULL: element k). */
typedef struct {
  int32_t input1_offset, input1_multiplier, input1_shift;
  int32_t input2_offset, input2_multiplier, input2_shift;
  int32_t left_shift;
} mcu_compare_params;

#define MCU_COMPARE_F(name, expression)                                                           \
  static inline void name(const float *x1, const int32_t *i1, const float *x2, const int32_t *i2, \
                          uint8_t *y, int32_t n) {                                                \
    for (int32_t k = 0; k < n; ++k) {                                                             \
      const float a = x1[i1 ? i1[k] : k];                                                         \
      const float b = x2[i2 ? i2[k] : k];                                                         \
      y[k] = (uint8_t)(expression);                                                               \
    }                                                                                             \
  }

#define MCU_COMPARE_I8(name, expression)                                                              \
  static inline void name(const int8_t *x1, const int32_t *i1, const int8_t *x2, const int32_t *i2,   \
                          uint8_t *y, int32_t n, const mcu_compare_params *p) {                       \
    for (int32_t k = 0; k < n; ++k) {                                                                 \
      const int32_t a = mcu_mbqm((p->input1_offset + x1[i1 ? i1[k] : k]) * (1 << p->left_shift),     \
                                 p->input1_multiplier, p->input1_shift);                              \
      const int32_t b = mcu_mbqm((p->input2_offset + x2[i2 ? i2[k] : k]) * (1 << p->left_shift),     \
                                 p->input2_multiplier, p->input2_shift);                              \
      y[k] = (uint8_t)(expression);                                                                   \
    }                                                                                                 \
  }

MCU_COMPARE_F(mcu_equal_f, a == b)
MCU_COMPARE_F(mcu_not_equal_f, a != b)
MCU_COMPARE_F(mcu_greater_f, a > b)
MCU_COMPARE_F(mcu_greater_equal_f, a >= b)
MCU_COMPARE_F(mcu_less_f, a < b)
MCU_COMPARE_F(mcu_less_equal_f, a <= b)
MCU_COMPARE_I8(mcu_equal_i8, a == b)
MCU_COMPARE_I8(mcu_not_equal_i8, a != b)
MCU_COMPARE_I8(mcu_greater_i8, a > b)
MCU_COMPARE_I8(mcu_greater_equal_i8, a >= b)
MCU_COMPARE_I8(mcu_less_i8, a < b)
MCU_COMPARE_I8(mcu_less_equal_i8, a <= b)

#define MCU_SELECT(name, type)                                                                          \
  static inline void name(const uint8_t *c, const int32_t *ic, const type *x1, const int32_t *i1,      \
                          const type *x2, const int32_t *i2, type *y, int32_t n) {                     \
    for (int32_t k = 0; k < n; ++k) y[k] = c[ic ? ic[k] : k] ? x1[i1 ? i1[k] : k] : x2[i2 ? i2[k] : k]; \
  }

MCU_SELECT(mcu_select_int8, int8_t)
MCU_SELECT(mcu_select_int16, int16_t)
MCU_SELECT(mcu_select_float32, float)

#define MCU_CAST(name, from, to)                                         \
  static inline void name(const from *x, to *y, int32_t n) {             \
    for (int32_t k = 0; k < n; ++k) y[k] = (to)x[k];                     \
  }
#define MCU_CASTS_FROM(suffix, from)                                     \
  MCU_CAST(mcu_cast_##suffix##_int8, from, int8_t)                       \
  MCU_CAST(mcu_cast_##suffix##_int16, from, int16_t)                     \
  MCU_CAST(mcu_cast_##suffix##_int32, from, int32_t)                     \
  MCU_CAST(mcu_cast_##suffix##_float32, from, float)

/* From float to an integer type, C (and TFLM's static_cast) leaves NaN and values the type cannot
   hold undefined, and cores differ (x86 gives INT_MIN, a Cortex-M saturates): the engine saturates,
   NaN to 0, and truncates toward zero what is in range, as the cast does. */
#define MCU_CAST_FROM_FLOAT(name, to, low, high)                         \
  static inline void name(const float *x, to *y, int32_t n) {            \
    for (int32_t k = 0; k < n; ++k) {                                    \
      const float v = x[k];                                              \
      y[k] = v != v ? (to)0 : v <= (float)(low) ? (to)(low)              \
             : v >= (float)(high) ? (to)(high) : (to)v;                  \
    }                                                                    \
  }

MCU_CASTS_FROM(int8, int8_t)
MCU_CASTS_FROM(int16, int16_t)
MCU_CASTS_FROM(int32, int32_t)
MCU_CAST_FROM_FLOAT(mcu_cast_float32_int8, int8_t, INT8_MIN, INT8_MAX)
MCU_CAST_FROM_FLOAT(mcu_cast_float32_int16, int16_t, INT16_MIN, INT16_MAX)
MCU_CAST_FROM_FLOAT(mcu_cast_float32_int32, int32_t, INT32_MIN, INT32_MAX)
MCU_CAST(mcu_cast_float32_float32, float, float)
MCU_CASTS_FROM(bool, uint8_t)

#define MCU_ARG_MIN_MAX(name, type)                                                                    \
  static inline void name(const type *x, int32_t *y, int32_t outer, int32_t axis, int32_t inner,      \
                          int32_t maximum) {                                                          \
    for (int32_t o = 0; o < outer; ++o) {                                                             \
      for (int32_t i = 0; i < inner; ++i) {                                                           \
        type best = x[o * axis * inner + i];                                                          \
        int32_t index = 0;                                                                            \
        for (int32_t a = 1; a < axis; ++a) {                                                          \
          const type v = x[(o * axis + a) * inner + i];                                               \
          if (maximum ? v > best : v < best) {                                                        \
            best = v;                                                                                 \
            index = a;                                                                                \
          }                                                                                           \
        }                                                                                             \
        y[o * inner + i] = index;                                                                     \
      }                                                                                               \
    }                                                                                                 \
  }

MCU_ARG_MIN_MAX(mcu_arg_min_max_int8, int8_t)
MCU_ARG_MIN_MAX(mcu_arg_min_max_float32, float)
