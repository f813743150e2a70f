/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_dw_f32_lanes_impl.h"

/*
 * 1x1 convolution (stride 1, unpadded, groups 1) with output channels in lanes,
 * on channel-blocked ("c16") or NCHW activations. A tile is NB (1 or 2) blocks of
 * 16 output channels by P pixels: NB * P independent accumulators (24 at NB 2,
 * P 12: enough to keep two multiply-adds per cycle in flight at a latency of 4),
 * per input channel NB weight vectors and P input scalars, each an embedded
 * broadcast operand of its multiply-add. A c16 input keeps the scalar of (pixel,
 * channel ic) at ((ic / 16) * HW + pixel) * 16 + ic % 16, an NCHW one at ic * HW +
 * pixel; a c16 output is one vector store per (pixel, block), an NCHW output a
 * 16 x P transpose of the block's accumulators.
 *
 * Every accumulator starts at the bias and takes the input channels in order,
 * whatever the tile, the layouts and the blocks the call covers: a thread's part
 * of the output blocks, or a pixel computed twice, gives the same bits. A plane
 * that is not a whole number of tiles ends in a tile (P 12, 8, 4, 2 or 1) that
 * overlaps the previous one (its pixels are stored twice, with the same values),
 * so the output must not overlap the input. No scratch.
 */

#define AOT_PW_F32_C16_P 12

AOT_X86_INLINE AOT_AVX512 void aot_pw_f32_c16_tile(const aot_conv2d_params *p,
                                                   const aot_act_f32 *act, const float *x,
                                                   const float *w, const float *bias,
                                                   float *y, int32_t ob, int32_t p0, int out_c16,
                                                   const int NB, const int P, const int C16)
{
    const int32_t hw = p->out_h * p->out_w, in_c = p->in_c;
    const float *w0 = w + ob * in_c * 16;
    const float *w1 = w0 + in_c * 16;
    __m512 acc[2 * AOT_PW_F32_C16_P];
    int32_t ic, j;
    int b, r;
    AOT_X86_UNROLL
    for (b = 0; b < NB; ++b) {
        const int32_t oc0 = (ob + b) * 16;
        const int32_t nc = p->out_c - oc0 < 16 ? p->out_c - oc0 : 16;
        const __m512 bv = bias != NULL ? _mm512_maskz_loadu_ps((__mmask16)((1u << nc) - 1u),
                                                               bias + oc0)
                                       : _mm512_setzero_ps();
        AOT_X86_UNROLL
        for (r = 0; r < P; ++r) {
            acc[b * P + r] = bv;
        }
    }
    if (C16) {
        for (ic = 0; ic < in_c; ic += 16) {
            const float *xb = x + (ic * hw + p0 * 16);
            for (j = 0; j < 16; ++j) {
                const __m512 wa = _mm512_loadu_ps(w0 + (ic + j) * 16);
                const __m512 wb = NB == 2 ? _mm512_loadu_ps(w1 + (ic + j) * 16) : wa;
                AOT_X86_UNROLL
                for (r = 0; r < P; ++r) {
                    const __m512 v = _mm512_set1_ps(xb[r * 16 + j]);
                    acc[r] = _mm512_fmadd_ps(wa, v, acc[r]);
                    if (NB == 2) {
                        acc[P + r] = _mm512_fmadd_ps(wb, v, acc[P + r]);
                    }
                }
            }
        }
    } else {
        for (ic = 0; ic < in_c; ++ic) {
            const float *xb = x + ic * hw + p0;
            const __m512 wa = _mm512_loadu_ps(w0 + ic * 16);
            const __m512 wb = NB == 2 ? _mm512_loadu_ps(w1 + ic * 16) : wa;
            AOT_X86_UNROLL
            for (r = 0; r < P; ++r) {
                const __m512 v = _mm512_set1_ps(xb[r]);
                acc[r] = _mm512_fmadd_ps(wa, v, acc[r]);
                if (NB == 2) {
                    acc[P + r] = _mm512_fmadd_ps(wb, v, acc[P + r]);
                }
            }
        }
    }
    AOT_X86_UNROLL
    for (b = 0; b < NB; ++b) {
        AOT_X86_UNROLL
        for (r = 0; r < P; ++r) {
            acc[b * P + r] = aot_avx512_act(act, acc[b * P + r]);
        }
    }
    if (out_c16) {
        AOT_X86_UNROLL
        for (b = 0; b < NB; ++b) {
            float *yb = y + ((ob + b) * hw + p0) * 16;
            AOT_X86_UNROLL
            for (r = 0; r < P; ++r) {
                _mm512_storeu_ps(yb + r * 16, acc[b * P + r]);
            }
        }
    } else {
        const __mmask16 k = (__mmask16)((1u << P) - 1u);
        AOT_X86_UNROLL
        for (b = 0; b < NB; ++b) {
            const int32_t oc0 = (ob + b) * 16;
            const int32_t nc = p->out_c - oc0 < 16 ? p->out_c - oc0 : 16;
            __m512 t[16];
            int l;
            AOT_X86_UNROLL
            for (r = 0; r < 16; ++r) {
                t[r] = r < P ? acc[b * P + r] : _mm512_setzero_ps();
            }
            aot_dw_f32_tr16(t);
            AOT_X86_UNROLL
            for (l = 0; l < 16; ++l) {
                if (l < nc) {
                    _mm512_mask_storeu_ps(y + (oc0 + l) * hw + p0, k, t[l]);
                }
            }
        }
    }
}

