/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_trig_impl.h"

/* cos(x) without libc; the reduction and polynomials are in aot_trig_impl.h. */
float aot_cosf(float x)
{
    aot_trig_bits b;
    uint32_t n;
    float ax, y, c;

    b.f = x;
    b.u &= 0x7fffffffu;
    if (b.u >= 0x7f800000u) {
        return x - x; /* NaN for inf and NaN */
    }
    ax = b.f;
    if (ax <= AOT_PIO4) {
        return aot_cos_poly(ax);
    }
    y = aot_trig_reduce(ax, &n);
    c = (n & 1u) ? aot_sin_poly(y) : aot_cos_poly(y);
    /* quadrants 1 and 2 are negative: cos(y + pi/2) = -sin(y), cos(y + pi) = -cos(y) */
    return (((n + 1u) & 2u) != 0u) ? -c : c;
}
