/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * Depthwise convolution on NCHW planes, one path per layer form:
 *
 * - padded flat (stride 1, input rows no wider than the output's, output
 *   rows not a whole number of vectors; `pflat` below): each channel copied
 *   into a flat zero-bordered plane, pixels of a vector running on across
 *   output rows, 8 channels at a time.
 * - padded (stride 1, dilation 1, square 3x3 / 5x5 kernels, otherwise;
 *   `padded` below): each channel copied into a zero-bordered plane of
 *   whole-vector rows: no masks, aligned loads, up to 16 accumulators.
 * - rows (otherwise): read straight from the input, output rows 64 pixels at
 *   a time; lanes outside the input read 0 (masked loads), which is the
 *   padding; stride_w 1 is one load, 2 two loads and an even-lane permute,
 *   larger a gather; at stride_w 1 and dilation_w 1 with 3- or 5-wide
 *   kernels a tap row's shifted vectors come from the same loads (valignd).
 *   Up to 8 accumulators (two output rows x four vectors, or four rows of
 *   one vector), so they are not bound by the multiply-add latency.
 *
 * Products are fused multiply-adds in (ky, kx) order on every path.
 * Scratch: pflat and padded, see there; rows: the lane masks
 * [ceil(out_w / 16)][kernel_w] uint32 (aot_avx512_row_masks) rounded up to 64
 * bytes, then a row of in_w zeros that rows above and below the input read.
 * targets/rules_x86.py (`dw_f32_pflat`, `dw_f32_pad`, `phase_scratch`) sizes
 * scratch with the same rules: keep the two in step.
 */

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

/* ---- padded flat: stride 1, input rows no wider than the output's, not whole vectors ----
 * Each channel is copied into a flat plane in scratch, rows out_w apart, after
 * pad_top zero rows and pad_left zeros, with zeros after it: output pixel
 * q = oy * out_w + ox takes tap (ky, kx) from element
 * q + ky * dilation_h * out_w + kx * dilation_w of the plane, for every pixel
 * alike, so a vector of 16 pixels (spanning rows) needs no row masks and no
 * edge cases. A lane whose column ox + kx * dilation_w - pad_left falls
 * outside the input row is dropped by the multiply-add's mask, which depends
 * on the vector and kx only (a table [nvec][kernel_w] uint16, built per call).
 * Blocks of 8 channels x 2 vectors (16 accumulators) take their 2 x kernel_w
 * masks into mask registers once for all rows and channels (measured on Zen 5:
 * a mask loaded from memory per multiply-add halves the rate). 3- and 5-wide
 * kernels at dilation_w 1 load a tap row once per vector and shift it
 * (valignd): a 64-byte load that is not 64-byte aligned issues once per
 * cycle here, and a masked multiply-add with a memory operand runs slower
 * still; other kernels load each tap. The next block's planes are filled
 * before a block runs (two sets). Every address stays inside scratch (on AMD
 * a masked-off lane outside mapped memory costs a microcode assist). Taps are
 * summed in (ky, kx) order as the other paths sum them; a dropped lane adds
 * nothing where they add w * 0. Channels left over from the blocks of 8 run
 * one at a time (the same sums).
 * Scratch (aot_dw_f32_pflat_dims_of, rules_x86.dw_f32_pflat_scratch): up to 64
 * bytes to align, the mask table rounded up to 64 bytes, then 2 x 8 planes of
 * `plane` floats. */

#define AOT_DW_F32_PFLAT_MAX_PIXELS 4096   /* output pixels: bounds the 16 planes in scratch */

/* Square 5x5 kernels at dilation 1 stay `padded` (measured faster: 28x28 6.0
 * vs 8.2 us, 40x40 16.4 vs 20.8 us). */
AOT_X86_INLINE int aot_dw_f32_pflat(const aot_conv2d_params *p)
{
    return p->stride_h == 1 && p->stride_w == 1 && p->in_w <= p->out_w && p->out_w % 16 != 0 &&
           p->out_h * p->out_w <= AOT_DW_F32_PFLAT_MAX_PIXELS &&
           !(p->kernel_h == 5 && p->kernel_w == 5 && p->dilation_h == 1 && p->dilation_w == 1);
}

#define AOT_DW_F32_PFLAT_GROUP 8   /* channels per block */

typedef struct {
    int32_t nvec, group;    /* vectors per plane, channels per block */
    int32_t plane;          /* floats per channel plane (a multiple of 16) */
    int32_t mask_bytes;     /* the mask table, rounded up to 64 */
} aot_dw_f32_pflat_dims;

