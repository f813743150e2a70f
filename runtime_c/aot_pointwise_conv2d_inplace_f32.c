/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * float 1x1 convolution (stride 1, no padding, groups 1) that may run in
 * place. Each output sums over the input channels in aot_conv2d_f32's order
 * (from 0.0f), adds the bias and applies the activation, so results are
 * identical. Pixel by pixel: the pixel's in_c inputs are first gathered into
 * scratch, then its out_c outputs are written; see
 * aot_pointwise_conv2d_inplace_s8 for why that is safe in place.
 */
void aot_pointwise_conv2d_inplace_f32(const aot_conv2d_params *params, const float *input,
                                      const float *weights, const float *bias, float *output,
                                      void *scratch)
{
    const aot_conv2d_params *p = params;
    const int32_t plane = p->in_h * p->in_w;
    const int32_t in_c = p->in_c;
    float *x = (float *)scratch;
    int32_t n, pix, ic, oc;

    for (n = 0; n < p->batch; ++n) {
        const float *x_n = input + n * in_c * plane;
        float *y_n = output + n * p->out_c * plane;

        for (pix = 0; pix < plane; ++pix) {
            for (ic = 0; ic < in_c; ++ic) {
                x[ic] = x_n[ic * plane + pix];
            }
            for (oc = 0; oc < p->out_c; ++oc) {
                const float *w = weights + oc * in_c;
                float acc = 0.0f;
                for (ic = 0; ic < in_c; ++ic) {
                    acc += w[ic] * x[ic];
                }
                y_n[oc * plane + pix] = aot_act_apply_f32(&p->act,
                                                          acc + (bias != NULL ? bias[oc] : 0.0f));
            }
        }
    }
}
