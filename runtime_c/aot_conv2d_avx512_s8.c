/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

#define MR 8
#define NR 32

/*
 * int8 convolution with groups == 1, bit-exact with aot_conv2d_s8, on AVX-512
 * VNNI: vpdpbusd adds four u8 x s8 products into each int32 lane, wrapping
 * (no saturation). The input's phase planes (see aot_conv2d_x86_impl.h) hold
 * x + 128 as uint8 with four input channels interleaved (padding: the input
 * zero point, + 128); weights come packed as int32 quads
 * [out_c][ceil(in_c / 4)][taps] (byte j: channel 4 g + j, 0 past in_c), and
 * bias is folded at compile time: bias + (input_offset - 128) * sum(w), so
 * that sum w * (x + 128) + it == bias + sum w * (x + input_offset), mod 2^32.
 */
AOT_X86_INLINE AOT_AVX512 void tile(const int32_t mr, const int32_t *planes, const int32_t *w,
                                    const int32_t *offs, int32_t kgroups, int32_t taps,
                                    int32_t cs, int32_t j0, __m512i *c0, __m512i *c1)
{
    int32_t r, kg, t;
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        c0[r] = _mm512_setzero_si512();
        c1[r] = _mm512_setzero_si512();
    }
    for (kg = 0; kg < kgroups; ++kg) {
        const int32_t *bg = planes + kg * cs + j0;
        const int32_t *wg = w + kg * taps;
        for (t = 0; t < taps; ++t) {
            const int32_t *bp = bg + offs[t];
            const __m512i b0 = _mm512_loadu_si512((const void *)bp);
            const __m512i b1 = _mm512_loadu_si512((const void *)(bp + 16));
            AOT_X86_UNROLL
            for (r = 0; r < mr; ++r) {
                const __m512i wv = _mm512_set1_epi32(wg[r * kgroups * taps + t]);
                c0[r] = _mm512_dpbusd_epi32(c0[r], b0, wv);
                c1[r] = _mm512_dpbusd_epi32(c1[r], b1, wv);
            }
        }
    }
}

/* count pixels of 4 channel rows (channel stride `plane`) as (x + 128) quads. */
static AOT_AVX512 void interleave4(uint8_t *dst, const int8_t *src, int32_t plane,
                                   int32_t count)
{
    const __m128i flip = _mm_set1_epi8((char)0x80);
    int32_t i = 0, j;
    for (; i + 16 <= count; i += 16) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + plane + i));
        const __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * plane + i));
        const __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + 3 * plane + i));
        const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
        const __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
        __m128i *out = (__m128i *)(void *)(dst + 4 * i);
        _mm_storeu_si128(out, _mm_xor_si128(_mm_unpacklo_epi16(ab0, cd0), flip));
        _mm_storeu_si128(out + 1, _mm_xor_si128(_mm_unpackhi_epi16(ab0, cd0), flip));
        _mm_storeu_si128(out + 2, _mm_xor_si128(_mm_unpacklo_epi16(ab1, cd1), flip));
        _mm_storeu_si128(out + 3, _mm_xor_si128(_mm_unpackhi_epi16(ab1, cd1), flip));
    }
    for (; i < count; ++i) {
        for (j = 0; j < 4; ++j) {
            dst[4 * i + j] = (uint8_t)((uint8_t)src[j * plane + i] ^ 0x80u);
        }
    }
}

/*
 * count pixels of one channel, src[0], src[stride], ... (stride 1 or 2), as
 * (x + 128) into byte `lane` of consecutive quads from quad (a quad-aligned
 * address), the quads' other bytes kept: channels that do not fill a quad
 * (in_c 3) or a stride-2 row, 16 pixels per masked byte store. Reads no byte
 * past the last pixel.
 */
