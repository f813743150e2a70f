/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_depthwise_avx512_impl.h"

AOT_AVX512 void aot_depthwise_conv2d_avx512_f32(const aot_conv2d_params *params, const float *input,
                                            const float *weights, const float *bias,
                                            float *output, void *scratch)
{
    const aot_conv2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c;
    const int32_t *offs = (const int32_t *)scratch;
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
            const float *x = input + (n * p->in_c + c) * in_plane;
            aot_avx2_fill32(planes, 0, g.cs);
            for (iy = 0; iy < p->in_h; ++iy) {
                const float *src = x + iy * p->in_w;
                const int32_t *rr = row_runs + iy * (1 + 3 * p->stride_w);
                const int32_t *dst = rr + 1, *ix0 = rr + 1 + p->stride_w;
                const int32_t *cnt = rr + 1 + 2 * p->stride_w;
                const int32_t runs = rr[0];
                for (run = 0; run < runs; ++run) {
                    float *d = planes + dst[run];
                    const float *sp = src + ix0[run];
                    i = 0;
                    if (p->stride_w == 1) {
                        for (; i < cnt[run]; i += 16) {
                            const int32_t left = cnt[run] - i;
                            const __mmask16 k =
                                left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
                            _mm512_mask_storeu_ps(d + i, k, _mm512_maskz_loadu_ps(k, sp + i));
                        }
                    } else if (p->stride_w == 2) {
                        /* every other element: two loads, one two-source permute */
                        for (; i < cnt[run]; i += 16) {
                            const int32_t left = cnt[run] - i;   /* reads 2 * left - 1 */
                            const int32_t r0 = 2 * left - 1 < 16 ? 2 * left - 1 : 16;
                            const int32_t r1 = 2 * left - 1 - 16 < 0 ? 0
                                               : 2 * left - 1 - 16 > 16 ? 16 : 2 * left - 17;
                            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF
                                                           : (__mmask16)((1u << left) - 1u);
                            const __m512 lo = _mm512_maskz_loadu_ps(
                                (__mmask16)((1u << r0) - 1u), sp + 2 * i);
                            const __m512 hi = _mm512_maskz_loadu_ps(
                                (__mmask16)((1u << r1) - 1u), sp + 2 * i + 16);
                            _mm512_mask_storeu_ps(d + i, k,
                                                  _mm512_permutex2var_ps(lo, even, hi));
                        }
                    }
                    for (; i < cnt[run]; ++i) {
                        d[i] = sp[i * p->stride_w];
                    }
                }
            }
            for (oc = c * mult; oc < (c + 1) * mult; ++oc) {
                const float *w = weights + oc * g.taps;
                const __m512 b = _mm512_set1_ps(bias != NULL ? bias[oc] : 0.0f);
                float *y_c = output + (n * p->out_c + oc) * out_plane;
                for (j0 = 0; j0 < g.nv; j0 += AOT_DW_AVX512_NR) {
                    const int32_t m = g.nv - j0 < AOT_DW_AVX512_NR ? g.nv - j0 : AOT_DW_AVX512_NR;
                    __m512 acc[4];
                    aot_dw_avx512_tile(planes, offs, g.taps, w, j0, acc);
                    for (v = 0; v < 4; ++v) {
                        acc[v] = aot_avx512_act(&p->act, _mm512_add_ps(acc[v], b));
                    }
                    if (g.lw == p->out_w) {
                        for (v = 0; v < 4; ++v) {
                            const int32_t left = m - 16 * v;
                            const int32_t k = left < 0 ? 0 : left > 16 ? 16 : left;
                            _mm512_mask_storeu_ps(y_c + j0 + 16 * v,
                                                  (__mmask16)((1u << k) - 1u), acc[v]);
                        }
                    } else {
                        float vals[AOT_DW_AVX512_NR];
                        for (v = 0; v < 4; ++v) {
                            _mm512_storeu_ps(vals + 16 * v, acc[v]);
                        }
                        aot_avx512_store_f32(&g, p->out_w, j0, m, vals, y_c);
                    }
                }
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_avx512_f32_needs_x86;
#endif
