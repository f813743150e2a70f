/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_requant_avx512_impl.h"

/*
 * int8 depthwise convolution, stride 1 with out_w == in_w and kernel_w <= 4,
 * bit-exact with aot_conv2d_s8, on AVX-512 VNNI: one vpdpbusd per kernel row
 * (instead of one float multiply-add per tap). Output pixel p of a plane reads
 * input pixel p + (ky * dilation_h - pad_top) * in_w + kx * dilation_w - pad_left,
 * so each input channel becomes, once, a plane of "row quads" in scratch: quad
 * q holds (x + 128) as uint8 of the pixels q + kx * dilation_w - pad_left, kx <
 * kernel_w (byte kx), with the padding value 128 - input_offset where that
 * pixel lies outside the row (and in the pad rows above and below the plane).
 * Output channel oc then sums, per 16 pixels, kernel_h vpdpbusd of the quads
 * at row offset ky with its weight quad [oc][ky] (bytes past kernel_w 0);
 * bias comes folded: bias + (input_offset - 128) * sum(w) (int32 wrap).
 * Quads are built a row at a time (build_quads_by_rows) for dilation_w <= 4 and
 * rows of at least 16 pixels; narrower rows shuffle 16 quads out of one 64-byte
 * window of the plane (byte masks mark the taps inside the row); dilation_w > 4
 * builds them tap by tap with a column mask per tap.
 * Scratch (targets/rules_x86.py `dw_rows_scratch`): 8 bytes of masks per 16
 * input pixels, 64-byte rounded (byte masks [ceil(plane / 16)] uint64, or with
 * dilation_w > 4 column masks [kernel_w][ceil(plane / 16)] int16), then the
 * quads [pad rows above + round_up(out_plane, 16) + rows below], two sets of
 * them on small planes (aot_dw_rows_ahead).
 */
/* 1: quads built a channel ahead, in two sets (targets/rules_x86.py `dw_rows_ahead`). */
static AOT_AVX512 int32_t aot_dw_rows_ahead(const aot_conv2d_s8_params *p)
{
    return p->out_h * p->out_w <= 64 ? 1 : 0;
}

static AOT_AVX512 int32_t rows_above(const aot_conv2d_s8_params *p)
{
    return p->pad_top;
}

static AOT_AVX512 int32_t rows_below(const aot_conv2d_s8_params *p)
{
    const int32_t r = (p->kernel_h - 1) * p->dilation_h - p->pad_top;
    return r > 0 ? r : 0;
}

/* n (1 to 4) vectors of 16 output pixels from j of output channel oc; `fast` as in
 * aot_rq_avx512_s8 (a constant). */
AOT_X86_INLINE AOT_AVX512 void dw_rows_block(const int32_t n, const aot_conv2d_s8_params *p,
                                             const int32_t *quads, const int32_t *wq,
                                             int32_t oc, int32_t j, int32_t out_plane,
                                             int8_t *y_c, const int32_t *bias,
                                             const aot_rq_avx512_consts *rq, const int fast)
{
    const __m512i b = _mm512_set1_epi32(bias[oc]);
    __m512i acc[4];
    int32_t ky, v;
    AOT_X86_UNROLL
    for (v = 0; v < n; ++v) {
        acc[v] = b;
    }
    for (ky = 0; ky < p->kernel_h; ++ky) {
        const __m512i w = _mm512_set1_epi32(wq[oc * p->kernel_h + ky]);
        const int32_t *row = quads + j + (ky * p->dilation_h - p->pad_top) * p->in_w;
        AOT_X86_UNROLL
        for (v = 0; v < n; ++v) {
            acc[v] = _mm512_dpbusd_epi32(acc[v], _mm512_loadu_si512((const void *)(row + 16 * v)),
                                         w);
        }
    }
    AOT_X86_UNROLL
    for (v = 0; v < n; ++v) {
        const int32_t rest = out_plane - j - 16 * v;
        const __mmask16 k = rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1u);
        _mm_mask_storeu_epi8(y_c + j + 16 * v, k, aot_rq_avx512_s8(rq, acc[v], fast, 1));
    }
}

