/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"

/*
 * Natural logarithm without libc.
 *
 * x = 2^k * m with m in [sqrt(2)/2, sqrt(2)), f = m - 1 (exact), and
 * log(m) = log(1 + f) = 2 atanh(s) with s = f / (2 + f), |s| <= 0.1716.
 * 2 atanh(s) = 2s + s * R(s^2), R the tail of the atanh series (its first
 * five terms: the next is below 1e-9 relative). Since f - 2s = s * f,
 * log(1 + f) = f - s * (f - R), which adds a small correction to the exact f.
 * k * ln2 uses the same Cody-Waite split of ln2 as aot_expf: k * LN2_HI is
 * exact and added last.
 */

#define LN2_HI 0.693359375f
#define LN2_LO -0.00021219444f

#define R1 0.666666667f
#define R2 0.4f
#define R3 0.285714286f
#define R4 0.222222222f
#define R5 0.181818182f

typedef union {
    float f;
    uint32_t u;
} aot_f32_bits;

float aot_logf(float x)
{
    aot_f32_bits b;
    float f, s, z, r, kf;
    int32_t k = 0;

    b.f = x;
    if ((b.u & 0x7fffffffu) == 0u) {
        b.u = 0xff800000u; /* log(+-0) = -inf */
        return b.f;
    }
    if (b.u >= 0x7f800000u) {
        if (b.u == 0x7f800000u || (b.u & 0x7fffffffu) > 0x7f800000u) {
            return x + x; /* +inf, or a NaN passed on */
        }
        b.u = 0x7fc00000u; /* a negative number */
        return b.f;
    }
    if (b.u < 0x00800000u) {
        b.f = x * 33554432.0f; /* subnormal: scale by 2^25, exactly */
        k = -25;
    }
    k += (int32_t)(b.u >> 23) - 127;
    b.u = (b.u & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
    if (b.f > 1.41421356f) {
        b.f *= 0.5f;
        ++k;
    }
    f = b.f - 1.0f;
    s = f / (2.0f + f);
    z = s * s;
    r = z * (R1 + z * (R2 + z * (R3 + z * (R4 + z * R5))));
    kf = (float)k;
    return kf * LN2_HI + ((f - s * (f - r)) + kf * LN2_LO);
}
