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

/* Nothing of libstdc++ is linked (TFLM builds without exceptions and RTTI, and the empty
   riscv_lib/libstdc++.a only answers g++'s -lstdc++). A class with a virtual destructor still
   names the deleting destructor's operator delete, and an abstract one __cxa_pure_virtual: TFLM
   never frees through them (it allocates from its arena), so they only have to exist. */
__attribute__((weak)) void mcu_deploy_operator_delete(void* pointer) __asm__("_ZdlPv");
__attribute__((weak)) void mcu_deploy_operator_delete(void* pointer) { (void)pointer; }
__attribute__((weak)) void mcu_deploy_operator_delete_sized(void* pointer, unsigned int size) __asm__("_ZdlPvj");
__attribute__((weak)) void mcu_deploy_operator_delete_sized(void* pointer, unsigned int size) {
  (void)pointer;
  (void)size;
}
__attribute__((weak)) void __cxa_pure_virtual(void) {
  for (;;) {
  }
}
