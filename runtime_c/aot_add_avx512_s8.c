/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

AOT_X86_INLINE AOT_AVX512 __m512i aot_add_avx512_scaled(__m512i x, int32_t offset,
                                                        int32_t left_shift, int32_t multiplier,
                                                        int32_t shift)
{
    x = _mm512_add_epi32(x, _mm512_set1_epi32(offset));
    x = _mm512_sll_epi32(x, _mm_cvtsi32_si128(left_shift));
    return aot_avx512_requant(x, multiplier, shift);
}

/*
 * One input's MultiplyByQuantizedMultiplierSmallerThanOneExp(v << L, m, -r)
 * for v = code + offset in [-256, 255], exact in 32-bit lanes. The doubling
 * high multiply of v * 2^L is floor((v * m + 2^(30 - L)) / 2^(31 - L)); with
 * m = mh * 2^(31 - L) + ml that is v * mh + floor((v * ml + 2^(30 - L)) /
 * 2^(31 - L)), both products below 2^30 for 9 <= L <= 22 (vpmulld, no
 * overflow). The rounding divide by 2^r (ties away from zero) of that hi is
 * floor((hi + 2^(r - 1) - [hi < 0]) / 2^r), and hi < 0 exactly when v < 0
 * (v <= -1 gives v * m + 2^(30 - L) < 0 for m > 2^(30 - L); a smaller m
 * gives hi = 0, whose result is 0 either way).
 */
AOT_X86_INLINE AOT_AVX512 __m512i aot_add_avx512_split(__m512i v, int32_t left_shift,
                                                       int32_t multiplier, int32_t shift)
{
    const int32_t q = 31 - left_shift, r = -shift;
    const __m512i lo = _mm512_srai_epi32(
        _mm512_add_epi32(_mm512_mullo_epi32(v, _mm512_set1_epi32(multiplier & ((1 << q) - 1))),
                         _mm512_set1_epi32(1 << (q - 1))),
        (unsigned int)q);
    const __m512i hi = _mm512_add_epi32(
        _mm512_mullo_epi32(v, _mm512_set1_epi32(multiplier >> q)), lo);
    if (r == 0) {
        return hi;
    }
    return _mm512_sra_epi32(_mm512_add_epi32(_mm512_add_epi32(hi, _mm512_set1_epi32(1 << (r - 1))),
                                             _mm512_srai_epi32(v, 31)),
                            _mm_cvtsi32_si128(r));
}

/* The ranges aot_add_avx512_split is exact on. */
AOT_X86_INLINE int aot_add_avx512_split_applies(const aot_add_s8_params *p)
{
    return p->left_shift >= 9 && p->left_shift <= 22 && p->a_multiplier >= 0 &&
           p->b_multiplier >= 0 && p->a_shift <= 0 && p->a_shift >= -31 && p->b_shift <= 0 &&
           p->b_shift >= -31 && p->a_offset >= -128 && p->a_offset <= 128 &&
           p->b_offset >= -128 && p->b_offset <= 128;
}

/*
 * aot_add_avx2_s8 on 16 lanes (the same arithmetic, TFLite's AddFunc,
 * bit-exact); the tail is masked: no read or write past the operands.
 * y may alias a or b.
 */
AOT_AVX512 void aot_add_avx512_s8(const aot_add_s8_params *params, const int8_t *a,
                                  const int8_t *b, int8_t *y)
{
    const aot_add_s8_params *p = params;
    int32_t j;

    if (aot_add_avx512_split_applies(p)) {   /* TFLite's add (left_shift 20): the cheap form */
        const __m512i ao = _mm512_set1_epi32(p->a_offset), bo = _mm512_set1_epi32(p->b_offset);
        for (j = 0; j < p->size; j += 16) {
            const int32_t n = p->size - j;
            const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
            const __m512i sa = aot_add_avx512_split(
                _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a + j)), ao),
                p->left_shift, p->a_multiplier, p->a_shift);
            const __m512i sb = aot_add_avx512_split(
                _mm512_add_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, b + j)), bo),
                p->left_shift, p->b_multiplier, p->b_shift);
            _mm_mask_storeu_epi8(y + j, k,
                                 aot_avx512_output_s8(_mm512_add_epi32(sa, sb),
                                                      p->output_multiplier, p->output_shift,
                                                      p->output_offset, p->act_min,
                                                      p->act_max));
        }
        return;
    }
    for (j = 0; j < p->size; j += 16) {
        const int32_t n = p->size - j;
        const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
        const __m512i sa = aot_add_avx512_scaled(
            _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a + j)), p->a_offset, p->left_shift,
            p->a_multiplier, p->a_shift);
        const __m512i sb = aot_add_avx512_scaled(
            _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, b + j)), p->b_offset, p->left_shift,
            p->b_multiplier, p->b_shift);
        _mm_mask_storeu_epi8(y + j, k,
                             aot_avx512_output_s8(_mm512_add_epi32(sa, sb), p->output_multiplier,
                                                  p->output_shift, p->output_offset, p->act_min,
                                                  p->act_max));
    }
}
#else
typedef int aot_add_avx512_s8_needs_x86;
#endif
