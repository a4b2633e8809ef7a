/* UNIDIRECTIONAL_SEQUENCE_LSTM with int8 activations and an int16 cell state, as TFLM evaluates it
   (micro/kernels/lstm_eval.h): per time step the forget, input and cell gates, the cell update, the
   output gate and the hidden state. The gates' nonlinearities interpolate in TFLM's sigmoid table. */
typedef struct {
  const int8_t *input_weights;      /* [n_state][n_in] */
  const int8_t *recurrent_weights;  /* [n_state][n_state] */
  const int32_t *bias;              /* [n_state] */
} mcu_lstm_gate;

typedef struct {
  int32_t input_multiplier, input_shift, recurrent_multiplier, recurrent_shift, input_offset, hidden_offset, sigmoid;
} mcu_lstm_gate_quant;

typedef struct {
  int32_t forget_multiplier, forget_shift, input_multiplier, input_shift, hidden_multiplier, hidden_shift,
      quantized_clip, tanh_multiplier, tanh_shift, hidden_zero_point;
} mcu_lstm_cell_quant;

static inline int32_t mcu_sat16(int32_t v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }

static inline int16_t mcu_sigmoid16(int32_t v) {
  /* reference_integer_ops::Logistic on int16: Q3.12 in, Q0.15 out. */
  v *= 3;
  const int32_t a = v < 0 ? -v : v;
  const int32_t high = a >> 9;
  int32_t r;
  if (high >= 255) {
    r = 0x7FFF << 10;
  } else {
    const int32_t low = (int32_t)mcu_sigmoid_table[high];
    r = (low << 9) + (a & 0x1FF) * ((int32_t)mcu_sigmoid_table[high + 1] - low);
  }
  r = v >= 0 ? r + 512 : (1 << 25) - r + 511;
  return (int16_t)(r >> 10);
}

static inline int16_t mcu_tanh16(int32_t v, int32_t multiplier, int32_t shift) {
  /* reference_integer_ops::Tanh on int16; multiplier and shift bring the input to Q3.12. */
  v = (v * multiplier + (shift > 0 ? (1 << (shift - 1)) : 0)) >> shift;
  const int32_t a = v < 0 ? -v : v;
  const int32_t high = a >> 8;
  int32_t r;
  if (high >= 255) {
    r = 0xFFFF << 8;
  } else {
    const int32_t low = (int32_t)mcu_sigmoid_table[high];
    r = (low << 8) + (a & 0xFF) * ((int32_t)mcu_sigmoid_table[high + 1] - low);
  }
  r = v >= 0 ? r - (1 << 23) + 128 : -r + (1 << 23) + 127;
  return (int16_t)(r >> 8);
}

static inline void mcu_lstm_matvec_i8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t *acc, int32_t n_in,
                                      int32_t n_out) {
  for (int32_t o = 0; o < n_out; ++o) {
    int32_t total = 0;
    for (int32_t i = 0; i < n_in; ++i) total += ((int32_t)x[i] + x_offset) * (int32_t)w[o * n_in + i];
    acc[o] = total;
  }
}

static inline void mcu_lstm_gate_i8(const int8_t *x, const int8_t *hidden, const mcu_lstm_gate *g,
                                    const mcu_lstm_gate_quant *q, int32_t *acc, int16_t *out, int32_t n_in,
                                    int32_t n_state) {
  mcu_lstm_matvec_i8(x, q->input_offset, g->input_weights, acc, n_in, n_state);
  for (int32_t o = 0; o < n_state; ++o) {
    out[o] = (int16_t)mcu_sat16(mcu_mbqm(acc[o] + g->bias[o], q->input_multiplier, q->input_shift));
  }
  mcu_lstm_matvec_i8(hidden, q->hidden_offset, g->recurrent_weights, acc, n_state, n_state);
  for (int32_t o = 0; o < n_state; ++o) {
    const int32_t v = mcu_sat16(out[o] + mcu_sat16(mcu_mbqm(acc[o], q->recurrent_multiplier, q->recurrent_shift)));
    out[o] = q->sigmoid ? mcu_sigmoid16(v) : mcu_tanh16(v, 3, 0);
  }
}

static inline void mcu_lstm_i8(const int8_t *x, int8_t *y, const mcu_lstm_gate *gates,
                               const mcu_lstm_gate_quant *quant, const mcu_lstm_cell_quant *c, int32_t steps,
                               int32_t n_in, int32_t n_state, int8_t *hidden, int16_t *cell, int32_t *acc,
                               int16_t *forget, int16_t *input, int16_t *update, int16_t *output) {
  for (int32_t t = 0; t < steps; ++t) {
    const int8_t *xt = x + t * n_in;
    mcu_lstm_gate_i8(xt, hidden, &gates[0], &quant[0], acc, forget, n_in, n_state);
    mcu_lstm_gate_i8(xt, hidden, &gates[1], &quant[1], acc, input, n_in, n_state);
    mcu_lstm_gate_i8(xt, hidden, &gates[2], &quant[2], acc, update, n_in, n_state);
    for (int32_t k = 0; k < n_state; ++k) {
      const int32_t kept = mcu_sat16(mcu_mbqm((int32_t)forget[k] * cell[k], c->forget_multiplier, c->forget_shift));
      const int32_t added = mcu_sat16(mcu_mbqm((int32_t)input[k] * update[k], c->input_multiplier, c->input_shift));
      int32_t v = mcu_sat16(kept + added);
      if (c->quantized_clip > 0) v = mcu_clamp(v, -c->quantized_clip, c->quantized_clip);
      cell[k] = (int16_t)v;
    }
    mcu_lstm_gate_i8(xt, hidden, &gates[3], &quant[3], acc, output, n_in, n_state);
    for (int32_t k = 0; k < n_state; ++k) {
      const int32_t product = (int32_t)mcu_tanh16(cell[k], c->tanh_multiplier, c->tanh_shift) * output[k];
      const int8_t v = (int8_t)mcu_clamp(mcu_mbqm(product, c->hidden_multiplier, c->hidden_shift) +
                                         c->hidden_zero_point, -128, 127);
      hidden[k] = v;
      y[t * n_state + k] = v;
    }
  }
}
