/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the compute of the float depthwise convolution with 16
 * channels in lanes, shared by aot_depthwise_conv2d_lanes_avx512_f32 (NCHW in and
 * out, transposed here) and aot_depthwise_conv2d_c16_avx512_f32 (channel-blocked
 * activations, no transposes on the c16 side). Include after aot_conv2d_x86_impl.h.
 *
 * A group of 16 channels is computed from a zero-bordered [hp][wp][16] input plane
 * (only its border is zeroed, once per call: the interior is rewritten per group)
 * with the weights as [taps][16], into [out_h * out_w][16] results -- which is
 * already one block of a c16 tensor. Products are summed in (ky, kx) tap order on
 * every path, the order aot_depthwise_conv2d_avx512_f32 uses, so a channel's bits do
 * not depend on the path, the layout, or which other channels share the call.
 */
#ifndef AOT_DW_F32_LANES_IMPL_H
#define AOT_DW_F32_LANES_IMPL_H

/* Rows and columns of the zero-bordered input plane: the input at (pad_top, pad_left),
 * and every window of every output pixel inside. */
AOT_X86_INLINE void aot_dw_f32_lanes_padded(const aot_conv2d_params *p, int32_t *hp,
                                            int32_t *wp)
{
    const int32_t rows = (p->out_h - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h + 1;
    const int32_t cols = (p->out_w - 1) * p->stride_w + (p->kernel_w - 1) * p->dilation_w + 1;
    *hp = p->in_h + p->pad_top > rows ? p->in_h + p->pad_top : rows;
    *wp = p->in_w + p->pad_left > cols ? p->in_w + p->pad_left : cols;
}

/* In-register transpose of a 16 x 16 float block (r[i] lane j <-> r[j] lane i). */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_tr16(__m512 *r)
{
    __m512 t[16];
    int i, k;
    AOT_X86_UNROLL
    for (i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    AOT_X86_UNROLL
    for (i = 0; i < 4; ++i) {   /* r[4i + k], 128-bit lane L: rows 4i..4i+3, column 4L + k */
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    AOT_X86_UNROLL
    for (k = 0; k < 4; ++k) {   /* a 4 x 4 transpose of 128-bit lanes */
        const __m512 s0 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x44);
        const __m512 s1 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xEE);
        const __m512 s2 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x44);
        const __m512 s3 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xEE);
        t[k] = _mm512_shuffle_f32x4(s0, s2, 0x88);
        t[4 + k] = _mm512_shuffle_f32x4(s0, s2, 0xDD);
        t[8 + k] = _mm512_shuffle_f32x4(s1, s3, 0x88);
        t[12 + k] = _mm512_shuffle_f32x4(s1, s3, 0xDD);
    }
    AOT_X86_UNROLL
    for (i = 0; i < 16; ++i) {
        r[i] = t[i];
    }
}

/* Elements [0, n) of nc channels (lane l: src + ((c0 + l) / mult) * stride) as
 * vectors of 16 lanes, element e to vector at[e] of dst (at NULL: e). Lanes
 * l >= nc are 0. */
static inline AOT_AVX512 void aot_dw_f32_lanes_in(const float *src, int32_t stride,
    int32_t mult, int32_t c0, int32_t nc, int32_t n, const int32_t *at, float *dst)
{
    const float *rows[16];
    int32_t l, e, j;
    for (l = 0; l < 16; ++l) {
        /* no division when it is 1: this runs per group of channels */
        rows[l] = src + (l >= nc ? 0 : (mult == 1 ? c0 + l : (c0 + l) / mult) * stride);
    }
    for (e = 0; e < n; e += 16) {
        const int32_t cnt = n - e < 16 ? n - e : 16;
        const __mmask16 k = (__mmask16)((1u << cnt) - 1u);
        __m512 r[16];
        AOT_X86_UNROLL
        for (l = 0; l < 16; ++l) {
            r[l] = l >= nc ? _mm512_setzero_ps()
                   : cnt == 16 ? _mm512_loadu_ps(rows[l] + e)
                               : _mm512_maskz_loadu_ps(k, rows[l] + e);
        }
        aot_dw_f32_tr16(r);
        if (cnt == 16) {
            AOT_X86_UNROLL
            for (j = 0; j < 16; ++j) {
                _mm512_storeu_ps(dst + (at != NULL ? at[e + j] : e + j) * 16, r[j]);
            }
        } else {
            AOT_X86_UNROLL
            for (j = 0; j < 16; ++j) {
                if (j < cnt) {
                    _mm512_storeu_ps(dst + (at != NULL ? at[e + j] : e + j) * 16, r[j]);
                }
            }
        }
    }
}

