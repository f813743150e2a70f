/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_conv2d_neon_impl.h"
#include "aot_kernels.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)

/* acc[o][q] += the 4-tap dot products of pixels 4q..4q+3 with output channel o. */
#define AOT_DOT_ROW(o)                                     \
    do {                                                   \
        a##o##0 = vdotq_laneq_s32(a##o##0, x0, w, o);      \
        a##o##1 = vdotq_laneq_s32(a##o##1, x1, w, o);      \
        a##o##2 = vdotq_laneq_s32(a##o##2, x2, w, o);      \
        a##o##3 = vdotq_laneq_s32(a##o##3, x3, w, o);      \
    } while (0)

#define AOT_DOT_STORE(o)                                                                   \
    do {                                                                                   \
        const int32_t oc = ob * 4 + (o);                                                   \
        if (oc < p->out_c) {                                                               \
            const int32x4_t b = vdupq_n_s32(bias[oc]);                                     \
            const int32x4_t sh = vdupq_n_s32(p->shifts[oc]);                               \
            const int8x16_t v = aot_neon_requant16(                                        \
                vaddq_s32(a##o##0, b), vaddq_s32(a##o##1, b), vaddq_s32(a##o##2, b),       \
                vaddq_s32(a##o##3, b), vdupq_n_s32(p->multipliers[oc]),                    \
                aot_neon_left_shift(sh), aot_neon_right_shift(sh), offset, lo, hi);        \
            aot_neon_store_s8(y_n + oc * out_plane + p0, v, np);                           \
        }                                                                                  \
    } while (0)

/*
 * int8 convolution (groups 1) as im2col + GEMM with SDOT, bit-exact with
 * aot_conv2d_s8. Blocks of 16 output pixels go through the grouped column
 * buffer (aot_conv2d_neon_impl.h); each block of 4 output channels keeps 16
 * int32x4 sums (4 channels x 16 pixels) and takes one SDOT-by-lane per 4
 * taps of 4 pixels. Weights re-laid out at compile time as
 * [ceil(out_c / 4)][K4][4 channels][4 taps] (K4 = ceil(K / 4), zero padded),
 * bias = bias + input_offset * sum(w) per output channel.
 */
void aot_conv2d_dotprod_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                           const int8_t *weights, const int32_t *bias, int8_t *output,
                           void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t k4 = (p->in_c * p->kernel_h * p->kernel_w + 3) >> 2;
    const int32_t oc_blocks = (p->out_c + 3) >> 2;
    const int32x4_t offset = vdupq_n_s32(p->output_offset);
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min);
    const int8x16_t hi = vdupq_n_s8((int8_t)p->act_max);
    int8_t *col = (int8_t *)scratch;
    int32_t n, p0, ob, kb;

    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * in_plane;
        int8_t *y_n = output + n * p->out_c * out_plane;
        for (p0 = 0; p0 < out_plane; p0 += 16) {
            const int32_t np = out_plane - p0 < 16 ? out_plane - p0 : 16;
            aot_im2col_s8(p, x_n, p0, np, col, 16, 1);
            for (ob = 0; ob < oc_blocks; ++ob) {
                const int8_t *wb = weights + ob * k4 * 16;
                const int8_t *c = col;
                int32x4_t a00 = vdupq_n_s32(0), a01 = a00, a02 = a00, a03 = a00;
                int32x4_t a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                int32x4_t a20 = a00, a21 = a00, a22 = a00, a23 = a00;
                int32x4_t a30 = a00, a31 = a00, a32 = a00, a33 = a00;
                for (kb = 0; kb < k4; ++kb) {
                    const int8x16_t w = vld1q_s8(wb);
                    const int8x16_t x0 = vld1q_s8(c), x1 = vld1q_s8(c + 16);
                    const int8x16_t x2 = vld1q_s8(c + 32), x3 = vld1q_s8(c + 48);
                    AOT_DOT_ROW(0);
                    AOT_DOT_ROW(1);
                    AOT_DOT_ROW(2);
                    AOT_DOT_ROW(3);
                    wb += 16;
                    c += 64;
                }
                AOT_DOT_STORE(0);
                AOT_DOT_STORE(1);
                AOT_DOT_STORE(2);
                AOT_DOT_STORE(3);
            }
        }
    }
}

#else
/* Built for a CPU without DotProd: this kernel is not available there. */
typedef int aot_conv2d_dotprod_s8_unavailable;
#endif
