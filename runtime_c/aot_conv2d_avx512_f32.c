/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * Convolution with groups == 1 as one matrix product per image: weights
 * [out_c][in_c * kernel_h * kernel_w], packed by the lowering rule as
 * [ceil(out_c / 16)][in_c * kernel_h * kernel_w][16] (zero padded) for every
 * path, times the input's phase planes (see aot_conv2d_x86_impl.h), built in
 * scratch after the tap table. A 1x1, stride 1, unpadded convolution reads the
 * input itself. Paths, tried in this order: direct, column-tap, channels in
 * lanes, matrix product on phase planes; all sum in the same order.
 *
 * Direct path (aot_conv2d_avx512_f32_direct: a kernel of at most
 * AOT_CONV_F32_DIRECT_TAPS taps other than a 1x1, stride 1, unpadded one (which
 * reads the input as it is), rows longer than one vector, and at most 4 input
 * channels or stride_w 1 or 2 with at most a quarter of the lanes idle on a row's
 * last vector; else phase planes): no planes and no copy of the input, whose rows
 * are read in place. A tile is 3 vectors of 16 output pixels (a row's, or
 * consecutive rows' when a row is narrower than 48 pixels: no lanes idle on the
 * padding columns of phase planes) x 8 channels, 24 accumulators; each tap loads
 * the 3 input vectors once (padding columns are masked lanes, padding rows a
 * zero mask) and feeds 8 weight broadcasts. Weights are packed by the lowering
 * rule as [ceil(out_c / 16)][in_c * kernel_h * kernel_w][16] (zero padded), so a
 * tap's channel weights are consecutive; scratch holds the row masks
 * (aot_avx512_row_masks), then the columns' tap pairs (see the tile).
 */

#define AOT_CONV_F32_DIRECT_OB 8
/* Taps of a tile's mask table (rules_x86.CONV_F32_DIRECT_TAPS). */
#define AOT_CONV_F32_DIRECT_TAPS 64
/* Pixels the phase planes are rounded up to (rules_x86.NR; the matrix-product
 * path's masked loads need no read slack, so any multiple of 16 would do). */
#define AOT_CONV_F32_NR 32
/* Phase planes whose use is tracked (more: stride_h above 16, all are built). */
#define AOT_CONV_F32_PHASES (AOT_X86_MAX_STRIDE * AOT_X86_MAX_STRIDE)

/* The activation on every accumulator of a tile (the direct and matrix-product
 * tiles are both at most 8 channels x 3 vectors). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_tile_act_each(const aot_act_f32 *act,
                                                          __m512 acc[8][3], const int rows,
                                                          const int nvec)
{
    int r, v;
    AOT_X86_UNROLL
    for (r = 0; r < rows; ++r) {
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            acc[r][v] = aot_avx512_act(act, acc[r][v]);
        }
    }
}

/* The activation of a tile, applied before its stores with the kind switched on
 * once, a constant in each case: applied per vector between the stores (which may
 * alias the parameters), the kind was reloaded and dispatched through a jump table
 * 24 times per tile (measured: 64 -> 64 channels on 25x5 pixels, ReLU,
 * 4.39 -> 4.10 us; 3x3 16 -> 16 on 32x32, 19.5 -> 19.1 us). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_tile_act(const aot_act_f32 *act, __m512 acc[8][3],
                                                     const int rows, const int nvec)
{
    const aot_act_f32 a = *act;
    int r, v;
    switch (a.kind) {
    case AOT_ACT_NONE:
        break;
    case AOT_ACT_RELU:   /* max(0, x) is x where x is -0 or NaN: x < 0 ? 0 : x */
        AOT_X86_UNROLL
        for (r = 0; r < rows; ++r) {
            AOT_X86_UNROLL
            for (v = 0; v < nvec; ++v) {
                acc[r][v] = _mm512_max_ps(_mm512_setzero_ps(), acc[r][v]);
            }
        }
        break;
    case AOT_ACT_CLIP:   /* its own case: the kind a constant in the inlined switch */
        aot_conv_f32_tile_act_each(&a, acc, rows, nvec);
        break;
    default:
        aot_conv_f32_tile_act_each(&a, acc, rows, nvec);
        break;
    }
}

AOT_X86_INLINE int aot_conv2d_avx512_f32_direct(const aot_conv2d_params *p)
{
    const int32_t taps = p->kernel_h * p->kernel_w, lanes = 16 * ((p->out_w + 15) / 16);
    const int pointwise = taps == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                          p->pad_top == 0 && p->pad_left == 0 && p->out_h == p->in_h &&
                          p->out_w == p->in_w;
    return p->groups == 1 && !pointwise && taps <= AOT_CONV_F32_DIRECT_TAPS &&
           p->out_w > 16 &&
           (p->in_c <= 4 || (p->stride_w <= 2 && 4 * p->out_w >= 3 * lanes));
}

/* A tile: 3 vectors of output pixels, vector j pixels [16 vx, 16 vx + 16) of row oy
 * for j = oy * ceil(out_w / 16) + vx consecutive (the image's last tile may have
 * vectors past the image). Per vector and tap, where lane 0 reads (channel 0,
 * from base) and which lanes do, as pairs: a vector whose taps all read input rows
 * shares its column's pairs (built once per image in scratch, after the row masks),
 * others get their own. A tap on a padding row (or past the image) reads no lanes
 * at element 0: a masked load still costs a microcode assist on AMD when its address
 * lies outside the mapped input (measured: 2.4x slower on a 15-row image with one
 * padding row). */
