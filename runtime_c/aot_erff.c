/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"

/*
 * erf(x) without libc; odd symmetry reduces everything to x >= 0.
 *
 * Below SMALL_MAX: erf(x) = x * P(x^2), P a degree-6 least-squares fit of
 * erf(x) / x in x^2 (relative approximation error below 0.01 ulp); adding x
 * last keeps the rounding of the small correction out of the leading term.
 *
 * From SMALL_MAX to SATURATE_X: erf(x) = 1 - e^(-x^2) * erfcx(x), with the
 * scaled complement erfcx(x) = e^(x^2) erfc(x) a degree-10 fit in 1/x - MID
 * (relative error below 0.2 ulp). erfc(x) <= 0.22 there, so the subtraction
 * from 1 damps its error; rounding x^2 before the exponential costs at most
 * x^2 * 2^-24 relative on a term that is below 2^-21 once x^2 exceeds 8.
 *
 * Above SATURATE_X, erfc(x) < 2^-25 and erf(x) rounds to exactly 1.
 * Coefficients: fitted by weighted least squares at Chebyshev nodes in
 * float64 (scipy's erf / erfcx as reference), then rounded to float.
 */

#define SMALL_MAX 0.875f
#define SATURATE_X 3.92f
#define MID 0.6986550345328971f

/* P(x^2) - 1 */
#define P0 0.128379225730896f
#define P1 (-0.37612634897232056f)
#define P2 0.11283732205629349f
#define P3 (-0.02686155028641224f)
#define P4 0.005206660833209753f
#define P5 (-0.0008210109081119299f)
#define P6 8.671101386426017e-05f
/* erfcx(x) */
#define Q0 0.33319294452667236f
#define Q1 0.3576315939426422f
#define Q2 (-0.16213436424732208f)
#define Q3 0.04840550199151039f
#define Q4 0.00920585636049509f
#define Q5 (-0.030519923195242882f)
#define Q6 0.030759770423173904f
#define Q7 (-0.02309470623731613f)
#define Q8 0.011451058089733124f
#define Q9 0.010899214074015617f
#define Q10 (-0.01962759718298912f)

typedef union {
    float f;
    uint32_t u;
} aot_erff_bits;

float aot_erff(float x)
{
    aot_erff_bits b;
    uint32_t sign;
    float ax, s, t, r;

    b.f = x;
    sign = b.u & 0x80000000u;
    b.u &= 0x7fffffffu;
    if (b.u > 0x7f800000u) {
        return x + x; /* NaN: quiet it and pass it on */
    }
    ax = b.f;
    if (ax < SMALL_MAX) {
        s = ax * ax;
        return x + x * (P0 + s * (P1 + s * (P2 + s * (P3 + s * (P4 + s * (P5 + s * (P6)))))));
    }
    if (ax < SATURATE_X) {
        t = 1.0f / ax - MID;
        r = Q0 + t * (Q1 + t * (Q2 + t * (Q3 + t * (Q4 + t * (Q5 + t * (Q6 + t * (Q7
            + t * (Q8 + t * (Q9 + t * Q10)))))))));
        r = 1.0f - aot_expf(-(ax * ax)) * r;
    } else {
        r = 1.0f; /* includes inf */
    }
    b.f = r;
    b.u |= sign;
    return b.f;
}
