/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_requant_avx512_impl.h"

/* A tile: MR output channels x NV vectors of 16 virtual pixels, 24 accumulators
 * -- enough independent vpdpbusd chains for two a cycle at 4 cycles' latency. */
#define MR 8
#define NV 3
#define NR (16 * NV)   /* NR in targets/rules_x86.py */

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
                                    int32_t cs, int32_t j0, __m512i (*c)[MR])
{
    int32_t r, v, kg, t;
    AOT_X86_UNROLL
    for (v = 0; v < NV; ++v) {
        AOT_X86_UNROLL
        for (r = 0; r < mr; ++r) {
            c[v][r] = _mm512_setzero_si512();
        }
    }
    for (kg = 0; kg < kgroups; ++kg) {
        const int32_t *bg = planes + kg * cs + j0;
        const int32_t *wg = w + kg * taps;
        for (t = 0; t < taps; ++t) {
            const int32_t *bp = bg + offs[t];
            __m512i b[NV];
            AOT_X86_UNROLL
            for (v = 0; v < NV; ++v) {
                b[v] = _mm512_loadu_si512((const void *)(bp + 16 * v));
            }
            AOT_X86_UNROLL
            for (r = 0; r < mr; ++r) {
                const __m512i wv = _mm512_set1_epi32(wg[r * kgroups * taps + t]);
                AOT_X86_UNROLL
                for (v = 0; v < NV; ++v) {
                    c[v][r] = _mm512_dpbusd_epi32(c[v][r], b[v], wv);
                }
            }
        }
    }
}

/* count 4-byte words of value at dst. */
static AOT_AVX512 void fill64(void *dst, int32_t value, int32_t count)
{
    const __m512i v = _mm512_set1_epi32(value);
    int32_t *d = (int32_t *)dst;
    int32_t i = 0;
    for (; i + 16 <= count; i += 16) {
        _mm512_storeu_si512((void *)(d + i), v);
    }
    _mm512_mask_storeu_epi32(d + i, (__mmask16)((1u << (count - i)) - 1u), v);
}

/* n (1 to 16) pixels src[0], src[sw], ... (sw 1 or 2, a literal); for sw 2 the even
 * bytes of 2 n - 1 (vpmovwb keeps each 16-bit pair's low byte), reading no byte past
 * the last pixel. */
AOT_X86_INLINE AOT_AVX512 __m128i load_px(const int8_t *src, const int sw, int32_t n)
{
    if (sw == 1) {
        return _mm_maskz_loadu_epi8((__mmask16)((1u << n) - 1u), src);
    }
    return _mm256_cvtepi16_epi8(
        _mm256_maskz_loadu_epi8((__mmask32)((1u << (2 * n - 1)) - 1u), src));
}

/* count pixels src[0], src[sw], ... of nch (1 to 4) channel rows (channel stride
 * `plane`) as (x + 128) quads, bytes past nch 0x80 (their weights are 0); sw 1 or 2. */
AOT_X86_INLINE AOT_AVX512 void interleave4_sw(uint8_t *dst, const int8_t *src, const int sw,
                                              int32_t plane, int32_t count, int32_t nch)
{
    const __m128i flip = _mm_set1_epi8((char)0x80);
    int32_t i, j;
    for (i = 0; i < count; i += 16) {
        const int32_t n = count - i < 16 ? count - i : 16;
        const __m128i zero = _mm_setzero_si128();
        const __m128i a = load_px(src + sw * i, sw, n);
        const __m128i b = nch > 1 ? load_px(src + plane + sw * i, sw, n) : zero;
        const __m128i c = nch > 2 ? load_px(src + 2 * plane + sw * i, sw, n) : zero;
        const __m128i d = nch > 3 ? load_px(src + 3 * plane + sw * i, sw, n) : zero;
        const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
        const __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
        const __m128i q[4] = {_mm_unpacklo_epi16(ab0, cd0), _mm_unpackhi_epi16(ab0, cd0),
                              _mm_unpacklo_epi16(ab1, cd1), _mm_unpackhi_epi16(ab1, cd1)};
        __m128i *out = (__m128i *)(void *)(dst + 4 * i);
        if (n == 16) {
            for (j = 0; j < 4; ++j) {
                _mm_storeu_si128(out + j, _mm_xor_si128(q[j], flip));
            }
            continue;
        }
        for (j = 0; 4 * j < n; ++j) {   /* the tail: no quad past count */
            const int32_t m = n - 4 * j < 4 ? n - 4 * j : 4;
            _mm_mask_storeu_epi32(out + j, (__mmask8)((1u << m) - 1u), _mm_xor_si128(q[j], flip));
        }
    }
}

