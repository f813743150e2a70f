/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_requant_avx512_impl.h"

/*
 * int8 depthwise convolution with stride_w 2, dilation_w 1 and kernel_w <= 4,
 * bit-exact with aot_conv2d_s8, on AVX-512 VNNI: one vpdpbusd per kernel row.
 * Output column ox of a kernel row reads the 4 consecutive input bytes from
 * column 2 ox - pad_left (weight bytes past kernel_w are 0), so an input row
 * becomes out_w "quads" with one masked load of 64 bytes (bytes outside the
 * row get the padding code), a flip to uint8 (x + 128) and one vpermw that
 * takes words i and i + 1 into quad i: no per-pixel plane copy. Rows go to
 * stride_h phase planes (input row stride_h * R + phase at row R), so for
 * kernel row ky every output pixel j = oy * out_w + ox reads quad j of its
 * phase plane shifted by whole rows: a flat walk over the output plane.
 * Rows outside the input keep the padding quads filled once per call.
 * Bias comes folded: bias + (input_offset - 128) * sum(w) (int32 wrap).
 * Scratch: each kernel row's quad offset (int32 [kernel_h], 64-byte rounded),
 * then stride_h planes of plane_quads quads (int32), two sets of them when the
 * output plane has at most 64 pixels.
 */
static AOT_AVX512 int32_t floor_div(int32_t a, int32_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* First and one past the last phase row any kernel row reaches, relative to oy. */
static AOT_AVX512 int32_t q_min(const aot_conv2d_s8_params *p)
{
    return floor_div(-p->pad_top, p->stride_h);
}

static AOT_AVX512 int32_t q_max(const aot_conv2d_s8_params *p)
{
    return floor_div((p->kernel_h - 1) * p->dilation_h - p->pad_top, p->stride_h);
}

static AOT_AVX512 int32_t plane_rows(const aot_conv2d_s8_params *p)
{
    return p->out_h + q_max(p) - q_min(p);
}

/* Quads per phase plane, with the slack of a 16-lane read at the last pixel. */
static AOT_AVX512 int32_t plane_quads(const aot_conv2d_s8_params *p)
{
    return (plane_rows(p) * p->out_w + 16 + 15) / 16 * 16;
}

/* n (1 to 4) vectors of 16 output pixels from j of output channel oc; `fast` as in
 * aot_rq_avx512_s8 (a constant). */
AOT_X86_INLINE AOT_AVX512 void dw_s2_block(const int32_t n, const aot_conv2d_s8_params *p,
                                           const int32_t *quads, const int32_t *offs,
                                           const int32_t *wq, int32_t oc, int32_t j,
                                           int8_t *y_c, const int32_t *bias,
                                           const aot_rq_avx512_consts *rq, const int fast)
{
    const int32_t out_plane = p->out_h * p->out_w;
    const __m512i b = _mm512_set1_epi32(bias[oc]);
    __m512i acc[4];
    int32_t ky, v;
    AOT_X86_UNROLL
    for (v = 0; v < n; ++v) {
        acc[v] = b;
    }
    for (ky = 0; ky < p->kernel_h; ++ky) {
        const __m512i w = _mm512_set1_epi32(wq[oc * p->kernel_h + ky]);
        const int32_t *row = quads + offs[ky] + j;
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

/* Output channels c * mult .. (c + 1) * mult - 1 from one channel's phase planes. */
AOT_X86_INLINE AOT_AVX512 void dw_s2_channel(const aot_conv2d_s8_params *p, const int32_t *set,
                                             const int32_t *offs, const int32_t *weights,
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
                dw_s2_block(1, p, set, offs, weights, oc, j, y_c, bias, &rq, fast);
                break;
            case 2:
                dw_s2_block(2, p, set, offs, weights, oc, j, y_c, bias, &rq, fast);
                break;
            case 3:
                dw_s2_block(3, p, set, offs, weights, oc, j, y_c, bias, &rq, fast);
                break;
            default:
                dw_s2_block(4, p, set, offs, weights, oc, j, y_c, bias, &rq, fast);
                break;
            }
        }
    }
}

