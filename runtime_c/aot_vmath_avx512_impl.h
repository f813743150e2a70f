/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: aot_expf and aot_erff on 16 floats at once (AVX-512F),
 * for the transformer kernels (aot_softmax_rows_avx512_f32, aot_gelu_avx512_f32).
 * Include it only on x86, after <immintrin.h>.
 *
 * Each is the scalar function (aot_expf.c, aot_erff.c) step for step: the
 * same constants, the same separate multiplies and adds (no fused
 * multiply-add), the same rounding of n, every branch computed and the lanes
 * blended -- so each lane is bit for bit the scalar result (the runtime is
 * built with -ffp-contract=off), and the scalar error bounds of aot_math.h
 * hold unchanged.
 */
#ifndef AOT_VMATH_AVX512_IMPL_H
#define AOT_VMATH_AVX512_IMPL_H

#define AOT_VMATH_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")))

static inline AOT_VMATH_AVX512 __m512 aot_v16_pow2i(__m512i n)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
}

/* aot_expf(x) per lane. */
static inline AOT_VMATH_AVX512 __m512 aot_v16_expf(__m512 x)
{
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    const __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.7228317f), _CMP_GT_OQ);
    const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-103.972076f), _CMP_LT_OQ);
    /* lanes outside the range are replaced below; clamp them so n stays small */
    const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-103.972076f)),
                                    _mm512_set1_ps(88.7228317f));
    const __m512 k = _mm512_mul_ps(xc, _mm512_set1_ps(1.442695f));
    /* k -+ 0.5 (sign of k), truncated: the scalar code's rounding of n */
    const __m512 half = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_and_si512(_mm512_castps_si512(k), _mm512_set1_epi32((int32_t)0x80000000u)),
        _mm512_castps_si512(_mm512_set1_ps(0.5f))));
    const __m512i n = _mm512_cvttps_epi32(_mm512_add_ps(k, half));
    const __m512 nf = _mm512_cvtepi32_ps(n);
    __m512 r, q, p, scale2;
    __m512i n1;
    __mmask16 low, high;

    r = _mm512_sub_ps(xc, _mm512_mul_ps(nf, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(nf, _mm512_set1_ps(-0.00021219444f)));
    q = _mm512_add_ps(_mm512_set1_ps(0.00836891588f),
                      _mm512_mul_ps(r, _mm512_set1_ps(0.00137514074f)));
    q = _mm512_add_ps(_mm512_set1_ps(0.0416695327f), _mm512_mul_ps(r, q));
    q = _mm512_add_ps(_mm512_set1_ps(0.166665182f), _mm512_mul_ps(r, q));
    q = _mm512_add_ps(_mm512_set1_ps(0.499999881f), _mm512_mul_ps(r, q));
    p = _mm512_add_ps(_mm512_set1_ps(1.0f),
                      _mm512_add_ps(r, _mm512_mul_ps(_mm512_mul_ps(r, r), q)));

    low = _mm512_cmplt_epi32_mask(n, _mm512_set1_epi32(-126));
    high = _mm512_cmpgt_epi32_mask(n, _mm512_set1_epi32(127));
    if ((low | high | nan | over | under) == 0) {
        return _mm512_mul_ps(p, aot_v16_pow2i(n)); /* every lane in the normal range */
    }
    /* 2^n in two exact steps where 2^n is no normal float (as the scalar code) */
    n1 = _mm512_mask_add_epi32(n, low, n, _mm512_set1_epi32(64));
    n1 = _mm512_mask_sub_epi32(n1, high, n, _mm512_set1_epi32(1));
    scale2 = _mm512_mask_blend_ps(low, _mm512_set1_ps(1.0f),
                                  _mm512_castsi512_ps(_mm512_set1_epi32(0x1f800000))); /* 2^-64 */
    scale2 = _mm512_mask_blend_ps(high, scale2, _mm512_set1_ps(2.0f));
    p = _mm512_mul_ps(p, aot_v16_pow2i(n1));
    p = _mm512_mask_mul_ps(p, low | high, p, scale2);

    p = _mm512_mask_blend_ps(under, p, _mm512_setzero_ps());
    p = _mm512_mask_blend_ps(over, p, _mm512_castsi512_ps(_mm512_set1_epi32(0x7f800000)));
    return _mm512_mask_add_ps(p, nan, x, x);
}

/* aot_erff(x) per lane. */
static inline AOT_VMATH_AVX512 __m512 aot_v16_erff(__m512 x)
{
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i sign = _mm512_and_si512(bits, _mm512_set1_epi32((int32_t)0x80000000u));
    const __m512i abits = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
    const __m512 ax = _mm512_castsi512_ps(abits);
    const __mmask16 nan = _mm512_cmpgt_epi32_mask(abits, _mm512_set1_epi32(0x7f800000));
    const __mmask16 small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.875f), _CMP_LT_OQ);
    const __mmask16 mid = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(3.92f), _CMP_LT_OQ);
    const __m512 s = _mm512_mul_ps(ax, ax);
    __m512 ps, t, r;

    ps = _mm512_add_ps(_mm512_set1_ps(-0.0008210109081119299f),
                       _mm512_mul_ps(s, _mm512_set1_ps(8.671101386426017e-05f)));
    ps = _mm512_add_ps(_mm512_set1_ps(0.005206660833209753f), _mm512_mul_ps(s, ps));
    ps = _mm512_add_ps(_mm512_set1_ps(-0.02686155028641224f), _mm512_mul_ps(s, ps));
    ps = _mm512_add_ps(_mm512_set1_ps(0.11283732205629349f), _mm512_mul_ps(s, ps));
    ps = _mm512_add_ps(_mm512_set1_ps(-0.37612634897232056f), _mm512_mul_ps(s, ps));
    ps = _mm512_add_ps(_mm512_set1_ps(0.128379225730896f), _mm512_mul_ps(s, ps));
    ps = _mm512_add_ps(x, _mm512_mul_ps(x, ps));

    t = _mm512_sub_ps(_mm512_div_ps(_mm512_set1_ps(1.0f), ax), _mm512_set1_ps(0.6986550345328971f));
    r = _mm512_add_ps(_mm512_set1_ps(0.010899214074015617f),
                      _mm512_mul_ps(t, _mm512_set1_ps(-0.01962759718298912f)));
    r = _mm512_add_ps(_mm512_set1_ps(0.011451058089733124f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(-0.02309470623731613f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(0.030759770423173904f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(-0.030519923195242882f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(0.00920585636049509f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(0.04840550199151039f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(-0.16213436424732208f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(0.3576315939426422f), _mm512_mul_ps(t, r));
    r = _mm512_add_ps(_mm512_set1_ps(0.33319294452667236f), _mm512_mul_ps(t, r));
    r = _mm512_sub_ps(_mm512_set1_ps(1.0f),
                      _mm512_mul_ps(aot_v16_expf(_mm512_sub_ps(_mm512_setzero_ps(), s)), r));
    r = _mm512_mask_blend_ps(mid, _mm512_set1_ps(1.0f), r);
    r = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
    r = _mm512_mask_blend_ps(small, r, ps);
    return _mm512_mask_add_ps(r, nan, x, x);
}

#endif /* AOT_VMATH_AVX512_IMPL_H */
