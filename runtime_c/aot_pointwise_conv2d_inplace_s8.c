/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

/*
 * int8 1x1 convolution (stride 1, no padding, groups 1) that may run in
 * place, with aot_conv2d_s8's arithmetic (the int32 sum from the bias, in
 * uint32 so that it wraps as TFLite's would; MultiplyByQuantizedMultiplier
 * per output channel, + output_offset, clamp).
 *
 * Pixel by pixel: the pixel's in_c inputs are first gathered into scratch,
 * then its out_c outputs are written. With the output at the input's address,
 * output (n, oc, p) lands on an input element of the same pixel p (already
 * gathered), of an earlier batch element (done), or, when out_c > in_c and
 * batch is 1, past the input's end; the lowering rule makes sure that batch
 * is 1 or out_c <= in_c.
 */
void aot_pointwise_conv2d_inplace_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                     const int8_t *weights, const int32_t *bias,
                                     int8_t *output, void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t plane = p->in_h * p->in_w;
    const int32_t in_c = p->in_c;
    const int32_t input_offset = p->input_offset;
    int8_t *x = (int8_t *)scratch;
    int32_t n, pix, ic, oc;

    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * in_c * plane;
        int8_t *y_n = output + n * p->out_c * plane;

        for (pix = 0; pix < plane; ++pix) {
            for (ic = 0; ic < in_c; ++ic) {
                x[ic] = x_n[ic * plane + pix];
            }
            for (oc = 0; oc < p->out_c; ++oc) {
                const int8_t *w = weights + oc * in_c;
                const int32_t woff = p->weights_offsets != NULL ? p->weights_offsets[oc] : 0;
                uint32_t sum = bias != NULL ? (uint32_t)bias[oc] : 0u;
                int32_t acc;
                for (ic = 0; ic < in_c; ++ic) {
                    sum += (uint32_t)(((int32_t)w[ic] + woff) * ((int32_t)x[ic] + input_offset));
                }
                acc = aot_mul_by_quantized_multiplier((int32_t)sum, p->multipliers[oc],
                                                      p->shifts[oc]);
                acc = aot_wrap_add32(acc, p->output_offset);
                acc = acc < p->act_min ? p->act_min : acc;
                acc = acc > p->act_max ? p->act_max : acc;
                y_n[oc * plane + pix] = (int8_t)acc;
            }
        }
    }
}
