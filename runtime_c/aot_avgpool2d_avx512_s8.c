/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * aot_avgpool2d_s8 where every window is a whole plane (the lowering rule
 * checks: out 1x1, kernel = input, no padding, count_multipliers NULL), as
 * TFLite's global AVERAGE_POOL_2D. A plane's sum is vpsadbw on (x + 128) as
 * uint8, less 128 per element; TFLite's rounding division
 * ((sum +- count / 2) / count, truncating) is done in double for 16 planes
 * at once: the quotient of two integers below 2^53 rounded to double never
 * crosses an integer, so truncating it is the integer division.
 */
AOT_AVX512 void aot_avgpool2d_avx512_s8(const aot_pool2d_s8_params *params, const int8_t *x,
                                        int8_t *y)
{
    const aot_pool2d_params *p = &params->pool;
    const int32_t count = p->in_h * p->in_w;
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    const __m512i half = _mm512_set1_epi32(count / 2);
    const __m512d countd = _mm512_set1_pd((double)count);
    int32_t c0, c, i;

    for (c0 = 0; c0 < p->planes; c0 += 16) {
        const int32_t nc = p->planes - c0 < 16 ? p->planes - c0 : 16;
        const __mmask16 keep = (__mmask16)((1u << nc) - 1u);
        int32_t sums[16];
        __m512i s, num;
        __m256i lo, hi;
        for (c = 0; c < nc; ++c) {
            const int8_t *xc = x + (c0 + c) * count;
            __m512i acc = zero;
            for (i = 0; i < count; i += 64) {
                const int32_t left = count - i;
                const __mmask64 m = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1u);
                const __m512i u = _mm512_maskz_mov_epi8(
                    m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, xc + i), flip));
                acc = _mm512_add_epi64(acc, _mm512_sad_epu8(u, zero));
            }
            sums[c] = (int32_t)_mm512_reduce_add_epi64(acc) - 128 * count;
        }
        s = _mm512_maskz_loadu_epi32(keep, sums);
        num = _mm512_mask_sub_epi32(_mm512_add_epi32(s, half),
                                    _mm512_cmple_epi32_mask(s, zero), s, half);
        lo = _mm512_cvttpd_epi32(
            _mm512_div_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(num)), countd));
        hi = _mm512_cvttpd_epi32(
            _mm512_div_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(num, 1)), countd));
        s = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        s = _mm512_max_epi32(s, _mm512_set1_epi32(params->act_min));
        s = _mm512_min_epi32(s, _mm512_set1_epi32(params->act_max));
        _mm_mask_storeu_epi8(y + c0, keep, _mm512_cvtsepi32_epi8(s));
    }
}
#else
typedef int aot_avgpool2d_avx512_s8_needs_x86;
#endif
