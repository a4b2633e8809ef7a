/* main() as Arduino's core has it, once through: setup(), then loop() (an example sketch's loop
   is empty), then exit through semihosting. */
#include "Arduino.h"

ShimSerial Serial;

int main(void) {
  setup();
  loop();
  fflush(stdout);
  return 0;
}
