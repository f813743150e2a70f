/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_window_impl.h"

/*
 * Max over the taps of each window that fall inside the input; padded
 * positions take no part (ONNX MaxPool), which is what restricting the tap
 * ranges does. NaN propagates as in aot_reduce_max_f32. A window with no
 * tap inside the input would give -inf, but valid ONNX shapes never make one.
 */
void aot_maxpool2d_f32(const aot_pool2d_params *params, const float *x, float *y)
{
    const aot_pool2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    int32_t c, oy, ox, ky, kx;

    for (c = 0; c < p->planes; ++c) {
        const float *x_c = x + c * in_plane;

        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky_begin, ky_end;
            aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h,
                            &ky_begin, &ky_end);

            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx_begin, kx_end;
                float m = -AOT_INFINITY;
                aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                &kx_begin, &kx_end);

                for (ky = ky_begin; ky < ky_end; ++ky) {
                    const int32_t row = (iy0 + ky * p->dilation_h) * p->in_w + ix0;
                    for (kx = kx_begin; kx < kx_end; ++kx) {
                        const float v = x_c[row + kx * p->dilation_w];
                        if (v > m || v != v) {
                            m = v;
                        }
                    }
                }
                *y++ = m;
            }
        }
    }
}
