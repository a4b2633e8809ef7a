/* A firmware of its own for a Cortex-M4 (QEMU's mps2-an386 board) that runs the digits CNN through
   the C engine mcu-deploy generated: no TFLM, no interpreter, no heap. One real evaluation row from
   the export stands in for the sensor; a board reads its own. */
#include <stdio.h>

#include "digits_cnn_engine.h"
#include "digits_cnn_test_data.h"

int main(void) {
  static int8_t scores[DIGITS_CNN_ENGINE_OUTPUT_SIZE];
  if (digits_cnn_engine_invoke(g_digits_cnn_test_inputs[0], scores) != 0) {
    printf("invoke failed\n");
    return 1;
  }
  int best = 0;
  for (int i = 1; i < DIGITS_CNN_ENGINE_OUTPUT_SIZE; ++i) {
    if (scores[i] > scores[best]) best = i;
  }
  printf("predicted digit %d (label %d), score %d\n", best, g_digits_cnn_test_labels[0], (int)scores[best]);
  return 0;
}
