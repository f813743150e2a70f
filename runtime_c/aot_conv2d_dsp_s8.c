/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * int8 convolution (groups 1, any kernel, stride, dilation, padding) with
 * SMLAD, bit-exact with aot_conv2d_s8: im2col of two output pixels at a time
 * into scratch (an int16 pixel pair of k4 = in_c * kernel_h * kernel_w
 * rounded up to 4 values, the tail zero; aot_dsp_impl.h), then
 * aot_dsp_gemm_pixels over all output channels.
 * weights: pair weights [out_c][k4] (aot_dsp_impl.h); bias has the input
 * offset folded in (always present), so a padded tap holds the input zero
 * point. A 1x1 convolution with stride 1 and no padding only ever writes
 * outputs over the two pixels just gathered, so it may run in place (the
 * conditions of aot_pointwise_conv2d_inplace_s8).
 */
AOT_DSP_NO_LIBCALL
void aot_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                       const int8_t *weights, const int32_t *bias, int8_t *output,
                       void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t k = p->in_c * p->kernel_h * p->kernel_w, k4 = (k + 3) & ~3;
    const int32_t out_plane = p->out_h * p->out_w;
    int16_t *x = (int16_t *)scratch;
    int32_t *offsets = (int32_t *)(x + 2 * k4);
    int32_t n, pix;

    aot_dsp_im2col_setup(p, k4, x, offsets);
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * p->in_h * p->in_w;
        int8_t *y_n = output + n * p->out_c * out_plane;

        for (pix = 0; pix < out_plane; pix += 2) {
            const int32_t two = pix + 1 < out_plane;
            aot_dsp_im2col_pair(p, x_n, pix / p->out_w, pix % p->out_w, (pix + two) / p->out_w,
                                (pix + two) % p->out_w, offsets, k4, x);
            aot_dsp_gemm_pixels(weights, k4, bias, p->out_c, p->multipliers, p->shifts,
                                p->output_offset, p->act_min, p->act_max, x, y_n + pix,
                                two ? y_n + pix + 1 : NULL, out_plane);
        }
    }
}
