/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal Arm semihosting: text to the debugger's (QEMU's) console, and exit.
 * No C library: SYS_WRITE0 and SYS_EXIT are the only calls used. */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stdint.h>

void sh_puts(const char *text);                 /* SYS_WRITE0 */
void sh_put_u32(uint32_t value);                /* decimal */
void sh_put_hex32(uint32_t value);              /* 0x%08x */
void sh_put_float(float value);                 /* about 7 significant digits */
void sh_exit(int status) __attribute__((noreturn));   /* SYS_EXIT: 0 ok, else failure */

#endif /* SEMIHOST_H */
