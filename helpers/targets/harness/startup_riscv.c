/* mcu-deploy's QEMU harness for RISC-V (not part of the exported firmware): picolibc's semihosting
   start-up (crt0-semihost) sets the stack and gp, copies .data, clears .bss and calls main() and
   exit(); this file only gives the self-tests their counter. Under QEMU with -icount shift=0 the
   minstret CSR counts the instructions retired, so a tick is one instruction. */
#include <stdint.h>

uint32_t mcu_deploy_ticks(void) {
  uint32_t retired;
  __asm volatile(".option push\n .option arch, +zicsr\n csrr %0, minstret\n .option pop" : "=r"(retired));
  return retired;
}
