/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"

/*
 * Whatever the flags, this function must not end up calling libc: without
 * -ffreestanding, GCC turns fill loops into calls to memset from -O2 on.
 * (Clang does the same unless freestanding, but has no per-function switch.)
 */
#if defined(__GNUC__) && !defined(__clang__)
#define AOT_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define AOT_NO_LIBCALL
#endif

#if defined(__GNUC__) || defined(__clang__)
/* A word type allowed to alias any object, like char. */
typedef uint32_t __attribute__((__may_alias__)) aot_alias_word;
#define AOT_HAVE_ALIAS_WORD 1
#endif

AOT_NO_LIBCALL void aot_memset(void *dst, int value, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    unsigned char byte = (unsigned char)value;

#ifdef AOT_HAVE_ALIAS_WORD
    /* Tensors are almost always 4-byte aligned: fill whole words then. */
    if (((uintptr_t)d & 3u) == 0u) {
        aot_alias_word *dw = (aot_alias_word *)(void *)d;
        aot_alias_word word = (aot_alias_word)byte * 0x01010101u;
        size_t words = n / 4u;
        size_t i;
        for (i = 0; i < words; ++i) {
            dw[i] = word;
        }
        d += words * 4u;
        n -= words * 4u;
    }
#endif
    while (n > 0u) {
        *d++ = byte;
        --n;
    }
}