/* Output channels c * mult .. (c + 1) * mult - 1 from one channel's quads. */
AOT_X86_INLINE AOT_AVX512 void dw_rows_channel(const aot_conv2d_s8_params *p,
                                               const int32_t *plane, const int32_t *weights,
                                               const int32_t *bias, int8_t *output, int32_t n,
                                               int32_t c, const int fast)
{
    const int32_t out_plane = p->out_h * p->out_w, mult = p->out_c / p->in_c;
    int32_t oc, j;
    for (oc = c * mult; oc < (c + 1) * mult; ++oc) {
        int8_t *y_c = output + (n * p->out_c + oc) * out_plane;
        aot_rq_avx512_consts rq;
        aot_rq_avx512_init(&rq, p->multipliers[oc], p->shifts[oc], p->output_offset, p->act_min,
                           p->act_max);
        for (j = 0; j < out_plane; j += 64) {
            switch ((out_plane - j + 15) / 16) {   /* vectors left, 4 at most */
            case 1:
                dw_rows_block(1, p, plane, weights, oc, j, out_plane, y_c, bias, &rq, fast);
                break;
            case 2:
                dw_rows_block(2, p, plane, weights, oc, j, out_plane, y_c, bias, &rq, fast);
                break;
            case 3:
                dw_rows_block(3, p, plane, weights, oc, j, out_plane, y_c, bias, &rq, fast);
                break;
            default:
                dw_rows_block(4, p, plane, weights, oc, j, out_plane, y_c, bias, &rq, fast);
                break;
            }
        }
    }
}

/*
 * The quads of one channel, an input row at a time (dilation_w <= 4): a masked
 * load of 64 bytes from column ox0 - pad_left (bytes outside the row get the
 * padding code), a flip to uint8, then lane L takes bytes 4 L .. 4 L + 15
 * (vpermd) and vpshufb picks quad 4 L + j's byte kx from byte j + kx * dilation_w.
 */
AOT_X86_INLINE AOT_AVX512 void build_quads_by_rows(const aot_conv2d_s8_params *p,
                                                   const int8_t *x, int32_t *plane)
{
    const __m512i pad_s8 = _mm512_set1_epi8((char)(-p->input_offset));
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6);
    int8_t pick[16];
    __m512i pattern;
    int32_t j, kx, ox0, iy;

    for (j = 0; j < 4; ++j) {
        for (kx = 0; kx < 4; ++kx) {
            pick[4 * j + kx] = (int8_t)(j + kx * p->dilation_w);
        }
    }
    pattern = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)pick));
    for (ox0 = 0; ox0 < p->in_w; ox0 += 16) {
        const int32_t s = ox0 - p->pad_left;   /* window's first column */
        const int32_t lo = s < 0 ? -s : 0;
        const int32_t hi = p->in_w - s < 64 ? p->in_w - s : 64;
        const int32_t left = p->in_w - ox0;
        const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        __mmask64 k = 0;
        if (hi > lo) {
            k = (hi >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << hi) - 1u)) &
                ~(((__mmask64)1 << lo) - 1u);
        }
        for (iy = 0; iy < p->in_h; ++iy) {
            const __m512i bytes = _mm512_xor_si512(
                _mm512_mask_loadu_epi8(pad_s8, k, x + iy * p->in_w + s), flip);
            _mm512_mask_storeu_epi32(
                plane + iy * p->in_w + ox0, live,
                _mm512_shuffle_epi8(_mm512_permutexvar_epi32(lanes, bytes), pattern));
        }
    }
}

