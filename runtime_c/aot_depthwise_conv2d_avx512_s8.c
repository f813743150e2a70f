/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_depthwise_avx512_impl.h"

/*
 * Stride 1 with out_w == in_w: output pixel p reads input pixel p + off[t] for
 * tap t, so the output plane is computed flat, 16 pixels per vector, from the
 * input plane as is (one conversion to float per channel, no padded copy);
 * the taps that fall in the padding are masked out of each load (a masked
 * lane reads nothing and gives 0.0, the padding's (x + input_offset)).
 * Scratch: the masks [taps][ceil(out_plane / 64) * 4], then one channel's plane.
 */
AOT_X86_INLINE AOT_AVX512 void aot_dw_avx512_s8_flat(const aot_conv2d_s8_params *p,
                                                     const int8_t *input, const float *weights,
                                                     const int32_t *bias, int8_t *output,
                                                     void *scratch)
{
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, taps = p->kernel_h * p->kernel_w;
    const int32_t nv = (out_plane + 63) / 64 * 4;   /* whole tiles of 4 vectors */
    __mmask16 *masks = (__mmask16 *)scratch;
    float *plane = (float *)(void *)((uint8_t *)scratch + aot_dw_flat_mask_bytes(taps, nv));
    const __m512i off = _mm512_set1_epi32(p->input_offset);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i w_in = _mm512_set1_epi32(p->in_w), h_in = _mm512_set1_epi32(p->in_h);
    int32_t offs[AOT_DW_FLAT_MAX_TAPS];
    __m512i ox = iota, oy = _mm512_setzero_si512();
    int32_t n, c, oc, t, v, v0, i;

    for (t = 0; t < taps; ++t) {
        const int32_t dy = (t / p->kernel_w) * p->dilation_h - p->pad_top;
        const int32_t dx = (t % p->kernel_w) * p->dilation_w - p->pad_left;
        offs[t] = dy * p->in_w + dx;
    }
    for (v = 0; v < nv; ++v) {
        const int32_t left = out_plane - 16 * v;
        const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF
                              : left <= 0 ? (__mmask16)0
                                          : (__mmask16)((1u << left) - 1u);
        /* carry ox into oy: pixels 16 v .. 16 v + 15 as (row, column); in_w may be below 16 */
        for (;;) {
            const __mmask16 wrap = _mm512_cmpge_epi32_mask(ox, w_in);
            if (wrap == 0) {
                break;
            }
            ox = _mm512_mask_sub_epi32(ox, wrap, ox, w_in);
            oy = _mm512_mask_add_epi32(oy, wrap, oy, _mm512_set1_epi32(1));
        }
        for (t = 0; t < taps; ++t) {
            const __m512i ix = _mm512_add_epi32(
                ox, _mm512_set1_epi32((t % p->kernel_w) * p->dilation_w - p->pad_left));
            const __m512i iy = _mm512_add_epi32(
                oy, _mm512_set1_epi32((t / p->kernel_w) * p->dilation_h - p->pad_top));
            masks[t * nv + v] = (__mmask16)(
                live & _mm512_cmpge_epi32_mask(ix, _mm512_setzero_si512()) &
                _mm512_cmplt_epi32_mask(ix, w_in) &
                _mm512_cmpge_epi32_mask(iy, _mm512_setzero_si512()) &
                _mm512_cmplt_epi32_mask(iy, h_in));
        }
        ox = _mm512_add_epi32(ox, _mm512_set1_epi32(16));
    }
    for (n = 0; n < p->batch; ++n) {
        for (c = 0; c < p->in_c; ++c) {
            const int8_t *x = input + (n * p->in_c + c) * in_plane;
            for (i = 0; i < in_plane; i += 16) {
                const __mmask16 k = in_plane - i >= 16 ? (__mmask16)0xFFFF
                                                       : (__mmask16)((1u << (in_plane - i)) - 1u);
                const __m512i xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i));
                _mm512_mask_storeu_ps(plane + i, k, _mm512_cvtepi32_ps(_mm512_add_epi32(xv, off)));
            }
            for (oc = c * mult; oc < (c + 1) * mult; ++oc) {
                const float *w = weights + oc * taps;
                const __m512i b = _mm512_set1_epi32(bias != NULL ? bias[oc] : 0);
                const int32_t mul = p->multipliers[oc], sh = p->shifts[oc];
                int8_t *y_c = output + (n * p->out_c + oc) * out_plane;
                for (v0 = 0; v0 < nv; v0 += 4) {
                    const int32_t nb = (out_plane - 16 * v0 + 15) / 16 < 4
                                           ? (out_plane - 16 * v0 + 15) / 16
                                           : 4;
                    __m512 acc[4];
                    acc[0] = acc[1] = acc[2] = acc[3] = _mm512_setzero_ps();
                    for (t = 0; t < taps; ++t) {
                        const __m512 wv = _mm512_set1_ps(w[t]);
                        const float *bp = plane + offs[t] + 16 * v0;
                        const __mmask16 *mk = masks + t * nv + v0;
                        for (v = 0; v < 4; ++v) {   /* dead lanes: mask 0 */
                            acc[v] = _mm512_fmadd_ps(
                                wv, _mm512_maskz_loadu_ps(mk[v], bp + 16 * v), acc[v]);
                        }
                    }
                    for (v = 0; v < nb; ++v) {
                        const int32_t left = out_plane - 16 * (v0 + v);
                        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF
                                                       : (__mmask16)((1u << left) - 1u);
                        const __m512i sum = _mm512_add_epi32(_mm512_cvtps_epi32(acc[v]), b);
                        _mm_mask_storeu_epi8(y_c + 16 * (v0 + v), k,
                                             aot_avx512_output_s8(sum, mul, sh, p->output_offset,
                                                                  p->act_min, p->act_max));
                    }
                }
            }
        }
    }
}

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

    if (aot_dw_flat_applies(p->stride_h, p->stride_w, p->in_w, p->out_w,
                            p->kernel_h * p->kernel_w)) {
        aot_dw_avx512_s8_flat(p, input, weights, bias, output, scratch);
        return;
    }
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
