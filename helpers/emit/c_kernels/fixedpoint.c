/* gemmlowp's fixed point as TFLM's reference kernels use it (double rounding), in int32. */
static inline int32_t mcu_srdhm(int32_t a, int32_t b) {
  /* SaturatingRoundingDoublingHighMul: the high 32 bits of 2*a*b, rounded. */
  if (a == b && a == INT32_MIN) return INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t mcu_asr(int32_t x, int32_t exponent) {
  /* x >> exponent. TFLM shifts by 32 or more (a divide of a tiny dividend), which C leaves undefined
     (AddressSanitizer's UBSan reports it); each core answers as its shift instruction does, and the
     engine spells that out: 32-bit Arm shifts by the count's low byte (all sign bits from 32 on),
     x86, RISC-V and AArch64 by its low 5 bits. */
#if defined(__arm__) || defined(__thumb__)
  return exponent >= 32 ? (x < 0 ? -1 : 0) : x >> exponent;
#else
  return x >> (exponent & 31);
#endif
}

static inline int32_t mcu_rdbp(int32_t x, int32_t exponent) {
  /* RoundingDivideByPOT: x / 2**exponent, rounded half away from zero. */
  if (exponent <= 0) return x;
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return mcu_asr(x, exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t mcu_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  /* MultiplyByQuantizedMultiplier: x * multiplier * 2**(shift - 31), as TFLM rounds it. */
  const int32_t left = shift > 0 ? shift : 0;
  return mcu_rdbp(mcu_srdhm((int32_t)((uint32_t)x << left), multiplier), shift > 0 ? 0 : -shift);
}

static inline int32_t mcu_clamp(int32_t v, int32_t low, int32_t high) {
  return v < low ? low : v > high ? high : v;
}

static inline int32_t mcu_round_to_i32(float v) {
  /* roundf(v) as an int32_t. A float no int32_t holds (NaN, an infinity, 1e30: what a firmware may
     pass) is undefined to convert in C; it saturates here as a Cortex-M's VCVT does, NaN to 0. */
  const float r = roundf(v);
  return r != r ? 0 : r >= 2147483648.0f ? INT32_MAX : r <= -2147483648.0f ? INT32_MIN : (int32_t)r;
}