typedef struct {
    const int32_t *tab[3];   /* [tap][2]: offset from base, lanes read */
    int32_t base[3];
    int32_t out_off[3];      /* output element of lane 0, channel 0 */
    __mmask16 store[3];      /* lanes inside the row */
    int32_t own[3][2 * AOT_CONV_F32_DIRECT_TAPS];
} aot_conv_f32_direct_tile;

/* Channels [oc0, oc0 + ob) of a tile (w: the tap-0 weight of channel oc0 in its
 * packed block); ob, sw literals (sw 0: stride_w sw_rt, gathered). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_direct_block(
    const aot_conv2d_params *p, const float *x, const float *w, const float *bias,
    const aot_conv_f32_direct_tile *t, int32_t oc0, const int ob, const int sw, int32_t sw_rt,
    float *y)
{
    const int32_t plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int32_t taps = p->kernel_h * p->kernel_w, stride = sw != 0 ? sw : sw_rt;
    const int32_t *tab[3];
    __m512 acc[AOT_CONV_F32_DIRECT_OB][3];
    int32_t c, tap, o, v;
    AOT_X86_UNROLL
    for (v = 0; v < 3; ++v) {
        tab[v] = t->tab[v];
    }
    AOT_X86_UNROLL
    for (o = 0; o < ob; ++o) {
        const float b = bias != NULL && oc0 + o < p->out_c ? bias[oc0 + o] : 0.0f;
        AOT_X86_UNROLL
        for (v = 0; v < 3; ++v) {
            acc[o][v] = _mm512_set1_ps(b);
        }
    }
    for (c = 0; c < p->in_c; ++c) {
        const float *xb[3];
        AOT_X86_UNROLL
        for (v = 0; v < 3; ++v) {
            xb[v] = x + c * plane + t->base[v];
        }
        for (tap = 0; tap < 2 * taps; tap += 2, w += 16) {
            __m512 in[3];
            AOT_X86_UNROLL
            for (v = 0; v < 3; ++v) {
                in[v] = aot_avx512_lanes_load(xb[v] + tab[v][tap], stride,
                                              (uint32_t)tab[v][tap + 1]);
            }
            AOT_X86_UNROLL
            for (o = 0; o < ob; ++o) {
                const __m512 wv = _mm512_set1_ps(w[o]);
                AOT_X86_UNROLL
                for (v = 0; v < 3; ++v) {
                    acc[o][v] = _mm512_fmadd_ps(wv, in[v], acc[o][v]);
                }
            }
        }
    }
    aot_conv_f32_tile_act(&p->act, acc, ob, 3);
    AOT_X86_UNROLL
    for (o = 0; o < ob; ++o) {
        if (oc0 + o < p->out_c) {
            AOT_X86_UNROLL
            for (v = 0; v < 3; ++v) {
                _mm512_mask_storeu_ps(y + (oc0 + o) * out_plane + t->out_off[v], t->store[v],
                                      acc[o][v]);
            }
        }
    }
}

/* masks: the row masks, then the columns' shared pairs [ceil(out_w / 16)][taps][2]. */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_direct_image(const aot_conv2d_params *p,
                                                         const float *x, const float *w,
                                                         const float *bias,
                                                         const uint32_t *masks, const int sw,
                                                         int32_t sw_rt, float *y)
{
    const int32_t nvec = (p->out_w + 15) / 16, total = p->out_h * nvec;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, taps = kh * kw, k = p->in_c * taps;
    int32_t *cols = (int32_t *)(masks + aot_x86_round_up(nvec * kw, 16));
    aot_conv_f32_direct_tile t;
    int32_t j0, oc0, v, ky, kx;
    for (v = 0; v < nvec; ++v) {
        for (ky = 0; ky < kh; ++ky) {
            for (kx = 0; kx < kw; ++kx) {
                int32_t *pair = cols + (v * taps + ky * kw + kx) * 2;
                pair[0] = ky * p->dilation_h * p->in_w + 16 * v * sw_rt + kx * p->dilation_w -
                          p->pad_left;
                pair[1] = (int32_t)masks[v * kw + kx];
            }
        }
    }
    for (j0 = 0; j0 < total; j0 += 3) {   /* the tile's input rows stay in L1 */
        for (v = 0; v < 3; ++v) {
            const int32_t oy = (j0 + v) / nvec, vx = (j0 + v) % nvec, live = j0 + v < total;
            const int32_t iy0 = oy * p->stride_h - p->pad_top, left = p->out_w - 16 * vx;
            t.out_off[v] = live ? oy * p->out_w + 16 * vx : 0;
            t.store[v] = !live ? (__mmask16)0
                         : left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            if (live && iy0 >= 0 && iy0 + (kh - 1) * p->dilation_h < p->in_h) {
                t.tab[v] = cols + vx * taps * 2;
                t.base[v] = iy0 * p->in_w;
                continue;
            }
            t.tab[v] = t.own[v];
            t.base[v] = 0;
            for (ky = 0; ky < kh; ++ky) {
                const int32_t iy = iy0 + ky * p->dilation_h;
                const int in = live && iy >= 0 && iy < p->in_h;
                for (kx = 0; kx < kw; ++kx) {
                    t.own[v][(ky * kw + kx) * 2] =
                        in ? iy * p->in_w + 16 * vx * sw_rt + kx * p->dilation_w - p->pad_left
                           : 0;
                    t.own[v][(ky * kw + kx) * 2 + 1] = in ? (int32_t)masks[vx * kw + kx] : 0;
                }
            }
        }
        /* channel tiles of 8, the last of 4, 2 or 1 where fewer are left */
        for (oc0 = 0; oc0 < p->out_c; oc0 += AOT_CONV_F32_DIRECT_OB) {
            const float *wb = w + (oc0 / 16) * k * 16 + oc0 % 16;
            const int32_t left = p->out_c - oc0;
            if (left > 4) {
                aot_conv_f32_direct_block(p, x, wb, bias, &t, oc0, AOT_CONV_F32_DIRECT_OB, sw,
                                          sw_rt, y);
            } else if (left > 2) {
                aot_conv_f32_direct_block(p, x, wb, bias, &t, oc0, 4, sw, sw_rt, y);
            } else if (left > 1) {
                aot_conv_f32_direct_block(p, x, wb, bias, &t, oc0, 2, sw, sw_rt, y);
            } else {
                aot_conv_f32_direct_block(p, x, wb, bias, &t, oc0, 1, sw, sw_rt, y);
            }
        }
    }
}

