/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: aot_expf and aot_erff on 8 floats at once (AVX2),
 * for aot_gelu_avx2_f32 and aot_softmax_rows_avx2_f32. Include it only on
 * x86, after <immintrin.h>.
 *
 * As aot_vmath_avx512_impl.h: each is the scalar function step for step (the
 * same constants, separate multiplies and adds -- the runtime is built with
 * -ffp-contract=off --, the same rounding of n, every branch computed and
 * the lanes blended), so each lane is bit for bit the scalar result.
 */
#ifndef AOT_VMATH_AVX2_IMPL_H
#define AOT_VMATH_AVX2_IMPL_H

#define AOT_VMATH_AVX2 __attribute__((target("avx2,fma")))

static inline AOT_VMATH_AVX2 __m256 aot_v8_bits(uint32_t bits)
{
    return _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)bits));
}

/* aot_expf(x) per lane. */
static inline AOT_VMATH_AVX2 __m256 aot_v8_expf(__m256 x)
{
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(88.7228317f), _CMP_GT_OQ);
    const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-103.972076f), _CMP_LT_OQ);
    /* lanes outside the range are replaced below; clamp them so n stays small */
    const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-103.972076f)),
                                    _mm256_set1_ps(88.7228317f));
    const __m256 k = _mm256_mul_ps(xc, _mm256_set1_ps(1.442695f));
    /* k -+ 0.5 (sign of k), truncated: the scalar code's rounding of n */
    const __m256 half = _mm256_or_ps(_mm256_and_ps(k, aot_v8_bits(0x80000000u)),
                                     _mm256_set1_ps(0.5f));
    const __m256i n = _mm256_cvttps_epi32(_mm256_add_ps(k, half));
    const __m256 nf = _mm256_cvtepi32_ps(n);
    const __m256i low = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), n);
    const __m256i high = _mm256_cmpgt_epi32(n, _mm256_set1_epi32(127));
    __m256 r, q, p, scale2;
    __m256i n1;

    r = _mm256_sub_ps(xc, _mm256_mul_ps(nf, _mm256_set1_ps(0.693359375f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(nf, _mm256_set1_ps(-0.00021219444f)));
    q = _mm256_add_ps(_mm256_set1_ps(0.00836891588f),
                      _mm256_mul_ps(r, _mm256_set1_ps(0.00137514074f)));
    q = _mm256_add_ps(_mm256_set1_ps(0.0416695327f), _mm256_mul_ps(r, q));
    q = _mm256_add_ps(_mm256_set1_ps(0.166665182f), _mm256_mul_ps(r, q));
    q = _mm256_add_ps(_mm256_set1_ps(0.499999881f), _mm256_mul_ps(r, q));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f),
                      _mm256_add_ps(r, _mm256_mul_ps(_mm256_mul_ps(r, r), q)));
    if (_mm256_testz_si256(_mm256_or_si256(
            _mm256_or_si256(low, high),
            _mm256_castps_si256(_mm256_or_ps(_mm256_or_ps(nan, over), under))),
            _mm256_set1_epi32(-1))) {
        /* every lane in the normal range */
        return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_add_epi32(n, _mm256_set1_epi32(127)), 23)));
    }
    /* 2^n in two exact steps where 2^n is no normal float (as the scalar code);
     * elsewhere the second factor is 1 (exact) */
    n1 = _mm256_blendv_epi8(n, _mm256_add_epi32(n, _mm256_set1_epi32(64)), low);
    n1 = _mm256_blendv_epi8(n1, _mm256_sub_epi32(n, _mm256_set1_epi32(1)), high);
    scale2 = _mm256_blendv_ps(_mm256_set1_ps(1.0f), aot_v8_bits(0x1f800000u) /* 2^-64 */,
                              _mm256_castsi256_ps(low));
    scale2 = _mm256_blendv_ps(scale2, _mm256_set1_ps(2.0f), _mm256_castsi256_ps(high));
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23)));
    p = _mm256_mul_ps(p, scale2);
    p = _mm256_blendv_ps(p, _mm256_setzero_ps(), under);
    p = _mm256_blendv_ps(p, aot_v8_bits(0x7f800000u), over);
    return _mm256_blendv_ps(p, _mm256_add_ps(x, x), nan);
}

/* aot_erff(x) per lane. */
static inline AOT_VMATH_AVX2 __m256 aot_v8_erff(__m256 x)
{
    const __m256 sign = _mm256_and_ps(x, aot_v8_bits(0x80000000u));
    const __m256 ax = _mm256_and_ps(x, aot_v8_bits(0x7fffffffu));
    const __m256 nan = _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(_mm256_castps_si256(ax), _mm256_set1_epi32(0x7f800000)));
    const __m256 small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.875f), _CMP_LT_OQ);
    const __m256 mid = _mm256_cmp_ps(ax, _mm256_set1_ps(3.92f), _CMP_LT_OQ);
    const __m256 s = _mm256_mul_ps(ax, ax);
    __m256 ps, t, r;

    ps = _mm256_add_ps(_mm256_set1_ps(-0.0008210109081119299f),
                       _mm256_mul_ps(s, _mm256_set1_ps(8.671101386426017e-05f)));
    ps = _mm256_add_ps(_mm256_set1_ps(0.005206660833209753f), _mm256_mul_ps(s, ps));
    ps = _mm256_add_ps(_mm256_set1_ps(-0.02686155028641224f), _mm256_mul_ps(s, ps));
    ps = _mm256_add_ps(_mm256_set1_ps(0.11283732205629349f), _mm256_mul_ps(s, ps));
    ps = _mm256_add_ps(_mm256_set1_ps(-0.37612634897232056f), _mm256_mul_ps(s, ps));
    ps = _mm256_add_ps(_mm256_set1_ps(0.128379225730896f), _mm256_mul_ps(s, ps));
    ps = _mm256_add_ps(x, _mm256_mul_ps(x, ps));

    t = _mm256_sub_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), ax),
                      _mm256_set1_ps(0.6986550345328971f));
    r = _mm256_add_ps(_mm256_set1_ps(0.010899214074015617f),
                      _mm256_mul_ps(t, _mm256_set1_ps(-0.01962759718298912f)));
    r = _mm256_add_ps(_mm256_set1_ps(0.011451058089733124f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(-0.02309470623731613f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(0.030759770423173904f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(-0.030519923195242882f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(0.00920585636049509f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(0.04840550199151039f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(-0.16213436424732208f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(0.3576315939426422f), _mm256_mul_ps(t, r));
    r = _mm256_add_ps(_mm256_set1_ps(0.33319294452667236f), _mm256_mul_ps(t, r));
    r = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                      _mm256_mul_ps(aot_v8_expf(_mm256_sub_ps(_mm256_setzero_ps(), s)), r));
    r = _mm256_blendv_ps(_mm256_set1_ps(1.0f), r, mid);
    r = _mm256_or_ps(r, sign);
    r = _mm256_blendv_ps(r, ps, small);
    return _mm256_blendv_ps(r, _mm256_add_ps(x, x), nan);
}

#endif /* AOT_VMATH_AVX2_IMPL_H */