static AOT_AVX512 void put_channel(uint8_t *quad, int32_t lane, const int8_t *src,
                                   int32_t stride, int32_t count)
{
    const __mmask64 bytes = (__mmask64)0x1111111111111111ull << lane;
    const __m128i by = _mm_cvtsi32_si128(8 * lane);
    const __m512i flip = _mm512_set1_epi32(0x80), low = _mm512_set1_epi32(0xFF);
    int32_t i;
    for (i = 0; i < count; i += 16) {
        const int32_t left = count - i < 16 ? count - i : 16;
        const __mmask64 keep = left == 16 ? bytes : bytes & (((__mmask64)1 << (4 * left)) - 1u);
        __m512i v;
        if (stride == 1) {
            v = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8((__mmask16)((1u << left) - 1u),
                                                          src + i));
        } else {   /* every other byte: the low byte of each 16-bit pair */
            const int32_t r = 2 * left - 1;
            const __mmask32 kr = r >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << r) - 1u);
            v = _mm512_and_si512(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi8(kr, src + 2 * i)),
                                 low);
        }
        v = _mm512_sll_epi32(_mm512_xor_si512(v, flip), by);
        _mm512_mask_storeu_epi8(quad + 4 * i, keep, v);
    }
}

/* Output channels i0 .. i0 + mr - 1 of virtual pixels j0 .. j0 + n - 1, read from
 * element jr of the planes (jr == j0 but for the pointwise tile buffer). */
AOT_X86_INLINE AOT_AVX512 void rows(const int32_t mr, const aot_conv2d_s8_params *p,
                                    const aot_x86_geom *g, const int32_t *planes,
                                    const int32_t *weights, const int32_t *bias,
                                    const int32_t *offs, int32_t kgroups, int32_t i0,
                                    int32_t jr, int32_t j0, int32_t n, int8_t *y)
{
    __m512i c0[MR], c1[MR];
    int32_t r;
    tile(mr, planes, weights + i0 * kgroups * g->taps, offs, kgroups, g->taps, g->cs, jr, c0,
         c1);
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        const int32_t oc = i0 + r;
        const __m512i b = _mm512_set1_epi32(bias[oc]);
        const __m128i v0 = aot_avx512_output_s8(_mm512_add_epi32(c0[r], b), p->multipliers[oc],
                                                p->shifts[oc], p->output_offset, p->act_min,
                                                p->act_max);
        const __m128i v1 = aot_avx512_output_s8(_mm512_add_epi32(c1[r], b), p->multipliers[oc],
                                                p->shifts[oc], p->output_offset, p->act_min,
                                                p->act_max);
        int8_t *plane = y + oc * p->out_h * p->out_w;
        if (g->lw == p->out_w) {
            const int32_t n0 = n < 16 ? n : 16, n1 = n - n0;
            _mm_mask_storeu_epi8(plane + j0, (__mmask16)((1u << n0) - 1u), v0);
            _mm_mask_storeu_epi8(plane + j0 + 16, (__mmask16)((1u << n1) - 1u), v1);
        } else {
            int8_t vals[NR];
            _mm_storeu_si128((__m128i *)(void *)vals, v0);
            _mm_storeu_si128((__m128i *)(void *)(vals + 16), v1);
            aot_avx512_store_s8(g, p->out_w, j0, n, vals, plane);
        }
    }
}

/*
 * One input channel: the planes' quads hold that channel in byte 0 only, so
 * four taps are packed into each quad instead (im2col by groups of four taps:
 * [ceil(taps / 4)][round_up(out_h * out_w, NR)] in scratch after the planes),
 * which takes a quarter of the vpdpbusd; the weights then come as quads of taps,
 * [out_c][ceil(taps / 4)] (see targets/rules_x86.py, tap_packed). Taps past
 * the last read tap 0, their weight byte is 0. The im2col is indexed by output
 * pixel (the virtual pixels past each row's end are left out), so the tiles
 * store whole vectors and compute no dropped pixel; lanes past the plane are 0.
 */
