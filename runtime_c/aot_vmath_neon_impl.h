/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: aot_expf and aot_erff on 4 floats at once (AArch64
 * NEON), for aot_gelu_neon_f32 and aot_softmax_rows_neon_f32. Include it only
 * on AArch64, after <arm_neon.h>.
 *
 * As aot_vmath_avx512_impl.h: each is the scalar function step for step (the
 * same constants, separate multiplies and adds -- the runtime is built with
 * -ffp-contract=off --, the same rounding of n, every branch computed and
 * the lanes selected), so each lane is bit for bit the scalar result.
 */
#ifndef AOT_VMATH_NEON_IMPL_H
#define AOT_VMATH_NEON_IMPL_H

static inline float32x4_t aot_v4_f(uint32_t bits)
{
    return vreinterpretq_f32_u32(vdupq_n_u32(bits));
}

/* aot_expf(x) per lane. */
static inline float32x4_t aot_v4_expf(float32x4_t x)
{
    const uint32x4_t nan = vmvnq_u32(vceqq_f32(x, x));
    const uint32x4_t over = vcgtq_f32(x, vdupq_n_f32(88.7228317f));
    const uint32x4_t under = vcltq_f32(x, vdupq_n_f32(-103.972076f));
    /* lanes outside the range are replaced below; clamp them so n stays small */
    const float32x4_t xc = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-103.972076f)),
                                     vdupq_n_f32(88.7228317f));
    const float32x4_t k = vmulq_f32(xc, vdupq_n_f32(1.442695f));
    /* k -+ 0.5 (sign of k), truncated: the scalar code's rounding of n */
    const float32x4_t half = vreinterpretq_f32_u32(vorrq_u32(
        vandq_u32(vreinterpretq_u32_f32(k), vdupq_n_u32(0x80000000u)),
        vreinterpretq_u32_f32(vdupq_n_f32(0.5f))));
    const int32x4_t n = vcvtq_s32_f32(vaddq_f32(k, half));
    const float32x4_t nf = vcvtq_f32_s32(n);
    const uint32x4_t low = vcltq_s32(n, vdupq_n_s32(-126));
    const uint32x4_t high = vcgtq_s32(n, vdupq_n_s32(127));
    float32x4_t r, q, p, scale2;
    int32x4_t n1;

    r = vsubq_f32(xc, vmulq_f32(nf, vdupq_n_f32(0.693359375f)));
    r = vsubq_f32(r, vmulq_f32(nf, vdupq_n_f32(-0.00021219444f)));
    q = vaddq_f32(vdupq_n_f32(0.00836891588f), vmulq_f32(r, vdupq_n_f32(0.00137514074f)));
    q = vaddq_f32(vdupq_n_f32(0.0416695327f), vmulq_f32(r, q));
    q = vaddq_f32(vdupq_n_f32(0.166665182f), vmulq_f32(r, q));
    q = vaddq_f32(vdupq_n_f32(0.499999881f), vmulq_f32(r, q));
    p = vaddq_f32(vdupq_n_f32(1.0f), vaddq_f32(r, vmulq_f32(vmulq_f32(r, r), q)));

    if (vmaxvq_u32(vorrq_u32(vorrq_u32(vorrq_u32(low, high), vorrq_u32(nan, over)), under))
        == 0) {
        /* every lane in the normal range */
        return vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23)));
    }
    /* 2^n in two exact steps where 2^n is no normal float (as the scalar code);
     * elsewhere the second factor is 1 (exact) */
    n1 = vbslq_s32(low, vaddq_s32(n, vdupq_n_s32(64)),
                   vbslq_s32(high, vsubq_s32(n, vdupq_n_s32(1)), n));
    scale2 = vbslq_f32(low, aot_v4_f(0x1f800000u) /* 2^-64 */,
                       vbslq_f32(high, vdupq_n_f32(2.0f), vdupq_n_f32(1.0f)));
    p = vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23)));
    p = vmulq_f32(p, scale2);

    p = vbslq_f32(under, vdupq_n_f32(0.0f), p);
    p = vbslq_f32(over, aot_v4_f(0x7f800000u), p);
    return vbslq_f32(nan, vaddq_f32(x, x), p);
}

/* aot_erff(x) per lane. */
static inline float32x4_t aot_v4_erff(float32x4_t x)
{
    const uint32x4_t bits = vreinterpretq_u32_f32(x);
    const uint32x4_t sign = vandq_u32(bits, vdupq_n_u32(0x80000000u));
    const uint32x4_t abits = vandq_u32(bits, vdupq_n_u32(0x7fffffffu));
    const float32x4_t ax = vreinterpretq_f32_u32(abits);
    const uint32x4_t nan = vcgtq_u32(abits, vdupq_n_u32(0x7f800000u));
    const uint32x4_t small = vcltq_f32(ax, vdupq_n_f32(0.875f));
    const uint32x4_t mid = vcltq_f32(ax, vdupq_n_f32(3.92f));
    const float32x4_t s = vmulq_f32(ax, ax);
    float32x4_t ps, t, r;

    ps = vaddq_f32(vdupq_n_f32(-0.0008210109081119299f),
                   vmulq_f32(s, vdupq_n_f32(8.671101386426017e-05f)));
    ps = vaddq_f32(vdupq_n_f32(0.005206660833209753f), vmulq_f32(s, ps));
    ps = vaddq_f32(vdupq_n_f32(-0.02686155028641224f), vmulq_f32(s, ps));
    ps = vaddq_f32(vdupq_n_f32(0.11283732205629349f), vmulq_f32(s, ps));
    ps = vaddq_f32(vdupq_n_f32(-0.37612634897232056f), vmulq_f32(s, ps));
    ps = vaddq_f32(vdupq_n_f32(0.128379225730896f), vmulq_f32(s, ps));
    ps = vaddq_f32(x, vmulq_f32(x, ps));

    t = vsubq_f32(vdivq_f32(vdupq_n_f32(1.0f), ax), vdupq_n_f32(0.6986550345328971f));
    r = vaddq_f32(vdupq_n_f32(0.010899214074015617f),
                  vmulq_f32(t, vdupq_n_f32(-0.01962759718298912f)));
    r = vaddq_f32(vdupq_n_f32(0.011451058089733124f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(-0.02309470623731613f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(0.030759770423173904f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(-0.030519923195242882f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(0.00920585636049509f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(0.04840550199151039f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(-0.16213436424732208f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(0.3576315939426422f), vmulq_f32(t, r));
    r = vaddq_f32(vdupq_n_f32(0.33319294452667236f), vmulq_f32(t, r));
    r = vsubq_f32(vdupq_n_f32(1.0f),
                  vmulq_f32(aot_v4_expf(vsubq_f32(vdupq_n_f32(0.0f), s)), r));
    r = vbslq_f32(mid, r, vdupq_n_f32(1.0f));
    r = vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(r), sign));
    r = vbslq_f32(small, ps, r);
    return vbslq_f32(nan, vaddq_f32(x, x), r);
}

#endif /* AOT_VMATH_NEON_IMPL_H */