static AOT_AVX512 void aot_conv_f32_direct_s1(const aot_conv2d_params *p, const float *x,
                                             const float *w, const float *bias,
                                             const uint32_t *masks, float *y)
{
    aot_conv_f32_direct_image(p, x, w, bias, masks, 1, 1, y);
}

static AOT_AVX512 void aot_conv_f32_direct_s2(const aot_conv2d_params *p, const float *x,
                                             const float *w, const float *bias,
                                             const uint32_t *masks, float *y)
{
    aot_conv_f32_direct_image(p, x, w, bias, masks, 2, 2, y);
}

static AOT_AVX512 void aot_conv_f32_direct_any(const aot_conv2d_params *p, const float *x,
                                              const float *w, const float *bias,
                                              const uint32_t *masks, float *y)
{
    aot_conv_f32_direct_image(p, x, w, bias, masks, 0, p->stride_w, y);
}

/*
 * Column-tap path (aot_conv2d_avx512_f32_coltaps: rows of at most one vector, at
 * least 48 output pixels, and not the pointwise form, which reads its input as is;
 * on rows of 16 it beats the direct path: 16x32x32 -> 32, 3x3 stride 2, 13.3 ->
 * 11.1 us, no per-tap mask and offset loads in the tiles).
 * Phase planes without virtual pixels: one plane per input channel, tap column kx
 * and row phase (padded row % stride_h), rows of out_w pixels, plane row r holding
 * input row r * stride_h + phase - pad_top at columns ox * stride_w + kx *
 * dilation_w - pad_left (zero outside the input). Tap (ky, kx) is then the plane
 * (kx, ky * dilation_h % stride_h) from row ky * dilation_h / stride_h on, the
 * output pixels contiguous: the matrix-product tiles read it as they read phase
 * planes, with no lanes spent on padding columns and no channel scatter. Built
 * in scratch after the tap table and the row masks: one masked load per plane row.
 */
AOT_X86_INLINE int aot_conv2d_avx512_f32_coltaps(const aot_conv2d_params *p)
{
    const int pointwise = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                          p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                          p->out_h == p->in_h && p->out_w == p->in_w;
    return p->groups == 1 && !pointwise && p->out_w <= 16 && p->out_h * p->out_w >= 48;
}

/* Rows per plane. */
AOT_X86_INLINE int32_t aot_conv_f32_coltaps_rows(const aot_conv2d_params *p)
{
    return p->out_h + (p->kernel_h - 1) * p->dilation_h / p->stride_h;
}

/* sw a literal (0: stride_w, gathered). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_coltaps_build(const aot_conv2d_params *p,
                                                          const float *x,
                                                          const uint32_t *masks, const int sw,
                                                          int32_t ps, float *b)
{
    const int32_t stride = sw != 0 ? sw : p->stride_w, plane = p->in_h * p->in_w;
    const int32_t in_h = p->in_h, in_w = p->in_w, out_w = p->out_w, sh = p->stride_h;
    const int32_t rows = aot_conv_f32_coltaps_rows(p), pt = p->pad_top;
    const __mmask16 keep = (__mmask16)((1u << out_w) - 1u);
    int32_t c, kx, ph, r, ky;
    for (c = 0; c < p->in_c; ++c) {
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const float *col = x + c * plane + kx * p->dilation_w - p->pad_left;
            const uint32_t m = masks[kx];
            for (ph = 0; ph < sh; ++ph, b += ps) {
                for (ky = 0; ky < p->kernel_h && ky * p->dilation_h % sh != ph; ++ky) {
                }
                if (ky == p->kernel_h) {   /* a phase no tap reads (1x1, stride 2) */
                    continue;
                }
                for (r = 0; r < rows; ++r) {
                    const int32_t iy = r * sh + ph - pt;
                    __m512 v = _mm512_setzero_ps();
                    if (iy >= 0 && iy < in_h) {
                        v = aot_avx512_lanes_load(col + iy * in_w, stride, m);
                    }
                    _mm512_mask_storeu_ps(b + r * out_w, keep, v);
                }
            }
        }
    }
}

