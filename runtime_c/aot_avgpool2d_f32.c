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
void aot_avgpool2d_f32(const aot_pool2d_params *params, const float *x, float *y)
{
    const aot_pool2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    int32_t c, oy, ox, ky, kx;

    for (c = 0; c < p->planes; ++c) {
        const float *x_c = x + c * in_plane;

        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky_begin, ky_end, rows;
            aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h,
                            &ky_begin, &ky_end);
            rows = aot_pool_count(iy0, p->dilation_h, p->kernel_h, p->in_h, p->pad_top,
                                  p->pad_bottom, p->count_include_pad, ky_begin, ky_end);

            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx_begin, kx_end, cols;
                float sum = 0.0f;
                aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                &kx_begin, &kx_end);
                cols = aot_pool_count(ix0, p->dilation_w, p->kernel_w, p->in_w, p->pad_left,
                                      p->pad_right, p->count_include_pad, kx_begin, kx_end);

                for (ky = ky_begin; ky < ky_end; ++ky) {
                    const int32_t row = (iy0 + ky * p->dilation_h) * p->in_w + ix0;
                    for (kx = kx_begin; kx < kx_end; ++kx) {
                        sum += x_c[row + kx * p->dilation_w];
                    }
                }
                *y++ = sum / (float)(rows * cols);
            }
        }
    }
}
