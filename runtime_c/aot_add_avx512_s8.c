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
 * aot_add_avx2_s8 on 16 lanes (the same arithmetic, TFLite's AddFunc,
 * bit-exact); the tail is masked: no read or write past the operands.
 * y may alias a or b.
 */
AOT_AVX512 void aot_add_avx512_s8(const aot_add_s8_params *params, const int8_t *a,
                                  const int8_t *b, int8_t *y)
{
    const aot_add_s8_params *p = params;
    int32_t j;

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
