/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_act_neon_impl.h"
#include "aot_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* With stride_w 1: each tap's row of 8 lanes is two vector loads where the
 * block lies on one output row inside the input, else filled lane by lane
 * (runs of the block on successive output rows). Input positions are int32
 * offsets: a row outside the input never forms an out-of-range pointer. */
static void aot_im2col_rows_f32(const aot_conv2d_params *p, const float *x_n, int32_t p0,
                                int32_t np, float *col)
{
    const int32_t in_plane = p->in_h * p->in_w;
    int32_t run_i0[8], run_len[8], run_oy[8], run_ox[8];
    int32_t nruns = 0, i = 0, oy = p0 / p->out_w, ox = p0 % p->out_w;
    int32_t ic, ky, kx, s, j;
    float *row = col;

    while (i < np) {
        run_len[nruns] = p->out_w - ox < np - i ? p->out_w - ox : np - i;
        run_i0[nruns] = i;
        run_oy[nruns] = oy;
        run_ox[nruns] = ox;
        i += run_len[nruns++];
        ox = 0;
        ++oy;
    }
    for (ic = 0; ic < p->in_c; ++ic) {
        for (ky = 0; ky < p->kernel_h; ++ky) {
            for (kx = 0; kx < p->kernel_w; ++kx, row += 8) {
                for (s = 0; s < nruns; ++s) {
                    const int32_t iy = run_oy[s] * p->stride_h - p->pad_top + ky * p->dilation_h;
                    const int32_t ix0 = run_ox[s] - p->pad_left + kx * p->dilation_w;
                    const int32_t src = ic * in_plane + iy * p->in_w;
                    if (iy >= 0 && iy < p->in_h && run_len[s] == 8 && ix0 >= 0 &&
                        ix0 + 8 <= p->in_w) {
                        vst1q_f32(row, vld1q_f32(x_n + src + ix0));
                        vst1q_f32(row + 4, vld1q_f32(x_n + src + ix0 + 4));
                        continue;
                    }
                    for (j = 0; j < run_len[s]; ++j) {
                        const int32_t ix = ix0 + j;
                        row[run_i0[s] + j] = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w
                                                 ? x_n[src + ix] : 0.0f;
                    }
                }
                for (j = np; j < 8; ++j) {
                    row[j] = 0.0f;
                }
            }
        }
    }
}

/* The column buffer [K][8] of output pixels p0 .. p0 + np - 1 (tap order
 * (ic, ky, kx) as in the weights); padded taps and pixels past np are 0. */
static void aot_im2col_f32(const aot_conv2d_params *p, const float *x_n, int32_t p0, int32_t np,
                           float *col)
{
    const int32_t in_plane = p->in_h * p->in_w;
    int32_t i, k, ic, ky, kx, oy = p0 / p->out_w, ox = p0 % p->out_w;
    const int32_t K = p->in_c * p->kernel_h * p->kernel_w;

    if (p->stride_w == 1) {
        aot_im2col_rows_f32(p, x_n, p0, np, col);
        return;
    }
    for (i = 0; i < 8; ++i) {
        if (i >= np) {
            for (k = 0; k < K; ++k) {
                col[k * 8 + i] = 0.0f;
            }
            continue;
        }
        {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            k = 0;
            for (ic = 0; ic < p->in_c; ++ic) {
                const float *x_c = x_n + ic * in_plane;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = iy0 + ky * p->dilation_h;
                    const int32_t row_in = iy >= 0 && iy < p->in_h;
                    for (kx = 0; kx < p->kernel_w; ++kx, ++k) {
                        const int32_t ix = ix0 + kx * p->dilation_w;
                        col[k * 8 + i] =
                            row_in && ix >= 0 && ix < p->in_w ? x_c[iy * p->in_w + ix] : 0.0f;
                    }
                }
            }
        }
        if (++ox == p->out_w) {
            ox = 0;
            ++oy;
        }
    }
}

#define AOT_FMA_ROW(o)                                     \
    do {                                                   \
        a##o##0 = vfmaq_laneq_f32(a##o##0, x0, o < 4 ? w0 : w1, (o) & 3); \
        a##o##1 = vfmaq_laneq_f32(a##o##1, x1, o < 4 ? w0 : w1, (o) & 3); \
    } while (0)