static AOT_AVX512 void interleave4(uint8_t *dst, const int8_t *src, int32_t plane,
                                   int32_t count)
{
    interleave4_sw(dst, src, 1, plane, count, 4);
}

/* nch (1 to 4) channels, stride 1 or 2: the phase-plane runs. */
static AOT_AVX512 void interleave_run(uint8_t *dst, const int8_t *src, int32_t sw,
                                      int32_t plane, int32_t count, int32_t nch)
{
    if (sw == 1) {
        interleave4_sw(dst, src, 1, plane, count, nch);
    } else {
        interleave4_sw(dst, src, 2, plane, count, nch);
    }
}

/*
 * Output channels i0 .. i0 + mr - 1 of the tile of virtual pixels at element jr
 * of the planes, stored at y + oc * ys + 16 v under keep[v]: the output plane
 * when it has no dropped pixels (lw == out_w), else a [out_c][round_up(nv, NR)]
 * buffer of virtual pixels that `compact` narrows afterwards -- whole vectors
 * either way, not a row-by-row scatter per channel.
 */
AOT_X86_INLINE AOT_AVX512 void rows(const int32_t mr, const aot_conv2d_s8_params *p,
                                    const aot_x86_geom *g, const int32_t *planes,
                                    const int32_t *weights, const int32_t *bias,
                                    const int32_t *offs, int32_t kgroups, int32_t i0,
                                    int32_t jr, const __mmask16 *keep, int8_t *y, int32_t ys)
{
    /* p's fields in locals: the int8 stores below may alias anything, so the
     * compiler would reload every field after each of them */
    const int32_t *mults = p->multipliers + i0, *shifts = p->shifts + i0, *bs = bias + i0;
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi_ = _mm512_set1_epi32(p->act_max);
    const int clamp_lo = p->act_min > -128, clamp_hi = p->act_max < 127;
    __mmask16 kp[NV];
    __m512i c[NV][MR];
    int32_t r, v;
    AOT_X86_UNROLL
    for (v = 0; v < NV; ++v) {
        kp[v] = keep[v];
    }
    y += i0 * ys;
    tile(mr, planes, weights + i0 * kgroups * g->taps, offs, kgroups, g->taps, g->cs, jr, c);
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        const int32_t shift = shifts[r];
        const __m512i b = _mm512_set1_epi32(bs[r]);
        if (aot_rq_avx512_fast(shift, p->output_offset)) {   /* one shift: nearly always */
            aot_rq_avx512_consts rq;
            aot_rq_avx512_init(&rq, mults[r], shift, p->output_offset, p->act_min, p->act_max);
            AOT_X86_UNROLL
            for (v = 0; v < NV; ++v) {
                __m512i q = aot_rq_avx512(&rq, _mm512_add_epi32(c[v][r], b), 1);
                /* the narrowing saturates to [-128, 127]: clamp only inside that */
                if (clamp_lo) {
                    q = _mm512_max_epi32(q, lo);
                }
                if (clamp_hi) {
                    q = _mm512_min_epi32(q, hi_);
                }
                _mm512_mask_cvtsepi32_storeu_epi8(y + r * ys + 16 * v, kp[v], q);
            }
            continue;
        }
        AOT_X86_UNROLL
        for (v = 0; v < NV; ++v) {
            _mm_mask_storeu_epi8(y + r * ys + 16 * v, kp[v],
                                 aot_avx512_output_s8(_mm512_add_epi32(c[v][r], b), mults[r],
                                                      shift, p->output_offset, p->act_min,
                                                      p->act_max));
        }
    }
}

/* Rows of out_w of the [out_c][round_up(nv, NR)] virtual-pixel buffer (rows of lw)
 * into the [out_c][out_h][out_w] output. */
