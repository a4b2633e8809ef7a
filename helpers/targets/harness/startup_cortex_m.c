/* mcu-deploy's QEMU harness (not part of the exported firmware): the vector table a Cortex-M needs
   at its boot address, for the self-test run under qemu-system-arm. Reset goes to newlib's
   semihosting start-up (_start from rdimon), which clears .bss, calls constructors, main() and
   exit(). Each board's build defines (helpers/targets/target.py):
     MCU_DEPLOY_CMSDK_TIMER  the address of a CMSDK APB timer the program may use (default: the MPS2
                             boards' timer 0), or MCU_DEPLOY_SYSTICK to count with SysTick instead;
     MCU_DEPLOY_ENABLE_FPU   grant the FPU (and MVE) before _start, for code built with hard float. */
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

#ifdef MCU_DEPLOY_ENABLE_FPU
/* Full access to CP10 and CP11 (the FPU and, on Armv8.1-M, MVE) before any code may use them. */
__attribute__((naked, noreturn)) void mcu_deploy_reset(void) {
  __asm volatile("ldr r0, =0xE000ED88\n ldr r1, [r0]\n orr r1, r1, #(0xF << 20)\n str r1, [r0]\n"
                 "dsb\n isb\n b _start\n");
}
#define MCU_DEPLOY_RESET mcu_deploy_reset
#else
#define MCU_DEPLOY_RESET _start
#endif

/* The self-tests time their first inference with this (they declare it weak, for a board without
   the harness). QEMU runs these programs with -icount shift=0, one instruction per nanosecond of
   the board's clock, so a tick is as many instructions as the counter's period in nanoseconds
   (Target.instructions_per_tick in helpers/targets/target.py). */
#ifdef MCU_DEPLOY_SYSTICK
/* SysTick on the processor clock: 24 bits, so its wraps are counted by its interrupt. */
#define SYST ((volatile uint32_t *)0xE000E010u)  /* CSR, RVR, CVR */
static volatile uint32_t mcu_deploy_wraps;
void mcu_deploy_systick(void) { mcu_deploy_wraps++; }
uint32_t mcu_deploy_ticks(void) {
  if (!(SYST[0] & 1u)) {
    SYST[1] = 0xFFFFFFu;
    SYST[2] = 0u;
    SYST[0] = 7u;  /* enable, interrupt on wrap, processor clock */
    return 0u;     /* the counter reads 0 until its first reload, one tick from now */
  }
  uint32_t wraps, value;
  do {
    wraps = mcu_deploy_wraps;
    value = SYST[2];
  } while (wraps != mcu_deploy_wraps);
  return (wraps << 24) + (0xFFFFFFu - value);
}
#define MCU_DEPLOY_SYSTICK_HANDLER (const void*)mcu_deploy_systick
#else
/* A CMSDK 32-bit APB down-counter, started on the first call. */
#ifndef MCU_DEPLOY_CMSDK_TIMER
#define MCU_DEPLOY_CMSDK_TIMER 0x40000000u
#endif
#define CMSDK_TIMER0 ((volatile uint32_t *)MCU_DEPLOY_CMSDK_TIMER)  /* CTRL, VALUE, RELOAD */
uint32_t mcu_deploy_ticks(void) {
  if (!(CMSDK_TIMER0[0] & 1u)) {
    CMSDK_TIMER0[2] = 0xFFFFFFFFu;
    CMSDK_TIMER0[1] = 0xFFFFFFFFu;
    CMSDK_TIMER0[0] = 1u;
  }
  return 0xFFFFFFFFu - CMSDK_TIMER0[1];
}
#define MCU_DEPLOY_SYSTICK_HANDLER 0
#endif

__attribute__((section(".vectors"), used)) const void* const mcu_deploy_vectors[16] = {
    &__stack_top, (const void*)MCU_DEPLOY_RESET,
    (const void*)mcu_deploy_fault_handler, (const void*)mcu_deploy_fault_handler,  /* NMI, HardFault */
    (const void*)mcu_deploy_fault_handler, (const void*)mcu_deploy_fault_handler,  /* MemManage, BusFault */
    (const void*)mcu_deploy_fault_handler,                                        /* UsageFault */
    0, 0, 0, 0, 0, 0, 0, 0, MCU_DEPLOY_SYSTICK_HANDLER,                           /* ..., SysTick */
};