/*
 * Channels-in-lanes path (aot_conv2d_avx512_f32_oc_lanes), where a tile of 32
 * pixels in lanes would leave many of them idle or the K of the matrix product
 * is short: a 1x1, stride 1, unpadded convolution of at least 32 input channels
 * on few pixels (a network's late layers on 6x6 or 3x3 pixels), and a kernel
 * larger than 1x1 on at most 4 input channels with rows narrower than a vector
 * (the direct path's complement: a first layer on a spectrogram), and on more
 * input channels with at least 32 output channels and rows of at most 16 pixels
 * (the phase planes' padding columns would idle many pixel lanes), where the
 * direct and column-tap paths (tried first) do not take the layer. Output
 * channels are in lanes instead, weights packed as the direct path's,
 * [ceil(out_c / 16)][in_c * kernel_h * kernel_w][16]; a tile is 32 (or 16)
 * channels x up to 12 output pixels, each k one weight load per 16 channels and
 * one broadcast per pixel from the input (pointwise) or its phase planes (the
 * matrix product's B); a finished pixel's channels are scattered into their
 * planes. Products are fused multiply-adds in k order after the bias.
 */
#define AOT_CONV_F32_OCL_TILE 12

AOT_X86_INLINE int aot_conv2d_avx512_f32_oc_lanes(const aot_conv2d_params *p)
{
    const int32_t nv = p->out_h * p->out_w;
    const int pointwise = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                          p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                          p->out_h == p->in_h && p->out_w == p->in_w;
    if (p->groups != 1) {
        return 0;
    }
    if (pointwise) {
        return p->in_c >= 32 && (nv <= 24 || (nv > 32 && nv <= 48));
    }
    if (p->kernel_h * p->kernel_w == 1) {
        return 0;
    }
    return p->in_c <= 4 ? p->out_w < 16 : p->out_w <= 16 && p->out_c >= 32;
}

/* Channel blocks [ob, ob + nb) x output pixels [p0, p0 + np), whose B columns
 * are vi[0..np); nb, np, contig literals (contig: vi[i] = vi[0] + i, one base
 * pointer instead of np, which would not all stay in registers). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_ocl_tile(const aot_conv2d_params *p,
                                                     const aot_x86_gemm_f32 *g,
                                                     const float *w, const float *bias,
                                                     int32_t ob, const int nb, int32_t p0,
                                                     const int np, const int32_t *vi,
                                                     const int contig, float *y)
{
    const int32_t k_len = g->kgroups * g->taps, plane = p->out_h * p->out_w;
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(plane));
    const float *bp[AOT_CONV_F32_OCL_TILE];
    __m512 acc[AOT_CONV_F32_OCL_TILE][2], b[2];
    __mmask16 live[2];
    int32_t i, v, kg, t;
    AOT_X86_UNROLL
    for (v = 0; v < nb; ++v) {
        const int32_t left = p->out_c - 16 * (ob + v);
        live[v] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        b[v] = bias != NULL ? _mm512_maskz_loadu_ps(live[v], bias + 16 * (ob + v))
                            : _mm512_setzero_ps();
    }
    AOT_X86_UNROLL
    for (i = 0; i < np; ++i) {
        bp[i] = g->b + (contig ? vi[0] + i : vi[i]);
        AOT_X86_UNROLL
        for (v = 0; v < nb; ++v) {
            acc[i][v] = b[v];
        }
    }
    for (kg = 0; kg < g->kgroups; ++kg) {
        for (t = 0; t < g->taps; ++t) {
            const int32_t k = kg * g->taps + t, off = kg * g->cs + g->offs[t];
            __m512 wv[2];
            AOT_X86_UNROLL
            for (v = 0; v < nb; ++v) {
                wv[v] = _mm512_loadu_ps(w + ((ob + v) * k_len + k) * 16);
            }
            AOT_X86_UNROLL
            for (i = 0; i < np; ++i) {
                const __m512 xv = _mm512_set1_ps(contig ? bp[0][off + i] : bp[i][off]);
                AOT_X86_UNROLL
                for (v = 0; v < nb; ++v) {
                    acc[i][v] = _mm512_fmadd_ps(wv[v], xv, acc[i][v]);
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (v = 0; v < nb; ++v) {
        float *yv = y + 16 * (ob + v) * plane + p0;
        AOT_X86_UNROLL
        for (i = 0; i < np; ++i) {
            AOT_X86_GATHER_BEGIN
            _mm512_mask_i32scatter_ps(yv + i, live[v], idx, aot_avx512_act(&p->act, acc[i][v]),
                                      4);
            AOT_X86_GATHER_END
        }
    }
}

/* Output pixels [p0, p0 + np) of every channel block, np (a literal) at most 12;
 * lw: B's columns per output row (out_w, or the phase planes' row length). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_ocl_pixels(const aot_conv2d_params *p,
                                                       const aot_x86_gemm_f32 *g,
                                                       int32_t lw, const float *w,
                                                       const float *bias, int32_t p0,
                                                       const int np, const int contig, float *y)
{
    const int32_t blocks = (p->out_c + 15) / 16;
    int32_t vi[AOT_CONV_F32_OCL_TILE];
    int32_t ob, i, oy = p0 / p->out_w, ox = p0 % p->out_w;
    AOT_X86_UNROLL
    for (i = 0; i < np; ++i) {
        vi[i] = oy * lw + ox;
        if (++ox == p->out_w) {
            ox = 0;
            ++oy;
        }
    }
    for (ob = 0; ob + 2 <= blocks; ob += 2) {
        aot_conv_f32_ocl_tile(p, g, w, bias, ob, 2, p0, np, vi, contig, y);
    }
    if (ob < blocks) {
        aot_conv_f32_ocl_tile(p, g, w, bias, ob, 1, p0, np, vi, contig, y);
    }
}

#define AOT_CONV_F32_OCL_CASE(n)                                          \
    case n:                                                               \
        aot_conv_f32_ocl_pixels(p, g, lw, w, bias, p0, n, contig, y);     \
        break

/* One image: the output pixels in near-equal chunks of at most 12. */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_ocl_image(const aot_conv2d_params *p,
                                                      const aot_x86_gemm_f32 *g,
                                                      int32_t lw, const float *w,
                                                      const float *bias, const int contig,
                                                      float *y)
{
    const int32_t nv = p->out_h * p->out_w;
    const int32_t chunks = (nv + AOT_CONV_F32_OCL_TILE - 1) / AOT_CONV_F32_OCL_TILE;
    const int32_t size = (nv + chunks - 1) / chunks;
    int32_t p0;
    for (p0 = 0; p0 < nv; p0 += size) {
        switch (nv - p0 < size ? nv - p0 : size) {
            AOT_CONV_F32_OCL_CASE(1);
            AOT_CONV_F32_OCL_CASE(2);
            AOT_CONV_F32_OCL_CASE(3);
            AOT_CONV_F32_OCL_CASE(4);
            AOT_CONV_F32_OCL_CASE(5);
            AOT_CONV_F32_OCL_CASE(6);
            AOT_CONV_F32_OCL_CASE(7);
            AOT_CONV_F32_OCL_CASE(8);
            AOT_CONV_F32_OCL_CASE(9);
            AOT_CONV_F32_OCL_CASE(10);
            AOT_CONV_F32_OCL_CASE(11);
        default:
            aot_conv_f32_ocl_pixels(p, g, lw, w, bias, p0, 12, contig, y);
            break;
        }
    }
}

