/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

#define MR 4
#define NR 16

/*
 * int8 convolution with groups == 1, bit-exact with aot_conv2d_s8, as a
 * matrix product on 16-bit pairs: the input's phase planes (see
 * aot_conv2d_x86_impl.h) hold (x + input_offset) as int16 with two input
 * channels interleaved, weights come packed as int32 pairs
 * [out_c][ceil(in_c / 2)][taps] (low half: the even channel), and vpmaddwd
 * adds two products into each int32 lane. It cannot saturate: both halves are
 * at most 128 * 255 in magnitude. The int32 sums wrap like the portable
 * kernel's (addition mod 2^32 does not depend on order).
 */
AOT_X86_INLINE AOT_AVX2 void tile(const int32_t mr, const int32_t *planes, const int32_t *w,
                                  const int32_t *offs, int32_t kgroups, int32_t taps,
                                  int32_t cs, int32_t j0, __m256i *c0, __m256i *c1)
{
    int32_t r, kg, t;
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        c0[r] = _mm256_setzero_si256();
        c1[r] = _mm256_setzero_si256();
    }
    for (kg = 0; kg < kgroups; ++kg) {
        const int32_t *bg = planes + kg * cs + j0;
        const int32_t *wg = w + kg * taps;
        for (t = 0; t < taps; ++t) {
            const int32_t *bp = bg + offs[t];
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)bp);
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(bp + 8));
            AOT_X86_UNROLL
            for (r = 0; r < mr; ++r) {
                const __m256i wv = _mm256_set1_epi32(wg[r * kgroups * taps + t]);
                c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(b0, wv));
                c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(b1, wv));
            }
        }
    }
}

/* count pixels of 2 channel rows (channel stride `plane`) as (x + offset) int16 pairs. */
static AOT_AVX2 void interleave2(int16_t *dst, const int8_t *src, int32_t plane, int32_t count,
                                 int32_t offset)
{
    const __m128i off = _mm_set1_epi16((int16_t)offset);
    int32_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m128i a = _mm_add_epi16(
            _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(src + i))), off);
        const __m128i b = _mm_add_epi16(
            _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(src + plane + i))),
            off);
        __m128i *out = (__m128i *)(void *)(dst + 2 * i);
        _mm_storeu_si128(out, _mm_unpacklo_epi16(a, b));
        _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(a, b));
    }
    for (; i < count; ++i) {
        dst[2 * i] = (int16_t)((int32_t)src[i] + offset);
        dst[2 * i + 1] = (int16_t)((int32_t)src[plane + i] + offset);
    }
}

AOT_X86_INLINE AOT_AVX2 void rows(const int32_t mr, const aot_conv2d_s8_params *p,
                                  const aot_x86_geom *g, const int32_t *planes,
                                  const int32_t *weights, const int32_t *bias,
                                  const int32_t *offs, int32_t kgroups, int32_t i0, int32_t j0,
                                  int32_t n, int8_t *y)
{
    __m256i c0[MR], c1[MR];
    int32_t r;
    tile(mr, planes, weights + i0 * kgroups * g->taps, offs, kgroups, g->taps, g->cs, j0, c0,
         c1);
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        const int32_t oc = i0 + r;
        const __m256i b = _mm256_set1_epi32(bias != NULL ? bias[oc] : 0);
        int8_t vals[NR];
        _mm_storel_epi64((__m128i *)(void *)vals,
                         aot_avx2_output_s8(_mm256_add_epi32(c0[r], b), p->multipliers[oc],
                                            p->shifts[oc], p->output_offset, p->act_min,
                                            p->act_max));
        _mm_storel_epi64((__m128i *)(void *)(vals + 8),
                         aot_avx2_output_s8(_mm256_add_epi32(c1[r], b), p->multipliers[oc],
                                            p->shifts[oc], p->output_offset, p->act_min,
                                            p->act_max));
        aot_x86_store_s8(g, p->out_w, j0, n, vals, y + oc * p->out_h * p->out_w);
    }
}

AOT_AVX2 void aot_conv2d_avx2_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                 const int32_t *weights, const int32_t *bias, int8_t *output,
                                 void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t kgroups = (p->in_c + 1) / 2;
    int32_t *offs = (int32_t *)scratch;
    int32_t *planes;
    aot_x86_geom g;
    int32_t n, c, iy, ix, i0, j0;

    aot_x86_geom_init(&g, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h,
                      p->stride_w, p->dilation_h, p->dilation_w, NR);
    aot_x86_tap_offsets(&g, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, offs);
    planes = (int32_t *)(void *)((uint8_t *)scratch + aot_x86_table_bytes(g.taps));
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x = input + n * p->in_c * in_plane;
        int8_t *y = output + n * p->out_c * out_plane;
        int16_t *pl16 = (int16_t *)(void *)planes;
        int32_t run, runs, dst[AOT_X86_MAX_STRIDE], ix0[AOT_X86_MAX_STRIDE],
            cnt[AOT_X86_MAX_STRIDE];
        aot_avx2_fill32(planes, 0, kgroups * g.cs);
        for (iy = 0; iy < p->in_h; ++iy) {
            runs = aot_x86_row_runs(&g, iy, p->in_w, p->kernel_h, p->kernel_w, p->stride_h,
                                    p->stride_w, p->dilation_h, p->dilation_w, p->pad_top,
                                    p->pad_left, dst, ix0, cnt);
            for (c = 0; c < p->in_c; ++c) {
                const int8_t *src = x + c * in_plane + iy * p->in_w;
                int16_t *plane = pl16 + (c / 2) * g.cs * 2 + (c & 1);
                if (p->stride_w == 1 && (c & 1) == 0 && c + 2 <= p->in_c) {
                    for (run = 0; run < runs; ++run) {
                        interleave2(plane + 2 * dst[run], src + ix0[run], in_plane, cnt[run],
                                    p->input_offset);
                    }
                    c += 1;
                    continue;
                }
                for (run = 0; run < runs; ++run) {
                    int16_t *d = plane + 2 * dst[run];
                    const int8_t *sp = src + ix0[run];
                    for (ix = 0; ix < cnt[run]; ++ix) {
                        d[2 * ix] = (int16_t)((int32_t)sp[ix * p->stride_w] + p->input_offset);
                    }
                }
            }
        }
        for (j0 = 0; j0 < g.nv; j0 += NR) {
            const int32_t m = g.nv - j0 < NR ? g.nv - j0 : NR;
            for (i0 = 0; i0 + MR <= p->out_c; i0 += MR) {
                rows(MR, p, &g, planes, weights, bias, offs, kgroups, i0, j0, m, y);
            }
            switch (p->out_c - i0) {
            case 3: rows(3, p, &g, planes, weights, bias, offs, kgroups, i0, j0, m, y); break;
            case 2: rows(2, p, &g, planes, weights, bias, offs, kgroups, i0, j0, m, y); break;
            case 1: rows(1, p, &g, planes, weights, bias, offs, kgroups, i0, j0, m, y); break;
            default: break;
            }
        }
    }
}
#else
typedef int aot_conv2d_avx2_s8_needs_x86;
#endif
