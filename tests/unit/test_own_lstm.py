"""The engine's own fused int8 LSTM (helpers/emit/c_kernels/lstm_s8.c) against CMSIS-NN's
arm_lstm_unidirectional_s8, both compiled here from the pinned tree and given the same
cmsis_nn_lstm_params: 400 random layers (1 to 24 units, 1 to 6 inputs, 1 to 7 time steps, every
gate's multipliers and shifts, both activations, the cell clip and the output offset drawn at
random, sums large enough to saturate the Q15 clamps and the tables' ends), every output and
the final cell state identical; and both activations on every int16 value at every shift they
take. The engines' host test (test_c_engine_host) runs it on the golden LSTMs against TFLM;
tests/e2e/test_c_engine.py checks that the shipped LSTM's export measured it faster than CMSIS-NN's
on the Cortex-M4 and the Cortex-M0+, kept it, and stayed identical to TFLM there."""
from __future__ import annotations

import subprocess

from helpers.emit.c_engine import KERNEL_DIR
from tests.conftest import TFLM_DIR, require_tool

CMSIS = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads/cmsis_nn"
SOURCES = ("LSTMFunctions/arm_lstm_unidirectional_s8.c", "NNSupportFunctions/arm_nn_lstm_step_s8.c",
           "NNSupportFunctions/arm_nn_lstm_calculate_gate_s8_s16.c",
           "NNSupportFunctions/arm_nn_vec_mat_mul_result_acc_s8_s16.c", "ActivationFunctions/arm_nn_activation_s16.c",
           "BasicMathFunctions/arm_elementwise_mul_s16.c", "BasicMathFunctions/arm_elementwise_mul_acc_s16.c",
           "BasicMathFunctions/arm_elementwise_mul_s16_s8.c", "NNSupportFunctions/arm_nntables.c")

_HARNESS = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "arm_nnfunctions.h"
#include "fixedpoint_v6m.c"
#include "lstm_s8.c"

static uint32_t state = 36u;
static int32_t draw(int32_t low, int32_t high) {  /* xorshift: the same layers on every machine */
  state ^= state << 13; state ^= state >> 17; state ^= state << 5;
  return low + (int32_t)(state % (uint32_t)(high - low + 1));
}
static void fill8(int8_t *v, int n) { for (int i = 0; i < n; ++i) v[i] = (int8_t)draw(-128, 127); }
static void fill32(int32_t *v, int n, int32_t m) { for (int i = 0; i < n; ++i) v[i] = draw(-m, m); }

enum { MAX_H = 24, MAX_IN = 6, MAX_T = 7 };
static int8_t w_in[4][MAX_H * MAX_IN], w_h[4][MAX_H * MAX_H];
static int32_t b_in[4][MAX_H], b_h[4][MAX_H];
static int8_t input[MAX_T * MAX_IN], theirs[MAX_T * MAX_H], mine[MAX_T * MAX_H];
static int16_t cell_theirs[MAX_H], cell_mine[MAX_H], temp1[MAX_H], temp2[MAX_H];
static int16_t scratch[MAX_H] __attribute__((aligned(4)));

int main(void) {
  int differing = 0;
  for (int layer = 0; layer < 400; ++layer) {
    cmsis_nn_lstm_params p;
    memset(&p, 0, sizeof(p));
    p.time_major = 1; p.batch_size = 1;
    p.time_steps = draw(1, MAX_T); p.input_size = draw(1, MAX_IN); p.hidden_size = draw(1, MAX_H);
    p.forget_to_cell_multiplier = draw(1 << 30, 0x7FFFFFFF); p.forget_to_cell_shift = draw(-20, 0);
    p.input_to_cell_multiplier = draw(1 << 30, 0x7FFFFFFF); p.input_to_cell_shift = draw(-20, 0);
    p.cell_clip = draw(0, 3) == 0 ? draw(1000, 32767) : 32767;
    p.cell_scale_power = draw(-15, -8);
    p.output_multiplier = draw(1 << 30, 0x7FFFFFFF); p.output_shift = draw(-22, -8);
    p.output_offset = draw(-128, 127);
    cmsis_nn_lstm_gate *gates[4] = {&p.forget_gate, &p.input_gate, &p.cell_gate, &p.output_gate};
    for (int g = 0; g < 4; ++g) {
      fill8(w_in[g], p.hidden_size * p.input_size); fill8(w_h[g], p.hidden_size * p.hidden_size);
      fill32(b_in[g], p.hidden_size, 1 << draw(4, 20)); fill32(b_h[g], p.hidden_size, 1 << draw(4, 20));
      gates[g]->input_multiplier = draw(1 << 30, 0x7FFFFFFF); gates[g]->input_shift = draw(-12, 2);
      gates[g]->hidden_multiplier = draw(1 << 30, 0x7FFFFFFF); gates[g]->hidden_shift = draw(-12, 2);
      gates[g]->input_weights = w_in[g]; gates[g]->input_effective_bias = b_in[g];
      gates[g]->hidden_weights = w_h[g]; gates[g]->hidden_effective_bias = b_h[g];
      gates[g]->activation_type = g == 2 ? ARM_TANH : ARM_SIGMOID;
      if (draw(0, 7) == 0) gates[g]->activation_type = g == 2 ? ARM_SIGMOID : ARM_TANH;
    }
    fill8(input, p.time_steps * p.input_size);
    cmsis_nn_lstm_context buffers = {temp1, temp2, cell_theirs, NULL};
    if (arm_lstm_unidirectional_s8(input, theirs, &p, &buffers) != ARM_CMSIS_NN_SUCCESS) return 2;
    mcu_lstm_s8(input, mine, &p, cell_mine, scratch);
    int n = p.time_steps * p.hidden_size;
    differing += memcmp(theirs, mine, (size_t)n) != 0 ||
                 memcmp(cell_theirs, cell_mine, sizeof(int16_t) * (size_t)p.hidden_size) != 0;
  }
  /* the activations on every int16 value, at the gates' shift (0) and every cell shift the
     converter makes (cell_scale_power + 12, cell_scale_power from -15 to -8) */
  for (int32_t left = -3; left <= 4; ++left) {
    for (int32_t value = -32768; value <= 32767; ++value) {
      int16_t in = (int16_t)value, sig, tanh_;
      arm_nn_activation_s16(&in, &sig, 1, left, ARM_SIGMOID);
      arm_nn_activation_s16(&in, &tanh_, 1, left, ARM_TANH);
      differing += sig != mcu_lstm_activation(value, left, 1);
      differing += tanh_ != mcu_lstm_activation(value, left, 0);
    }
  }
  printf("DIFFERING %d\n", differing);
  return 0;
}
'''


def test_the_fused_lstm_is_cmsis_nns_on_random_layers(tmp_path):
    require_tool("cc")
    require_tool("tflm")
    (tmp_path / "harness.c").write_text(_HARNESS)
    program = tmp_path / "harness"
    subprocess.run(["gcc", "-O2", "-std=c99", "-Wall", "-Werror", "-DMCU_ENGINE_V6M_KERNELS", f"-I{KERNEL_DIR}",
                    f"-I{CMSIS / 'Include'}", str(tmp_path / "harness.c"),
                    *(str(CMSIS / "Source" / source) for source in SOURCES), "-o", str(program)],
                   check=True, capture_output=True, text=True)
    run = subprocess.run([str(program)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["DIFFERING", "0"]
