/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_window_impl.h"

/*
 * int8 max pooling over [planes][in_h][in_w], bit-exact with TFLite's
 * reference_integer_ops::MaxPool: the max over the taps inside the input
 * (padded positions take no part), starting from -128, then clamped to
 * [act_min, act_max]. Dilation is supported (ONNX MaxPool); TFLite has none.
 */
static inline int8_t aot_maxpool2d_s8_window(const aot_pool2d_s8_params *params,
                                             const int8_t *x_c, const aot_pool_window *w)
{
    const aot_pool2d_params *p = &params->pool;
    int32_t m = INT8_MIN;
    int32_t ky, kx;
    for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
        const int32_t row = (w->iy0 + ky * p->dilation_h) * p->in_w + w->ix0;
        for (kx = w->kx_begin; kx < w->kx_end; ++kx) {
            const int32_t v = x_c[row + kx * p->dilation_w];
            m = v > m ? v : m;
        }
    }
    m = m < params->act_min ? params->act_min : m;
    m = m > params->act_max ? params->act_max : m;
    return (int8_t)m;
}

void aot_maxpool2d_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y)
{
    AOT_POOL2D_BODY(&params->pool, x, y, int8_t, 0, aot_maxpool2d_s8_window, params);
}
