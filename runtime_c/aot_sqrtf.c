/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"

/*
 * Correctly rounded square root in integer arithmetic, so that soft-float
 * cores (Cortex-M0/M3) need no libm and every target gives the same bits.
 * (__builtin_sqrtf is not enough: with the default -fmath-errno gcc still
 * calls libm's sqrtf for negative inputs, and soft-float builds always do.)
 *
 * x = m * 2^e with a 24-bit m. m is shifted left by 25 or 26 bits, whichever
 * leaves an even exponent, so M = m << s lies in [2^48, 2^50) and its
 * integer square root q in [2^24, 2^25): 24 result bits plus a round bit,
 * with the remainder as the sticky bit. Round to nearest, ties to even.
 */

typedef union {
    float f;
    uint32_t u;
} aot_f32_bits;

float aot_sqrtf(float x)
{
    aot_f32_bits b;
    uint64_t rem, res, one;
    uint32_t m, q;
    int32_t e, shift, k;

    b.f = x;
    if ((b.u & 0x7fffffffu) == 0u) {
        return x; /* +-0 */
    }
    if (b.u > 0x7f800000u) {
        if ((b.u & 0x7fffffffu) > 0x7f800000u) {
            return x + x; /* NaN: quiet it and pass it on */
        }
        b.u = 0x7fc00000u; /* sqrt of a negative number, -inf included */
        return b.f;
    }
    if (b.u == 0x7f800000u) {
        return x;
    }
    e = (int32_t)(b.u >> 23);
    m = b.u & 0x007fffffu;
    if (e == 0) {
        e = 1; /* subnormal: normalize the mantissa */
        while ((m & 0x00800000u) == 0u) {
            m <<= 1;
            --e;
        }
    } else {
        m |= 0x00800000u;
    }
    e -= 150; /* x = m * 2^e */
    shift = (e & 1) ? 25 : 26;
    rem = (uint64_t)m << shift;
    e -= shift;
    res = 0u;
    for (one = (uint64_t)1 << 48; one != 0u; one >>= 2) {
        if (rem >= res + one) {
            rem -= res + one;
            res = (res >> 1) + one;
        } else {
            res >>= 1;
        }
    }
    q = (uint32_t)res;
    k = e / 2 + 1; /* result = (q >> 1) * 2^k, before rounding */
    m = q >> 1;
    if ((q & 1u) && (rem != 0u || (m & 1u))) {
        ++m; /* may carry into 2^24: the exponent field absorbs it */
    }
    b.u = ((uint32_t)(k + 149) << 23) + m;
    return b.f;
}
