/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"

/*
 * e^x without libc.
 *
 * Range reduction: x = n * ln2 + r with n = round(x / ln2), |r| <= ln2 / 2,
 * so e^x = 2^n * e^r. ln2 is split Cody-Waite style into LN2_HI, which has
 * only 9 significant bits so that n * LN2_HI is exact for every n we can
 * meet (|n| <= 150), and LN2_LO, the float nearest to ln2 - LN2_HI. By
 * Sterbenz's lemma x - n * LN2_HI is then exact as well, and the only
 * rounding in r comes from the small n * LN2_LO correction.
 *
 * e^r = 1 + r + r^2 * Q(r), where Q is a degree-4 weighted least-squares
 * fit (Chebyshev nodes) of (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2]. Its
 * approximation error is below 0.07 ulp; the rest is float rounding.
 * Adding the 1 last keeps the small terms from being rounded against 1.
 *
 * 2^n is built directly in the IEEE exponent field. When the result is
 * subnormal (n < -126) or 2^n itself is not a normal float (n = 128), the
 * scaling is done in two steps, the first exact, so that the result is
 * rounded only once.
 */

#define LOG2E 1.442695f
#define LN2_HI 0.693359375f
#define LN2_LO -0.00021219444f

#define Q0 0.499999881f
#define Q1 0.166665182f
#define Q2 0.0416695327f
#define Q3 0.00836891588f
#define Q4 0.00137514074f

/* Largest x whose e^x rounds to a finite float, i.e. ln(FLT_MAX) rounded down. */
#define OVERFLOW_X 88.7228317f
/* Smallest x whose e^x rounds to a nonzero float (e^x > 2^-150). */
#define UNDERFLOW_X -103.972076f

typedef union {
    float f;
    uint32_t u;
} aot_f32_bits;

/* 2^n for -126 <= n <= 127 (a normal float). */
static float aot_pow2i(int32_t n)
{
    aot_f32_bits b;
    b.u = (uint32_t)(n + 127) << 23;
    return b.f;
}

float aot_expf(float x)
{
    aot_f32_bits b;
    float k, r, q, p;
    int32_t n;

    /* Classify by bits, which stays right even if the caller compiles
     * with flags that assume no NaNs. */
    b.f = x;
    if ((b.u & 0x7fffffffu) > 0x7f800000u) {
        return x + x; /* NaN: quiet it and pass it on */
    }
    if (x > OVERFLOW_X) {
        b.u = 0x7f800000u; /* +inf; also the answer for x = +inf */
        return b.f;
    }
    if (x < UNDERFLOW_X) {
        return 0.0f; /* also the answer for x = -inf */
    }

    /* Round to nearest by truncating after adding +-0.5; |x * LOG2E| < 151. */
    k = x * LOG2E;
    n = (int32_t)(k < 0.0f ? k - 0.5f : k + 0.5f);
    r = x - (float)n * LN2_HI;
    r = r - (float)n * LN2_LO;

    q = Q0 + r * (Q1 + r * (Q2 + r * (Q3 + r * Q4)));
    p = 1.0f + (r + (r * r) * q);

    if (n < -126) {
        p = p * aot_pow2i(n + 64); /* exact: still a normal float */
        return p * aot_pow2i(-64); /* the single rounding into subnormals */
    }
    if (n > 127) {
        p = p * aot_pow2i(n - 1);
        return p * 2.0f;
    }
    return p * aot_pow2i(n);
}