/* Consecutive output pixels are consecutive B columns when rows are not padded
 * (every pointwise case); otherwise (phase planes with dropped columns) chunks
 * of 12, 4 and 1 pixels: few instantiations of a rare path. */
static AOT_AVX512 void aot_conv_f32_ocl(const aot_conv2d_params *p, const aot_x86_gemm_f32 *g,
                                        int32_t lw, const float *w, const float *bias, float *y)
{
    const int32_t nv = p->out_h * p->out_w;
    int32_t p0 = 0;
    if (lw == p->out_w) {
        aot_conv_f32_ocl_image(p, g, lw, w, bias, 1, y);
        return;
    }
    for (; p0 + 12 <= nv; p0 += 12) {
        aot_conv_f32_ocl_pixels(p, g, lw, w, bias, p0, 12, 0, y);
    }
    for (; p0 + 4 <= nv; p0 += 4) {
        aot_conv_f32_ocl_pixels(p, g, lw, w, bias, p0, 4, 0, y);
    }
    for (; p0 < nv; ++p0) {
        aot_conv_f32_ocl_pixels(p, g, lw, w, bias, p0, 1, 0, y);
    }
}

/*
 * Matrix-product path (every other form): Y[oc][p] = act(bias[oc] + sum_k W[oc][k] B[k][p]),
 * B the input (1x1, stride 1, unpadded) or its phase planes, the weights packed as
 * the direct path's, [ceil(out_c / 16)][K][16]: the 8 channel weights of a tile at
 * one k are 32 consecutive bytes, 8 broadcasts at constant offsets. A tile is 8
 * channels x 48 pixels, 24 accumulators: the CPUs this targets retire two fused
 * multiply-adds per cycle at a latency of 4, so at least 8 must be in flight, and
 * 24 share each of the 3 pixel loads among 8 broadcasts. Pixel groups outermost:
 * a group's B rows (K x 48) are reused from L1 by every channel tile. Products are
 * fused multiply-adds in k order after the bias, the same order in every tile
 * shape, so a thread's part of the channels gives the same bits.
 */
#define AOT_CONV_F32_PK_VECS 3
#define AOT_CONV_F32_PK_L2_B (256 * 1024)
/* Weights of the k 64 steps ahead are prefetched: a layer's weights come from
 * memory (another layer ran in between) and, streamed at one half line per k,
 * outrun the hardware prefetcher (measured: 512 -> 512 channels on 7x7 pixels,
 * cold, 221 -> 156 us). The address is formed as an integer: it may lie past
 * the weights, where prefetching is harmless but pointer arithmetic is not. */
#define AOT_CONV_F32_PK_FETCH(a)                                                  \
    _mm_prefetch((const char *)((uintptr_t)(a) + 64u * 64u), _MM_HINT_T0)

