/* Data movement (STRIDED_SLICE, PAD, SPLIT, UNPACK, CONCATENATION): the exporter worked out which
   input element lands where, so the board only copies. A negative index is padding. */
#define MCU_GATHER(name, type)                                                                    \
  static inline void name(const type *x, type *y, const int32_t *index, int32_t n, type pad) {    \
    for (int32_t i = 0; i < n; ++i) y[i] = index[i] >= 0 ? x[index[i]] : pad;                     \
  }
#define MCU_SCATTER(name, type)                                                                   \
  static inline void name(const type *x, type *y, const int32_t *index, int32_t n) {              \
    for (int32_t i = 0; i < n; ++i) y[index[i]] = x[i];                                           \
  }
MCU_GATHER(mcu_gather_int8, int8_t)
MCU_GATHER(mcu_gather_int16, int16_t)
MCU_GATHER(mcu_gather_float32, float)
MCU_SCATTER(mcu_scatter_int8, int8_t)
MCU_SCATTER(mcu_scatter_int16, int16_t)
MCU_SCATTER(mcu_scatter_float32, float)
