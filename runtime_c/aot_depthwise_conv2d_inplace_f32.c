/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_inplace_impl.h"
#include "aot_math.h"
#include "aot_window_impl.h"

/*
 * float depthwise convolution (groups == in_c == out_c) that may run in
 * place: each output element sums its taps in aot_conv2d_f32's order
 * (rows, then columns, from 0.0f), adds the bias and applies the activation,
 * so results are identical; the order of rows and planes is
 * aot_inplace_impl.h's.
 */
void aot_depthwise_conv2d_inplace_f32(const aot_depthwise_conv2d_inplace_params *params,
                                      const float *input, const float *weights,
                                      const float *bias, float *output, void *scratch)
{
    const aot_conv2d_params *p = &params->conv;
    const int32_t ring_rows = params->ring_rows;
    float *ring = (float *)scratch;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t kernel_plane = p->kernel_h * p->kernel_w;
    const int32_t planes = p->batch * p->in_c;
    const size_t row_bytes = (size_t)p->out_w * sizeof(float);
    int32_t g, oy, ox, ky, kx;

    for (g = 0; g < planes; ++g) {
        const int32_t c = g % p->in_c;
        const float *x_c = input + g * in_plane;
        float *y_c = output + g * out_plane;
        const float *w_c = weights + c * kernel_plane;
        const float b = bias != NULL ? bias[c] : 0.0f;
        int32_t done = 0;

        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t ready = aot_inplace_rows_ready(g, oy, p->stride_h, p->pad_top,
                                                         p->in_h, p->in_w, p->out_h, p->out_w);
            float *row = ring + (oy % ring_rows) * p->out_w;
            int32_t ky_begin, ky_end;

            done = aot_inplace_flush_rows(y_c, ring, done, ready, ring_rows, row_bytes);
            aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h, &ky_begin, &ky_end);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx_begin, kx_end;
                float acc = 0.0f;
                aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                &kx_begin, &kx_end);
                for (ky = ky_begin; ky < ky_end; ++ky) {
                    /* an offset, not a pointer: ix0 may lie before the row */
                    const int32_t x_row = (iy0 + ky * p->dilation_h) * p->in_w + ix0;
                    const float *w_row = w_c + ky * p->kernel_w;
                    for (kx = kx_begin; kx < kx_end; ++kx) {
                        acc += w_row[kx] * x_c[x_row + kx * p->dilation_w];
                    }
                }
                row[ox] = aot_act_apply_f32(&p->act, acc + b);
            }
        }
        aot_inplace_flush_rows(y_c, ring, done, p->out_h, ring_rows, row_bytes);
    }
}