AOT_X86_INLINE AOT_AVX512 void pack_taps(const aot_x86_geom *g, int32_t out_h, int32_t out_w,
                                         const int32_t *planes, const int32_t *offs,
                                         int32_t *packed)
{
    const int32_t out_plane = out_h * out_w, nvr = aot_x86_round_up(out_plane, NR);
    const int32_t kq = (g->taps + 3) / 4;
    const __m512i low = _mm512_set1_epi32(0xFF);
    int32_t k, oy, x0, i;
    for (k = 0; k < kq; ++k) {
        const int32_t *src[4];
        int32_t *dst = packed + k * nvr;
        for (i = 0; i < 4; ++i) {
            src[i] = planes + (4 * k + i < g->taps ? offs[4 * k + i] : offs[0]);
        }
        for (oy = 0; oy < out_h; ++oy) {
            for (x0 = 0; x0 < out_w; x0 += 16) {
                const int32_t n = out_w - x0 < 16 ? out_w - x0 : 16;
                const __mmask16 m = (__mmask16)((1u << n) - 1u);
                const int32_t at = oy * g->lw + x0;
                __m512i q = _mm512_and_si512(_mm512_maskz_loadu_epi32(m, src[0] + at), low);
                q = _mm512_mask_blend_epi8((__mmask64)0x2222222222222222ull, q,
                                           _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, src[1] + at), 8));
                q = _mm512_mask_blend_epi8((__mmask64)0x4444444444444444ull, q,
                                           _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, src[2] + at), 16));
                q = _mm512_mask_blend_epi8((__mmask64)0x8888888888888888ull, q,
                                           _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, src[3] + at), 24));
                _mm512_mask_storeu_epi32(dst + oy * out_w + x0, m, q);
            }
        }
        for (i = out_plane; i < nvr; ++i) {
            dst[i] = 0;
        }
    }
}

/* Every output channel of one tile of NR virtual pixels. */
static AOT_AVX512 void all_rows(const aot_conv2d_s8_params *p, const aot_x86_geom *g,
                                const int32_t *planes, const int32_t *weights,
                                const int32_t *bias, const int32_t *offs, int32_t kgroups,
                                int32_t jr, int32_t j0, int32_t m, int8_t *y)
{
    int32_t i0;
    for (i0 = 0; i0 + MR <= p->out_c; i0 += MR) {
        rows(MR, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y);
    }
    switch (p->out_c - i0) {
    case 7: rows(7, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y); break;
    case 6: rows(6, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y); break;
    case 5: rows(5, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y); break;
    case 4: rows(4, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y); break;
    case 3: rows(3, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y); break;
    case 2: rows(2, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y); break;
    case 1: rows(1, p, g, planes, weights, bias, offs, kgroups, i0, jr, j0, m, y); break;
    default: break;
    }
}

