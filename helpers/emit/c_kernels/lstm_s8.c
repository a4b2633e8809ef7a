/* The engine's own int8 LSTM layer (helpers/emit/c_own_lstm.py, docs/kernels.md): what CMSIS-NN's
   arm_lstm_unidirectional_s8 computes for one time-major sequence of batch 1, from the same
   cmsis_nn_lstm_params, with each time step's four gates, its cell state and its hidden state fused
   into one pass over the hidden units. CMSIS-NN makes 17 calls a time step (a matrix-vector product
   per gate and operand, a pass per activation and per element-wise product, each over the whole
   state) through 16-bit scratch buffers; at the hidden sizes of a microcontroller's LSTM that
   overhead outweighs the products. Bit-exact with CMSIS-NN: every value goes through the same
   integer steps in the same order (arm_nn_requantize, the Q15 clamps, arm_nn_activation_s16's
   table and rounding), only per hidden unit instead of per buffer. Plain C, for Armv7E-M and
   Armv6-M alike; the two scratch gate buffers CMSIS-NN needs are not needed. */
#if (defined(ARM_MATH_DSP) && !defined(ARM_MATH_MVEI) && !defined(MCU_ENGINE_CMSIS_NN_ONLY)) || \
    ((defined(__ARM_ARCH_6M__) || defined(MCU_ENGINE_V6M_KERNELS)) && !defined(MCU_ENGINE_CMSIS_NN_ONLY))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#include "arm_nnsupportfunctions.h"
#pragma GCC diagnostic pop
#include "arm_nn_tables.h"

#define MCU_LSTM_INLINE static inline __attribute__((always_inline))

MCU_LSTM_INLINE int32_t mcu_lstm_clamp(int32_t value, int32_t low, int32_t high) {
  return value < low ? low : (value > high ? high : value);
}

/* arm_nn_activation_s16 on one value: sigmoid (ARM_SIGMOID) or tanh from its 256-entry table. */
MCU_LSTM_INLINE int16_t mcu_lstm_activation(int32_t value, int32_t left_shift, int sigmoid) {
  const int32_t multiplier = left_shift < 0 ? 3 : 3 << left_shift;
  const int32_t right = left_shift < 0 ? -left_shift : 0;
  const int32_t rounding = right > 0 ? 1 << (right - 1) : 0;
  const uint32_t abs_shift = sigmoid ? 9u : 8u;
  const int32_t input = (value * multiplier + rounding) >> right;
  const uint32_t magnitude = (uint32_t)(input > 0 ? input : -input);
  const uint32_t index = magnitude >> abs_shift;
  uint32_t result;
  if (index >= 255u) {
    result = sigmoid ? 0x7FFFu << 10 : 0xFFFFu << 8;
  } else {
    const uint32_t low = sigmoid_table_uint16[index], high = sigmoid_table_uint16[index + 1];
    result = (low << abs_shift) + (magnitude & (sigmoid ? 0x1FFu : 0xFFu)) * (high - low);
  }
  if (sigmoid) {
    result = input >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1u;
    return (int16_t)(result >> 10);
  }
  result = input >= 0 ? (result - (1u << 23)) + (1u << 7) : ((-result + (1u << 23)) + (1u << 7) - 1u);
  return (int16_t)(result >> 8);
}

/* arm_nn_requantize. Armv6-M has no 64-bit product: its doubling high multiply is the exact
   32-bit one (fixedpoint_v6m.c), then the same rounding divide. */
MCU_LSTM_INLINE int32_t mcu_lstm_requantize(int32_t value, int32_t multiplier, int32_t shift) {
#if defined(ARM_MATH_DSP) || defined(CMSIS_NN_USE_SINGLE_ROUNDING)
  return arm_nn_requantize(value, multiplier, shift);
#else
  return arm_nn_divide_by_power_of_two(mcu_v6m_doubling_high(value * (1 << LEFT_SHIFT(shift)), multiplier),
                                       RIGHT_SHIFT(shift));
#endif
}

/* The four gates' recurrent sums for hidden unit j: each gate's weight row j against the hidden
   state h, the rows read together so that each hidden value is loaded once for all four. On
   Armv7E-M h comes widened (mcu_lstm_widen): per four values, (h0, h2) and (h1, h3) as int16
   pairs, which SMLAD multiplies with SXTB16 of the weights' word and its rotation. */
MCU_LSTM_INLINE void mcu_lstm_recurrent(const cmsis_nn_lstm_params *p, const int8_t *h, const int32_t *wide,
                                        int32_t n, int32_t j, int32_t sums[4]) {
  const int8_t *w0 = (const int8_t *)p->forget_gate.hidden_weights + j * n;
  const int8_t *w1 = (const int8_t *)p->input_gate.hidden_weights + j * n;
  const int8_t *w2 = (const int8_t *)p->cell_gate.hidden_weights + j * n;
  const int8_t *w3 = (const int8_t *)p->output_gate.hidden_weights + j * n;
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
#if defined(ARM_MATH_DSP)
  for (; k + 4 <= n; k += 4, wide += 2) {
    const int32_t even = wide[0], odd = wide[1];
    int32_t v = arm_nn_read_s8x4(w0 + k);
    s0 = SMLAD(SXTB16(v), even, s0); s0 = SMLAD(SXTB16_RORn(v, 8), odd, s0);
    v = arm_nn_read_s8x4(w1 + k);
    s1 = SMLAD(SXTB16(v), even, s1); s1 = SMLAD(SXTB16_RORn(v, 8), odd, s1);
    v = arm_nn_read_s8x4(w2 + k);
    s2 = SMLAD(SXTB16(v), even, s2); s2 = SMLAD(SXTB16_RORn(v, 8), odd, s2);
    v = arm_nn_read_s8x4(w3 + k);
    s3 = SMLAD(SXTB16(v), even, s3); s3 = SMLAD(SXTB16_RORn(v, 8), odd, s3);
  }
#else
  (void)wide;
#endif
  for (; k < n; ++k) {
    const int32_t x = h[k];
    s0 += x * w0[k]; s1 += x * w1[k]; s2 += x * w2[k]; s3 += x * w3[k];
  }
  sums[0] = s0; sums[1] = s1; sums[2] = s2; sums[3] = s3;
}

