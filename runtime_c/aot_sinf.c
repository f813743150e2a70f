/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_trig_impl.h"

/* sin(x) without libc; the reduction and polynomials are in aot_trig_impl.h. */
float aot_sinf(float x)
{
    aot_trig_bits b;
    uint32_t sign, n;
    float ax, y, s;

    b.f = x;
    sign = b.u & 0x80000000u;
    b.u &= 0x7fffffffu;
    if (b.u >= 0x7f800000u) {
        return x - x; /* NaN for inf and NaN */
    }
    if (b.u < 0x39800000u) {
        return x; /* |x| < 2^-12: sin(x) rounds to x; keeps -0 */
    }
    ax = b.f;
    if (ax <= AOT_PIO4) {
        return aot_sin_poly(x);
    }
    y = aot_trig_reduce(ax, &n);
    s = (n & 1u) ? aot_cos_poly(y) : aot_sin_poly(y);
    if (n & 2u) {
        s = -s;
    }
    return sign ? -s : s;
}
