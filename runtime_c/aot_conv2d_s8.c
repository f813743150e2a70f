/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_window_impl.h"

/*
 * int8 convolution, NCHW, bit-exact with TFLite's reference ConvPerChannel
 * and DepthwiseConvPerChannel (groups == in_c, out_c = in_c * multiplier,
 * output channel oc reading input channel oc / multiplier, as both ONNX and
 * TFLite order them). acc = sum over the in-bounds taps of
 * w * (x + input_offset), plus bias; padded taps add nothing. The int32 sum
 * is order-independent (it wraps like TFLite's accumulator would, computed
 * in uint32 so that the wrap is defined), so walking NCHW instead of NHWC
 * gives the same bits. Then MultiplyByQuantizedMultiplier per output
 * channel, + output_offset, clamp to [act_min, act_max].
 *
 * One output element at a time; the range of kernel taps inside the input
 * is computed once per output row/column, so the inner loops have no bounds
 * tests. Input positions are int32 offsets, never out-of-range pointers.
 */
void aot_conv2d_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                   const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t kernel_plane = p->kernel_h * p->kernel_w;
    const int32_t in_c_per_group = p->in_c / p->groups;
    const int32_t out_c_per_group = p->out_c / p->groups;
    const int32_t input_offset = p->input_offset;
    int32_t n, oc, oy, ox, ic, ky, kx;

    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * in_plane;
        int8_t *y = output + n * p->out_c * p->out_h * p->out_w;

        for (oc = 0; oc < p->out_c; ++oc) {
            const int32_t group = oc / out_c_per_group;
            const int8_t *x_g = x_n + group * in_c_per_group * in_plane;
            const int8_t *w_oc = weights + oc * in_c_per_group * kernel_plane;
            const uint32_t b = bias != NULL ? (uint32_t)bias[oc] : 0u;
            const int32_t multiplier = p->multipliers[oc];
            const int32_t shift = p->shifts[oc];

            for (oy = 0; oy < p->out_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky_begin, ky_end;
                aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h,
                                &ky_begin, &ky_end);

                for (ox = 0; ox < p->out_w; ++ox) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx_begin, kx_end, acc;
                    uint32_t sum = b;
                    aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                    &kx_begin, &kx_end);

                    for (ic = 0; ic < in_c_per_group; ++ic) {
                        const int8_t *x_c = x_g + ic * in_plane;
                        const int8_t *w_c = w_oc + ic * kernel_plane;
                        for (ky = ky_begin; ky < ky_end; ++ky) {
                            const int32_t row = (iy0 + ky * p->dilation_h) * p->in_w + ix0;
                            const int8_t *w_row = w_c + ky * p->kernel_w;
                            for (kx = kx_begin; kx < kx_end; ++kx) {
                                const int32_t xv = (int32_t)x_c[row + kx * p->dilation_w];
                                sum += (uint32_t)((int32_t)w_row[kx] * (xv + input_offset));
                            }
                        }
                    }

                    acc = aot_mul_by_quantized_multiplier((int32_t)sum, multiplier, shift);
                    acc = aot_wrap_add32(acc, p->output_offset);
                    acc = acc < p->act_min ? p->act_min : acc;
                    acc = acc > p->act_max ? p->act_max : acc;
                    *y++ = (int8_t)acc;
                }
            }
        }
    }
}