AOT_AVX512 void aot_depthwise_conv2d_rows_avx512_s8(const aot_conv2d_s8_params *params,
                                                    const int8_t *input, const int32_t *weights,
                                                    const int32_t *bias, int8_t *output,
                                                    void *scratch)
{
    /* a copy: the int8 stores could alias *params, whose fields would be re-read */
    const aot_conv2d_s8_params pv = *params;
    const aot_conv2d_s8_params *p = &pv;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t kw = p->kernel_w;
    const int32_t nvec = (in_plane + 15) / 16;
    const int32_t mask_bytes = (nvec * 8 + 63) / 64 * 64;   /* kw <= 4: either form fits */
    __mmask16 *masks = (__mmask16 *)scratch;
    __mmask64 *byte_masks = (__mmask64 *)scratch;
    int32_t *quads = (int32_t *)(void *)((uint8_t *)scratch + mask_bytes);
    const int32_t total = (rows_above(p) + rows_below(p)) * p->in_w + (out_plane + 15) / 16 * 16;
    const uint8_t pad = (uint8_t)(128 - p->input_offset);
    const __m512i padv = _mm512_set1_epi32(pad);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i w_in = _mm512_set1_epi32(p->in_w);
    __m512i ox = iota;
    /* Rows narrower than a vector: pixel vectors (their stores line up with the
     * 16-pixel loads that follow; many short row stores measured slower). */
    const int shuffled = p->dilation_w <= 4;
    const int by_rows = shuffled && p->in_w >= 16;
    /* Small planes (a block of 4 vectors at most): channel t + 1 is built into the
     * other set of quads before channel t is read, so the few loads do not wait on
     * just-stored quads (store forwarding fails on them); larger planes measured
     * slower that way. */
    const int32_t ahead = aot_dw_rows_ahead(p);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6);
    const __m512i pad_u8 = _mm512_set1_epi8((char)pad);
    __m512i pattern;
    int8_t pick[16];
    int32_t t, n = 0, c = 0, i, k, j;
    int fast = 1;   /* aot_rq_avx512_fast for every channel */

    for (i = 0; i < p->out_c; ++i) {
        fast &= aot_rq_avx512_fast(p->shifts[i], p->output_offset);
    }

    for (j = 0; j < 4; ++j) {   /* quad 4 L + j's byte kx: byte j + kx * dilation_w of lane L */
        for (k = 0; k < 4; ++k) {
            pick[4 * j + k] = (int8_t)(j + k * p->dilation_w);
        }
    }
    pattern = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)pick));

    /* which lanes of each 16 pixels have their pixel kx inside the row (the row build
     * needs none: its load masks are per window) */
    for (i = 0; !by_rows && i < nvec; ++i) {
        const int32_t left = in_plane - 16 * i;
        const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        while (_mm512_cmpge_epi32_mask(ox, w_in) != 0) {
            ox = _mm512_mask_sub_epi32(ox, _mm512_cmpge_epi32_mask(ox, w_in), ox, w_in);
        }
        __m512i bytes = _mm512_setzero_si512();   /* byte k of quad lane: m's bit lane */
        for (k = 0; k < kw; ++k) {
            const __m512i ix = _mm512_add_epi32(
                ox, _mm512_set1_epi32(k * p->dilation_w - p->pad_left));
            const __mmask16 m = (__mmask16)(live &
                                            _mm512_cmpge_epi32_mask(ix, _mm512_setzero_si512()) &
                                            _mm512_cmplt_epi32_mask(ix, w_in));
            bytes = _mm512_or_si512(bytes, _mm512_maskz_mov_epi32(
                                               m, _mm512_set1_epi32((int32_t)(0x80u << (8 * k)))));
            if (!shuffled) {
                masks[k * nvec + i] = m;
            }
        }
        if (shuffled) {
            byte_masks[i] = _mm512_movepi8_mask(bytes);
        }
        ox = _mm512_add_epi32(ox, _mm512_set1_epi32(16));
    }
    /* the pad rows and the tail stay as filled: every channel rewrites the same quads */
    aot_avx2_fill32(quads, (int32_t)(pad * 0x01010101u), (1 + ahead) * total);
    for (t = 0; t < p->batch * p->in_c + ahead; ++t) {
        if (t < p->batch * p->in_c) {
            const int8_t *x = input + t * in_plane;
            int32_t *plane = quads + (t & ahead) * total + rows_above(p) * p->in_w;
            if (by_rows) {
                build_quads_by_rows(p, x, plane);
            }
            for (i = 0; shuffled && !by_rows && i < nvec; ++i) {
                /* one window of 64 bytes from pixel 16 i - pad_left, the quads shuffled
                 * out of it as build_quads_by_rows does; taps outside the row: padding */
                const int32_t f = 16 * i - p->pad_left;
                const int32_t lo = f < 0 ? -f : 0;
                const int32_t hi = in_plane - f < 64 ? in_plane - f : 64;
                const int32_t left = in_plane - 16 * i;
                const __mmask16 live =
                    left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
                __mmask64 kl = 0;
                __m512i q;
                if (hi > lo) {
                    kl = (hi >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << hi) - 1u)) &
                         ~(((__mmask64)1 << lo) - 1u);
                }
                q = _mm512_shuffle_epi8(
                    _mm512_permutexvar_epi32(lanes, _mm512_maskz_loadu_epi8(kl, x + f)), pattern);
                q = _mm512_mask_mov_epi8(pad_u8, byte_masks[i],
                                         _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80)));
                _mm512_mask_storeu_epi32(plane + 16 * i, live, q);
            }
            for (i = 0; !shuffled && i < nvec; ++i) {
                const int32_t left = in_plane - 16 * i;
                const __mmask16 live =
                    left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
                __m512i q = _mm512_setzero_si512();
                for (k = 0; k < kw; ++k) {
                    const __mmask16 m = masks[k * nvec + i];
                    const __m128i bytes = _mm_xor_si128(
                        _mm_maskz_loadu_epi8(m, x + 16 * i + k * p->dilation_w - p->pad_left),
                        flip);
                    q = _mm512_or_si512(
                        q, _mm512_slli_epi32(_mm512_mask_cvtepu8_epi32(padv, m, bytes),
                                             (unsigned int)(8 * k)));
                }
                _mm512_mask_storeu_epi32(plane + 16 * i, live, q);
            }
        }
        if (t >= ahead) {   /* channel t - ahead: channel c of batch element n */
            const int32_t *plane = quads + ((t - ahead) & ahead) * total + rows_above(p) * p->in_w;
            if (fast) {
                dw_rows_channel(p, plane, weights, bias, output, n, c, 1);
            } else {
                dw_rows_channel(p, plane, weights, bias, output, n, c, 0);
            }
            if (++c == p->in_c) {   /* counters, not a division per channel */
                c = 0;
                ++n;
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_rows_avx512_s8_needs_x86;
#endif
