/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_gemm_avx512_f32_impl.h"

/*
 * Convolution with groups == 1 as one matrix product per image: weights
 * [out_c][in_c * kernel_h * kernel_w] times the input's phase planes (see
 * aot_conv2d_x86_impl.h), built in scratch after the tap table. A 1x1,
 * stride 1, unpadded convolution reads the input itself.
 *
 * Direct path (aot_conv2d_avx512_f32_direct: at most 4 input channels, a
 * kernel larger than 1x1 and rows of at least one vector, e.g. a network's
 * first layer on an image; narrower rows would leave most lanes idle): no planes and no
 * matrix product of a short K. Sixteen output pixels of a row are loaded once
 * per tap, as the depthwise kernel does, and feed the accumulators of 16 (or,
 * with out_c <= 8, 8 channels x two pixel vectors). Weights are packed by the
 * lowering rule as [ceil(out_c / 16)][in_c * kernel_h * kernel_w][16] (zero
 * padded), so a tap's channel weights are consecutive; scratch holds the row
 * masks (aot_avx512_row_masks).
 */

#define AOT_CONV_F32_DIRECT_OB 16

AOT_X86_INLINE int aot_conv2d_avx512_f32_direct(const aot_conv2d_params *p)
{
    return p->groups == 1 && p->in_c <= 4 && p->kernel_h * p->kernel_w > 1 && p->out_w >= 16;
}

