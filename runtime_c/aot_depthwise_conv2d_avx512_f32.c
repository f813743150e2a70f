/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * Depthwise convolution read straight from the NCHW input: no copy, no
 * padded planes. Sixteen output pixels are one vector; lanes outside the
 * input read 0 (masked loads), which is the padding. Products are fused
 * multiply-adds in tap order, up to 8 accumulators at a time (two output rows
 * x four vectors, or four rows of one vector), so they are not bound by the
 * multiply-add latency. Masks are computed once per call into scratch:
 *
 * - flat (stride 1, in_w == out_w, out_w not a multiple of 16, small table):
 *   pixels of a vector run on across output rows, as tap (ky, kx) reads the
 *   input at p + (ky * dilation_h - pad_top) * in_w + kx * dilation_w -
 *   pad_left for every output pixel p; table [ceil(nv / 16)][taps] uint16.
 * - rows (otherwise): output rows, 64 pixels at a time; stride_w 1 is one
 *   load, 2 two loads and an even-lane permute, larger a gather; table
 *   [ceil(out_w / 16)][kernel_w] uint32 (aot_avx512_row_masks), then a row of
 *   in_w zeros that rows above and below the input read.
 * - both, at stride_w 1 and dilation_w 1 with 3- or 5-wide kernels, slide:
 *   a tap row's shifted vectors come from the same loads (valignd).
 *
 * Except: stride 1, dilation 1, square 5x5 kernels and 3x3 ones on rows of 16
 * and more copy each channel into a zero-bordered plane (`padded`, below):
 * no masks, aligned loads, up to 16 accumulators.
 *
 * Scratch: the tap-offset table (flat; aot_x86_table_bytes), then the masks;
 * padded: the plane.
 * targets/rules_x86.py (`dw_f32_flat`, `phase_scratch`) sizes scratch with the
 * same rule: keep the two in step.
 */

#define AOT_DW_F32_FLAT_TABLE_MAX 16384

AOT_X86_INLINE int aot_dw_f32_flat(const aot_conv2d_params *p)
{
    const int32_t nv = p->out_h * p->out_w, taps = p->kernel_h * p->kernel_w;
    return p->stride_h == 1 && p->stride_w == 1 && p->in_w == p->out_w && p->out_w % 16 != 0 &&
           (nv + 15) / 16 * taps * 2 <= AOT_DW_F32_FLAT_TABLE_MAX;
}

/* Lanes are unpacked into (row, column) by stepping, not dividing: this runs
 * once per call, but a division per lane and tap would cost as much as the
 * convolution of a small plane. */
static AOT_AVX512 void aot_dw_f32_flat_masks(const aot_conv2d_params *p, uint16_t *masks)
{
    const int32_t nv = p->out_h * p->out_w, taps = p->kernel_h * p->kernel_w;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i out_w = _mm512_set1_epi32(p->out_w), one = _mm512_set1_epi32(1);
    const __m512i in_h = _mm512_set1_epi32(p->in_h), in_w = _mm512_set1_epi32(p->in_w);
    int32_t v, t, k, oy0 = 0, ox0 = 0;
    for (v = 0; v < (nv + 15) / 16; ++v) {
        const __mmask16 live = _mm512_cmplt_epi32_mask(_mm512_add_epi32(lane,
                                                                         _mm512_set1_epi32(16 * v)),
                                                       _mm512_set1_epi32(nv));
        __m512i ox = _mm512_add_epi32(_mm512_set1_epi32(ox0), lane);
        __m512i oy = _mm512_set1_epi32(oy0);
        for (k = 0; k <= 16 / p->out_w; ++k) {
            const __mmask16 wrap = _mm512_cmpge_epi32_mask(ox, out_w);
            ox = _mm512_mask_sub_epi32(ox, wrap, ox, out_w);
            oy = _mm512_mask_add_epi32(oy, wrap, oy, one);
        }
        for (t = 0; t < taps; ++t) {
            const __m512i iy = _mm512_add_epi32(
                oy, _mm512_set1_epi32((t / p->kernel_w) * p->dilation_h - p->pad_top));
            const __m512i ix = _mm512_add_epi32(
                ox, _mm512_set1_epi32((t % p->kernel_w) * p->dilation_w - p->pad_left));
            /* unsigned compares: a negative row or column is out of range too */
            masks[v * taps + t] = (uint16_t)(live & _mm512_cmplt_epu32_mask(iy, in_h) &
                                             _mm512_cmplt_epu32_mask(ix, in_w));
        }
        ox0 += 16;
        while (ox0 >= p->out_w) {
            ox0 -= p->out_w;
            ++oy0;
        }
    }
}