AOT_X86_INLINE aot_dw_f32_pflat_dims aot_dw_f32_pflat_dims_of(const aot_conv2d_params *p)
{
    aot_dw_f32_pflat_dims d;
    /* the last vector's farthest tap, and its next vector (the shifts' second source) */
    const int32_t reach = (p->kernel_h - 1) * p->dilation_h * p->out_w +
                          (p->kernel_w - 1) * p->dilation_w + 16;
    /* the last input row's end: out_w * (in_h + pad_top) + pad_left at most */
    const int32_t data = (p->in_h + p->pad_top) * p->out_w + p->pad_left;
    int32_t n;
    d.nvec = (p->out_h * p->out_w + 15) / 16;
    d.group = AOT_DW_F32_PFLAT_GROUP;
    n = 16 * d.nvec + reach;
    d.plane = aot_x86_round_up(n > data ? n : data, 16);
    d.mask_bytes = aot_x86_round_up(d.nvec * p->kernel_w * 2, 64);
    return d;
}

typedef struct {
    int32_t kh, kw, dh, dw, W, nv, taps;
} aot_dw_f32_pflat_geom;

static AOT_AVX512 void aot_dw_f32_pflat_masks(const aot_conv2d_params *p, int32_t nvec,
                                             uint16_t *masks)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i out_w = _mm512_set1_epi32(p->out_w), in_w = _mm512_set1_epi32(p->in_w);
    int32_t v, k, kx, ox0 = 0;
    for (v = 0; v < nvec; ++v) {
        __m512i ox = _mm512_add_epi32(_mm512_set1_epi32(ox0), lane);
        for (k = 0; k <= 16 / p->out_w; ++k) {
            ox = _mm512_mask_sub_epi32(ox, _mm512_cmpge_epi32_mask(ox, out_w), ox, out_w);
        }
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const __m512i ix = _mm512_add_epi32(
                ox, _mm512_set1_epi32(kx * p->dilation_w - p->pad_left));
            /* unsigned: a negative column is out of range too */
            masks[v * p->kernel_w + kx] = (uint16_t)_mm512_cmplt_epu32_mask(ix, in_w);
        }
        ox0 += 16;
        while (ox0 >= p->out_w) {
            ox0 -= p->out_w;
        }
    }
}

/* Vectors [v0, v0 + VP) of C channels (planes t[c], weights w + c * taps, bias
 * b[c], outputs y + c * nv), C, VP and K (kernel_w; 0: any width and dilation)
 * literals. The VP x K lane masks are loaded once into mask registers and
 * serve every row and channel: a mask loaded from memory per multiply-add
 * halves the rate on Zen 5. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_pflat_block(const aot_dw_f32_pflat_geom g,
                                                      float *const *t, const float *w,
                                                      const float *b, const aot_act_f32 *act,
                                                      const uint16_t *masks, int32_t v0,
                                                      float *y, const int C, const int VP,
                                                      const int K)
{
    __m512 acc[8][2];
    __mmask16 m[2][5];
    int32_t ky, kx, c, v;
    AOT_X86_UNROLL
    for (v = 0; v < VP; ++v) {
        AOT_X86_UNROLL
        for (kx = 0; kx < K; ++kx) {
            m[v][kx] = _load_mask16((__mmask16 *)(void *)(masks + (v0 + v) * K + kx));
        }
    }
    AOT_X86_UNROLL
    for (c = 0; c < C; ++c) {
        AOT_X86_UNROLL
        for (v = 0; v < VP; ++v) {
            acc[c][v] = _mm512_set1_ps(b[c]);
        }
    }
    for (ky = 0; ky < g.kh; ++ky) {
        const int32_t row = 16 * v0 + ky * g.dh * g.W;
        AOT_X86_UNROLL
        for (c = 0; c < C; ++c) {
            const float *src = t[c] + row, *wk = w + c * g.taps + ky * g.kw;
            if (K != 0) {
                __m512 in[3];
                AOT_X86_UNROLL
                for (v = 0; v <= VP; ++v) {
                    in[v] = _mm512_loadu_ps(src + 16 * v);
                    /* loaded once: folded into the multiply-add and the shifts it
                     * would be loaded three times, and masked multiply-adds with a
                     * memory operand run slower */
                    __asm__("" : "+v"(in[v]));
                }
                AOT_X86_UNROLL
                for (kx = 0; kx < K; ++kx) {
                    const __m512 wv = _mm512_set1_ps(wk[kx]);
                    AOT_X86_UNROLL
                    for (v = 0; v < VP; ++v) {
                        acc[c][v] = _mm512_mask3_fmadd_ps(
                            wv, aot_dw_f32_shift(in[v], in[v + 1], kx), acc[c][v], m[v][kx]);
                    }
                }
            } else {
                for (kx = 0; kx < g.kw; ++kx) {
                    const __m512 wv = _mm512_set1_ps(wk[kx]);
                    const float *s = src + kx * g.dw;
                    AOT_X86_UNROLL
                    for (v = 0; v < VP; ++v) {
                        __m512 xv = _mm512_loadu_ps(s + 16 * v);
                        /* a register operand: masked with a memory operand it runs slower */
                        __asm__("" : "+v"(xv));
                        acc[c][v] = _mm512_mask3_fmadd_ps(
                            wv, xv, acc[c][v],
                            _load_mask16((__mmask16 *)(void *)(masks + (v0 + v) * g.kw + kx)));
                    }
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (c = 0; c < C; ++c) {
        AOT_X86_UNROLL
        for (v = 0; v < VP; ++v) {
            const int32_t left = g.nv - 16 * (v0 + v);
            const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            _mm512_mask_storeu_ps(y + c * g.nv + 16 * (v0 + v), k, aot_avx512_act(act, acc[c][v]));
        }
    }
}

/* C channels over the whole plane, two vectors at a time; C and K literals. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_pflat_channels(const aot_dw_f32_pflat_geom g,
                                                         float *const *t, const float *w,
                                                         const float *b,
                                                         const aot_act_f32 *act,
                                                         const uint16_t *masks, float *y,
                                                         const int C, const int K)
{
    const aot_act_f32 a = *act;   /* a local: the output stores cannot alias it */
    const int32_t nvec = (g.nv + 15) / 16;
    int32_t v0;
    /* 5-wide: ten masks would not fit the seven mask registers */
    if (K == 5) {
        for (v0 = 0; v0 < nvec; ++v0) {
            aot_dw_f32_pflat_block(g, t, w, b, &a, masks, v0, y, C, 1, K);
        }
        return;
    }
    for (v0 = 0; v0 + 2 <= nvec; v0 += 2) {
        aot_dw_f32_pflat_block(g, t, w, b, &a, masks, v0, y, C, 2, K);
    }
    if (v0 < nvec) {
        aot_dw_f32_pflat_block(g, t, w, b, &a, masks, v0, y, C, 1, K);
    }
}

