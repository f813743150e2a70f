/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"

/*
 * tanh(x) without libc; odd symmetry reduces everything to x > 0.
 *
 * Small x (below POLY_MAX): tanh(x) = x + x^3 * R(x^2), with R a degree-4
 * weighted least-squares fit (Chebyshev nodes) of (tanh(x) - x) / x^3,
 * approximation error below 0.05 ulp. We do not use expm1 here: the
 * formula below divides by expm1(2x) + 2, and rounding that sum to float
 * costs up to an ulp of the result when expm1(2x) is small (measured: 2.4
 * ulp in total), besides being slower than one polynomial.
 *
 * Larger x: tanh(x) = e / (e + 2) with e = expm1(2x) = aot_expf(2x) - 1.
 * From POLY_MAX on e^2x >= 3, so the subtraction cancels at most a factor
 * 1.5, and any relative error of e is damped by 2 / (e + 2) <= 1/2 on its
 * way into the result. Both terms are positive, so nothing else cancels.
 *
 * Beyond SATURATE_X the result is exactly 1, as a correctly rounded tanh
 * also gives there (1 - tanh(x) < 2^-25 for x > 9.0109).
 */

/* Below 2^-12, tanh(x) = x * (1 - x^2 / 3 + ...) rounds to x within a third
 * of an ulp; returning x also keeps -0 and subnormals exact. */
#define TINY_BITS 0x39800000u
#define POLY_MAX 0.55f
#define SATURATE_X 9.02f

#define R0 -0.333333164f
#define R1 0.133325651f
#define R2 -0.0538502969f
#define R3 0.0210641362f
#define R4 -0.00626436807f

typedef union {
    float f;
    uint32_t u;
} aot_f32_bits;

float aot_tanhf(float x)
{
    aot_f32_bits b;
    uint32_t sign;
    float ax, s, e, t;

    b.f = x;
    sign = b.u & 0x80000000u;
    b.u &= 0x7fffffffu;
    if (b.u > 0x7f800000u) {
        return x + x; /* NaN: quiet it and pass it on */
    }
    if (b.u < TINY_BITS) {
        return x;
    }
    ax = b.f;

    if (ax < POLY_MAX) {
        s = ax * ax;
        t = ax + (ax * s) * (R0 + s * (R1 + s * (R2 + s * (R3 + s * R4))));
    } else if (ax < SATURATE_X) {
        e = aot_expf(2.0f * ax) - 1.0f;
        t = e / (e + 2.0f);
    } else {
        t = 1.0f; /* includes inf */
    }

    b.f = t;
    b.u |= sign;
    return b.f;
}
