/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

static AOT_AVX2 __m256i scaled(__m256i x, int32_t offset, int32_t left_shift,
                               int32_t multiplier, int32_t shift)
{
    x = _mm256_add_epi32(x, _mm256_set1_epi32(offset));
    x = _mm256_sll_epi32(x, _mm_cvtsi32_si128(left_shift));
    return aot_avx2_requant(x, multiplier, shift);
}

/*
 * aot_add_s8 for same-shape operands (ndim 0), bit-exact: TFLite's AddFunc on
 * 8 lanes (aot_avx2_requant is MultiplyByQuantizedMultiplier; for these
 * shifts, all <= 0, the same as its SmallerThanOneExp form). y may alias a or b.
 */
AOT_AVX2 void aot_add_avx2_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                              int8_t *y)
{
    const aot_add_s8_params *p = params;
    int32_t j = 0;

    for (; j < p->size; j += 8) {
        const int32_t n = p->size - j < 8 ? p->size - j : 8;
        int8_t va[8], vb[8], vy[8];
        const int8_t *pa = a + j, *pb = b + j;
        __m256i sa, sb;
        __m128i out;
        int32_t l;
        if (n < 8) {   /* the tail, through buffers: no read past the operands */
            for (l = 0; l < 8; ++l) {
                va[l] = l < n ? a[j + l] : 0;
                vb[l] = l < n ? b[j + l] : 0;
            }
            pa = va;
            pb = vb;
        }
        sa = scaled(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)pa)),
                    p->a_offset, p->left_shift, p->a_multiplier, p->a_shift);
        sb = scaled(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)pb)),
                    p->b_offset, p->left_shift, p->b_multiplier, p->b_shift);
        out = aot_avx2_output_s8(_mm256_add_epi32(sa, sb), p->output_multiplier,
                                 p->output_shift, p->output_offset, p->act_min, p->act_max);
        if (n == 8) {
            _mm_storel_epi64((__m128i *)(void *)(y + j), out);
        } else {
            _mm_storel_epi64((__m128i *)(void *)vy, out);
            for (l = 0; l < n; ++l) {
                y[j + l] = vy[l];
            }
        }
    }
}
#else
typedef int aot_add_avx2_s8_needs_x86;
#endif