/* What a plane's loops read, in locals (the compiler keeps them in registers
 * instead of reloading the parameter block around every store). */
typedef struct {
    int32_t in_h, in_w, out_h, out_w, kh, kw, sh, dh, dw, pt, pl;
} aot_dw_f32_geom;

AOT_X86_INLINE aot_dw_f32_geom aot_dw_f32_geom_of(const aot_conv2d_params *p)
{
    aot_dw_f32_geom g;
    g.in_h = p->in_h;
    g.in_w = p->in_w;
    g.out_h = p->out_h;
    g.out_w = p->out_w;
    g.kh = p->kernel_h;
    g.kw = p->kernel_w;
    g.sh = p->stride_h;
    g.dh = p->dilation_h;
    g.dw = p->dilation_w;
    g.pt = p->pad_top;
    g.pl = p->pad_left;
    return g;
}

/* Output rows [oy, oy + nrows) x vectors [v0, v0 + nvec) of one channel: up
 * to 8 accumulators, so the fused multiply-adds are not bound by their latency,
 * and the rows share each tap's mask. nrows, nvec and sw are literals (sw 0:
 * any stride sw_rt, gathered). A row outside the input reads `zeros`. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_row_block(const aot_dw_f32_geom g, const float *x,
                                                    const float *w, __m512 bias,
                                                    const aot_act_f32 *act,
                                                    const uint32_t *masks, const float *zeros,
                                                    int32_t oy, const int nrows, int32_t v0,
                                                    const int nvec, const int sw, int32_t sw_rt,
                                                    float *y)
{
    const int32_t step = 16 * (sw != 0 ? sw : sw_rt);
    const uint32_t *mv = masks + v0 * g.kw;
    __m512 acc[4][4];
    const float *rows[4];
    int32_t ky, kx, v, r;
    AOT_X86_UNROLL
    for (r = 0; r < nrows; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            acc[r][v] = bias;
        }
    }
    for (ky = 0; ky < g.kh; ++ky) {
        const float *wk = w + ky * g.kw;
        AOT_X86_UNROLL
        for (r = 0; r < nrows; ++r) {
            const int32_t iy = (oy + r) * g.sh + ky * g.dh - g.pt;
            rows[r] = (iy < 0 || iy >= g.in_h ? zeros : x + iy * g.in_w) + v0 * step - g.pl;
        }
        for (kx = 0; kx < g.kw; ++kx) {
            const __m512 wv = _mm512_set1_ps(wk[kx]);
            const int32_t off = kx * g.dw;
            AOT_X86_UNROLL
            for (v = 0; v < nvec; ++v) {
                const uint32_t m = mv[v * g.kw + kx];
                AOT_X86_UNROLL
                for (r = 0; r < nrows; ++r) {
                    acc[r][v] = _mm512_fmadd_ps(
                        wv, aot_avx512_lanes_load(rows[r] + off + v * step, sw != 0 ? sw : sw_rt, m),
                        acc[r][v]);
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (r = 0; r < nrows; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            const int32_t left = g.out_w - 16 * (v0 + v);
            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            _mm512_mask_storeu_ps(y + (oy + r) * g.out_w + 16 * (v0 + v), k,
                                  aot_avx512_act(act, acc[r][v]));
        }
    }
}

/* Output rows [oy, oy + nrows) of one channel, every vector. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_row_group(const aot_dw_f32_geom g, const float *x,
                                                    const float *w, __m512 b,
                                                    const aot_act_f32 *act,
                                                    const uint32_t *masks, const float *zeros,
                                                    int32_t oy, const int nrows, const int sw,
                                                    int32_t sw_rt, float *y)
{
    const int32_t nvec = (g.out_w + 15) / 16;
    int32_t v0;
    for (v0 = 0; v0 + 4 <= nvec; v0 += 4) {
        aot_dw_f32_row_block(g, x, w, b, act, masks, zeros, oy, nrows, v0, 4, sw, sw_rt, y);
    }
    if (nvec - v0 >= 2) {
        aot_dw_f32_row_block(g, x, w, b, act, masks, zeros, oy, nrows, v0, 2, sw, sw_rt, y);
        v0 += 2;
    }
    if (nvec - v0 == 1) {
        aot_dw_f32_row_block(g, x, w, b, act, masks, zeros, oy, nrows, v0, 1, sw, sw_rt, y);
    }
}

/* One channel: two output rows at a time (four when a row is one vector). */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_rows(const aot_dw_f32_geom g, const float *x,
                                               const float *w, float bias,
                                               const aot_act_f32 *act, const uint32_t *masks,
                                               const float *zeros, const int sw, int32_t sw_rt,
                                               float *y)
{
    const __m512 b = _mm512_set1_ps(bias);
    int32_t oy = 0;
    if (g.out_w <= 16) {
        for (; oy + 4 <= g.out_h; oy += 4) {
            aot_dw_f32_row_block(g, x, w, b, act, masks, zeros, oy, 4, 0, 1, sw, sw_rt, y);
        }
    }
    for (; oy + 2 <= g.out_h; oy += 2) {
        aot_dw_f32_row_group(g, x, w, b, act, masks, zeros, oy, 2, sw, sw_rt, y);
    }
    if (oy < g.out_h) {
        aot_dw_f32_row_group(g, x, w, b, act, masks, zeros, oy, 1, sw, sw_rt, y);
    }
}