/* One tile of P (12, 8, 4, 2 or 1) pixels from p0. */
AOT_X86_INLINE AOT_AVX512 void aot_pw_f32_c16_tile_of(const aot_conv2d_params *p,
                                                      const aot_act_f32 *act, const float *x,
                                                      const float *w, const float *bias,
                                                      float *y, int32_t ob, int32_t p0,
                                                      int out_c16, int32_t P, const int NB,
                                                      const int C16)
{
    switch (P) {
    case AOT_PW_F32_C16_P:
        aot_pw_f32_c16_tile(p, act, x, w, bias, y, ob, p0, out_c16, NB, AOT_PW_F32_C16_P, C16);
        break;
    case 8:
        aot_pw_f32_c16_tile(p, act, x, w, bias, y, ob, p0, out_c16, NB, 8, C16);
        break;
    case 4:
        aot_pw_f32_c16_tile(p, act, x, w, bias, y, ob, p0, out_c16, NB, 4, C16);
        break;
    case 2:
        aot_pw_f32_c16_tile(p, act, x, w, bias, y, ob, p0, out_c16, NB, 2, C16);
        break;
    default:
        aot_pw_f32_c16_tile(p, act, x, w, bias, y, ob, p0, out_c16, NB, 1, C16);
        break;
    }
}

/* The output blocks [ob, ob + NB) over the whole plane: tiles of AOT_PW_F32_C16_P
 * pixels; the rest by the smallest tile that covers it, moved back to end at the
 * plane's end (overlapping pixels already done) -- or, on a plane smaller than
 * that tile, by the largest tile that fits, and so on. */
AOT_X86_INLINE AOT_AVX512 void aot_pw_f32_c16_blocks(const aot_conv2d_params *p,
                                                     const aot_act_f32 *act, const float *x,
                                                     const float *w, const float *bias,
                                                     float *y, int32_t ob, int out_c16,
                                                     const int NB, const int C16)
{
    const int32_t hw = p->out_h * p->out_w;
    int32_t p0 = 0;
    while (p0 < hw) {
        const int32_t rest = hw - p0;
        int32_t size = rest > 8 ? AOT_PW_F32_C16_P : rest > 4 ? 8 : rest > 2 ? 4 : rest;
        if (size <= rest) {
            aot_pw_f32_c16_tile_of(p, act, x, w, bias, y, ob, p0, out_c16, size, NB, C16);
            p0 += size;
        } else if (size <= hw) {
            aot_pw_f32_c16_tile_of(p, act, x, w, bias, y, ob, hw - size, out_c16, size, NB, C16);
            p0 = hw;
        } else {
            size = rest >= 8 ? 8 : rest >= 4 ? 4 : rest >= 2 ? 2 : 1;
            aot_pw_f32_c16_tile_of(p, act, x, w, bias, y, ob, p0, out_c16, size, NB, C16);
            p0 += size;
        }
    }
}

/* Output blocks [ob, ob + nb), nb 1 or 2: a loop of its own for each nb and input
 * layout (both literals inside). */
static AOT_AVX512 void aot_pw_f32_c16_run(const aot_conv2d_params *p, const aot_act_f32 *act,
                                          const float *x, const float *w, const float *bias,
                                          float *y, int32_t ob, int32_t nb, int in_c16,
                                          int out_c16)
{
    if (nb == 2 && in_c16) {
        aot_pw_f32_c16_blocks(p, act, x, w, bias, y, ob, out_c16, 2, 1);
    } else if (nb == 2) {
        aot_pw_f32_c16_blocks(p, act, x, w, bias, y, ob, out_c16, 2, 0);
    } else if (in_c16) {
        aot_pw_f32_c16_blocks(p, act, x, w, bias, y, ob, out_c16, 1, 1);
    } else {
        aot_pw_f32_c16_blocks(p, act, x, w, bias, y, ob, out_c16, 1, 0);
    }
}

AOT_AVX512 void aot_pointwise_conv2d_c16_avx512_f32(const aot_conv2d_c16_params *params,
                                                    const float *input, const float *weights,
                                                    const float *bias, float *output,
                                                    void *scratch)
{
    const aot_conv2d_params *p = &params->conv;
    const int in_c16 = params->input_c16 != 0, out_c16 = params->output_c16 != 0;
    const aot_act_f32 act = p->act;   /* a local: the output stores cannot alias it */
    const int32_t hw = p->out_h * p->out_w, blocks = (p->out_c + 15) / 16;
    int32_t n, ob;
    (void)scratch;
    for (n = 0; n < p->batch; ++n) {
        const float *x = input + n * p->in_c * hw;
        float *y = output + n * p->out_c * hw;
        for (ob = 0; ob < blocks; ob += 2) {
            aot_pw_f32_c16_run(p, &act, x, weights, bias, y, ob, blocks - ob >= 2 ? 2 : 1,
                               in_c16, out_c16);
        }
    }
}
#else
typedef int aot_pointwise_conv2d_c16_avx512_f32_needs_x86;
#endif