typedef void (*aot_dw_f32_pflat_fn)(const aot_dw_f32_pflat_geom g, float *const *t,
                                    const float *w, const float *b, const aot_act_f32 *act,
                                    const uint16_t *masks, float *y);

#define AOT_DW_F32_PFLAT_FN(C, K)                                                          \
    static AOT_AVX512 void aot_dw_f32_pflat_c##C##_k##K(                                   \
        const aot_dw_f32_pflat_geom g, float *const *t, const float *w, const float *b,    \
        const aot_act_f32 *act, const uint16_t *masks, float *y)                           \
    {                                                                                      \
        aot_dw_f32_pflat_channels(g, t, w, b, act, masks, y, C, K);                        \
    }
AOT_DW_F32_PFLAT_FN(1, 0)
AOT_DW_F32_PFLAT_FN(8, 0)
AOT_DW_F32_PFLAT_FN(1, 3)
AOT_DW_F32_PFLAT_FN(8, 3)
AOT_DW_F32_PFLAT_FN(1, 5)
AOT_DW_F32_PFLAT_FN(8, 5)

/* Input channel plane x into its place in plane t (whose padding stays zero). */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_pflat_fill(const aot_conv2d_params *p,
                                                     const float *x, float *t)
{
    /* equal widths: the rows follow each other, one run */
    const int32_t rows = p->in_w == p->out_w ? 1 : p->in_h;
    const int32_t n = p->in_w == p->out_w ? p->in_h * p->in_w : p->in_w;
    int32_t iy, i;
    for (iy = 0; iy < rows; ++iy) {
        const float *src = x + iy * p->in_w;
        float *dst = t + (iy + p->pad_top) * p->out_w + p->pad_left;
        for (i = 0; i + 16 <= n; i += 16) {
            _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
        }
        if (i < n) {
            const __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
            _mm512_mask_storeu_ps(dst + i, k, _mm512_maskz_loadu_ps(k, src + i));
        }
    }
}

