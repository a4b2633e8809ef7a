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
/* The movement ops of channels-last tensors copy whole runs of consecutive elements: one index per
   run (y[i * run + c] = x[index[i] + c]), a map `run` times shorter. */
#define MCU_GATHER_RUNS(name, type)                                                                \
  static inline void name(const type *x, type *y, const int32_t *index, int32_t n, int32_t run,   \
                          type pad) {                                                              \
    for (int32_t i = 0; i < n; ++i) {                                                              \
      type *out = y + i * run;                                                                     \
      if (index[i] >= 0) {                                                                         \
        memcpy(out, x + index[i], (size_t)run * sizeof(type));                                     \
      } else {                                                                                     \
        for (int32_t c = 0; c < run; ++c) out[c] = pad;                                            \
      }                                                                                            \
    }                                                                                              \
  }
MCU_GATHER_RUNS(mcu_gather_runs_int8, int8_t)
MCU_GATHER_RUNS(mcu_gather_runs_int16, int16_t)
MCU_GATHER_RUNS(mcu_gather_runs_float32, float)