static AOT_AVX512 void aot_dw_f32_rows_s1(const aot_dw_f32_geom g, const float *x, const float *w,
                                         float bias, const aot_act_f32 *act,
                                         const uint32_t *masks, const float *zeros, float *y)
{
    aot_dw_f32_rows(g, x, w, bias, act, masks, zeros, 1, 1, y);
}

static AOT_AVX512 void aot_dw_f32_rows_s2(const aot_dw_f32_geom g, const float *x, const float *w,
                                         float bias, const aot_act_f32 *act,
                                         const uint32_t *masks, const float *zeros, float *y)
{
    aot_dw_f32_rows(g, x, w, bias, act, masks, zeros, 2, 2, y);
}

static AOT_AVX512 void aot_dw_f32_rows_any(const aot_dw_f32_geom g, const float *x,
                                          const float *w, float bias, const aot_act_f32 *act,
                                          const uint32_t *masks, const float *zeros,
                                          int32_t sw, float *y)
{
    aot_dw_f32_rows(g, x, w, bias, act, masks, zeros, 0, sw, y);
}

/* Vectors [v0, v0 + nvec) of a flat plane; nvec a literal. offs: each tap's input offset. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_flat_chunk(int32_t taps, int32_t nv, const float *x,
                                                     const float *w, __m512 bias,
                                                     const aot_act_f32 *act,
                                                     const int32_t *offs,
                                                     const uint16_t *masks, int32_t v0,
                                                     const int nvec, float *y)
{
    const uint16_t *mv = masks + v0 * taps;
    const float *x0 = x + 16 * v0;
    __m512 acc[8];
    int32_t t, v;
    AOT_X86_UNROLL
    for (v = 0; v < nvec; ++v) {
        acc[v] = bias;
    }
    for (t = 0; t < taps; ++t) {
        const __m512 wv = _mm512_set1_ps(w[t]);
        const float *xt = x0 + offs[t];
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            acc[v] = _mm512_fmadd_ps(
                wv, _mm512_maskz_loadu_ps((__mmask16)mv[v * taps + t], xt + 16 * v), acc[v]);
        }
    }
    AOT_X86_UNROLL
    for (v = 0; v < nvec; ++v) {
        const int32_t left = nv - 16 * (v0 + v);
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        _mm512_mask_storeu_ps(y + 16 * (v0 + v), k, aot_avx512_act(act, acc[v]));
    }
}

static AOT_AVX512 void aot_dw_f32_flat_plane(int32_t taps, int32_t nv, const float *x,
                                            const float *w, float bias, const aot_act_f32 *act,
                                            const int32_t *offs, const uint16_t *masks,
                                            float *y)
{
    const int32_t nvec = (nv + 15) / 16;
    const __m512 b = _mm512_set1_ps(bias);
    int32_t v0;
    for (v0 = 0; v0 + 8 <= nvec; v0 += 8) {
        aot_dw_f32_flat_chunk(taps, nv, x, w, b, act, offs, masks, v0, 8, y);
    }
    if (nvec - v0 >= 4) {
        aot_dw_f32_flat_chunk(taps, nv, x, w, b, act, offs, masks, v0, 4, y);
        v0 += 4;
    }
    if (nvec - v0 >= 2) {
        aot_dw_f32_flat_chunk(taps, nv, x, w, b, act, offs, masks, v0, 2, y);
        v0 += 2;
    }
    if (nvec - v0 == 1) {
        aot_dw_f32_flat_chunk(taps, nv, x, w, b, act, offs, masks, v0, 1, y);
    }
}

/* ---- sliding windows: stride_w 1, dilation_w 1, kernel_w 3 or 5 ---------------
 * A tap row's kernel_w shifted input vectors come from the same two loads
 * (valignd), instead of a load each. */