/* [n][16] back to nc planes of n elements: lane l to y + (c0 + l) * stride. */
static inline AOT_AVX512 void aot_dw_f32_lanes_out(const float *o, int32_t n, int32_t c0,
    int32_t nc, float *y, int32_t stride)
{
    int32_t l, e, j;
    for (e = 0; e < n; e += 16) {
        const int32_t cnt = n - e < 16 ? n - e : 16;
        const __mmask16 k = (__mmask16)((1u << cnt) - 1u);
        __m512 r[16];
        AOT_X86_UNROLL
        for (j = 0; j < 16; ++j) {
            r[j] = j < cnt ? _mm512_loadu_ps(o + (e + j) * 16) : _mm512_setzero_ps();
        }
        aot_dw_f32_tr16(r);
        AOT_X86_UNROLL
        for (l = 0; l < 16; ++l) {
            if (l < nc) {
                float *d = y + (c0 + l) * stride + e;
                if (cnt == 16) {
                    _mm512_storeu_ps(d, r[l]);
                } else {
                    _mm512_mask_storeu_ps(d, k, r[l]);
                }
            }
        }
    }
}

/* What the lanes loops read, in locals. */
typedef struct {
    int32_t out_h, out_w, kh, kw, sh, sw, dh, dw, wp;
    int32_t in_h, in_w, pad_top, pad_left;
} aot_dw_f32_lanes_geom;

/* The narrow path reading the unpadded [in_h][in_w][16] input itself (a c16
 * block) instead of the padded plane: padded column r is the input's float
 * offset off[r] where keep[r], and rows or columns outside the input are read
 * as zeros (masked loads of an address inside the input), the values the
 * padded plane's border holds. */
typedef struct {
    int32_t off[10];
    __mmask16 keep[10];
} aot_dw_f32_lanes_direct;

/* DIRECT forms of the narrow path: 0 the padded plane, 1 the input with masked
 * columns, 2 the input of a row as wide as the output, one column of padding on
 * either side ('same' padding: the common case, without masks). */

