/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * aot_fully_connected_s8 for weights without a zero point, bit-exact, on
 * AVX-512 VNNI: vpdpbusd adds four (x + 128) as uint8 times w products into
 * each int32 lane, wrapping; bias comes folded at compile time as
 * bias + (input_offset - 128) * sum_k w[n][k]. The k tail is masked: the padding
 * weights are 0, so the 128 a masked input byte becomes adds nothing.
 */
/* Lane r of the result: the sum of the 16 lanes of acc[r] (wrapping), in 15 adds. */
AOT_X86_INLINE AOT_AVX512 __m512i aot_fc_avx512_reduce16(const __m512i *acc)
{
    __m512i t2[8], t4[4], s01, s23;
    int32_t r;
    for (r = 0; r < 8; ++r) {
        t2[r] = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2 * r], acc[2 * r + 1]),
                                 _mm512_unpackhi_epi32(acc[2 * r], acc[2 * r + 1]));
    }
    for (r = 0; r < 4; ++r) {
        t4[r] = _mm512_add_epi32(_mm512_unpacklo_epi64(t2[2 * r], t2[2 * r + 1]),
                                 _mm512_unpackhi_epi64(t2[2 * r], t2[2 * r + 1]));
    }
    /* t4[q] holds rows 4q..4q+3 once per 128-bit lane; fold the four lanes. */
    s01 = _mm512_add_epi32(_mm512_shuffle_i32x4(t4[0], t4[1], 0x88),
                           _mm512_shuffle_i32x4(t4[0], t4[1], 0xDD));
    s23 = _mm512_add_epi32(_mm512_shuffle_i32x4(t4[2], t4[3], 0x88),
                           _mm512_shuffle_i32x4(t4[2], t4[3], 0xDD));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(s01, s23, 0x88),
                            _mm512_shuffle_i32x4(s01, s23, 0xDD));
}

/*
 * 16 outputs at a time: 16 accumulators stay in registers over k, one
 * transposing reduction, requantization in vector form. The weights come
 * re-laid out at compile time (targets/rules_x86.py `fc_blocks`) as
 * [ceil(n / 16)][ceil(k / 64)][16][64], zero padded: a block of 16 outputs
 * streams one contiguous run of 1 KiB steps, which the hardware prefetcher
 * follows (16 rows k bytes apart measured 1.5x slower on AD's layers, whose
 * weights come from L2), and the padding rows and columns need no masks.
 */
AOT_AVX512 void aot_fully_connected_avx512_s8(const aot_fully_connected_s8_params *params,
                                              const int8_t *input, const int8_t *weights,
                                              const int32_t *bias, int8_t *output)
{
    /* a copy: the int8 stores could alias *params, whose fields would be re-read */
    const aot_fully_connected_s8_params pv = *params;
    const aot_fully_connected_s8_params *p = &pv;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i out_off = _mm512_set1_epi32(p->output_offset);
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    const int32_t kb = (p->k + 63) / 64;
    int32_t i, j, r, k;

    for (i = 0; i < p->m; ++i) {
        const int8_t *x = input + i * p->k;
        const int8_t *w = weights;
        int8_t *y = output + i * p->n;
        for (j = 0; j < p->n; j += 16) {
            const int32_t rows = p->n - j < 16 ? p->n - j : 16;
            const __mmask16 keep = (__mmask16)((1u << rows) - 1u);
            __m512i acc[16], sum, mult, shift, v;
            for (r = 0; r < 16; ++r) {
                acc[r] = _mm512_setzero_si512();
            }
            for (k = 0; k < kb; ++k) {
                const int32_t left = p->k - 64 * k;
                const __mmask64 m = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1u);
                /* masked input bytes become 128: their weights are the zero padding */
                const __m512i xu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, x + 64 * k), flip);
                for (r = 0; r < 16; ++r) {
                    acc[r] = _mm512_dpbusd_epi32(
                        acc[r], xu, _mm512_loadu_si512((const void *)(w + 64 * r)));
                }
                w += 1024;
            }
            sum = _mm512_add_epi32(aot_fc_avx512_reduce16(acc),
                                   _mm512_maskz_loadu_epi32(keep, bias + j));
            mult = p->multipliers != NULL ? _mm512_maskz_loadu_epi32(keep, p->multipliers + j)
                                          : _mm512_set1_epi32(p->multiplier);
            shift = p->shifts != NULL ? _mm512_maskz_loadu_epi32(keep, p->shifts + j)
                                      : _mm512_set1_epi32(p->shift);
            v = _mm512_add_epi32(aot_avx512_requant_lanes(sum, mult, shift), out_off);
            v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
            _mm_mask_storeu_epi8(y + j, keep, _mm512_cvtsepi32_epi8(v));
        }
    }
}
#else
typedef int aot_fully_connected_avx512_s8_needs_x86;
#endif
