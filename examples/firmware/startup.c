/* SPDX-License-Identifier: Apache-2.0 */
/* Cortex-M4 startup for mps2-an386: the vector table, and a reset handler that
 * enables the FPU, copies .data from flash, zeroes .bss and calls main. */
#include <stdint.h>

#include "semihost.h"

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

/* From the linker script. */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* The 16 Cortex-M system vectors (no interrupts are used). */
__attribute__((section(".vectors"), used))
static const uintptr_t vectors[16] = {
    (uintptr_t)_estack,        /* initial stack pointer */
    (uintptr_t)Reset_Handler,
    (uintptr_t)Fault_Handler,  /* NMI */
    (uintptr_t)Fault_Handler,  /* HardFault */
    (uintptr_t)Fault_Handler,  /* MemManage */
    (uintptr_t)Fault_Handler,  /* BusFault */
    (uintptr_t)Fault_Handler,  /* UsageFault */
    0, 0, 0, 0,
    (uintptr_t)Fault_Handler,  /* SVCall */
    (uintptr_t)Fault_Handler,  /* DebugMonitor */
    0,
    (uintptr_t)Fault_Handler,  /* PendSV */
    (uintptr_t)Fault_Handler,  /* SysTick */
};

void Reset_Handler(void)
{
    uint32_t *src = _sidata;
    uint32_t *dst;

    /* FPU: full access to CP10 and CP11 before the first floating-point instruction
     * (the models are built with -mfloat-abi=hard). */
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (dst = _sdata; dst < _edata; dst++) {
        *dst = *src++;
    }
    for (dst = _sbss; dst < _ebss; dst++) {
        *dst = 0u;
    }
    sh_exit(main());
}

void Fault_Handler(void)
{
    sh_puts("fault: an exception other than reset\n");
    sh_exit(1);
}