AOT_X86_INLINE int aot_dw_f32_slides(const aot_conv2d_params *p)
{
    return p->stride_w == 1 && p->dilation_w == 1 && (p->kernel_w == 3 || p->kernel_w == 5);
}

/* x[start + l] for the lanes l with 0 <= start + l < n, else 0. A masked load
 * costs about twice a plain one here (Zen 5): only vectors at an edge take it. */
AOT_X86_INLINE AOT_AVX512 __m512 aot_dw_f32_in(const float *x, int32_t start, int32_t n)
{
    if (start >= 0 && start + 16 <= n) {
        return _mm512_loadu_ps(x + start);
    }
    return _mm512_maskz_loadu_ps((__mmask16)aot_avx512_span(start, n), x + start);
}

/* Lanes [s, s + 16) of the 32 in lo:hi; s a literal (valignd takes an immediate). */
AOT_X86_INLINE AOT_AVX512 __m512 aot_dw_f32_shift(__m512 lo, __m512 hi, const int s)
{
    const __m512i l = _mm512_castps_si512(lo), h = _mm512_castps_si512(hi);
    switch (s) {
    case 1:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 1));
    case 2:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 2));
    case 3:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 3));
    case 4:
        return _mm512_castsi512_ps(_mm512_alignr_epi32(h, l, 4));
    default:
        return lo;
    }
}