static AOT_AVX512 void compact(const aot_conv2d_s8_params *p, const aot_x86_geom *g,
                               const int8_t *virt, int8_t *y)
{
    /* locals: the int8 stores may alias p and g, which would be reloaded each row */
    const int32_t vs = aot_x86_round_up(g->nv, NR), lw = g->lw;
    const int32_t out_w = p->out_w, out_h = p->out_h, rows = p->out_c * out_h;
    const int32_t tail = out_w % 64 == 0 ? 64 : out_w % 64, whole = out_w - tail;
    const __mmask64 k = tail == 64 ? ~(__mmask64)0 : ((__mmask64)1 << tail) - 1u;
    int32_t r, oy = 0, x;
    const int8_t *src = virt;
    for (r = 0; r < rows; ++r) {   /* row r: channel r / out_h, output row oy */
        for (x = 0; x < whole; x += 64) {
            _mm512_storeu_si512((void *)(y + x), _mm512_loadu_si512((const void *)(src + x)));
        }
        _mm512_mask_storeu_epi8(y + whole, k, _mm512_maskz_loadu_epi8(k, src + whole));
        y += out_w;
        src += lw;
        if (++oy == out_h) {   /* the next channel's buffer */
            oy = 0;
            src += vs - out_h * lw;
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

/* Every output channel of one tile of NR virtual pixels, m of them kept. */
static AOT_AVX512 void all_rows(const aot_conv2d_s8_params *p, const aot_x86_geom *g,
                                const int32_t *planes, const int32_t *weights,
                                const int32_t *bias, const int32_t *offs, int32_t kgroups,
                                int32_t jr, int32_t m, int8_t *y, int32_t ys)
{
    __mmask16 keep[NV];
    int32_t i0, v;
    for (v = 0; v < NV; ++v) {
        const int32_t left = m - 16 * v, k = left < 0 ? 0 : left < 16 ? left : 16;
        keep[v] = (__mmask16)((1u << k) - 1u);
    }
    for (i0 = 0; i0 + MR <= p->out_c; i0 += MR) {
        rows(MR, p, g, planes, weights, bias, offs, kgroups, i0, jr, keep, y, ys);
    }
    /* the tail block: mr a literal in each call, so the accumulators stay in registers */
#define AOT_TAIL(k) \
    case k: \
        if (k < MR) { \
            rows(k, p, g, planes, weights, bias, offs, kgroups, i0, jr, keep, y, ys); \
        } \
        break;
    switch (p->out_c - i0) {
    AOT_TAIL(15) AOT_TAIL(14) AOT_TAIL(13) AOT_TAIL(12) AOT_TAIL(11) AOT_TAIL(10) AOT_TAIL(9)
    AOT_TAIL(8) AOT_TAIL(7) AOT_TAIL(6) AOT_TAIL(5) AOT_TAIL(4) AOT_TAIL(3) AOT_TAIL(2)
    AOT_TAIL(1)
    default: break;
    }
#undef AOT_TAIL
}

/*
 * Small output planes (targets/rules_x86.py, conv_s8_oc_lanes): a 1x1, stride 1,
 * unpadded convolution on at most OCL_MAX_PIXELS pixels (or OCL_WIDE_PIXELS with
 * many input channels), or another with a kernel
 * larger than 1x1 on at most OCL_MAX_ROWS_PIXELS: pixel tiles would be mostly idle
 * lanes, so output channels go in lanes instead. Weights come packed
 * [ceil(out_c / 16) + 1][ceil(in_c / 4)][taps][16] quads (zero past out_c); each of
 * pb (4 to OCL_PB) pixels' quads is broadcast against two weight vectors (2 pb
 * accumulators), tiles of pixels flat (the 1x1 form: scratch holds the input's quads
 * [ceil(in_c / 4)][round_up(plane, OCL_PB)], 0 past the plane) or by output row (the
 * phase planes). Pixels past a tile's end are computed, not stored.
 */
#define OCL_PB 8   /* at most: larger arrays gcc keeps in memory */
#define OCL_MAX_PIXELS 16   /* OC_LANES_MAX_PIXELS in targets/rules_x86.py */
/* ... or on at most OCL_WIDE_PIXELS with at least OCL_WIDE_IN_C input channels, where
 * a 48-pixel tile is still a quarter idle and the sums are long enough to pay for the
 * channels-in-lanes epilogue (measured: fewer input channels lose).
 * OC_LANES_WIDE_PIXELS, OC_LANES_WIDE_IN_C in targets/rules_x86.py. */
#define OCL_WIDE_PIXELS 36
#define OCL_WIDE_IN_C 64
/* Other convolutions (a kernel wider than 1, a stride, padding) on at most this many
 * output pixels, from the phase planes by output row: the virtual pixels past each
 * row's end and a 48-pixel tile's tail would be most of the work.
 * OC_LANES_MAX_ROWS_PIXELS in targets/rules_x86.py. */
#define OCL_MAX_ROWS_PIXELS 64

/* Two blocks of 16 output channels of pb pixels from element j of the planes (quads
 * [kgroups][cs], tap t at offset offs[t]). */
AOT_X86_INLINE AOT_AVX512 void ocl_tile(const int pb, const int32_t *q, int32_t cs,
                                        int32_t kgroups, const int32_t *offs, int32_t taps,
                                        const int32_t *w, __m512i (*acc)[OCL_PB])
{
    /* taps 0: one tap at offset 0, a literal (no tap loop: 1x1, stride 1) */
    const int32_t nt = taps == 0 ? 1 : taps;
    __m512i a0[OCL_PB], a1[OCL_PB];
    const int32_t *w1 = w + kgroups * nt * 16;
    int32_t j, kg, t;
    AOT_X86_UNROLL
    for (j = 0; j < pb; ++j) {
        a0[j] = _mm512_setzero_si512();
        a1[j] = _mm512_setzero_si512();
    }
    for (kg = 0; kg < kgroups; ++kg) {
        for (t = 0; t < nt; ++t) {
            const int32_t *qt = q + kg * cs + (taps == 0 ? 0 : offs[t]);
            const __m512i v0 = _mm512_loadu_si512((const void *)(w + (kg * nt + t) * 16));
            const __m512i v1 = _mm512_loadu_si512((const void *)(w1 + (kg * nt + t) * 16));
            AOT_X86_UNROLL
            for (j = 0; j < pb; ++j) {
                const __m512i b = _mm512_set1_epi32(qt[j]);
                a0[j] = _mm512_dpbusd_epi32(a0[j], b, v0);
                a1[j] = _mm512_dpbusd_epi32(a1[j], b, v1);
            }
            /* an empty asm pinning each sum to a register at the end of the step: without
             * it gcc 12 copies every accumulator out and back around its vpdpbusd when
             * pb < OCL_PB, about a fifth slower (at pb == OCL_PB the pin costs 3%);
             * clang's code is the same either way */
            AOT_X86_UNROLL
            for (j = 0; j < pb; ++j) {
                if (pb < OCL_PB) {
                    __asm__("" : "+v"(a0[j]), "+v"(a1[j]));
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (j = 0; j < pb; ++j) {
        acc[0][j] = a0[j];
        acc[1][j] = a1[j];
    }
}

/* Output channels oc0 .. oc0 + 31 of the `kept` output pixels from pix (their
 * virtual pixels from element j of the planes). */
AOT_X86_INLINE AOT_AVX512 void ocl_block(const int pb, const aot_conv2d_s8_params *p,
                                         const int32_t *planes, int32_t cs, int32_t kgroups,
                                         const int32_t *offs, const int32_t taps, const int32_t *w,
                                         const int32_t *bias, int32_t oc0, int32_t j,
                                         int32_t pix, int32_t kept, int8_t *y)
{
    const int32_t plane = p->out_h * p->out_w;
    const __m512i off = _mm512_set1_epi32(p->output_offset);
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    __m512i acc[2][OCL_PB];
    int32_t o, i, l;
    ocl_tile(pb, planes + j, cs, kgroups, offs, taps, w, acc);
    AOT_X86_UNROLL
    for (o = 0; o < 2; ++o) {
        const int32_t oc = oc0 + 16 * o;
        const int32_t n = p->out_c - oc < 0 ? 0 : p->out_c - oc < 16 ? p->out_c - oc : 16;
        const __mmask16 k = (__mmask16)((1u << n) - 1u);
        const __m512i b = _mm512_maskz_loadu_epi32(k, bias + oc);
        const __m512i m = _mm512_maskz_loadu_epi32(k, p->multipliers + oc);
        const __m512i sh = _mm512_maskz_loadu_epi32(k, p->shifts + oc);
        __m128i px[OCL_PB], t2[OCL_PB], t4[OCL_PB];
        AOT_X86_UNROLL
        for (i = 0; i < OCL_PB; ++i) {   /* [pixel][16 channels], bytes */
            if (i < pb) {
                __m512i v = aot_avx512_requant_lanes(_mm512_add_epi32(acc[o][i], b), m, sh);
                v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, off), lo), hi);
                px[i] = _mm512_cvtsepi32_epi8(v);
            } else {
                px[i] = _mm_setzero_si128();
            }
        }
        /* transposed to [channel][8 pixels]: 8 registers of two channels' rows each */
        AOT_X86_UNROLL
        for (i = 0; i < OCL_PB; i += 2) {
            t2[i] = _mm_unpacklo_epi8(px[i], px[i + 1]);       /* channels 0..7 */
            t2[i + 1] = _mm_unpackhi_epi8(px[i], px[i + 1]);   /* channels 8..15 */
        }
        AOT_X86_UNROLL
        for (i = 0; i < 2; ++i) {   /* channels 8 i .. 8 i + 7: 4 bytes (pixels) each */
            t4[4 * i] = _mm_unpacklo_epi16(t2[i], t2[i + 2]);
            t4[4 * i + 1] = _mm_unpackhi_epi16(t2[i], t2[i + 2]);
            t4[4 * i + 2] = _mm_unpacklo_epi16(t2[i + 4], t2[i + 6]);
            t4[4 * i + 3] = _mm_unpackhi_epi16(t2[i + 4], t2[i + 6]);
        }
        {
            const __mmask16 row = (__mmask16)((1u << kept) - 1u);
            int8_t *dst = y + oc * plane + pix;
            AOT_X86_UNROLL
            for (i = 0; i < 4; ++i) {   /* channels c0 .. c0 + 3 */
                /* t4[4 h + q]: pixels 0..3, t4[4 h + q + 2]: pixels 4..7 */
                const int32_t h = i / 2, q = i % 2, c0 = 8 * h + 4 * q;
                const __m128i lo2 = _mm_unpacklo_epi32(t4[4 * h + q], t4[4 * h + q + 2]);
                const __m128i hi2 = _mm_unpackhi_epi32(t4[4 * h + q], t4[4 * h + q + 2]);
                const __m128i rows4[4] = {lo2, _mm_srli_si128(lo2, 8), hi2,
                                          _mm_srli_si128(hi2, 8)};
                for (l = 0; l < 4; ++l) {
                    if (c0 + l < n) {
                        _mm_mask_storeu_epi8(dst + (c0 + l) * plane, row, rows4[l]);
                    }
                }
            }
        }
    }
}

/* Pixels per tile, 4 to OCL_PB: the fewest computed past the plane, then the most. */
static int32_t ocl_pixels(int32_t plane)
{
    int32_t pb, best = OCL_PB;
    for (pb = OCL_PB; pb >= 4; --pb) {
        if ((plane + pb - 1) / pb * pb < (plane + best - 1) / best * best) {
            best = pb;
        }
    }
    return best;
}

/* The pixel tiles of one image: flat when the planes hold no dropped pixel (lw ==
 * out_w), else by output row. Not inlined: in the caller's register pressure gcc's
 * allocator shuffles the accumulators. */
static __attribute__((noinline)) AOT_AVX512 void ocl_image(const aot_conv2d_s8_params *p,
                                                           const aot_x86_geom *g,
                                                           const int32_t *planes,
                                                           const int32_t *offs,
                                                           const int32_t *weights,
                                                           const int32_t *bias, int8_t *y)
{
    const int32_t kgroups = (p->in_c + 3) / 4, blocks = (p->out_c + 15) / 16;
    const int flat = g->lw == p->out_w;
    const int32_t span = flat ? p->out_h * p->out_w : p->out_w;   /* pixels of a run */
    const int32_t pb = ocl_pixels(span), runs = flat ? 1 : p->out_h;
    const int one_tap = g->taps == 1 && offs[0] == 0;
    int32_t ob, r, x0;
#define OCL_BLOCK(pb_, taps_) \
    ocl_block(pb_, p, planes, g->cs, kgroups, offs, taps_, w, bias, 16 * ob, j, pix, kept, y)
    for (ob = 0; ob < blocks; ob += 2) {   /* an odd last block pairs with zero weights */
        const int32_t *w = weights + ob * kgroups * g->taps * 16;
        for (r = 0; r < runs; ++r) {
            for (x0 = 0; x0 < span; x0 += pb) {
                const int32_t j = r * g->lw + x0, pix = r * p->out_w + x0;
                const int32_t kept = span - x0 < pb ? span - x0 : pb;
                if (one_tap) {
                    switch (pb) {
                    case 8: OCL_BLOCK(8, 0); break;
                    case 7: OCL_BLOCK(7, 0); break;
                    case 6: OCL_BLOCK(6, 0); break;
                    case 5: OCL_BLOCK(5, 0); break;
                    default: OCL_BLOCK(4, 0); break;
                    }
                    continue;
                }
                switch (pb) {
                case 8: OCL_BLOCK(8, g->taps); break;
                case 7: OCL_BLOCK(7, g->taps); break;
                case 6: OCL_BLOCK(6, g->taps); break;
                case 5: OCL_BLOCK(5, g->taps); break;
                default: OCL_BLOCK(4, g->taps); break;
                }
            }
        }
    }
#undef OCL_BLOCK
}

/* A 1x1, stride 1, unpadded convolution on a small plane (see OCL_MAX_PIXELS): its quads
 * straight from the input, [ceil(in_c / 4)][round_up(plane, OCL_PB)] in scratch. */
static AOT_AVX512 void oc_lanes(const aot_conv2d_s8_params *p, const int8_t *input,
                                const int32_t *weights, const int32_t *bias, int8_t *output,
                                void *scratch)
{
    const int32_t plane = p->in_h * p->in_w, kgroups = (p->in_c + 3) / 4;
    const int32_t nq = aot_x86_round_up(plane, OCL_PB), c_rows = p->in_c / 4 * 4;
    const int32_t zero = 0;
    uint8_t *quads = (uint8_t *)scratch;
    aot_x86_geom g;
    int32_t n, c;
    g.taps = 1;
    g.lw = p->out_w;
    g.cs = nq;
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x = input + n * p->in_c * plane;
        aot_avx2_fill32(quads, 0, kgroups * nq);
        for (c = 0; c < c_rows; c += 4) {
            interleave4(quads + c * nq, x + c * plane, plane, plane);
        }
        if (c_rows < p->in_c) {
            interleave4_sw(quads + c_rows * nq, x + c_rows * plane, 1, plane, plane,
                           p->in_c - c_rows);
        }
        ocl_image(p, &g, (const int32_t *)(const void *)quads, &zero, weights, bias,
                  output + n * p->out_c * plane);
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
    int8_t *virt;
    aot_x86_geom g, g_t;
    /* 1x1, stride 1, unpadded: the phase plane is the input plane, so each tile's
     * pixels interleave at once (narrow rows would be all tail) into a buffer of one
     * tile, not the whole input: small scratch, and the quads are still in L1 */
    const int whole = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                      p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                      p->out_h == p->in_h && p->out_w == p->in_w;
    const int32_t c_rows = p->in_c / 4 * 4;   /* whole: channels of full quads */
    int direct;
    int32_t n, c, iy, ix, j0;

    if (whole && (p->out_h * p->out_w <= OCL_MAX_PIXELS ||
                  (p->out_h * p->out_w <= OCL_WIDE_PIXELS && p->in_c >= OCL_WIDE_IN_C))) {
        oc_lanes(p, input, weights, bias, output, scratch);
        return;
    }
    aot_x86_geom_init(&g, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h,
                      p->stride_w, p->dilation_h, p->dilation_w, NR);
    aot_x86_tap_offsets(&g, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, offs);
    planes = (uint8_t *)scratch + aot_x86_table_bytes(g.taps);
    packed = (int32_t *)(void *)(planes + g.cs * 4);
    /* after the planes, where tap_packed keeps its im2col (that path needs no virt) */
    virt = (int8_t *)(void *)(planes + (p->in_c + 3) / 4 * g.cs * 4);
    direct = tap_packed || g.lw == p->out_w;
    g_t = g;
    offs_t = offs;
    if (whole) {   /* the tiles read a buffer of one tile: every pixel stays (lw == out_w) */
        g_t.cs = NR;
        /* lanes past the plane in the last tile (computed, not stored) read no stale bytes */
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
        int32_t run, runs, runs_of[AOT_X86_MAX_STRIDE];
        int32_t dst_of[AOT_X86_MAX_STRIDE][AOT_X86_MAX_STRIDE],
            ix0_of[AOT_X86_MAX_STRIDE][AOT_X86_MAX_STRIDE],
            cnt_of[AOT_X86_MAX_STRIDE][AOT_X86_MAX_STRIDE];
        if (whole) {   /* quads of one tile of pixels at a time: [kgroups][NR] scratch */
            for (j0 = 0; j0 < g.nv; j0 += NR) {
                const int32_t m = g.nv - j0 < NR ? g.nv - j0 : NR;
                for (c = 0; c < c_rows; c += 4) {
                    interleave4(planes + c * NR, x + c * in_plane + j0, in_plane, m);
                }
                if (c_rows < p->in_c) {
                    interleave4_sw(planes + c_rows * NR, x + c_rows * in_plane + j0, 1,
                                   in_plane, m, p->in_c - c_rows);
                }
                all_rows(p, &g_t, (const int32_t *)(const void *)planes, weights, bias, offs,
                         kgroups, 0, m, y + j0, out_plane);
            }
            continue;
        }
        fill64(planes, (int32_t)(pad * 0x01010101u), (p->in_c + 3) / 4 * g.cs);
        for (iy = 0; iy < p->in_h; ++iy) {
            /* a row's runs are those of the row stride_h above, one phase row (lw) further
             * in dst: reuse them (aot_x86_row_runs divides), but past the kept rows */
            const int cached = p->stride_h <= AOT_X86_MAX_STRIDE;
            const int32_t k = cached ? iy % p->stride_h : 0;
            int32_t *dst = dst_of[k], *ix0 = ix0_of[k], *cnt = cnt_of[k];
            if (cached && iy >= p->stride_h && iy + p->pad_top < g.rows) {
                runs = runs_of[k];
                for (run = 0; run < runs; ++run) {
                    dst[run] += g.lw;
                }
            } else {
                runs = aot_x86_row_runs(&g, iy, p->in_w, p->kernel_h, p->kernel_w,
                                        p->stride_h, p->stride_w, p->dilation_h,
                                        p->dilation_w, p->pad_top, p->pad_left, dst, ix0, cnt);
                runs_of[k] = runs;
            }
            for (c = 0; c < p->in_c; ++c) {
                const int8_t *src = x + c * in_plane + iy * p->in_w;
                uint8_t *plane = planes + (c / 4) * g.cs * 4 + (c & 3);
                if (p->stride_w <= 2 && (c & 3) == 0) {   /* a quad's channels at once */
                    const int32_t nch = p->in_c - c < 4 ? p->in_c - c : 4;
                    for (run = 0; run < runs; ++run) {
                        interleave_run(plane + 4 * dst[run], src + ix0[run], p->stride_w,
                                       in_plane, cnt[run], nch);
                    }
                    c += 3;
                    continue;
                }
                for (run = 0; run < runs; ++run) {   /* stride_w > 2: byte by byte */
                    uint8_t *d = plane + 4 * dst[run];
                    const int8_t *sp = src + ix0[run];
                    for (ix = 0; ix < cnt[run]; ++ix) {
                        d[4 * ix] = (uint8_t)((uint8_t)sp[ix * p->stride_w] ^ 0x80u);
                    }
                }
            }
        }
        if (!tap_packed && g.taps > 1 && out_plane <= OCL_MAX_ROWS_PIXELS) {
            ocl_image(p, &g, (const int32_t *)(const void *)planes, offs, weights, bias, y);
            continue;
        }
        if (tap_packed) {
            pack_taps(&g, p->out_h, p->out_w, (const int32_t *)(const void *)planes, offs,
                      packed);
        }
        for (j0 = 0; j0 < g_t.nv; j0 += NR) {
            const int32_t m = g_t.nv - j0 < NR ? g_t.nv - j0 : NR;
            const int32_t *pl = tap_packed ? packed : (const int32_t *)(const void *)planes;
            if (direct) {
                all_rows(p, &g_t, pl, weights, bias, offs_t, kgroups, j0, m, y + j0, out_plane);
            } else {
                all_rows(p, &g_t, pl, weights, bias, offs_t, kgroups, j0, NR, virt + j0,
                         aot_x86_round_up(g.nv, NR));
            }
        }
        if (!direct) {
            compact(p, &g, virt, y);
        }
    }
}
#else
typedef int aot_conv2d_avx512_s8_needs_x86;
#endif
