/* SPDX-License-Identifier: Apache-2.0 */
/* Arm semihosting via BKPT 0xAB (M-profile), for QEMU's -semihosting. Without a
 * debugger or -semihosting the BKPT faults: this is for the emulator (and a board
 * under a semihosting-capable debug probe). */
#include "semihost.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

static int32_t semihost(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_puts(const char *text)
{
    (void)semihost(SYS_WRITE0, text);
}

void sh_put_u32(uint32_t value)
{
    char buf[11];
    int i = 10;

    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    sh_puts(&buf[i]);
}

void sh_put_hex32(uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char buf[11];
    int i;

    buf[0] = '0';
    buf[1] = 'x';
    for (i = 0; i < 8; i++) {
        buf[2 + i] = digits[(value >> (28 - 4 * i)) & 0xFu];
    }
    buf[10] = '\0';
    sh_puts(buf);
}

/* For people reading the console: sign, integer part, 7 decimals (|value| < 4e9). */
void sh_put_float(float value)
{
    uint32_t whole, frac, scale;

    if (value != value) {
        sh_puts("nan");
        return;
    }
    if (value < 0.0f) {
        sh_puts("-");
        value = -value;
    }
    if (value >= 4.0e9f) {
        sh_puts("inf");
        return;
    }
    whole = (uint32_t)value;
    frac = (uint32_t)((value - (float)whole) * 1.0e7f + 0.5f);
    if (frac >= 10000000u) {
        whole += 1u;
        frac -= 10000000u;
    }
    sh_put_u32(whole);
    sh_puts(".");
    for (scale = 1000000u; scale > frac && scale > 1u; scale /= 10u) {
        sh_puts("0");
    }
    sh_put_u32(frac);
}

void sh_exit(int status)
{
    (void)semihost(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                     : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}