/* Output pixels [ox, ox + R) of one row: t is the padded input at the block's
 * first window, wv the [taps][16] weights, o the block's [R][16] results. KW
 * and SW literals (dilation_w 1): a tap row's (R - 1) * SW + KW inputs are
 * loaded once; KW 0: any kernel width, stride and dilation, a load per tap. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_lanes_block(const aot_dw_f32_lanes_geom g,
                                                      const float *t, const float *wv,
                                                      __m512 bias, const aot_act_f32 *act,
                                                      float *o, const int R, const int KW,
                                                      const int SW)
{
    const int32_t row_step = g.dh * g.wp * 16;
    __m512 acc[8];
    int32_t ky, kx, r;
    AOT_X86_UNROLL
    for (r = 0; r < R; ++r) {
        acc[r] = bias;
    }
    for (ky = 0; ky < g.kh; ++ky) {
        const float *row = t + ky * row_step;
        if (KW != 0) {
            const float *wk = wv + ky * KW * 16;
            __m512 in[8 * 2 + 5];
            AOT_X86_UNROLL
            for (r = 0; r < (R - 1) * SW + KW; ++r) {
                in[r] = _mm512_loadu_ps(row + r * 16);
            }
            AOT_X86_UNROLL
            for (kx = 0; kx < KW; ++kx) {
                const __m512 w = _mm512_loadu_ps(wk + kx * 16);
                AOT_X86_UNROLL
                for (r = 0; r < R; ++r) {
                    acc[r] = _mm512_fmadd_ps(w, in[r * SW + kx], acc[r]);
                }
            }
        } else {
            const float *wk = wv + ky * g.kw * 16;
            for (kx = 0; kx < g.kw; ++kx) {
                const __m512 w = _mm512_loadu_ps(wk + kx * 16);
                const float *tk = row + kx * g.dw * 16;
                AOT_X86_UNROLL
                for (r = 0; r < R; ++r) {
                    acc[r] = _mm512_fmadd_ps(w, _mm512_loadu_ps(tk + r * g.sw * 16), acc[r]);
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (r = 0; r < R; ++r) {
        _mm512_storeu_ps(o + r * 16, aot_avx512_act(act, acc[r]));
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_lanes_plane(const aot_dw_f32_lanes_geom g,
                                                      const float *t, const float *wv,
                                                      __m512 b, const aot_act_f32 *act,
                                                      float *o, const int KW, const int SW)
{
    const int32_t sw = SW != 0 ? SW : g.sw;
    int32_t oy, ox;
    for (oy = 0; oy < g.out_h; ++oy) {
        const float *tr = t + oy * g.sh * g.wp * 16;
        float *orow = o + oy * g.out_w * 16;
        for (ox = 0; ox + 8 <= g.out_w; ox += 8) {
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 8, KW, SW);
        }
        switch (g.out_w - ox) {
        case 7:
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 7, KW, SW);
            break;
        case 6:
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 6, KW, SW);
            break;
        case 5:
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 5, KW, SW);
            break;
        case 4:
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 4, KW, SW);
            break;
        case 3:
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 3, KW, SW);
            break;
        case 2:
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 2, KW, SW);
            break;
        case 1:
            aot_dw_f32_lanes_block(g, tr + ox * sw * 16, wv, b, act, orow + ox * 16, 1, KW, SW);
            break;
        default:
            break;
        }
    }
}

static inline AOT_AVX512 void aot_dw_f32_lanes_k3s1(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o)
{
    aot_dw_f32_lanes_plane(g, t, wv, b, act, o, 3, 1);
}

/* 3x3, stride 1, dilation 1, rows of at most 8 pixels (small planes): the
 * nine weight vectors stay in registers and two output rows share their
 * input rows (four rows of R + 2 vectors feed 2 x R accumulators), where the
 * blocks above load a weight per multiply-add (load-bound) and keep only R
 * chains of nine dependent multiply-adds in flight per row (latency-bound).
 * Each accumulator still takes its taps in (ky, kx) order. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_lanes_s1_rows(const aot_dw_f32_lanes_geom g,
                                                        const float *t, const __m512 *w,
                                                        __m512 b, const aot_act_f32 *act,
                                                        float *o, int32_t oy, const int R,
                                                        const int NR,
                                                        const aot_dw_f32_lanes_direct *d,
                                                        const int DIRECT)
{
    __m512 acc[2][8];
    int i, n, r, kx;
    AOT_X86_UNROLL
    for (n = 0; n < NR; ++n) {
        AOT_X86_UNROLL
        for (r = 0; r < R; ++r) {
            acc[n][r] = b;
        }
    }
    /* padded row oy + i feeds output row n = i - ky */
    AOT_X86_UNROLL
    for (i = 0; i < NR + 2; ++i) {
        __m512 in[10];
        if (DIRECT) {
            const int32_t iy = oy + i - g.pad_top;
            const float *row = t + (iy < 0 || iy >= g.in_h ? 0 : iy) * g.in_w * 16;
            if (iy < 0 || iy >= g.in_h) {
                AOT_X86_UNROLL
                for (r = 0; r < R + 2; ++r) {
                    in[r] = _mm512_setzero_ps();
                }
            } else if (DIRECT == 2) {
                in[0] = _mm512_setzero_ps();
                in[R + 1] = _mm512_setzero_ps();
                AOT_X86_UNROLL
                for (r = 1; r < R + 1; ++r) {
                    in[r] = _mm512_loadu_ps(row + (r - 1) * 16);
                }
            } else {
                AOT_X86_UNROLL
                for (r = 0; r < R + 2; ++r) {
                    in[r] = _mm512_maskz_loadu_ps(d->keep[r], row + d->off[r]);
                }
            }
        } else {
            const float *row = t + (oy + i) * g.wp * 16;
            AOT_X86_UNROLL
            for (r = 0; r < R + 2; ++r) {
                in[r] = _mm512_loadu_ps(row + r * 16);
            }
        }
        AOT_X86_UNROLL
        for (kx = 0; kx < 3; ++kx) {
            AOT_X86_UNROLL
            for (n = 0; n < NR; ++n) {
                if (i - n >= 0 && i - n < 3) {
                    AOT_X86_UNROLL
                    for (r = 0; r < R; ++r) {
                        acc[n][r] = _mm512_fmadd_ps(w[(i - n) * 3 + kx], in[r + kx], acc[n][r]);
                    }
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (n = 0; n < NR; ++n) {
        AOT_X86_UNROLL
        for (r = 0; r < R; ++r) {
            _mm512_storeu_ps(o + ((oy + n) * R + r) * 16, aot_avx512_act(act, acc[n][r]));
        }
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_lanes_s1_plane(const aot_dw_f32_lanes_geom g,
                                                         const float *t, const float *wv,
                                                         __m512 b, const aot_act_f32 *act,
                                                         float *o, const int R,
                                                         const int DIRECT)
{
    const aot_act_f32 a = *act;   /* a local: the output stores cannot alias it */
    aot_dw_f32_lanes_direct d;
    __m512 w[9];
    int32_t oy, i;
    AOT_X86_UNROLL
    for (i = 0; i < 9; ++i) {
        w[i] = _mm512_loadu_ps(wv + i * 16);
    }
    if (DIRECT) {
        for (i = 0; i < R + 2; ++i) {
            const int32_t col = i - g.pad_left;
            const int inside = col >= 0 && col < g.in_w;
            d.off[i] = inside ? col * 16 : 0;
            d.keep[i] = (__mmask16)(inside ? 0xFFFF : 0);
        }
    }
    for (oy = 0; oy + 2 <= g.out_h; oy += 2) {
        aot_dw_f32_lanes_s1_rows(g, t, w, b, &a, o, oy, R, 2, &d, DIRECT);
    }
    if (oy < g.out_h) {
        aot_dw_f32_lanes_s1_rows(g, t, w, b, &a, o, oy, R, 1, &d, DIRECT);
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_lanes_narrow(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o, const int DIRECT)
{
    switch (g.out_w) {
    case 1:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 1, DIRECT);
        break;
    case 2:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 2, DIRECT);
        break;
    case 3:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 3, DIRECT);
        break;
    case 4:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 4, DIRECT);
        break;
    case 5:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 5, DIRECT);
        break;
    case 6:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 6, DIRECT);
        break;
    case 7:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 7, DIRECT);
        break;
    default:
        aot_dw_f32_lanes_s1_plane(g, t, wv, b, act, o, 8, DIRECT);
        break;
    }
}

