/* UNIDIRECTIONAL_SEQUENCE_LSTM in float32, as TFLM evaluates it (micro/kernels/lstm_eval.h). */
typedef struct {
  const float *input_weights;
  const float *recurrent_weights;
  const float *bias;  /* NULL: none */
} mcu_lstm_gate_f;

static inline float mcu_sigmoid_f(float v) {
  if (v > 16.619047164916992f) return 1.0f;
  if (v < -9.0f) return expf(v);
  return 1.0f / (1.0f + expf(-v));
}

static inline void mcu_lstm_gate_f32(const float *x, const float *hidden, const mcu_lstm_gate_f *g, float *out,
                                     int32_t n_in, int32_t n_state, int32_t sigmoid) {
  for (int32_t k = 0; k < n_state; ++k) {
    float from_input = g->bias ? g->bias[k] : 0.0f;
    for (int32_t j = 0; j < n_in; ++j) from_input += x[j] * g->input_weights[k * n_in + j];
    float from_hidden = 0.0f;
    for (int32_t j = 0; j < n_state; ++j) from_hidden += hidden[j] * g->recurrent_weights[k * n_state + j];
    const float v = from_input + from_hidden;
    out[k] = sigmoid ? mcu_sigmoid_f(v) : tanhf(v);
  }
}

static inline void mcu_lstm_f(const float *x, float *y, const mcu_lstm_gate_f *gates, int32_t cell_sigmoid,
                              float clip, int32_t steps, int32_t n_in, int32_t n_state, float *hidden, float *cell,
                              float *forget, float *input, float *update, float *output) {
  for (int32_t t = 0; t < steps; ++t) {
    const float *xt = x + t * n_in;
    mcu_lstm_gate_f32(xt, hidden, &gates[0], forget, n_in, n_state, 1);
    mcu_lstm_gate_f32(xt, hidden, &gates[1], input, n_in, n_state, 1);
    mcu_lstm_gate_f32(xt, hidden, &gates[2], update, n_in, n_state, cell_sigmoid);
    for (int32_t k = 0; k < n_state; ++k) {
      float v = forget[k] * cell[k] + input[k] * update[k];
      if (clip > 0.0f) v = v < -clip ? -clip : v > clip ? clip : v;
      cell[k] = v;
    }
    mcu_lstm_gate_f32(xt, hidden, &gates[3], output, n_in, n_state, 1);
    for (int32_t k = 0; k < n_state; ++k) {
      hidden[k] = output[k] * tanhf(cell[k]);
      y[t * n_state + k] = hidden[k];
    }
  }
}