/* One gate's value for hidden unit j: arm_nn_lstm_calculate_gate_s8_s16 (the input's product
   requantized and clamped to Q15, then the hidden state's, given as `recurrent`, added and
   clamped, then the activation). */
MCU_LSTM_INLINE int16_t mcu_lstm_gate(const cmsis_nn_lstm_gate *gate, const int8_t *x, int32_t n_in, int has_hidden,
                                      int32_t recurrent, int32_t j) {
  const int8_t *w_in = (const int8_t *)gate->input_weights + j * n_in;
  int32_t value = ((const int32_t *)gate->input_effective_bias)[j];
  for (int32_t k = 0; k < n_in; ++k) value += (int32_t)x[k] * (int32_t)w_in[k];
  value = mcu_lstm_clamp(mcu_lstm_requantize(value, gate->input_multiplier, gate->input_shift), NN_Q15_MIN,
                         NN_Q15_MAX);
  if (has_hidden) {
    recurrent += ((const int32_t *)gate->hidden_effective_bias)[j];
    recurrent = mcu_lstm_requantize(recurrent, gate->hidden_multiplier, gate->hidden_shift);
    value = mcu_lstm_clamp(recurrent + value, NN_Q15_MIN, NN_Q15_MAX);
  }
  return mcu_lstm_activation(value, 0, gate->activation_type == ARM_SIGMOID);
}

/* The whole sequence: input [time_steps][input_size] to output [time_steps][hidden_size], the cell
   state (hidden_size int16) from zero, the hidden state read from the previous step's output.
   `scratch`: hidden_size int16 of the arena (CMSIS-NN's first gate buffer), where Armv7E-M keeps
   the hidden state widened. */
static void mcu_lstm_s8(const int8_t *input, int8_t *output, const cmsis_nn_lstm_params *p, int16_t *cell,
                        int16_t *scratch) {
  const int32_t n_in = p->input_size, n_hidden = p->hidden_size;
  int32_t *wide = (int32_t *)(void *)scratch;  /* the arena's buffers are 16-byte aligned */
  const int8_t *h = NULL;
  for (int32_t j = 0; j < n_hidden; ++j) cell[j] = 0;
  for (int32_t t = 0; t < p->time_steps; ++t) {
    const int8_t *x = input + t * n_in;
    int8_t *y = output + t * n_hidden;
#if defined(ARM_MATH_DSP)
    if (h != NULL) {  /* 2 words per 4 values: floor(n / 4) * 8 bytes, within the buffer's 2n */
      for (int32_t k = 0; k + 4 <= n_hidden; k += 4) {
        const int32_t v = arm_nn_read_s8x4(h + k);
        wide[k / 2] = SXTB16(v);
        wide[k / 2 + 1] = SXTB16_RORn(v, 8);
      }
    }
#endif
    for (int32_t j = 0; j < n_hidden; ++j) {
      int32_t sums[4] = {0, 0, 0, 0};
      if (h != NULL) mcu_lstm_recurrent(p, h, wide, n_hidden, j, sums);
      const int32_t forget = mcu_lstm_gate(&p->forget_gate, x, n_in, h != NULL, sums[0], j);
      const int32_t in = mcu_lstm_gate(&p->input_gate, x, n_in, h != NULL, sums[1], j);
      const int32_t candidate = mcu_lstm_gate(&p->cell_gate, x, n_in, h != NULL, sums[2], j);
      const int32_t out = mcu_lstm_gate(&p->output_gate, x, n_in, h != NULL, sums[3], j);
      /* arm_elementwise_mul_s16, then arm_elementwise_mul_acc_s16 (clamped to the cell clip) */
      int32_t c = mcu_lstm_clamp(mcu_lstm_requantize(forget * cell[j], p->forget_to_cell_multiplier,
                                                     p->forget_to_cell_shift), NN_Q15_MIN, NN_Q15_MAX);
      c = mcu_lstm_clamp(mcu_lstm_requantize(in * candidate, p->input_to_cell_multiplier, p->input_to_cell_shift) + c,
                         -p->cell_clip, p->cell_clip);
      cell[j] = (int16_t)c;
      /* tanh of the cell (arm_nn_activation_s16), then arm_elementwise_mul_s16_s8 */
      const int32_t squashed = mcu_lstm_activation(c, p->cell_scale_power + 12, 0);
      const int32_t hidden = mcu_lstm_requantize(out * squashed, p->output_multiplier, p->output_shift) +
                             p->output_offset;
      y[j] = (int8_t)mcu_lstm_clamp(hidden, NN_Q7_MIN, NN_Q7_MAX);
    }
    h = y;
  }
}
#endif