AOT_AVX512 void aot_conv2d_avx512_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                     const int32_t *weights, const int32_t *bias,
                                     int8_t *output, void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int tap_packed = p->in_c == 1 && p->kernel_h * p->kernel_w > 1;
    const uint8_t pad = (uint8_t)(128 - p->input_offset);
    const int32_t zero = 0;
    int32_t kgroups = (p->in_c + 3) / 4;
    int32_t *offs = (int32_t *)scratch, *packed;
    const int32_t *offs_t;   /* what the tiles read: offs, or one tap 0 when tap_packed */
    uint8_t *planes;
    aot_x86_geom g, g_t;
    /* 1x1, stride 1, unpadded: the phase plane is the input plane, so each tile's
     * pixels interleave at once (narrow rows would be all tail) into a buffer of one
     * tile, not the whole input: small scratch, and the quads are still in L1 */
    const int whole = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                      p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                      p->out_h == p->in_h && p->out_w == p->in_w;
    const int32_t c_rows = p->in_c / 4 * 4;   /* whole: channels of full quads */
    int32_t n, c, iy, ix, j0;

    aot_x86_geom_init(&g, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h,
                      p->stride_w, p->dilation_h, p->dilation_w, NR);
    aot_x86_tap_offsets(&g, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, offs);
    planes = (uint8_t *)scratch + aot_x86_table_bytes(g.taps);
    packed = (int32_t *)(void *)(planes + g.cs * 4);
    g_t = g;
    offs_t = offs;
    if (whole) {   /* the tiles read a buffer of one tile: every pixel stays (lw == out_w) */
        g_t.cs = NR;
        /* channels past in_c (zero weights) read the padding value, never stale bytes */
        aot_avx2_fill32(planes, (int32_t)(pad * 0x01010101u), kgroups * NR);
    }
    if (tap_packed) {   /* the tiles see one tap of ceil(taps / 4) channel quads */
        offs_t = &zero;
        kgroups = (g.taps + 3) / 4;
        g_t.taps = 1;
        g_t.lw = p->out_w;
        g_t.nv = out_plane;
        g_t.cs = aot_x86_round_up(out_plane, NR);
    }
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x = input + n * p->in_c * in_plane;
        int8_t *y = output + n * p->out_c * out_plane;
        int32_t run, runs, dst[AOT_X86_MAX_STRIDE], ix0[AOT_X86_MAX_STRIDE],
            cnt[AOT_X86_MAX_STRIDE];
        if (whole) {   /* quads of one tile of pixels at a time: [kgroups][NR] scratch */
            for (j0 = 0; j0 < g.nv; j0 += NR) {
                const int32_t m = g.nv - j0 < NR ? g.nv - j0 : NR;
                for (c = 0; c < c_rows; c += 4) {
                    interleave4(planes + c * NR, x + c * in_plane + j0, in_plane, m);
                }
                for (c = c_rows; c < p->in_c; ++c) {
                    put_channel(planes + (c / 4) * NR * 4, c & 3, x + c * in_plane + j0, 1, m);
                }
                all_rows(p, &g_t, (const int32_t *)(const void *)planes, weights, bias, offs,
                         kgroups, 0, j0, m, y);
            }
            continue;
        }
        aot_avx2_fill32(planes, (int32_t)(pad * 0x01010101u), (p->in_c + 3) / 4 * g.cs);
        for (iy = 0; iy < p->in_h; ++iy) {
            runs = aot_x86_row_runs(&g, iy, p->in_w, p->kernel_h, p->kernel_w, p->stride_h,
                                    p->stride_w, p->dilation_h, p->dilation_w, p->pad_top,
                                    p->pad_left, dst, ix0, cnt);
            for (c = 0; c < p->in_c; ++c) {
                const int8_t *src = x + c * in_plane + iy * p->in_w;
                uint8_t *plane = planes + (c / 4) * g.cs * 4 + (c & 3);
                if (p->stride_w == 1 && (c & 3) == 0 && c + 4 <= p->in_c) {
                    for (run = 0; run < runs; ++run) {
                        interleave4(plane + 4 * dst[run], src + ix0[run], in_plane, cnt[run]);
                    }
                    c += 3;
                    continue;
                }
                for (run = 0; run < runs; ++run) {
                    uint8_t *d = plane + 4 * dst[run];
                    const int8_t *sp = src + ix0[run];
                    if (p->stride_w <= 2) {
                        put_channel(d - (c & 3), c & 3, sp, p->stride_w, cnt[run]);
                        continue;
                    }
                    for (ix = 0; ix < cnt[run]; ++ix) {
                        d[4 * ix] = (uint8_t)((uint8_t)sp[ix * p->stride_w] ^ 0x80u);
                    }
                }
            }
        }
        if (tap_packed) {
            pack_taps(&g, p->out_h, p->out_w, (const int32_t *)(const void *)planes, offs,
                      packed);
        }
        for (j0 = 0; j0 < g_t.nv; j0 += NR) {
            const int32_t m = g_t.nv - j0 < NR ? g_t.nv - j0 : NR;
            const int32_t *pl = tap_packed ? packed : (const int32_t *)(const void *)planes;
            all_rows(p, &g_t, pl, weights, bias, offs_t, kgroups, j0, j0, m, y);
        }
    }
}
#else
typedef int aot_conv2d_avx512_s8_needs_x86;
#endif