static inline AOT_AVX512 void aot_dw_f32_lanes_k3s1_narrow(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o)
{
    aot_dw_f32_lanes_narrow(g, t, wv, b, act, o, 0);
}

/* aot_dw_f32_lanes_k3s1_narrow with t the unpadded c16 input block, not the plane. */
static inline AOT_AVX512 void aot_dw_f32_lanes_k3s1_narrow_direct(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o)
{
    if (g.pad_left == 1 && g.in_w == g.out_w) {
        aot_dw_f32_lanes_narrow(g, t, wv, b, act, o, 2);
    } else {
        aot_dw_f32_lanes_narrow(g, t, wv, b, act, o, 1);
    }
}

static inline AOT_AVX512 void aot_dw_f32_lanes_k3s2(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o)
{
    aot_dw_f32_lanes_plane(g, t, wv, b, act, o, 3, 2);
}

static inline AOT_AVX512 void aot_dw_f32_lanes_k5s1(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o)
{
    aot_dw_f32_lanes_plane(g, t, wv, b, act, o, 5, 1);
}

static inline AOT_AVX512 void aot_dw_f32_lanes_k5s2(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o)
{
    aot_dw_f32_lanes_plane(g, t, wv, b, act, o, 5, 2);
}

static inline AOT_AVX512 void aot_dw_f32_lanes_any(const aot_dw_f32_lanes_geom g,
    const float *t, const float *wv, __m512 b, const aot_act_f32 *act, float *o)
{
    aot_dw_f32_lanes_plane(g, t, wv, b, act, o, 0, 0);
}

