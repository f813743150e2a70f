/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the argument reduction and the polynomials shared
 * by aot_sinf and aot_cosf. Ship it with them.
 *
 * Reduction (Payne-Hanek, in integers, exact for every float): |x| = m * 2^e
 * with a 24-bit m. Of the bits of 2/pi only a 96-bit window matters: the
 * earlier ones add multiples of 4 (whole turns) to x * 2/pi, the later ones
 * less than 2^-70. m times the window is x * 2/pi mod 4 as a 64-bit fixed
 * point number with 62 fraction bits, from which the nearest quadrant n is
 * split off, leaving r in [-1/2, 1/2] quarter turns, 62 bits exact; so even
 * the float nearest a multiple of pi/2 keeps its full precision. r * pi/2 is
 * then rounded once to float: |y| <= pi/4.
 *
 * On |y| <= pi/4 the Taylor series through y^9 (sin) and y^10 (cos) are
 * within 3e-9 relative of the functions, far below float rounding.
 */
#ifndef AOT_TRIG_IMPL_H
#define AOT_TRIG_IMPL_H

#include "aot_math.h"

/* 2/pi, its first 256 bits. */
static const uint32_t aot_two_over_pi[8] = {
    0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u,
    0xdb629599u, 0x3c439041u, 0xfe5163abu, 0xdebbc561u};

/* pi/2 * 2^-62: a fixed-point r of 62 fraction bits to radians. */
#define AOT_PIO2_2M62 3.40612158008655459e-19f
#define AOT_PIO4 0.785398163f

typedef union {
    float f;
    uint32_t u;
} aot_trig_bits;

/* |x| reduced to y in [-pi/4, pi/4] and the quadrant n (mod 4): |x| = y + n pi/2.
 * ax is a finite |x| >= pi/4. */
static inline float aot_trig_reduce(float ax, uint32_t *quadrant)
{
    aot_trig_bits b;
    uint32_t m, w[3], off;
    uint64_t p0, p1, p2, lo, hi, q, n;
    int32_t e, first, shift, k, word;

    b.f = ax;
    e = (int32_t)(b.u >> 23) - 150; /* ax = m * 2^e */
    m = (b.u & 0x007fffffu) | 0x00800000u;
    first = e >= 2 ? e - 2 : 0; /* 0-based index of the window's first bit */
    shift = e >= 2 ? 32 : 34 - e;
    word = first / 32;
    off = (uint32_t)(first % 32);
    for (k = 0; k < 3; ++k) {
        w[k] = aot_two_over_pi[word + k] << off;
        if (off != 0u) {
            w[k] |= aot_two_over_pi[word + k + 1] >> (32u - off);
        }
    }
    /* The 120-bit product m * window as hi:lo. */
    p0 = (uint64_t)m * w[0];
    p1 = (uint64_t)m * w[1];
    p2 = (uint64_t)m * w[2];
    lo = p2 + (p1 << 32);
    hi = p0 + (p1 >> 32) + (lo < p2 ? 1u : 0u);
    q = (lo >> shift) | (hi << (64 - shift)); /* x * 2/pi mod 4, 62 fraction bits */
    n = (q + ((uint64_t)1 << 61)) >> 62;
    *quadrant = (uint32_t)n & 3u;
    return (float)(int64_t)(q - (n << 62)) * AOT_PIO2_2M62;
}

static inline float aot_sin_poly(float y)
{
    const float z = y * y;
    return y + (y * z) * (-1.66666667e-1f + z * (8.33333333e-3f +
                          z * (-1.98412698e-4f + z * 2.75573192e-6f)));
}

static inline float aot_cos_poly(float y)
{
    const float z = y * y;
    return 1.0f - 0.5f * z + (z * z) * (4.16666667e-2f + z * (-1.38888889e-3f +
                                        z * (2.48015873e-5f + z * -2.75573192e-7f)));
}

#endif /* AOT_TRIG_IMPL_H */