static AOT_AVX512 void aot_dw_f32_pflat_run(const aot_conv2d_params *p, const float *input,
                                           const float *weights, const float *bias,
                                           float *output, void *scratch)
{
    const aot_dw_f32_pflat_dims d = aot_dw_f32_pflat_dims_of(p);
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t mult = p->out_c / p->in_c, taps = p->kernel_h * p->kernel_w;
    const int32_t full = p->out_c / d.group, per_image = full + p->out_c % d.group;
    const int32_t nblocks = p->batch * per_image;
    const aot_act_f32 act = p->act;   /* a local: the output stores cannot alias it */
    const int32_t K = p->dilation_w != 1 ? 0 : p->kernel_w == 3 ? 3 : p->kernel_w == 5 ? 5 : 0;
    uint8_t *base = (uint8_t *)scratch + ((64u - (uint32_t)((uintptr_t)scratch % 64u)) % 64u);
    uint16_t *masks = (uint16_t *)(void *)base;
    float *planes = (float *)(void *)(base + d.mask_bytes);
    float *t[2][8];
    float b[2][8];
    int32_t oc0[2] = {0, 0}, cn[2] = {0, 0}, n0[2] = {0, 0};
    aot_dw_f32_pflat_geom g;
    aot_dw_f32_pflat_fn group, one = aot_dw_f32_pflat_c1_k0;
    int32_t blk, c, i;
    g.kh = p->kernel_h;
    g.kw = p->kernel_w;
    g.dh = p->dilation_h;
    g.dw = p->dilation_w;
    g.W = p->out_w;
    g.nv = out_plane;
    g.taps = taps;
    if (K == 3) {
        one = aot_dw_f32_pflat_c1_k3;
        group = aot_dw_f32_pflat_c8_k3;
    } else if (K == 5) {
        one = aot_dw_f32_pflat_c1_k5;
        group = aot_dw_f32_pflat_c8_k5;
    } else {
        group = aot_dw_f32_pflat_c8_k0;
    }
    for (c = 0; c < d.group; ++c) {
        t[0][c] = planes + c * d.plane;
        t[1][c] = planes + (d.group + c) * d.plane;
    }
    /* the padding, once: channels rewrite only their data */
    for (i = 0; i < 2 * d.group * d.plane; i += 16) {
        _mm512_storeu_ps(planes + i, _mm512_setzero_ps());
    }
    aot_dw_f32_pflat_masks(p, d.nvec, masks);
    /* Per image: the whole groups, then the channels left one at a time. Block
     * blk + 1's planes are filled before block blk runs. */
    for (blk = 0; blk <= nblocks; ++blk) {
        const int32_t s = blk & 1, r = s ^ 1;
        if (blk < nblocks) {
            const int32_t j = blk % per_image;
            n0[s] = blk / per_image;
            oc0[s] = j < full ? j * d.group : full * d.group + (j - full);
            cn[s] = j < full ? d.group : 1;
            for (c = 0; c < cn[s]; ++c) {
                aot_dw_f32_pflat_fill(
                    p, input + (n0[s] * p->in_c + (oc0[s] + c) / mult) * in_plane, t[s][c]);
                b[s][c] = bias != NULL ? bias[oc0[s] + c] : 0.0f;
            }
        }
        if (blk > 0) {
            (cn[r] == d.group ? group : one)(g, t[r], weights + oc0[r] * taps, b[r], &act, masks,
                                             output + (n0[r] * p->out_c + oc0[r]) * out_plane);
        }
    }
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
    const int slides = aot_dw_f32_slides(p);
    const uint32_t *masks = (const uint32_t *)scratch;
    float *zeros = (float *)(void *)((uint8_t *)scratch + aot_x86_round_up(
                                                             (p->out_w + 15) / 16 * p->kernel_w * 4, 64));
    int32_t n, oc, t;
    if (aot_dw_f32_pflat(p)) {
        aot_dw_f32_pflat_run(p, input, weights, bias, output, scratch);
        return;
    }
    if (aot_dw_f32_padded(p)) {
        aot_dw_f32_pad_run(p, input, weights, bias, output, scratch);
        return;
    }
    aot_avx512_row_masks(p, (uint32_t *)scratch);
    for (t = 0; t < p->in_w; ++t) {
        zeros[t] = 0.0f;
    }
    for (n = 0; n < p->batch; ++n) {
        for (oc = 0; oc < p->out_c; ++oc) {
            const float *x = input + (n * p->in_c + oc / mult) * in_plane;
            const float *w = weights + oc * taps;
            const float b = bias != NULL ? bias[oc] : 0.0f;
            float *y = output + (n * p->out_c + oc) * out_plane;
            if (slides) {
                (p->kernel_w == 3 ? aot_dw_f32_slide_rows_k3 : aot_dw_f32_slide_rows_k5)(
                    g, x, w, b, &p->act, zeros, y);
            } else if (p->stride_w == 1) {
                aot_dw_f32_rows_s1(g, x, w, b, &p->act, masks, zeros, y);
            } else if (p->stride_w == 2) {
                aot_dw_f32_rows_s2(g, x, w, b, &p->act, masks, zeros, y);
            } else {
                aot_dw_f32_rows_any(g, x, w, b, &p->act, masks, zeros, p->stride_w, y);
            }
        }
    }
}
#else
typedef int aot_depthwise_conv2d_avx512_f32_needs_x86;
#endif
