/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_window_impl.h"

/*
 * int8 max pooling over [planes][in_h][in_w], bit-exact with TFLite's
 * reference_integer_ops::MaxPool: the max over the taps inside the input
 * (padded positions take no part), starting from -128, then clamped to
 * [act_min, act_max]. Dilation is supported (ONNX MaxPool); TFLite has none.
 */
void aot_maxpool2d_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y)
{
    const aot_pool2d_params *p = &params->pool;
    const int32_t in_plane = p->in_h * p->in_w;
    int32_t c, oy, ox, ky, kx;

    for (c = 0; c < p->planes; ++c) {
        const int8_t *x_c = x + c * in_plane;

        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky_begin, ky_end;
            aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h,
                            &ky_begin, &ky_end);

            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx_begin, kx_end;
                int32_t m = INT8_MIN;
                aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                &kx_begin, &kx_end);

                for (ky = ky_begin; ky < ky_end; ++ky) {
                    const int32_t row = (iy0 + ky * p->dilation_h) * p->in_w + ix0;
                    for (kx = kx_begin; kx < kx_end; ++kx) {
                        const int32_t v = x_c[row + kx * p->dilation_w];
                        m = v > m ? v : m;
                    }
                }
                m = m < params->act_min ? params->act_min : m;
                m = m > params->act_max ? params->act_max : m;
                *y++ = (int8_t)m;
            }
        }
    }
}