#define AOT_FMA_STORE(o)                                                            \
    do {                                                                            \
        const int32_t oc = ob * 8 + (o);                                            \
        if (oc < p->out_c) {                                                        \
            const float32x4_t b = vdupq_n_f32(bias != NULL ? bias[oc] : 0.0f);      \
            float *dst = y_n + oc * out_plane + p0;                                 \
            const float32x4_t r0 = aot_neon_act_f32(&p->act, vaddq_f32(a##o##0, b)); \
            const float32x4_t r1 = aot_neon_act_f32(&p->act, vaddq_f32(a##o##1, b)); \
            if (np == 8) {                                                          \
                vst1q_f32(dst, r0);                                                 \
                vst1q_f32(dst + 4, r1);                                             \
            } else {                                                                \
                aot_neon_store_f32(dst, r0, np < 4 ? np : 4);                       \
                aot_neon_store_f32(dst + 4, r1, np < 4 ? 0 : np - 4);               \
            }                                                                       \
        }                                                                           \
    } while (0)

/*
 * float convolution (groups 1) as im2col + GEMM with FMLA by lane: blocks of
 * 8 output pixels x 8 output channels, 16 float32x4 sums, each summing its
 * taps in the portable kernel's order (ic, ky, kx) from 0, bias added last,
 * then the activation. Fused multiply-adds round once per tap where the
 * portable build (-ffp-contract=off) rounds twice: results differ from
 * aot_conv2d_f32 by rounding only. Weights re-laid out at compile time as
 * [ceil(out_c / 8)][K][8] (zero padded). Scratch: K * 8 floats of column
 * buffer, which a 1x1, stride-1, unpadded convolution writing to another
 * buffer skips (it reads the input rows directly); one writing in place
 * (output == input) copies each block first.
 */
void aot_conv2d_neon_f32(const aot_conv2d_params *params, const float *input,
                         const float *weights, const float *bias, float *output, void *scratch)
{
    const aot_conv2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t K = p->in_c * p->kernel_h * p->kernel_w;
    const int32_t oc_blocks = (p->out_c + 7) >> 3;
    const int32_t pointwise = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
                              p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                              p->in_h == p->out_h && p->in_w == p->out_w;
    const int32_t in_place = (const void *)input == (const void *)output;
    float *buffer = (float *)scratch;
    int32_t n, p0, ob, k;

    for (n = 0; n < p->batch; ++n) {
        const float *x_n = input + n * p->in_c * in_plane;
        float *y_n = output + n * p->out_c * out_plane;
        for (p0 = 0; p0 < out_plane; p0 += 8) {
            const int32_t np = out_plane - p0 < 8 ? out_plane - p0 : 8;
            const float *col = buffer;
            int32_t col_step = 8;
            if (pointwise && np == 8 && !in_place) {
                col = x_n + p0;
                col_step = in_plane;
            } else if (pointwise && np == 8) {
                for (k = 0; k < K; ++k) {
                    vst1q_f32(buffer + k * 8, vld1q_f32(x_n + k * in_plane + p0));
                    vst1q_f32(buffer + k * 8 + 4, vld1q_f32(x_n + k * in_plane + p0 + 4));
                }
            } else {
                aot_im2col_f32(p, x_n, p0, np, buffer);
            }
            for (ob = 0; ob < oc_blocks; ++ob) {
                const float *wb = weights + ob * K * 8;
                const float *c = col;
                float32x4_t a00 = vdupq_n_f32(0.0f), a01 = a00, a10 = a00, a11 = a00;
                float32x4_t a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                float32x4_t a40 = a00, a41 = a00, a50 = a00, a51 = a00;
                float32x4_t a60 = a00, a61 = a00, a70 = a00, a71 = a00;
                for (k = 0; k < K; ++k) {
                    const float32x4_t x0 = vld1q_f32(c), x1 = vld1q_f32(c + 4);
                    const float32x4_t w0 = vld1q_f32(wb), w1 = vld1q_f32(wb + 4);
                    AOT_FMA_ROW(0);
                    AOT_FMA_ROW(1);
                    AOT_FMA_ROW(2);
                    AOT_FMA_ROW(3);
                    AOT_FMA_ROW(4);
                    AOT_FMA_ROW(5);
                    AOT_FMA_ROW(6);
                    AOT_FMA_ROW(7);
                    c += col_step;
                    wb += 8;
                }
                AOT_FMA_STORE(0);
                AOT_FMA_STORE(1);
                AOT_FMA_STORE(2);
                AOT_FMA_STORE(3);
                AOT_FMA_STORE(4);
                AOT_FMA_STORE(5);
                AOT_FMA_STORE(6);
                AOT_FMA_STORE(7);
            }
        }
    }
}

#else
/* Built for a CPU without NEON: this kernel is not available there. */
typedef int aot_conv2d_neon_f32_unavailable;
#endif
