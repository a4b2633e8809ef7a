/* Fixed point for the engine's own Armv6-M kernels (conv_v6m.c, lstm_s8.c): pasted before them. */
#if (defined(__ARM_ARCH_6M__) || defined(MCU_ENGINE_V6M_KERNELS)) && !defined(MCU_ENGINE_CMSIS_NN_ONLY)
#include <stdint.h>

/* CMSIS-NN's doubling high multiply, (sum * multiplier + 2^30) >> 31, for any int32 sum and a
   non-negative multiplier, in 32-bit arithmetic: Armv6-M has no 64-bit product, and GCC's
   __aeabi_lmul call (64 x 64 bits) with the 64-bit add and shift around it took about twice these
   instructions. The magnitude's product is built from four 16 x 16-bit MULS; a negative sum's
   result is minus the magnitude's, rounded with 2^30 - 1 (the floor of -X is minus the ceiling of
   X). tests/unit/test_own_kernel_layouts.py checks it against the 64-bit form. */
static inline __attribute__((always_inline)) int32_t mcu_v6m_doubling_high(const int32_t sum, const int32_t multiplier) {
  const uint32_t negative = sum < 0;
  const uint32_t a = negative ? 0u - (uint32_t)sum : (uint32_t)sum, m = (uint32_t)multiplier;
  const uint32_t a_low = a & 0xFFFFu, a_high = a >> 16, m_low = m & 0xFFFFu, m_high = m >> 16;
  const uint32_t middle = a_high * m_low + a_low * m_high;  /* below 2^32 for any |sum| <= 2^31: no overflow */
  const uint32_t low = a_low * m_low + ((1u << 30) - negative);
  const uint32_t carry_low = low < ((1u << 30) - negative);
  const uint32_t bottom = low + (middle << 16);
  const uint32_t top = a_high * m_high + (middle >> 16) + carry_low + (bottom < (middle << 16));
  const uint32_t magnitude = (top << 1) | (bottom >> 31);
  return negative ? -(int32_t)magnitude : (int32_t)magnitude;
}
#endif