/* Channels [i0, i0 + rows) (rows a literal, 8/4/2/1; weights at a) x pixel vectors
 * [j0, j0 + 16 * nvec) (nvec a literal, the last vector's lanes `last`); pw: a
 * literal, one tap at offset 0 (B rows are cs apart). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_pk_tile(const aot_x86_gemm_f32 *g, const float *a,
                                                    int32_t i0, const int rows, int32_t j0,
                                                    const int nvec, __mmask16 last,
                                                    const int pw)
{
    __m512 acc[8][AOT_CONV_F32_PK_VECS], x[AOT_CONV_F32_PK_VECS];
    const int32_t live = g->m - i0;
    int32_t r, v, kg, t;
    AOT_X86_UNROLL
    for (r = 0; r < rows; ++r) {
        const __m512 b = _mm512_set1_ps(g->bias != NULL && r < live ? g->bias[i0 + r] : 0.0f);
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            acc[r][v] = b;
        }
    }
    if (pw) {
        const float *bp = g->b + j0;
        for (kg = 0; kg < g->kgroups; ++kg, bp += g->cs, a += 16) {
            AOT_CONV_F32_PK_FETCH(a);
            AOT_X86_UNROLL
            for (v = 0; v < nvec; ++v) {
                x[v] = v + 1 < nvec ? _mm512_loadu_ps(bp + 16 * v)
                                    : _mm512_maskz_loadu_ps(last, bp + 16 * v);
            }
            AOT_X86_UNROLL
            for (r = 0; r < rows; ++r) {
                const __m512 w = _mm512_set1_ps(a[r]);
                AOT_X86_UNROLL
                for (v = 0; v < nvec; ++v) {
                    acc[r][v] = _mm512_fmadd_ps(w, x[v], acc[r][v]);
                }
            }
        }
    } else {
        for (kg = 0; kg < g->kgroups; ++kg) {
            const float *bg = g->b + kg * g->cs + j0;
            for (t = 0; t < g->taps; ++t, a += 16) {
                const float *bp = bg + g->offs[t];
                AOT_CONV_F32_PK_FETCH(a);
                AOT_X86_UNROLL
                for (v = 0; v < nvec; ++v) {
                    x[v] = v + 1 < nvec ? _mm512_loadu_ps(bp + 16 * v)
                                        : _mm512_maskz_loadu_ps(last, bp + 16 * v);
                }
                AOT_X86_UNROLL
                for (r = 0; r < rows; ++r) {
                    const __m512 w = _mm512_set1_ps(a[r]);
                    AOT_X86_UNROLL
                    for (v = 0; v < nvec; ++v) {
                        acc[r][v] = _mm512_fmadd_ps(w, x[v], acc[r][v]);
                    }
                }
            }
        }
    }
    aot_conv_f32_tile_act(g->act, acc, rows, nvec);
    AOT_X86_UNROLL
    for (r = 0; r < rows; ++r) {
        float *row = g->y + (i0 + r) * g->y_rs;
        if (r >= live) {
            break;
        }
        if (g->geom == NULL) {
            AOT_X86_UNROLL
            for (v = 0; v < nvec; ++v) {
                _mm512_mask_storeu_ps(row + j0 + 16 * v, v + 1 < nvec ? (__mmask16)0xFFFF : last,
                                      acc[r][v]);
            }
        } else {
            float vals[16 * AOT_CONV_F32_PK_VECS];
            AOT_X86_UNROLL
            for (v = 0; v < nvec; ++v) {
                _mm512_storeu_ps(vals + 16 * v, acc[r][v]);
            }
            aot_avx512_store_f32(g->geom, g->out_w, j0,
                                 g->nv - j0 < 16 * nvec ? g->nv - j0 : 16 * nvec, vals, row);
        }
    }
}

/* Channel tiles [i_lo, i_hi) (i_lo a multiple of 8) of the pixel vectors
 * [j0, j0 + 16 * nvec). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_pk_column(const aot_x86_gemm_f32 *g, int32_t i_lo,
                                                      int32_t i_hi, int32_t j0, const int nvec,
                                                      __mmask16 last, const int pw)
{
    const int32_t k_len = g->kgroups * g->taps;
    int32_t i0;
    for (i0 = i_lo; i0 < i_hi; i0 += 8) {
        const float *a = g->a + (i0 / 16) * k_len * 16 + i0 % 16;
        const int32_t left = g->m - i0;
        if (left > 4) {
            aot_conv_f32_pk_tile(g, a, i0, 8, j0, nvec, last, pw);
        } else if (left > 2) {
            aot_conv_f32_pk_tile(g, a, i0, 4, j0, nvec, last, pw);
        } else if (left > 1) {
            aot_conv_f32_pk_tile(g, a, i0, 2, j0, nvec, last, pw);
        } else {
            aot_conv_f32_pk_tile(g, a, i0, 1, j0, nvec, last, pw);
        }
    }
}

/* Channel tiles [i_lo, i_hi) of every pixel: columns of 3 vectors; 4 left are
 * two of 2 (a 1-vector tile has too few accumulators to hide the latency). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_pk_band(const aot_x86_gemm_f32 *g, int32_t i_lo,
                                                    int32_t i_hi, const int pw)
{
    const int32_t vecs = (g->nv + 15) / 16, tail = g->nv - 16 * (vecs - 1);
    const __mmask16 last = (__mmask16)((1u << tail) - 1u);
    int32_t v0;
    for (v0 = 0; v0 + AOT_CONV_F32_PK_VECS < vecs && vecs - v0 != 4; v0 += AOT_CONV_F32_PK_VECS) {
        aot_conv_f32_pk_column(g, i_lo, i_hi, 16 * v0, AOT_CONV_F32_PK_VECS, (__mmask16)0xFFFF,
                               pw);
    }
    if (vecs - v0 == 4) {
        aot_conv_f32_pk_column(g, i_lo, i_hi, 16 * v0, 2, (__mmask16)0xFFFF, pw);
        v0 += 2;
    }
    switch (vecs - v0) {
    case 3:
        aot_conv_f32_pk_column(g, i_lo, i_hi, 16 * v0, 3, last, pw);
        break;
    case 2:
        aot_conv_f32_pk_column(g, i_lo, i_hi, 16 * v0, 2, last, pw);
        break;
    default:
        aot_conv_f32_pk_column(g, i_lo, i_hi, 16 * v0, 1, last, pw);
        break;
    }
}

/* One copy of the unrolled tiles per form: inlined into each caller below, they
 * made this file take 20 s to compile. */
