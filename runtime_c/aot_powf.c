/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"

/*
 * x^y without libc, with C99 pow's special cases: x^0 = 1 and 1^y = 1 even
 * for NaN, a negative x only with an integer y (else NaN), signed zeros and
 * infinities for x = +-0.
 *
 * y = 0.5 is a correctly rounded square root. Small integer exponents
 * (|y| <= 64) multiply by repeated squaring (x^2 is exactly the rounded
 * x * x). Other exponents use e^(y * log|x|): the rounding of y * log|x| is
 * magnified by that product, so the relative error grows like
 * |y log x| * 2^-24 (stated in aot_math.h).
 */

typedef union {
    float f;
    uint32_t u;
} aot_f32_bits;

static float aot_inf(void)
{
    aot_f32_bits b;
    b.u = 0x7f800000u;
    return b.f;
}

/* 0: y is not an integer, 1: an odd integer, 2: an even integer. */
static int aot_integer_kind(float y)
{
    aot_f32_bits b;
    int32_t e;
    uint32_t frac_mask;

    b.f = y;
    e = (int32_t)((b.u >> 23) & 0xffu) - 127;
    if (e < 0) {
        return (b.u & 0x7fffffffu) == 0u ? 2 : 0;
    }
    if (e >= 24) {
        return e == 128 ? 0 : 2; /* inf / NaN, or a large even integer */
    }
    frac_mask = 0x007fffffu >> e;
    if (b.u & frac_mask) {
        return 0;
    }
    if (e == 0) {
        return 1; /* +-1: the lowest integer bit is the implicit one */
    }
    return ((b.u >> (23 - e)) & 1u) ? 1 : 2;
}

float aot_powf(float x, float y)
{
    aot_f32_bits bx, by;
    float ax, r;
    int kind, negative;
    int32_t n;

    bx.f = x;
    by.f = y;
    if ((by.u & 0x7fffffffu) == 0u || bx.u == 0x3f800000u) {
        return 1.0f;
    }
    if ((bx.u & 0x7fffffffu) > 0x7f800000u || (by.u & 0x7fffffffu) > 0x7f800000u) {
        return x + y; /* NaN */
    }
    kind = aot_integer_kind(y);
    negative = (bx.u >> 31) != 0u;
    if (negative && kind == 0 && (bx.u & 0x7fffffffu) != 0u &&
        (bx.u & 0x7fffffffu) != 0x7f800000u) {
        bx.u = 0x7fc00000u; /* a negative base, a non-integer exponent */
        return bx.f;
    }
    bx.u &= 0x7fffffffu;
    ax = bx.f;
    if (y == 1.0f) {
        return x;
    }
    if (y >= -64.0f && y <= 64.0f && kind != 0 && ax != 0.0f && ax != aot_inf()) {
        float base = y < 0.0f ? 1.0f / ax : ax;
        n = (int32_t)(y < 0.0f ? -y : y);
        r = 1.0f;
        while (n > 0) {
            if (n & 1) {
                r *= base;
            }
            base *= base;
            n >>= 1;
        }
    } else if (ax == 0.0f) {
        r = y < 0.0f ? aot_inf() : 0.0f;
    } else if (ax == aot_inf()) {
        r = y < 0.0f ? 0.0f : aot_inf();
    } else if (y == 0.5f) {
        r = aot_sqrtf(ax); /* correctly rounded, as a square root should be */
    } else {
        r = aot_expf(y * aot_logf(ax));
    }
    if (negative && kind == 1) {
        r = -r;
    }
    return r;
}
