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

static inline int32_t mcu_lstm_clamp(int32_t value, int32_t low, int32_t high) {
  return value < low ? low : (value > high ? high : value);
}

/* arm_nn_activation_s16 on one value: sigmoid (ARM_SIGMOID) or tanh from its 256-entry table. */
static inline int16_t mcu_lstm_activation(int32_t value, int32_t left_shift, int sigmoid) {
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

static inline int32_t mcu_lstm_dot(const int8_t *a, const int8_t *b, int32_t count) {
  int32_t sum = 0;
  for (int32_t k = 0; k < count; ++k) sum += (int32_t)a[k] * (int32_t)b[k];
  return sum;
}

/* One gate's value for hidden unit j: arm_nn_lstm_calculate_gate_s8_s16 (the input's product
   requantized and clamped to Q15, then the hidden state's added and clamped, then the activation). */
static inline int16_t mcu_lstm_gate(const cmsis_nn_lstm_gate *gate, const int8_t *x, int32_t n_in, const int8_t *h,
                                    int32_t n_hidden, int32_t j) {
  const int8_t *w_in = (const int8_t *)gate->input_weights + j * n_in;
  int32_t value = ((const int32_t *)gate->input_effective_bias)[j] + mcu_lstm_dot(x, w_in, n_in);
  value = mcu_lstm_clamp(arm_nn_requantize(value, gate->input_multiplier, gate->input_shift), NN_Q15_MIN, NN_Q15_MAX);
  if (h != NULL) {
    const int8_t *w_h = (const int8_t *)gate->hidden_weights + j * n_hidden;
    int32_t recurrent = ((const int32_t *)gate->hidden_effective_bias)[j] + mcu_lstm_dot(h, w_h, n_hidden);
    recurrent = arm_nn_requantize(recurrent, gate->hidden_multiplier, gate->hidden_shift);
    value = mcu_lstm_clamp(recurrent + value, NN_Q15_MIN, NN_Q15_MAX);
  }
  return mcu_lstm_activation(value, 0, gate->activation_type == ARM_SIGMOID);
}

/* The whole sequence: input [time_steps][input_size] to output [time_steps][hidden_size], the cell
   state (hidden_size int16) from zero, the hidden state read from the previous step's output. */
static void mcu_lstm_s8(const int8_t *input, int8_t *output, const cmsis_nn_lstm_params *p, int16_t *cell) {
  const int32_t n_in = p->input_size, n_hidden = p->hidden_size;
  const int8_t *h = NULL;
  for (int32_t j = 0; j < n_hidden; ++j) cell[j] = 0;
  for (int32_t t = 0; t < p->time_steps; ++t) {
    const int8_t *x = input + t * n_in;
    int8_t *y = output + t * n_hidden;
    for (int32_t j = 0; j < n_hidden; ++j) {
      const int32_t forget = mcu_lstm_gate(&p->forget_gate, x, n_in, h, n_hidden, j);
      const int32_t in = mcu_lstm_gate(&p->input_gate, x, n_in, h, n_hidden, j);
      const int32_t candidate = mcu_lstm_gate(&p->cell_gate, x, n_in, h, n_hidden, j);
      const int32_t out = mcu_lstm_gate(&p->output_gate, x, n_in, h, n_hidden, j);
      /* arm_elementwise_mul_s16, then arm_elementwise_mul_acc_s16 (clamped to the cell clip) */
      int32_t c = mcu_lstm_clamp(arm_nn_requantize(forget * cell[j], p->forget_to_cell_multiplier,
                                                   p->forget_to_cell_shift), NN_Q15_MIN, NN_Q15_MAX);
      c = mcu_lstm_clamp(arm_nn_requantize(in * candidate, p->input_to_cell_multiplier, p->input_to_cell_shift) + c,
                         -p->cell_clip, p->cell_clip);
      cell[j] = (int16_t)c;
      /* tanh of the cell (arm_nn_activation_s16), then arm_elementwise_mul_s16_s8 */
      const int32_t squashed = mcu_lstm_activation(c, p->cell_scale_power + 12, 0);
      const int32_t hidden = arm_nn_requantize(out * squashed, p->output_multiplier, p->output_shift) + p->output_offset;
      y[j] = (int8_t)mcu_lstm_clamp(hidden, NN_Q7_MIN, NN_Q7_MAX);
    }
    h = y;
  }
}
#endif