static __attribute__((noinline)) AOT_AVX512 void aot_conv_f32_pk_band_pw(
    const aot_x86_gemm_f32 *g, int32_t i_lo, int32_t i_hi)
{
    aot_conv_f32_pk_band(g, i_lo, i_hi, 1);
}

static __attribute__((noinline)) AOT_AVX512 void aot_conv_f32_pk_band_taps(
    const aot_x86_gemm_f32 *g, int32_t i_lo, int32_t i_hi)
{
    aot_conv_f32_pk_band(g, i_lo, i_hi, 0);
}

/* Pixel columns outermost (a column's B rows stay in L1 for every channel tile),
 * unless B fits in L2 with room to spare and the weights are larger: then
 * channel bands of 8 outermost, so each weight is fetched from memory once.
 * pw: a 1x1, stride 1, unpadded convolution (one tap at offset 0). */
static AOT_AVX512 void aot_conv_f32_pk_image(const aot_x86_gemm_f32 *g, int pw)
{
    const int64_t b_bytes = (int64_t)g->kgroups * g->taps * g->nv * 4;
    const int64_t a_bytes = (int64_t)g->kgroups * g->taps * g->m * 4;
    int32_t i0;
    if (b_bytes <= AOT_CONV_F32_PK_L2_B && a_bytes > b_bytes) {
        for (i0 = 0; i0 < g->m; i0 += 8) {
            (pw ? aot_conv_f32_pk_band_pw : aot_conv_f32_pk_band_taps)(
                g, i0, i0 + 8 < g->m ? i0 + 8 : g->m);
        }
    } else {
        (pw ? aot_conv_f32_pk_band_pw : aot_conv_f32_pk_band_taps)(g, 0, g->m);
    }
}