/* aot_dw_f32_row_block sliding; kw a literal. Loads outside the row read 0,
 * the padding, so no tap needs a mask. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_slide_block(const aot_dw_f32_geom g, const float *x,
                                                      const float *w, __m512 bias,
                                                      const aot_act_f32 *act,
                                                      const float *zeros, int32_t oy,
                                                      const int nrows, int32_t v0,
                                                      const int nvec, const int kw, float *y)
{
    const int32_t s0 = 16 * v0 - g.pl;
    __m512 acc[4][4];
    int32_t ky, kx, v, r;
    AOT_X86_UNROLL
    for (r = 0; r < nrows; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            acc[r][v] = bias;
        }
    }
    for (ky = 0; ky < g.kh; ++ky) {
        const float *wk = w + ky * kw;
        __m512 in[4][5];
        AOT_X86_UNROLL
        for (r = 0; r < nrows; ++r) {
            const int32_t iy = (oy + r) * g.sh + ky * g.dh - g.pt;
            const float *row = iy < 0 || iy >= g.in_h ? zeros : x + iy * g.in_w;
            AOT_X86_UNROLL
            for (v = 0; v <= nvec; ++v) {
                in[r][v] = aot_dw_f32_in(row, s0 + 16 * v, g.in_w);
            }
        }
        AOT_X86_UNROLL
        for (kx = 0; kx < kw; ++kx) {
            const __m512 wv = _mm512_set1_ps(wk[kx]);
            AOT_X86_UNROLL
            for (r = 0; r < nrows; ++r) {
                AOT_X86_UNROLL
                for (v = 0; v < nvec; ++v) {
                    acc[r][v] = _mm512_fmadd_ps(wv, aot_dw_f32_shift(in[r][v], in[r][v + 1], kx),
                                                acc[r][v]);
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (r = 0; r < nrows; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            const int32_t left = g.out_w - 16 * (v0 + v);
            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            _mm512_mask_storeu_ps(y + (oy + r) * g.out_w + 16 * (v0 + v), k,
                                  aot_avx512_act(act, acc[r][v]));
        }
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_slide_group(const aot_dw_f32_geom g, const float *x,
                                                      const float *w, __m512 b,
                                                      const aot_act_f32 *act,
                                                      const float *zeros, int32_t oy,
                                                      const int nrows, const int kw, float *y)
{
    const int32_t nvec = (g.out_w + 15) / 16;
    int32_t v0;
    for (v0 = 0; v0 + 4 <= nvec; v0 += 4) {
        aot_dw_f32_slide_block(g, x, w, b, act, zeros, oy, nrows, v0, 4, kw, y);
    }
    if (nvec - v0 >= 2) {
        aot_dw_f32_slide_block(g, x, w, b, act, zeros, oy, nrows, v0, 2, kw, y);
        v0 += 2;
    }
    if (nvec - v0 == 1) {
        aot_dw_f32_slide_block(g, x, w, b, act, zeros, oy, nrows, v0, 1, kw, y);
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_slide_rows(const aot_dw_f32_geom g, const float *x,
                                                     const float *w, float bias,
                                                     const aot_act_f32 *act,
                                                     const float *zeros, const int kw, float *y)
{
    const __m512 b = _mm512_set1_ps(bias);
    int32_t oy = 0;
    if (g.out_w <= 16) {
        for (; oy + 4 <= g.out_h; oy += 4) {
            aot_dw_f32_slide_block(g, x, w, b, act, zeros, oy, 4, 0, 1, kw, y);
        }
    }
    for (; oy + 2 <= g.out_h; oy += 2) {
        aot_dw_f32_slide_group(g, x, w, b, act, zeros, oy, 2, kw, y);
    }
    if (oy < g.out_h) {
        aot_dw_f32_slide_group(g, x, w, b, act, zeros, oy, 1, kw, y);
    }
}

static AOT_AVX512 void aot_dw_f32_slide_rows_k3(const aot_dw_f32_geom g, const float *x,
                                               const float *w, float bias,
                                               const aot_act_f32 *act, const float *zeros,
                                               float *y)
{
    aot_dw_f32_slide_rows(g, x, w, bias, act, zeros, 3, y);
}

static AOT_AVX512 void aot_dw_f32_slide_rows_k5(const aot_dw_f32_geom g, const float *x,
                                               const float *w, float bias,
                                               const aot_act_f32 *act, const float *zeros,
                                               float *y)
{
    aot_dw_f32_slide_rows(g, x, w, bias, act, zeros, 5, y);
}

/* aot_dw_f32_flat_chunk sliding; kw a literal. The loads cover the whole plane
 * (n_in elements), so a tap's lanes that wrap into a neighbouring row are
 * masked at the multiply-add instead. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_flat_slide(int32_t kh, int32_t nv, int32_t n_in,
                                                     const float *x, const float *w,
                                                     __m512 bias, const aot_act_f32 *act,
                                                     const int32_t *offs,
                                                     const uint16_t *masks, int32_t v0,
                                                     const int nvec, const int kw, float *y)
{
    const int32_t taps = kh * kw;
    const uint16_t *mv = masks + v0 * taps;
    __m512 acc[8];
    int32_t ky, kx, v;
    AOT_X86_UNROLL
    for (v = 0; v < nvec; ++v) {
        acc[v] = bias;
    }
    for (ky = 0; ky < kh; ++ky) {
        const int32_t s0 = 16 * v0 + offs[ky * kw];
        const float *wk = w + ky * kw;
        __m512 in[9];
        AOT_X86_UNROLL
        for (v = 0; v <= nvec; ++v) {
            in[v] = aot_dw_f32_in(x, s0 + 16 * v, n_in);
        }
        AOT_X86_UNROLL
        for (kx = 0; kx < kw; ++kx) {
            const __m512 wv = _mm512_set1_ps(wk[kx]);
            AOT_X86_UNROLL
            for (v = 0; v < nvec; ++v) {
                acc[v] = _mm512_mask3_fmadd_ps(wv, aot_dw_f32_shift(in[v], in[v + 1], kx),
                                               acc[v],
                                               (__mmask16)mv[v * taps + ky * kw + kx]);
            }
        }
    }
    AOT_X86_UNROLL
    for (v = 0; v < nvec; ++v) {
        const int32_t left = nv - 16 * (v0 + v);
        const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        _mm512_mask_storeu_ps(y + 16 * (v0 + v), k, aot_avx512_act(act, acc[v]));
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_flat_slide_plane(int32_t kh, int32_t nv, int32_t n_in,
                                                           const float *x, const float *w,
                                                           float bias, const aot_act_f32 *act,
                                                           const int32_t *offs,
                                                           const uint16_t *masks,
                                                           const int kw, float *y)
{
    const int32_t nvec = (nv + 15) / 16;
    const __m512 b = _mm512_set1_ps(bias);
    int32_t v0;
    for (v0 = 0; v0 + 8 <= nvec; v0 += 8) {
        aot_dw_f32_flat_slide(kh, nv, n_in, x, w, b, act, offs, masks, v0, 8, kw, y);
    }
    if (nvec - v0 >= 4) {
        aot_dw_f32_flat_slide(kh, nv, n_in, x, w, b, act, offs, masks, v0, 4, kw, y);
        v0 += 4;
    }
    if (nvec - v0 >= 2) {
        aot_dw_f32_flat_slide(kh, nv, n_in, x, w, b, act, offs, masks, v0, 2, kw, y);
        v0 += 2;
    }
    if (nvec - v0 == 1) {
        aot_dw_f32_flat_slide(kh, nv, n_in, x, w, b, act, offs, masks, v0, 1, kw, y);
    }
}

static AOT_AVX512 void aot_dw_f32_flat_slide_k3(int32_t kh, int32_t nv, int32_t n_in,
                                               const float *x, const float *w, float bias,
                                               const aot_act_f32 *act, const int32_t *offs,
                                               const uint16_t *masks, float *y)
{
    aot_dw_f32_flat_slide_plane(kh, nv, n_in, x, w, bias, act, offs, masks, 3, y);
}

static AOT_AVX512 void aot_dw_f32_flat_slide_k5(int32_t kh, int32_t nv, int32_t n_in,
                                               const float *x, const float *w, float bias,
                                               const aot_act_f32 *act, const int32_t *offs,
                                               const uint16_t *masks, float *y)
{
    aot_dw_f32_flat_slide_plane(kh, nv, n_in, x, w, bias, act, offs, masks, 5, y);
}

/* ---- padded plane: stride 1, dilation 1, square 3x3 or 5x5 kernels -----------------
 * Each channel is copied once into a zero-bordered plane in scratch, so every
 * tap of a block of R output rows x V vectors is a plain unaligned load
 * folded into its multiply-add (no masks, no lane shifts), up to 16
 * accumulators; with the kernel rows unrolled, rows shared by neighbouring
 * output rows are loaded once.
 * Scratch (aot_dw_f32_pad_dims, rules_x86.dw_f32_pad_scratch): the plane
 * [hp][wp] floats, wp = 16 * ceil(out_w / 16) + 16, from the first 64-byte
 * boundary. Bit for bit the sums of the in-place paths (same tap order, and a
 * padding tap adds w * 0). */

