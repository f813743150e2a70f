/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_conv2d_neon_impl.h"
#include "aot_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* acc[o] += x (8 pixels) * w[o], widened to int32. */
#define AOT_MLA_ROW(o)                                          \
    do {                                                        \
        a##o##0 = vmlal_laneq_s16(a##o##0, vget_low_s16(x), w, o); \
        a##o##1 = vmlal_high_laneq_s16(a##o##1, x, w, o);       \
    } while (0)

#define AOT_MLA_STORE(o)                                                                   \
    do {                                                                                   \
        const int32_t oc = ob * 8 + (o);                                                   \
        if (oc < p->out_c) {                                                               \
            const int32x4_t b = vdupq_n_s32(bias[oc]);                                     \
            const int32x4_t sh = vdupq_n_s32(p->shifts[oc]);                               \
            const int8x16_t v = aot_neon_requant16(                                        \
                vaddq_s32(a##o##0, b), vaddq_s32(a##o##1, b), b, b,                        \
                vdupq_n_s32(p->multipliers[oc]), aot_neon_left_shift(sh),                  \
                aot_neon_right_shift(sh), offset, lo, hi);                                 \
            aot_neon_store_s8(y_n + oc * out_plane + p0, v, np);                           \
        }                                                                                  \
    } while (0)

/*
 * int8 convolution (groups 1) as im2col + GEMM with widening multiply-adds
 * (Armv8.0 NEON), bit-exact with aot_conv2d_s8. Blocks of 8 output pixels go
 * through the plain column buffer (aot_conv2d_neon_impl.h); each block of 8
 * output channels keeps 16 int32x4 sums (8 channels x 8 pixels), one SMLAL
 * by lane per tap and 4 pixels. A pointwise convolution writing to another
 * buffer reads the input rows directly (no column buffer); one running in
 * place (output == input) copies each block first. Weights re-laid out at compile time as
 * [ceil(out_c / 8)][K][8 channels] (zero padded), bias = bias +
 * input_offset * sum(w) per output channel.
 */
void aot_conv2d_neon_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                        const int8_t *weights, const int32_t *bias, int8_t *output,
                        void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t K = p->in_c * p->kernel_h * p->kernel_w;
    const int32_t oc_blocks = (p->out_c + 7) >> 3;
    const int32x4_t offset = vdupq_n_s32(p->output_offset);
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min);
    const int8x16_t hi = vdupq_n_s8((int8_t)p->act_max);
    const int32_t pointwise = aot_conv_is_pointwise(p);
    const int32_t in_place = (const void *)input == (const void *)output;
    int8_t *col = (int8_t *)scratch;
    int32_t n, p0, ob, k;

    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * in_plane;
        int8_t *y_n = output + n * p->out_c * out_plane;
        for (p0 = 0; p0 < out_plane; p0 += 8) {
            const int32_t np = out_plane - p0 < 8 ? out_plane - p0 : 8;
            const int8_t *cols = col;
            int32_t col_step = 8;
            if (pointwise && np == 8 && !in_place) {
                cols = x_n + p0;   /* the input rows are the column buffer */
                col_step = in_plane;
            } else {
                aot_im2col_s8(p, x_n, p0, np, col, 8, 0);
            }
            for (ob = 0; ob < oc_blocks; ++ob) {
                const int8_t *wb = weights + ob * K * 8;
                const int8_t *c = cols;
                int32x4_t a00 = vdupq_n_s32(0), a01 = a00, a10 = a00, a11 = a00;
                int32x4_t a20 = a00, a21 = a00, a30 = a00, a31 = a00;
                int32x4_t a40 = a00, a41 = a00, a50 = a00, a51 = a00;
                int32x4_t a60 = a00, a61 = a00, a70 = a00, a71 = a00;
                for (k = 0; k < K; ++k) {
                    const int16x8_t x = vmovl_s8(vld1_s8(c));
                    const int16x8_t w = vmovl_s8(vld1_s8(wb + k * 8));
                    AOT_MLA_ROW(0);
                    AOT_MLA_ROW(1);
                    AOT_MLA_ROW(2);
                    AOT_MLA_ROW(3);
                    AOT_MLA_ROW(4);
                    AOT_MLA_ROW(5);
                    AOT_MLA_ROW(6);
                    AOT_MLA_ROW(7);
                    c += col_step;
                }
                AOT_MLA_STORE(0);
                AOT_MLA_STORE(1);
                AOT_MLA_STORE(2);
                AOT_MLA_STORE(3);
                AOT_MLA_STORE(4);
                AOT_MLA_STORE(5);
                AOT_MLA_STORE(6);
                AOT_MLA_STORE(7);
            }
        }
    }
}

#else
/* Built for a CPU without NEON: this kernel is not available there. */
typedef int aot_conv2d_neon_s8_unavailable;
#endif
