/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * int8 1x1 convolution with the DSP extension's SMLAD, bit-exact with
 * aot_conv2d_s8 and aot_pointwise_conv2d_inplace_s8, and like the latter it
 * may run in place (same conditions). Two pixels at a time: their in_c
 * inputs are gathered from NCHW into scratch as an int16 pixel pair
 * (aot_dsp_impl.h), then every output channel of both is computed
 * (aot_dsp_gemm_pixels_wide: weights in the wide quad layout, int16 pairs
 * in int32 words), so an output lands only on input already gathered. An
 * odd last pixel is computed as a pair with itself.
 */
AOT_DSP_NO_LIBCALL
void aot_pointwise_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                 const int32_t *weights, const int32_t *bias, int8_t *output,
                                 void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t plane = p->in_h * p->in_w;
    const int32_t in_c = p->in_c;
    const int32_t k4 = (in_c + 3) & ~3;
    int16_t *x = (int16_t *)scratch;
    int32_t n, pix, ic, i;

    for (i = 0; i < 2 * k4; ++i) {
        x[i] = 0;     /* the padding past in_c stays 0 */
    }
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * in_c * plane;
        int8_t *y_n = output + n * p->out_c * plane;

        for (pix = 0; pix < plane; pix += 2) {
            const int32_t two = pix + 1 < plane;
            const int8_t *src = x_n + pix;
            int16_t *dst = x;
            for (ic = 0; ic + 4 <= in_c; ic += 4) {
                dst[0] = src[0];
                dst[4] = src[two];
                src += plane;
                dst[1] = src[0];
                dst[5] = src[two];
                src += plane;
                dst[2] = src[0];
                dst[6] = src[two];
                src += plane;
                dst[3] = src[0];
                dst[7] = src[two];
                src += plane;
                dst += 8;
            }
            for (i = 0; ic < in_c; ++ic, ++i) {
                dst[i] = src[0];
                dst[i + 4] = src[two];
                src += plane;
            }
            aot_dsp_gemm_pixels_wide(weights, k4, bias, p->out_c, p->multipliers, p->shifts,
                                     p->output_offset, p->act_min, p->act_max, x, y_n + pix,
                                     two ? y_n + pix + 1 : NULL, plane);
        }
    }
}
