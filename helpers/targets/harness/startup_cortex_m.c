/* mcu-deploy's QEMU harness (not part of the exported firmware): the vector table a Cortex-M needs
   at address 0, for the self-test run under qemu-system-arm. Reset goes to newlib's semihosting
   start-up (_start from rdimon), which clears .bss, calls constructors, main() and exit(). */
#include <stdint.h>

extern void _start(void);
extern uint32_t __stack_top;

/* A fault must end the run, not hang QEMU: report it through semihosting's SYS_EXIT. */
void mcu_deploy_fault_handler(void) {
  /* 0x18 = SYS_EXIT; 0x20023 = ADP_Stopped_RunTimeErrorUnknown, which QEMU turns into exit code 1. */
  __asm volatile("movs r0, #0x18\n ldr r1, =0x20023\n bkpt 0xab\n" ::: "r0", "r1");
  for (;;) {
  }
}

__attribute__((section(".vectors"), used)) const void* const mcu_deploy_vectors[16] = {
    &__stack_top, (const void*)_start,
    (const void*)mcu_deploy_fault_handler, (const void*)mcu_deploy_fault_handler,  /* NMI, HardFault */
    (const void*)mcu_deploy_fault_handler, (const void*)mcu_deploy_fault_handler,  /* MemManage, BusFault */
    (const void*)mcu_deploy_fault_handler,                                        /* UsageFault */
};
