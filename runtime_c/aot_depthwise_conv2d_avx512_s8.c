/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_depthwise_avx512_impl.h"

/*
 * nb (1 to 4) vectors of 16 virtual pixels from v0 of one output channel:
 * requantized into y_c (sums == NULL: virtual pixels are the output's), or
 * their int32 sums into sums (the subsampled form picks from them).
 */
AOT_X86_INLINE AOT_AVX512 void flat_block(const int32_t nb, const aot_conv2d_s8_params *p,
                                          const float *plane, const float *w,
                                          const __mmask16 *masks, const int32_t *offs,
                                          int32_t nv, int32_t taps, int32_t v0, __m512i b,
                                          int32_t mul, int32_t sh, int8_t *y_c, int32_t *sums)
{
    const int32_t out_plane = p->out_h * p->out_w;
    __m512 acc[4];
    int32_t t, v;
    AOT_X86_UNROLL
    for (v = 0; v < nb; ++v) {
        acc[v] = _mm512_setzero_ps();
    }
    for (t = 0; t < taps; ++t) {
        const __m512 wv = _mm512_set1_ps(w[t]);
        const float *bp = plane + offs[t] + 16 * v0;
        const __mmask16 *mk = masks + t * nv + v0;
        AOT_X86_UNROLL
        for (v = 0; v < nb; ++v) {   /* dead lanes: mask 0 */
            acc[v] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk[v], bp + 16 * v), acc[v]);
        }
    }
    AOT_X86_UNROLL
    for (v = 0; v < nb; ++v) {
        const int32_t left = out_plane - 16 * (v0 + v);
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        if (sums != NULL) {
            _mm512_storeu_si512((void *)(sums + 16 * (v0 + v)), _mm512_cvtps_epi32(acc[v]));
            continue;
        }
        _mm_mask_storeu_epi8(y_c + 16 * (v0 + v), k,
                             aot_avx512_output_s8(_mm512_add_epi32(_mm512_cvtps_epi32(acc[v]), b),
                                                  mul, sh, p->output_offset, p->act_min,
                                                  p->act_max));
    }
}

/* flat_block with nb as a constant (small planes: only the vectors that hold pixels). */
AOT_X86_INLINE AOT_AVX512 void flat_blocks(int32_t nb, const aot_conv2d_s8_params *p,
                                           const float *plane, const float *w,
                                           const __mmask16 *masks, const int32_t *offs,
                                           int32_t nv, int32_t taps, int32_t v0, __m512i b,
                                           int32_t mul, int32_t sh, int8_t *y_c, int32_t *sums)
{
    switch (nb) {
    case 1: flat_block(1, p, plane, w, masks, offs, nv, taps, v0, b, mul, sh, y_c, sums); break;
    case 2: flat_block(2, p, plane, w, masks, offs, nv, taps, v0, b, mul, sh, y_c, sums); break;
    case 3: flat_block(3, p, plane, w, masks, offs, nv, taps, v0, b, mul, sh, y_c, sums); break;
    default: flat_block(4, p, plane, w, masks, offs, nv, taps, v0, b, mul, sh, y_c, sums); break;
    }
}

/*
 * The flat form (aot_dw_flat_applies). Virtual pixel q = vy * in_w + vx, on
 * rows vy < vh, is the stride-1 sum at (vy, vx): it reads input pixel q +
 * off[t] for tap t, so the virtual plane is computed flat, 16 pixels per
 * vector, from the input plane as is (one conversion to float per channel,
 * no padded copy); the taps that fall in the padding are masked out of each
 * load (a masked lane reads nothing and gives 0.0, the padding's (x +
 * input_offset)). Stride 1 with out_w == in_w: the virtual pixels are the
 * output's. Else output (oy, ox) is virtual (stride_h * oy, stride_w * ox):
 * the virtual sums go to scratch and each 16 outputs are one gather from
 * there (a strided or narrowed plane computes up to stride_h * stride_w
 * times the taps it keeps, still cheaper on small planes than phase planes
 * per channel). Scratch: the masks [taps][nv], one channel's float plane,
 * then (subsampled) the sums [nv * 16] and the gather indices
 * [ceil(out_plane / 16) * 16] (aot_dw_flat_bytes).
 */
