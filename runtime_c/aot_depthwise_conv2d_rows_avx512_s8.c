/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

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
 * Scratch (aot_dw_rows_bytes): the column masks [kernel_w][ceil(plane / 16)],
 * then the quads [pad rows above + round_up(out_plane, 16) + rows below].
 */
static AOT_AVX512 int32_t rows_above(const aot_conv2d_s8_params *p)
{
    return p->pad_top;
}

static AOT_AVX512 int32_t rows_below(const aot_conv2d_s8_params *p)
{
    const int32_t r = (p->kernel_h - 1) * p->dilation_h - p->pad_top;
    return r > 0 ? r : 0;
}

/* n (1 to 4) vectors of 16 output pixels from j of output channel oc. */
AOT_X86_INLINE AOT_AVX512 void dw_rows_block(const int32_t n, const aot_conv2d_s8_params *p,
                                             const int32_t *quads, const int32_t *wq,
                                             int32_t oc, int32_t j, int32_t out_plane,
                                             int8_t *y_c, const int32_t *bias)
{
    const __m512i b = _mm512_set1_epi32(bias[oc]);
    const int32_t mul = p->multipliers[oc], sh = p->shifts[oc];
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
        const int32_t left = out_plane - j - 16 * v;
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        _mm_mask_storeu_epi8(y_c + j + 16 * v, k,
                             aot_avx512_output_s8(acc[v], mul, sh, p->output_offset, p->act_min,
                                                  p->act_max));
    }
}

AOT_AVX512 void aot_depthwise_conv2d_rows_avx512_s8(const aot_conv2d_s8_params *params,
                                                    const int8_t *input, const int32_t *weights,
                                                    const int32_t *bias, int8_t *output,
                                                    void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, kw = p->kernel_w;
    const int32_t nvec = (in_plane + 15) / 16;
    const int32_t mask_bytes = (kw * nvec * 2 + 63) / 64 * 64;
    __mmask16 *masks = (__mmask16 *)scratch;
    int32_t *quads = (int32_t *)(void *)((uint8_t *)scratch + mask_bytes);
    int32_t *plane = quads + rows_above(p) * p->in_w;   /* quad of input pixel 0 */
    const int32_t total = (rows_above(p) + rows_below(p)) * p->in_w + (out_plane + 15) / 16 * 16;
    const uint8_t pad = (uint8_t)(128 - p->input_offset);
    const __m512i padv = _mm512_set1_epi32(pad);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i w_in = _mm512_set1_epi32(p->in_w);
    __m512i ox = iota;
    int32_t n, c, oc, i, k, j;

    /* which lanes of each 16 pixels have their pixel kx inside the row */
    for (i = 0; i < nvec; ++i) {
        const int32_t left = in_plane - 16 * i;
        const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        while (_mm512_cmpge_epi32_mask(ox, w_in) != 0) {
            ox = _mm512_mask_sub_epi32(ox, _mm512_cmpge_epi32_mask(ox, w_in), ox, w_in);
        }
        for (k = 0; k < kw; ++k) {
            const __m512i ix = _mm512_add_epi32(
                ox, _mm512_set1_epi32(k * p->dilation_w - p->pad_left));
            masks[k * nvec + i] = (__mmask16)(live &
                                              _mm512_cmpge_epi32_mask(ix, _mm512_setzero_si512()) &
                                              _mm512_cmplt_epi32_mask(ix, w_in));
        }
        ox = _mm512_add_epi32(ox, _mm512_set1_epi32(16));
    }
    /* the pad rows and the tail stay as filled: every channel rewrites the same quads */
    aot_avx2_fill32(quads, (int32_t)(pad * 0x01010101u), total);
    for (n = 0; n < p->batch; ++n) {
        for (c = 0; c < p->in_c; ++c) {
            const int8_t *x = input + (n * p->in_c + c) * in_plane;
            for (i = 0; i < nvec; ++i) {
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
            for (oc = c * mult; oc < (c + 1) * mult; ++oc) {
                int8_t *y_c = output + (n * p->out_c + oc) * out_plane;
                for (j = 0; j < out_plane; j += 64) {
                    switch ((out_plane - j + 15) / 16) {   /* vectors left, 4 at most */
                    case 1: dw_rows_block(1, p, plane, weights, oc, j, out_plane, y_c, bias); break;
                    case 2: dw_rows_block(2, p, plane, weights, oc, j, out_plane, y_c, bias); break;
                    case 3: dw_rows_block(3, p, plane, weights, oc, j, out_plane, y_c, bias); break;
                    default: dw_rows_block(4, p, plane, weights, oc, j, out_plane, y_c, bias); break;
                    }
                }
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_rows_avx512_s8_needs_x86;
#endif