/* The plane routine for the convolution's form (all of them sum in the same order). */
typedef void (*aot_dw_f32_lanes_plane_fn)(const aot_dw_f32_lanes_geom, const float *,
                                          const float *, __m512, const aot_act_f32 *, float *);

AOT_X86_INLINE aot_dw_f32_lanes_plane_fn aot_dw_f32_lanes_pick(const aot_conv2d_params *p)
{
    const int fixed = p->dilation_w == 1 && (p->kernel_w == 3 || p->kernel_w == 5) &&
                      (p->stride_w == 1 || p->stride_w == 2);
    if (p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 1 && p->stride_w == 1 &&
        p->dilation_h == 1 && p->dilation_w == 1 && p->out_w <= 8) {
        return aot_dw_f32_lanes_k3s1_narrow;
    }
    if (fixed) {
        if (p->kernel_w == 3) {
            return p->stride_w == 1 ? aot_dw_f32_lanes_k3s1 : aot_dw_f32_lanes_k3s2;
        }
        return p->stride_w == 1 ? aot_dw_f32_lanes_k5s1 : aot_dw_f32_lanes_k5s2;
    }
    return aot_dw_f32_lanes_any;
}

AOT_X86_INLINE aot_dw_f32_lanes_geom aot_dw_f32_lanes_geom_of(const aot_conv2d_params *p,
                                                             int32_t wp)
{
    aot_dw_f32_lanes_geom g;
    g.out_h = p->out_h;
    g.out_w = p->out_w;
    g.kh = p->kernel_h;
    g.kw = p->kernel_w;
    g.sh = p->stride_h;
    g.sw = p->stride_w;
    g.dh = p->dilation_h;
    g.dw = p->dilation_w;
    g.wp = wp;
    g.in_h = p->in_h;
    g.in_w = p->in_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    return g;
}

/* Zeroes the border of the [hp][wp][16] plane t: only the border, because the
 * interior is rewritten per group, and a store to scratch that is not in cache
 * costs several cycles here. */
AOT_X86_INLINE AOT_AVX512 void aot_dw_f32_lanes_border(const aot_conv2d_params *p, int32_t hp,
                                                       int32_t wp, float *t)
{
    int32_t iy, ix;
    for (iy = 0; iy < hp; ++iy) {
        const int inside = iy >= p->pad_top && iy < p->pad_top + p->in_h;
        for (ix = 0; ix < wp; ++ix) {
            if (!inside || ix < p->pad_left || ix >= p->pad_left + p->in_w) {
                _mm512_storeu_ps(t + (iy * wp + ix) * 16, _mm512_setzero_ps());
            }
        }
    }
}

/* at[i]: the vector index in the [hp][wp][16] plane of input pixel i (row-major),
 * where aot_dw_f32_lanes_in scatters an NCHW input's pixels. */
AOT_X86_INLINE void aot_dw_f32_lanes_index(const aot_conv2d_params *p, int32_t wp, int32_t *at)
{
    int32_t iy, ix, i = 0;
    for (iy = 0; iy < p->in_h; ++iy) {
        for (ix = 0; ix < p->in_w; ++ix, ++i) {
            at[i] = (iy + p->pad_top) * wp + ix + p->pad_left;
        }
    }
}

#endif
