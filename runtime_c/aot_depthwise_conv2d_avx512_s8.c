/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_depthwise_avx512_impl.h"

AOT_AVX512 void aot_depthwise_conv2d_avx512_s8(const aot_conv2d_s8_params *params,
                                           const int8_t *input, const float *weights,
                                           const int32_t *bias, int8_t *output, void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c;
    const int32_t *offs = (const int32_t *)scratch;
    const __m512i off = _mm512_set1_epi32(p->input_offset);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    aot_x86_geom g;
    float *planes;
    int32_t *row_runs;
    int32_t n, c, iy, oc, j0, v, i, run;

    planes = aot_dw_avx512_prepare(&g, p->in_h, p->in_w, p->out_h, p->out_w, p->kernel_h,
                                 p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                                 p->dilation_w, p->pad_top, p->pad_left, scratch, &row_runs);
    for (n = 0; n < p->batch; ++n) {
        for (c = 0; c < p->in_c; ++c) {
            const int8_t *x = input + (n * p->in_c + c) * in_plane;
            aot_avx2_fill32(planes, 0, g.cs);
            for (iy = 0; iy < p->in_h; ++iy) {
                const int8_t *src = x + iy * p->in_w;
                const int32_t *rr = row_runs + iy * (1 + 3 * p->stride_w);
                const int32_t *dst = rr + 1, *ix0 = rr + 1 + p->stride_w;
                const int32_t *cnt = rr + 1 + 2 * p->stride_w;
                const int32_t runs = rr[0];
                for (run = 0; run < runs; ++run) {
                    float *d = planes + dst[run];
                    const int8_t *sp = src + ix0[run];
                    i = 0;
                    if (p->stride_w == 1) {
                        for (; i < cnt[run]; i += 16) {
                            const int32_t left = cnt[run] - i;
                            const __mmask16 k =
                                left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
                            const __m512i xv =
                                _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, sp + i));
                            _mm512_mask_storeu_ps(d + i, k,
                                                  _mm512_cvtepi32_ps(_mm512_add_epi32(xv, off)));
                        }
                    } else if (p->stride_w == 2) {
                        /* every other byte: one load of 32, widen, one two-source permute */
                        for (; i < cnt[run]; i += 16) {
                            const int32_t left = cnt[run] - i;   /* reads 2 * left - 1 */
                            const int32_t r = 2 * left - 1 < 32 ? 2 * left - 1 : 32;
                            const __mmask32 kr = r >= 32 ? (__mmask32)0xFFFFFFFFu
                                                         : (__mmask32)((1u << r) - 1u);
                            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF
                                                           : (__mmask16)((1u << left) - 1u);
                            const __m256i bytes = _mm256_maskz_loadu_epi8(kr, sp + 2 * i);
                            const __m512i lo = _mm512_cvtepi8_epi32(_mm256_castsi256_si128(bytes));
                            const __m512i hi =
                                _mm512_cvtepi8_epi32(_mm256_extracti128_si256(bytes, 1));
                            const __m512i xv = _mm512_permutex2var_epi32(lo, even, hi);
                            _mm512_mask_storeu_ps(d + i, k,
                                                  _mm512_cvtepi32_ps(_mm512_add_epi32(xv, off)));
                        }
                    }
                    for (; i < cnt[run]; ++i) {
                        d[i] = (float)((int32_t)sp[i * p->stride_w] + p->input_offset);
                    }
                }
            }
            for (oc = c * mult; oc < (c + 1) * mult; ++oc) {
                const float *w = weights + oc * g.taps;
                const __m512i b = _mm512_set1_epi32(bias != NULL ? bias[oc] : 0);
                const int32_t mul = p->multipliers[oc], sh = p->shifts[oc];
                int8_t *y_c = output + (n * p->out_c + oc) * out_plane;
                for (j0 = 0; j0 < g.nv; j0 += AOT_DW_AVX512_NR) {
                    const int32_t m = g.nv - j0 < AOT_DW_AVX512_NR ? g.nv - j0 : AOT_DW_AVX512_NR;
                    __m512 acc[4];
                    int8_t vals[AOT_DW_AVX512_NR];
                    aot_dw_avx512_tile(planes, offs, g.taps, w, j0, acc);
                    for (v = 0; v < 4; ++v) {
                        const __m512i sum = _mm512_add_epi32(_mm512_cvtps_epi32(acc[v]), b);
                        _mm_storeu_si128((__m128i *)(void *)(vals + 16 * v),
                                         aot_avx512_output_s8(sum, mul, sh, p->output_offset,
                                                              p->act_min, p->act_max));
                    }
                    aot_avx512_store_s8(&g, p->out_w, j0, m, vals, y_c);
                }
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_avx512_s8_needs_x86;
#endif