/* 3x3 on rows narrower than a vector stays flat (measured: a padded row
 * would leave most of its vector idle); 5x5 has the taps to pay for it. */
AOT_X86_INLINE int aot_dw_f32_padded(const aot_conv2d_params *p)
{
    return p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
           p->kernel_h == p->kernel_w &&
           ((p->kernel_w == 3 && p->out_w >= 16) || p->kernel_w == 5);
}

AOT_X86_INLINE void aot_dw_f32_pad_dims(const aot_conv2d_params *p, int32_t *hp, int32_t *wp)
{
    const int32_t rows = p->out_h + p->kernel_h - 1;
    *hp = p->in_h + p->pad_top > rows ? p->in_h + p->pad_top : rows;
    *wp = 16 * ((p->out_w + 15) / 16) + 16;
}

typedef struct {
    int32_t out_h, out_w, wp;
    int32_t in_h, in_w, pt, pl;
} aot_dw_f32_pad_geom;

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_pad_block(const aot_dw_f32_pad_geom g, const float *t,
                                                    const float *w, __m512 bias,
                                                    const aot_act_f32 *act, int32_t oy,
                                                    int32_t v0, float *y, const int R,
                                                    const int V, const int K)
{
    __m512 acc[4][4];
    int r, v, i, kx;
    AOT_X86_UNROLL
    for (r = 0; r < R; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < V; ++v) {
            acc[r][v] = bias;
        }
    }
    /* Plane row oy + i feeds output rows r = i - ky; taking i in order keeps each
     * accumulator's taps in (ky, kx) order, as the other paths sum them. */
    AOT_X86_UNROLL
    for (i = 0; i < R + K - 1; ++i) {
        const float *row = t + (oy + i) * g.wp + 16 * v0;
        __m512 in[5];
        AOT_X86_UNROLL
        for (v = 0; v <= V; ++v) {
            in[v] = _mm512_loadu_ps(row + 16 * v);
        }
        AOT_X86_UNROLL
        for (kx = 0; kx < K; ++kx) {
            AOT_X86_UNROLL
            for (v = 0; v < V; ++v) {
                const __m512 xv = aot_dw_f32_shift(in[v], in[v + 1], kx);
                AOT_X86_UNROLL
                for (r = 0; r < R; ++r) {
                    if (i - r >= 0 && i - r < K) {
                        acc[r][v] = _mm512_fmadd_ps(_mm512_set1_ps(w[(i - r) * K + kx]), xv,
                                                    acc[r][v]);
                    }
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (r = 0; r < R; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < V; ++v) {
            const int32_t left = g.out_w - 16 * (v0 + v);
            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            _mm512_mask_storeu_ps(y + (oy + r) * g.out_w + 16 * (v0 + v), k,
                                  aot_avx512_act(act, acc[r][v]));
        }
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_pad_rows(const aot_dw_f32_pad_geom g, const float *t,
                                                   const float *w, __m512 b,
                                                   const aot_act_f32 *act, int32_t oy,
                                                   float *y, const int R, const int K)
{
    const int32_t nvec = (g.out_w + 15) / 16;
    int32_t v0;
    for (v0 = 0; v0 + 4 <= nvec; v0 += 4) {
        aot_dw_f32_pad_block(g, t, w, b, act, oy, v0, y, R, 4, K);
    }
    switch (nvec - v0) {
    case 3:
        aot_dw_f32_pad_block(g, t, w, b, act, oy, v0, y, R, 3, K);
        break;
    case 2:
        aot_dw_f32_pad_block(g, t, w, b, act, oy, v0, y, R, 2, K);
        break;
    case 1:
        aot_dw_f32_pad_block(g, t, w, b, act, oy, v0, y, R, 1, K);
        break;
    default:
        break;
    }
}

/* Input rows into the plane up to padded row `last`, from *next on. Copying
 * rows just before the blocks that read them overlaps streaming the input in
 * with the arithmetic. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_pad_fill(const aot_dw_f32_pad_geom g, const float *x,
                                                   float *t, int32_t *next, int32_t last)
{
    const __mmask16 tail = (__mmask16)((1u << (g.in_w % 16)) - 1u);
    int32_t iy, ix;
    for (iy = *next; iy < g.in_h && iy + g.pt <= last; ++iy) {
        const float *src = x + iy * g.in_w;
        float *dst = t + (iy + g.pt) * g.wp + g.pl;
        for (ix = 0; ix + 16 <= g.in_w; ix += 16) {
            _mm512_storeu_ps(dst + ix, _mm512_loadu_ps(src + ix));
        }
        if (ix < g.in_w) {
            _mm512_mask_storeu_ps(dst + ix, tail, _mm512_maskz_loadu_ps(tail, src + ix));
        }
    }
    *next = iy;
}

/* One channel; x NULL: its plane is already filled (depth multiplier). */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_pad_plane(const aot_dw_f32_pad_geom g, const float *x,
                                                    float *t, const float *w, float bias,
                                                    const aot_act_f32 *act, float *y,
                                                    const int K)
{
    const __m512 b = _mm512_set1_ps(bias);
    int32_t oy, next = x != NULL ? 0 : g.in_h;
    for (oy = 0; oy + 4 <= g.out_h; oy += 4) {
        aot_dw_f32_pad_fill(g, x, t, &next, oy + 3 + K - 1);
        aot_dw_f32_pad_rows(g, t, w, b, act, oy, y, 4, K);
    }
    if (oy < g.out_h) {
        aot_dw_f32_pad_fill(g, x, t, &next, g.out_h - 1 + K - 1);
    }
    switch (g.out_h - oy) {
    case 3:
        aot_dw_f32_pad_rows(g, t, w, b, act, oy, y, 3, K);
        break;
    case 2:
        aot_dw_f32_pad_rows(g, t, w, b, act, oy, y, 2, K);
        break;
    case 1:
        aot_dw_f32_pad_rows(g, t, w, b, act, oy, y, 1, K);
        break;
    default:
        break;
    }
}

typedef void (*aot_dw_f32_pad_fn)(const aot_dw_f32_pad_geom g, const float *x, float *t,
                                  const float *w, float bias, const aot_act_f32 *act, float *y);

static AOT_AVX512 void aot_dw_f32_pad_k3(const aot_dw_f32_pad_geom g, const float *x, float *t,
                                        const float *w, float bias, const aot_act_f32 *act,
                                        float *y)
{
    aot_dw_f32_pad_plane(g, x, t, w, bias, act, y, 3);
}

static AOT_AVX512 void aot_dw_f32_pad_k5(const aot_dw_f32_pad_geom g, const float *x, float *t,
                                        const float *w, float bias, const aot_act_f32 *act,
                                        float *y)
{
    aot_dw_f32_pad_plane(g, x, t, w, bias, act, y, 5);
}

static AOT_AVX512 void aot_dw_f32_pad_run(const aot_conv2d_params *p, const float *input,
                                         const float *weights, const float *bias,
                                         float *output, void *scratch)
{
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, taps = p->kernel_h * p->kernel_w;
    /* 64-byte rows start on a cache line, so the unshifted loads never split one */
    float *t = (float *)(void *)((uint8_t *)scratch +
                                 ((64u - (uint32_t)((uintptr_t)scratch % 64u)) % 64u));
    const aot_dw_f32_pad_fn plane = p->kernel_w == 3 ? aot_dw_f32_pad_k3 : aot_dw_f32_pad_k5;
    aot_dw_f32_pad_geom g;
    int32_t hp, wp, i, n, oc;
    aot_dw_f32_pad_dims(p, &hp, &wp);
    g.out_h = p->out_h;
    g.out_w = p->out_w;
    g.wp = wp;
    g.in_h = p->in_h;
    g.in_w = p->in_w;
    g.pt = p->pad_top;
    g.pl = p->pad_left;
    for (i = 0; i < hp * wp; i += 16) {   /* the padding; input rows are rewritten */
        _mm512_storeu_ps(t + i, _mm512_setzero_ps());
    }
    for (n = 0; n < p->batch; ++n) {
        for (oc = 0; oc < p->out_c; ++oc) {
            const float *x = input + (n * p->in_c + oc / mult) * in_plane;
            plane(g, oc % mult == 0 ? x : NULL, t, weights + oc * taps,
                  bias != NULL ? bias[oc] : 0.0f, &p->act, output + (n * p->out_c + oc) * out_plane);
        }
    }
}

AOT_AVX512 void aot_depthwise_conv2d_avx512_f32(const aot_conv2d_params *params, const float *input,
                                            const float *weights, const float *bias,
                                            float *output, void *scratch)
{
    const aot_conv2d_params *p = params;
    const aot_dw_f32_geom g = aot_dw_f32_geom_of(p);
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, taps = p->kernel_h * p->kernel_w;
    const int flat = aot_dw_f32_flat(p), slides = aot_dw_f32_slides(p);
    int32_t *offs = (int32_t *)scratch;
    void *table = (uint8_t *)scratch + aot_x86_table_bytes(taps);
    float *zeros = (float *)(void *)((uint8_t *)table + aot_x86_round_up(
                                                           (p->out_w + 15) / 16 * p->kernel_w * 4, 64));
    int32_t n, oc, t;
    if (aot_dw_f32_padded(p)) {
        aot_dw_f32_pad_run(p, input, weights, bias, output, scratch);
        return;
    }
    if (flat) {
        for (t = 0; t < taps; ++t) {
            offs[t] = ((t / g.kw) * g.dh - g.pt) * g.in_w + (t % g.kw) * g.dw - g.pl;
        }
        aot_dw_f32_flat_masks(p, (uint16_t *)table);
    } else {
        aot_avx512_row_masks(p, (uint32_t *)table);
        for (t = 0; t < p->in_w; ++t) {
            zeros[t] = 0.0f;
        }
    }
    for (n = 0; n < p->batch; ++n) {
        for (oc = 0; oc < p->out_c; ++oc) {
            const float *x = input + (n * p->in_c + oc / mult) * in_plane;
            const float *w = weights + oc * taps;
            const float b = bias != NULL ? bias[oc] : 0.0f;
            float *y = output + (n * p->out_c + oc) * out_plane;
            if (flat && slides) {
                (p->kernel_w == 3 ? aot_dw_f32_flat_slide_k3 : aot_dw_f32_flat_slide_k5)(
                    p->kernel_h, out_plane, in_plane, x, w, b, &p->act, offs,
                    (const uint16_t *)table, y);
            } else if (flat) {
                aot_dw_f32_flat_plane(taps, out_plane, x, w, b, &p->act, offs,
                                      (const uint16_t *)table, y);
            } else if (slides) {
                (p->kernel_w == 3 ? aot_dw_f32_slide_rows_k3 : aot_dw_f32_slide_rows_k5)(
                    g, x, w, b, &p->act, zeros, y);
            } else if (p->stride_w == 1) {
                aot_dw_f32_rows_s1(g, x, w, b, &p->act, (const uint32_t *)table, zeros, y);
            } else if (p->stride_w == 2) {
                aot_dw_f32_rows_s2(g, x, w, b, &p->act, (const uint32_t *)table, zeros, y);
            } else {
                aot_dw_f32_rows_any(g, x, w, b, &p->act, (const uint32_t *)table, zeros,
                                    p->stride_w, y);
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_avx512_f32_needs_x86;
#endif