AOT_AVX512 void aot_conv2d_avx512_f32(const aot_conv2d_params *params, const float *input,
                                  const float *weights, const float *bias, float *output,
                                  void *scratch)
{
    const aot_conv2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const int direct = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                       p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                       p->out_h == p->in_h && p->out_w == p->in_w;
    int32_t *offs = (int32_t *)scratch;
    float *planes = (float *)((uint8_t *)scratch + aot_x86_table_bytes(p->kernel_h * p->kernel_w));
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const int ocl = aot_conv2d_avx512_f32_oc_lanes(p);
    aot_x86_geom geom;
    aot_x86_gemm_f32 g;
    uint8_t used[AOT_CONV_F32_PHASES];
    int32_t n;

    if (aot_conv2d_avx512_f32_direct(p)) {
        aot_avx512_row_masks(p, (uint32_t *)scratch);
        for (n = 0; n < p->batch; ++n) {
            const float *x = input + n * p->in_c * in_plane;
            float *y = output + n * p->out_c * out_plane;
            if (p->stride_w == 1) {
                aot_conv_f32_direct_s1(p, x, weights, bias, (const uint32_t *)scratch, y);
            } else if (p->stride_w == 2) {
                aot_conv_f32_direct_s2(p, x, weights, bias, (const uint32_t *)scratch, y);
            } else {
                aot_conv_f32_direct_any(p, x, weights, bias, (const uint32_t *)scratch, y);
            }
        }
        return;
    }
    if (aot_conv2d_avx512_f32_coltaps(p)) {
        const int32_t kw = p->kernel_w, sh = p->stride_h;
        const int32_t ps = aot_conv_f32_coltaps_rows(p) * p->out_w;
        uint32_t *masks = (uint32_t *)((uint8_t *)scratch +
                                       aot_x86_table_bytes(p->kernel_h * kw));
        float *b = (float *)((uint8_t *)masks + aot_x86_round_up(kw * 4, 64));
        int32_t t;
        for (t = 0; t < p->kernel_h * kw; ++t) {
            const int32_t dy = (t / kw) * p->dilation_h;
            offs[t] = ((t % kw) * sh + dy % sh) * ps + dy / sh * p->out_w;
        }
        aot_avx512_row_masks(p, masks);
        g.m = p->out_c;
        g.nv = out_plane;
        g.a = weights;
        g.kgroups = p->in_c;
        g.taps = p->kernel_h * kw;
        g.cs = kw * sh * ps;
        g.offs = offs;
        g.y_rs = out_plane;
        g.geom = NULL;
        g.out_w = p->out_w;
        g.bias = bias;
        g.act = &p->act;
        g.b = b;
        for (n = 0; n < p->batch; ++n) {
            const float *x = input + n * p->in_c * in_plane;
            if (p->stride_w == 1) {
                aot_conv_f32_coltaps_build(p, x, masks, 1, ps, b);
            } else if (p->stride_w == 2) {
                aot_conv_f32_coltaps_build(p, x, masks, 2, ps, b);
            } else {
                aot_conv_f32_coltaps_build(p, x, masks, 0, ps, b);
            }
            g.y = output + n * p->out_c * out_plane;
            aot_conv_f32_pk_image(&g, g.taps == 1);
        }
        return;
    }
    aot_x86_geom_init(&geom, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h,
                      p->stride_w, p->dilation_h, p->dilation_w, AOT_CONV_F32_NR);
    aot_x86_tap_offsets(&geom, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, offs);
    for (n = 0; n < AOT_CONV_F32_PHASES; ++n) {   /* too many to track: all read */
        used[n] = p->stride_h * p->stride_w > AOT_CONV_F32_PHASES;
    }
    for (n = 0; n < geom.taps && p->stride_h * p->stride_w <= AOT_CONV_F32_PHASES; ++n) {
        used[offs[n] / geom.ps] = 1;
    }
    g.m = p->out_c;
    g.nv = geom.nv;
    g.a = weights;
    g.a_rs = p->in_c * geom.taps;
    g.a_ks = 1;
    g.kgroups = p->in_c;
    g.taps = geom.taps;
    g.cs = direct ? in_plane : geom.cs;
    g.offs = offs;
    g.y_rs = out_plane;
    g.geom = geom.lw == p->out_w ? NULL : &geom;
    g.out_w = p->out_w;
    g.bias = bias;
    g.bias_rs = 1;
    g.bias_cs = 0;
    g.alpha = 1.0f;
    g.beta = 1.0f;
    g.act = &p->act;
    for (n = 0; n < p->batch; ++n) {
        const float *x = input + n * p->in_c * in_plane;
        if (direct) {
            g.b = x;
        } else {
            int32_t c, iy, ix, run, runs, dst[AOT_X86_MAX_STRIDE], ix0[AOT_X86_MAX_STRIDE],
                cnt[AOT_X86_MAX_STRIDE];
            /* Phase planes no tap reads (e.g. three of a 1x1 stride-2 kernel's four)
             * are neither cleared nor filled. */
            for (c = 0; c < p->in_c; ++c) {
                for (ix = 0; ix < p->stride_h * p->stride_w; ++ix) {
                    if (used[ix < AOT_CONV_F32_PHASES ? ix : 0]) {
                        aot_avx2_fill32(planes + c * geom.cs + ix * geom.ps, 0, geom.ps);
                    }
                }
            }
            for (iy = 0; iy < p->in_h; ++iy) {
                runs = aot_x86_row_runs(&geom, iy, p->in_w, p->kernel_h, p->kernel_w,
                                        p->stride_h, p->stride_w, p->dilation_h, p->dilation_w,
                                        p->pad_top, p->pad_left, dst, ix0, cnt);
                for (c = 0; c < p->in_c; ++c) {
                    const float *src = x + c * in_plane + iy * p->in_w;
                    float *plane = planes + c * geom.cs;
                    for (run = 0; run < runs; ++run) {
                        float *d = plane + dst[run];
                        const float *sp = src + ix0[run];
                        const int32_t phase = dst[run] / geom.ps;
                        if (!used[phase < AOT_CONV_F32_PHASES ? phase : 0]) {
                            continue;
                        }
                        ix = 0;
                        if (p->stride_w == 1) {
                            for (; ix + 8 <= cnt[run]; ix += 8) {
                                _mm256_storeu_ps(d + ix, _mm256_loadu_ps(sp + ix));
                            }
                        } else if (p->stride_w == 2) {
                            /* every other element: two loads, one two-source permute */
                            for (; ix + 16 <= cnt[run]; ix += 16) {
                                const __m512 lo = _mm512_loadu_ps(sp + 2 * ix);
                                const __m512 hi = _mm512_maskz_loadu_ps((__mmask16)0x7FFF,
                                                                        sp + 2 * ix + 16);
                                _mm512_storeu_ps(d + ix, _mm512_permutex2var_ps(lo, even, hi));
                            }
                        }
                        for (; ix < cnt[run]; ++ix) {
                            d[ix] = sp[ix * p->stride_w];
                        }
                    }
                }
            }
            g.b = planes;
        }
        g.y = output + n * p->out_c * out_plane;
        if (ocl) {
            aot_conv_f32_ocl(p, &g, geom.lw, weights, bias, g.y);
        } else {
            aot_conv_f32_pk_image(&g, g.taps == 1);   /* one tap: offs[0] == 0 */
        }
    }
}
#else
typedef int aot_conv2d_avx512_f32_needs_x86;
#endif
