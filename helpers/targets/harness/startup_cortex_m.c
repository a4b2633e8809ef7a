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

/* The self-tests time their first inference with this (they declare it weak, for a board without
   the harness): the MPS2 boards' APB timer 0, a CMSDK 32-bit down-counter clocked at 25 MHz,
   started on the first call. QEMU runs these programs with -icount shift=0, one instruction per
   nanosecond of the board's clock, so a tick is 40 instructions (helpers/targets/runner.py). */
#define CMSDK_TIMER0 ((volatile uint32_t *)0x40000000u)  /* CTRL, VALUE, RELOAD */
uint32_t mcu_deploy_ticks(void) {
  if (!(CMSDK_TIMER0[0] & 1u)) {
    CMSDK_TIMER0[2] = 0xFFFFFFFFu;
    CMSDK_TIMER0[1] = 0xFFFFFFFFu;
    CMSDK_TIMER0[0] = 1u;
  }
  return 0xFFFFFFFFu - CMSDK_TIMER0[1];
}

__attribute__((section(".vectors"), used)) const void* const mcu_deploy_vectors[16] = {
    &__stack_top, (const void*)_start,
    (const void*)mcu_deploy_fault_handler, (const void*)mcu_deploy_fault_handler,  /* NMI, HardFault */
    (const void*)mcu_deploy_fault_handler, (const void*)mcu_deploy_fault_handler,  /* MemManage, BusFault */
    (const void*)mcu_deploy_fault_handler,                                        /* UsageFault */
};