AOT_AVX512 void aot_depthwise_conv2d_rows_s2_avx512_s8(const aot_conv2d_s8_params *params,
                                                       const int8_t *input,
                                                       const int32_t *weights,
                                                       const int32_t *bias, int8_t *output,
                                                       void *scratch)
{
    /* a copy: the int8 stores could alias *params, whose fields would be re-read */
    const aot_conv2d_s8_params pv = *params;
    const aot_conv2d_s8_params *p = &pv;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t qmin = q_min(p), rows = plane_rows(p), pq = plane_quads(p);
    const int32_t ahead = out_plane <= 64 ? 1 : 0;   /* rules_x86.py `dw_rows_ahead` */
    int32_t *offs = (int32_t *)scratch;
    int32_t *quads = offs + (p->kernel_h + 15) / 16 * 16;
    const uint8_t pad = (uint8_t)(128 - p->input_offset);
    const __m512i pad_s8 = _mm512_set1_epi8((char)(pad ^ 0x80u));
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    /* quad i = words i and i + 1 = bytes 2 i .. 2 i + 3 */
    const __m512i pairs = _mm512_set_epi16(16, 15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9,
                                           9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0);
    int32_t t, n = 0, c = 0, phase, r, ox0, ky, i;
    int fast = 1;   /* aot_rq_avx512_fast for every channel */

    for (i = 0; i < p->out_c; ++i) {
        fast &= aot_rq_avx512_fast(p->shifts[i], p->output_offset);
    }

    for (ky = 0; ky < p->kernel_h; ++ky) {   /* kernel row ky: phase plane, row q - q_min */
        const int32_t d = ky * p->dilation_h - p->pad_top;
        const int32_t q = floor_div(d, p->stride_h);
        offs[ky] = (d - q * p->stride_h) * pq + (q - qmin) * p->out_w;
    }
    /* small planes: two sets of planes, channel t + 1 built before channel t is read,
     * so the few reads do not wait on just-stored quads (store forwarding fails on
     * them); larger planes measured no faster that way */
    aot_avx2_fill32(quads, (int32_t)(pad * 0x01010101u), (1 + ahead) * p->stride_h * pq);
    for (t = 0; t < p->batch * p->in_c + ahead; ++t) {
        if (t < p->batch * p->in_c) {
            const int8_t *x = input + t * in_plane;
            int32_t *set = quads + (t & ahead) * p->stride_h * pq;
            for (ox0 = 0; ox0 < p->out_w; ox0 += 16) {
                const int32_t s = 2 * ox0 - p->pad_left;   /* window's first column */
                const int32_t lo = s < 0 ? -s : 0;
                const int32_t hi = p->in_w - s < 64 ? p->in_w - s : 64;
                const int32_t left = p->out_w - ox0;
                const __mmask16 live =
                    left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
                __mmask64 k = 0;
                if (hi > lo) {
                    k = (hi >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << hi) - 1u)) &
                        ~(((__mmask64)1 << lo) - 1u);
                }
                for (phase = 0; phase < p->stride_h; ++phase) {
                    for (r = 0; r < rows; ++r) {
                        const int32_t iy = p->stride_h * (r + qmin) + phase;
                        if (iy >= 0 && iy < p->in_h) {   /* else padding quads, as filled */
                            const __m512i bytes = _mm512_xor_si512(
                                _mm512_mask_loadu_epi8(pad_s8, k, x + iy * p->in_w + s), flip);
                            _mm512_mask_storeu_epi32(set + phase * pq + r * p->out_w + ox0,
                                                     live, _mm512_permutexvar_epi16(pairs, bytes));
                        }
                    }
                }
            }
        }
        if (t >= ahead) {   /* channel t - ahead: channel c of batch element n */
            const int32_t *set = quads + ((t - ahead) & ahead) * p->stride_h * pq;
            if (fast) {
                dw_s2_channel(p, set, offs, weights, bias, output, n, c, 1);
            } else {
                dw_s2_channel(p, set, offs, weights, bias, output, n, c, 0);
            }
            if (++c == p->in_c) {   /* counters, not a division per channel */
                c = 0;
                ++n;
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_rows_s2_avx512_s8_needs_x86;
#endif