/* Output row oy, pixel vectors [v0, v0 + nvec) x channels [oc0, oc0 + ob) (the
 * block at w); ob, nvec, sw literals (sw 0: stride_w sw_rt, gathered). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_direct_block(
    const aot_conv2d_params *p, const float *x, const float *w, const float *bias,
    const uint32_t *masks, int32_t oy, int32_t v0, const int nvec, int32_t oc0, const int ob,
    const int sw, int32_t sw_rt, float *y)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, kh = p->kernel_h, kw = p->kernel_w;
    const int32_t plane = in_h * in_w, out_plane = p->out_h * p->out_w;
    const int32_t stride = sw != 0 ? sw : sw_rt;
    __m512 acc[16][2];
    int32_t c, ky, kx, o, v;
    AOT_X86_UNROLL
    for (o = 0; o < ob; ++o) {
        const float b = bias != NULL && oc0 + o < p->out_c ? bias[oc0 + o] : 0.0f;
        AOT_X86_UNROLL
        for (v = 0; v < nvec; ++v) {
            acc[o][v] = _mm512_set1_ps(b);
        }
    }
    for (c = 0; c < p->in_c; ++c) {
        for (ky = 0; ky < kh; ++ky) {
            const int32_t iy = oy * p->stride_h + ky * p->dilation_h - p->pad_top;
            const float *row, *wt;
            if (iy < 0 || iy >= in_h) {
                continue;
            }
            row = x + c * plane + iy * in_w + 16 * v0 * stride - p->pad_left;
            wt = w + ((c * kh + ky) * kw) * AOT_CONV_F32_DIRECT_OB;
            for (kx = 0; kx < kw; ++kx) {
                __m512 in[2];
                AOT_X86_UNROLL
                for (v = 0; v < nvec; ++v) {
                    in[v] = aot_avx512_lanes_load(row + kx * p->dilation_w + 16 * v * stride,
                                                  stride, masks[(v0 + v) * kw + kx]);
                }
                AOT_X86_UNROLL
                for (o = 0; o < ob; ++o) {
                    const __m512 wv = _mm512_set1_ps(wt[kx * AOT_CONV_F32_DIRECT_OB + o]);
                    AOT_X86_UNROLL
                    for (v = 0; v < nvec; ++v) {
                        acc[o][v] = _mm512_fmadd_ps(wv, in[v], acc[o][v]);
                    }
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (o = 0; o < ob; ++o) {
        if (oc0 + o < p->out_c) {
            AOT_X86_UNROLL
            for (v = 0; v < nvec; ++v) {
                const int32_t left = p->out_w - 16 * (v0 + v);
                const __mmask16 k = left >= 16 ? (__mmask16)0xFFFF
                                               : (__mmask16)((1u << left) - 1u);
                _mm512_mask_storeu_ps(y + (oc0 + o) * out_plane + oy * p->out_w + 16 * (v0 + v),
                                      k, aot_avx512_act(&p->act, acc[o][v]));
            }
        }
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_direct_image(const aot_conv2d_params *p,
                                                         const float *x, const float *w,
                                                         const float *bias,
                                                         const uint32_t *masks, const int sw,
                                                         int32_t sw_rt, float *y)
{
    const int32_t nvec = (p->out_w + 15) / 16;
    const int32_t k = p->in_c * p->kernel_h * p->kernel_w;
    int32_t oy, v0, oc0;
    for (oc0 = 0; oc0 < p->out_c; oc0 += AOT_CONV_F32_DIRECT_OB) {
        const float *wb = w + oc0 * k;
        for (oy = 0; oy < p->out_h; ++oy) {
            if (p->out_c - oc0 > 8) {
                for (v0 = 0; v0 < nvec; ++v0) {
                    aot_conv_f32_direct_block(p, x, wb, bias, masks, oy, v0, 1, oc0, 16, sw,
                                              sw_rt, y);
                }
            } else {
                for (v0 = 0; v0 + 2 <= nvec; v0 += 2) {
                    aot_conv_f32_direct_block(p, x, wb, bias, masks, oy, v0, 2, oc0, 8, sw,
                                              sw_rt, y);
                }
                if (v0 < nvec) {
                    aot_conv_f32_direct_block(p, x, wb, bias, masks, oy, v0, 1, oc0, 8, sw,
                                              sw_rt, y);
                }
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
 * Channels-in-lanes path (aot_conv2d_avx512_f32_oc_lanes), where a tile of 32
 * pixels in lanes would leave many of them idle or the K of the matrix product
 * is short: a 1x1, stride 1, unpadded convolution of at least 32 input channels
 * on few pixels (a network's late layers on 6x6 or 3x3 pixels), and a kernel
 * larger than 1x1 on at most 4 input channels with rows narrower than a vector
 * (the direct path's complement: a first layer on a spectrogram). Output
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
    return p->in_c <= 4 && p->kernel_h * p->kernel_w > 1 && p->out_w < 16;
}

/* Channel blocks [ob, ob + nb) x output pixels [p0, p0 + np), whose B columns
 * are vi[0..np); nb, np, contig literals (contig: vi[i] = vi[0] + i, one base
 * pointer instead of np, which would not all stay in registers). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_ocl_tile(const aot_conv2d_params *p,
                                                     const aot_gemm_avx512_f32 *g,
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
            _mm512_mask_i32scatter_ps(yv + i, live[v], idx, aot_avx512_act(&p->act, acc[i][v]),
                                      4);
        }
    }
}

/* Output pixels [p0, p0 + np) of every channel block, np (a literal) at most 12;
 * lw: B's columns per output row (out_w, or the phase planes' row length). */
AOT_X86_INLINE AOT_AVX512 void aot_conv_f32_ocl_pixels(const aot_conv2d_params *p,
                                                       const aot_gemm_avx512_f32 *g,
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
                                                      const aot_gemm_avx512_f32 *g,
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
static AOT_AVX512 void aot_conv_f32_ocl(const aot_conv2d_params *p, const aot_gemm_avx512_f32 *g,
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
    aot_gemm_avx512_f32 g;
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
    aot_x86_geom_init(&geom, p->out_h, p->out_w, p->kernel_h, p->kernel_w, p->stride_h,
                      p->stride_w, p->dilation_h, p->dilation_w, AOT_GEMM_AVX512_NR);
    aot_x86_tap_offsets(&geom, p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, offs);
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
            const int32_t total = p->in_c * geom.cs;
            int32_t c, iy, ix, run, runs, dst[AOT_X86_MAX_STRIDE], ix0[AOT_X86_MAX_STRIDE],
                cnt[AOT_X86_MAX_STRIDE];
            aot_avx2_fill32(planes, 0, total);
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
            aot_gemm_avx512_f32_run(&g);
        }
    }
}
#else
typedef int aot_conv2d_avx512_f32_needs_x86;
#endif
