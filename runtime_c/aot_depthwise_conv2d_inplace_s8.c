/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_inplace_impl.h"
#include "aot_math.h"
#include "aot_window_impl.h"

/*
 * int8 depthwise convolution (groups == in_c == out_c) that may run in place:
 * the arithmetic of aot_conv2d_s8 (the int32 sum from the bias, in uint32 so
 * that it wraps as TFLite's would, then MultiplyByQuantizedMultiplier per
 * channel, + output_offset, clamp), the order of aot_inplace_impl.h.
 */
void aot_depthwise_conv2d_inplace_s8(const aot_depthwise_conv2d_inplace_s8_params *params,
                                     const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, int8_t *output, void *scratch)
{
    const aot_conv2d_s8_params *p = &params->conv;
    const int32_t ring_rows = params->ring_rows;
    int8_t *ring = (int8_t *)scratch;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t kernel_plane = p->kernel_h * p->kernel_w;
    const int32_t planes = p->batch * p->in_c;
    const int32_t input_offset = p->input_offset;
    int32_t g, oy, ox, ky, kx;

    for (g = 0; g < planes; ++g) {
        const int32_t c = g % p->in_c;
        const int8_t *x_c = input + g * in_plane;
        int8_t *y_c = output + g * out_plane;
        const int8_t *w_c = weights + c * kernel_plane;
        const uint32_t b = bias != NULL ? (uint32_t)bias[c] : 0u;
        const int32_t woff = p->weights_offsets != NULL ? p->weights_offsets[c] : 0;
        const int32_t mult = p->multipliers[c];
        const int32_t shift = p->shifts[c];
        int32_t done = 0;

        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t ready = aot_inplace_rows_ready(g, oy, p->stride_h, p->pad_top,
                                                         p->in_h, p->in_w, p->out_h, p->out_w);
            int8_t *row = ring + (oy % ring_rows) * p->out_w;
            int32_t ky_begin, ky_end;

            done = aot_inplace_flush_rows(y_c, ring, done, ready, ring_rows,
                                          (size_t)p->out_w);
            aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h, &ky_begin, &ky_end);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx_begin, kx_end, acc;
                uint32_t sum = b;
                aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                &kx_begin, &kx_end);
                for (ky = ky_begin; ky < ky_end; ++ky) {
                    /* an offset, not a pointer: ix0 may lie before the row */
                    const int32_t x_row = (iy0 + ky * p->dilation_h) * p->in_w + ix0;
                    const int8_t *w_row = w_c + ky * p->kernel_w;
                    for (kx = kx_begin; kx < kx_end; ++kx) {
                        const int32_t xv = (int32_t)x_c[x_row + kx * p->dilation_w];
                        sum += (uint32_t)(((int32_t)w_row[kx] + woff) * (xv + input_offset));
                    }
                }
                acc = aot_mul_by_quantized_multiplier((int32_t)sum, mult, shift);
                acc = aot_wrap_add32(acc, p->output_offset);
                acc = acc < p->act_min ? p->act_min : acc;
                acc = acc > p->act_max ? p->act_max : acc;
                row[ox] = (int8_t)acc;
            }
        }
        aot_inplace_flush_rows(y_c, ring, done, p->out_h, ring_rows, (size_t)p->out_w);
    }
}
