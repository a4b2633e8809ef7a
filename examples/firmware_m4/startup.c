/* The vector table at address 0: reset runs newlib's start-up (_start, semihosted: printf reaches
   the host), which clears .bss and calls main(); a fault exits through semihosting. */
#include <stdint.h>

extern void _start(void);
extern uint32_t __stack_top;

void fault_handler(void) {
  __asm volatile("movs r0, #0x18\n ldr r1, =0x20023\n bkpt 0xab\n" ::: "r0", "r1");
  for (;;) {
  }
}

__attribute__((section(".vectors"), used)) const void *const vectors[16] = {
    &__stack_top, (const void *)_start, (const void *)fault_handler, (const void *)fault_handler,
    (const void *)fault_handler, (const void *)fault_handler, (const void *)fault_handler,
};
