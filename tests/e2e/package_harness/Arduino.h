/* The part of Arduino's core an example sketch of a --package arduino library uses, for a build
   under QEMU (tests/e2e/test_packages.py): Serial prints through semihosting's stdout. */
#ifndef MCU_DEPLOY_ARDUINO_SHIM_H_
#define MCU_DEPLOY_ARDUINO_SHIM_H_

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

class ShimSerial {
 public:
  void begin(unsigned long) {}
  explicit operator bool() const { return true; }
  size_t print(const char *text) { return (size_t)fputs(text, stdout) >= 0 ? strlen(text) : 0; }
  size_t println(const char *text) { return print(text) + print("\n"); }
};

extern ShimSerial Serial;

void setup(void);
void loop(void);

#endif
