/* Minimal Cortex-M4 start-up for QEMU's mps2-an386: vector table, FPU on, .data/.bss,
 * constructors, then main; output and exit through newlib's semihosting (librdimon). */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__, __StackTop;
extern int main(void);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);
void Reset_Handler(void);
void SysTick_Handler(void);

void _init(void) {}
void _fini(void) {}

static void Fault_Handler(void) { exit(3); }

__attribute__((section(".isr_vector"), used))
static void (*const vectors[16])(void) = {
    (void (*)(void))&__StackTop, Reset_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, 0, 0, 0, 0,
    Fault_Handler, Fault_Handler, 0, Fault_Handler, SysTick_Handler,
};

void Reset_Handler(void)
{
    uint32_t *src = &__etext, *dst;
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;   /* CPACR: CP10, CP11 full access */
    __asm volatile("dsb\n isb");
    for (dst = &__data_start__; dst < &__data_end__;)
        *dst++ = *src++;
    for (dst = &__bss_start__; dst < &__bss_end__;)
        *dst++ = 0;
    initialise_monitor_handles();
    __libc_init_array();
    exit(main());
}