AOT_X86_INLINE AOT_AVX512 void aot_dw_avx512_s8_flat(const aot_conv2d_s8_params *p,
                                                     const int8_t *input, const float *weights,
                                                     const int32_t *bias, int8_t *output,
                                                     void *scratch)
{
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, taps = p->kernel_h * p->kernel_w;
    const int direct = aot_dw_flat_direct(p->stride_h, p->stride_w, p->in_w, p->out_w);
    const int32_t vh = aot_dw_flat_rows(p->stride_h, p->stride_w, p->in_w, p->out_h, p->out_w);
    const int32_t nv = aot_dw_flat_vectors(vh * p->in_w);
    const int32_t nu = (out_plane + 15) / 16;
    __mmask16 *masks = (__mmask16 *)scratch;
    float *plane = (float *)(void *)((uint8_t *)scratch + aot_dw_flat_mask_bytes(taps, nv));
    int32_t *sums = direct ? NULL : (int32_t *)(void *)(plane + aot_dw_flat_plane_floats(in_plane));
    int32_t *idx = direct ? NULL : sums + 16 * nv;
    const __m512i off = _mm512_set1_epi32(p->input_offset);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i w_in = _mm512_set1_epi32(p->in_w), h_in = _mm512_set1_epi32(p->in_h);
    const __m512i h_virt = _mm512_set1_epi32(vh);
    int32_t offs[AOT_DW_FLAT_MAX_TAPS];
    __m512i ox = iota, oy = _mm512_setzero_si512();
    int32_t n, c, oc, t, v, v0, i;

    for (t = 0; t < taps; ++t) {
        const int32_t dy = (t / p->kernel_w) * p->dilation_h - p->pad_top;
        const int32_t dx = (t % p->kernel_w) * p->dilation_w - p->pad_left;
        offs[t] = dy * p->in_w + dx;
    }
    for (v = 0; v < nv; ++v) {
        __mmask16 live;
        /* carry ox into oy: pixels 16 v .. 16 v + 15 as (row, column); in_w may be below 16 */
        for (;;) {
            const __mmask16 wrap = _mm512_cmpge_epi32_mask(ox, w_in);
            if (wrap == 0) {
                break;
            }
            ox = _mm512_mask_sub_epi32(ox, wrap, ox, w_in);
            oy = _mm512_mask_add_epi32(oy, wrap, oy, _mm512_set1_epi32(1));
        }
        live = _mm512_cmplt_epi32_mask(oy, h_virt);
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
    if (!direct) {   /* output pixel j -> its virtual pixel; 0 past the plane (masked) */
        int32_t y = 0, x = 0;
        for (i = 0; i < 16 * nu; ++i) {
            idx[i] = i < out_plane ? p->stride_h * y * p->in_w + p->stride_w * x : 0;
            if (++x == p->out_w) {
                x = 0;
                ++y;
            }
        }
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
                    const int32_t nb = (vh * p->in_w - 16 * v0 + 15) / 16 < 4
                                           ? (vh * p->in_w - 16 * v0 + 15) / 16
                                           : 4;
                    if (direct) {   /* NULL sums: the requantizing form, inlined apart */
                        flat_blocks(nb, p, plane, w, masks, offs, nv, taps, v0, b, mul, sh, y_c,
                                    NULL);
                    } else {
                        flat_blocks(nb, p, plane, w, masks, offs, nv, taps, v0, b, mul, sh, y_c,
                                    sums);
                    }
                }
                for (i = 0; !direct && i < nu; ++i) {
                    const int32_t left = out_plane - 16 * i;
                    const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF
                                                   : (__mmask16)((1u << left) - 1u);
                    __m512i sum;
                    AOT_X86_GATHER_BEGIN
                    sum = _mm512_i32gather_epi32(
                        _mm512_loadu_si512((const void *)(idx + 16 * i)), (const void *)sums, 4);
                    AOT_X86_GATHER_END
                    _mm_mask_storeu_epi8(y_c + 16 * i, k,
                                         aot_avx512_output_s8(_mm512_add_epi32(sum, b), mul, sh,
                                                              p->output_offset, p->act_min,
                                                              p->act_max));
                }
            }
        }
    }
}

/* nb (1 to 4) vectors of virtual pixels from j0 of one output channel, from its
 * phase planes (aot_dw_avx512_tile cut to nb vectors), into vals. */
AOT_X86_INLINE AOT_AVX512 void planes_block(const int32_t nb, const aot_conv2d_s8_params *p,
                                            const float *planes, const int32_t *offs,
                                            int32_t taps, const float *w, int32_t j0,
                                            __m512i b, int32_t mul, int32_t sh, int8_t *vals)
{
    __m512 acc[4];
    int32_t t, v;
    AOT_X86_UNROLL
    for (v = 0; v < nb; ++v) {
        acc[v] = _mm512_setzero_ps();
    }
    for (t = 0; t < taps; ++t) {
        const __m512 wv = _mm512_set1_ps(w[t]);
        const float *bp = planes + offs[t] + j0;
        AOT_X86_UNROLL
        for (v = 0; v < nb; ++v) {
            acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(bp + 16 * v), acc[v]);
        }
    }
    AOT_X86_UNROLL
    for (v = 0; v < nb; ++v) {
        const __m512i sum = _mm512_add_epi32(_mm512_cvtps_epi32(acc[v]), b);
        _mm_storeu_si128((__m128i *)(void *)(vals + 16 * v),
                         aot_avx512_output_s8(sum, mul, sh, p->output_offset, p->act_min,
                                              p->act_max));
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
    int32_t n, c, iy, oc, j0, i, run;

    if (aot_dw_flat_applies(p->in_h, p->in_w, p->out_h, p->out_w, p->kernel_h * p->kernel_w,
                            p->stride_h, p->stride_w)) {
        aot_dw_avx512_s8_flat(p, input, weights, bias, output, scratch);
        return;
    }
    planes = aot_dw_avx512_prepare(&g, p->in_h, p->in_w, p->out_h, p->out_w, p->kernel_h,
                                 p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                                 p->dilation_w, p->pad_top, p->pad_left, scratch, &row_runs);
    /* once: every channel's runs write the same elements, the rest (padding, slack) stays 0 */
    aot_avx2_fill32(planes, 0, g.cs);
    for (n = 0; n < p->batch; ++n) {
        for (c = 0; c < p->in_c; ++c) {
            const int8_t *x = input + (n * p->in_c + c) * in_plane;
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
                    int8_t vals[AOT_DW_AVX512_NR];
                    switch ((m + 15) / 16) {   /* small planes: only the vectors that hold pixels */
                    case 1: planes_block(1, p, planes, offs, g.taps, w, j0, b, mul, sh, vals); break;
                    case 2: planes_block(2, p, planes, offs, g.taps, w, j0, b, mul, sh, vals); break;
                    case 3: planes_block(3, p, planes, offs, g.taps, w, j0, b, mul, sh, vals); break;
                    default: planes_block(4, p, planes, offs, g.taps, w, j0, b, mul, sh, vals); break;
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
