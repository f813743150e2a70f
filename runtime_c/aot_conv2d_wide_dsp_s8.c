/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_gemm_impl.h"

/*
 * int8 convolution (groups 1, any kernel, stride, dilation, padding) with
 * SMLAD, `--optimize speed`, bit-exact with aot_conv2d_s8: im2col of two
 * output pixels at a time into a pixel pair in scratch (aot_dsp_gemm_impl.h;
 * k4 = in_c * kernel_h * kernel_w rounded up to 4, the tail zero, the taps in
 * the channel-pair order where aot_dsp_channel_pairs says so; a padded tap
 * holds the input zero point, which the input offset folded into the bias
 * cancels), then aot_dsp_gemm_4x2 over all output channels (weights in the
 * wide quad layout). A 1x1 convolution with stride 1 and no padding only
 * writes outputs over the two pixels just gathered, so it may run in place
 * (the conditions of aot_pointwise_conv2d_inplace_s8).
 */
AOT_DSP_NO_LIBCALL
void aot_conv2d_wide_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                            const int32_t *weights, const int32_t *bias, int8_t *output,
                            void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t k = p->in_c * p->kernel_h * p->kernel_w, k4 = (k + 3) & ~3;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t fast = aot_dsp_table_fast(p->multipliers, p->out_c, p->act_min, p->act_max);
    const int32_t channel_pairs = aot_dsp_channel_pairs(p);
    int32_t *x = (int32_t *)scratch;
    int32_t *offsets = x + k4 + 10;
    int32_t n, pix;

    aot_dsp_im2col_pair_setup(p, k4, x, offsets);
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * p->in_h * p->in_w;
        int8_t *y_n = output + n * p->out_c * out_plane;

        for (pix = 0; pix < out_plane; pix += 2) {
            const int32_t two = pix + 1 < out_plane;
            const int32_t oya = pix / p->out_w, oxa = pix % p->out_w;
            const int32_t oyb = (pix + two) / p->out_w, oxb = (pix + two) % p->out_w;
            if (channel_pairs) {
                aot_dsp_im2col_channel_pairs(p, x_n, oya, oxa, oyb, oxb, k4, x);
            } else {
                aot_dsp_im2col_pairs(p, x_n, oya, oxa, oyb, oxb, offsets, k4, x);
            }
            aot_dsp_gemm_4x2(weights, k4, bias, p->out_c, p->multipliers, fast, p->output_offset,
                             p->act_min, p->act_max, x, y_n + pix, y_n + pix + two, out_plane);
        }
    }
}
