/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_window_impl.h"

/*
 * Mean over each window. The sum only ever needs the taps inside the input
 * (padding reads as zero); the divisor is the number of taps inside the
 * input, or with count_include_pad the number inside the padded input
 * [-pad_top, in_h + pad_bottom) x [-pad_left, in_w + pad_right). Taps past
 * that (windows that overhang because of ceil_mode) never count, as in
 * ONNX. Both counts factor into a row count times a column count.
 */
static inline float aot_avgpool2d_f32_window(const aot_pool2d_params *p, const float *x_c,
                                             const aot_pool_window *w)
{
    float sum = 0.0f;
    int32_t ky, kx;
    for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
        const int32_t row = (w->iy0 + ky * p->dilation_h) * p->in_w + w->ix0;
        for (kx = w->kx_begin; kx < w->kx_end; ++kx) {
            sum += x_c[row + kx * p->dilation_w];
        }
    }
    return sum / (float)(w->rows * w->cols);
}

void aot_avgpool2d_f32(const aot_pool2d_params *params, const float *x, float *y)
{
    AOT_POOL2D_BODY(params, x, y, float, params->count_include_pad,
                    aot_avgpool2d_f32_window, params);
}
