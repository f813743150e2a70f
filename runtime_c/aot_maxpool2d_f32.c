/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_window_impl.h"

/*
 * Max over the taps of each window that fall inside the input; padded
 * positions take no part (ONNX MaxPool), which is what restricting the tap
 * ranges does. NaN propagates as in aot_reduce_max_f32. A window with no
 * tap inside the input would give -inf, but valid ONNX shapes never make one.
 */
static inline float aot_maxpool2d_f32_window(const aot_pool2d_params *p, const float *x_c,
                                             const aot_pool_window *w)
{
    float m = -AOT_INFINITY;
    int32_t ky, kx;
    for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
        const int32_t row = (w->iy0 + ky * p->dilation_h) * p->in_w + w->ix0;
        for (kx = w->kx_begin; kx < w->kx_end; ++kx) {
            const float v = x_c[row + kx * p->dilation_w];
            if (v > m || v != v) {
                m = v;
            }
        }
    }
    return m;
}

void aot_maxpool2d_f32(const aot_pool2d_params *params, const float *x, float *y)
{
    AOT_POOL2D_BODY(params, x, y, float, 0, aot_maxpool2d_f32_window, params);
}
