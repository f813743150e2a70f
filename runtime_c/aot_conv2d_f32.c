/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_window_impl.h"

/*
 * Direct convolution, one output element at a time. For each output row and
 * column the range of kernel taps that land inside the input is computed
 * once, so the multiply-accumulate loops never test bounds; taps in the
 * padding would only add zeros. Input positions are kept as int32 offsets
 * rather than pointers because a window's origin may lie before the start
 * of the input, and forming such a pointer is undefined behaviour.
 */
void aot_conv2d_f32(const aot_conv2d_params *params, const float *input,
                    const float *weights, const float *bias, float *output)
{
    const aot_conv2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t kernel_plane = p->kernel_h * p->kernel_w;
    const int32_t in_c_per_group = p->in_c / p->groups;
    const int32_t out_c_per_group = p->out_c / p->groups;
    int32_t n, oc, oy, ox, ic, ky, kx;

    for (n = 0; n < p->batch; ++n) {
        const float *x_n = input + n * p->in_c * in_plane;
        float *y = output + n * p->out_c * p->out_h * p->out_w;

        for (oc = 0; oc < p->out_c; ++oc) {
            const int32_t group = oc / out_c_per_group;
            const float *x_g = x_n + group * in_c_per_group * in_plane;
            const float *w_oc = weights + oc * in_c_per_group * kernel_plane;
            const float b = bias != NULL ? bias[oc] : 0.0f;

            for (oy = 0; oy < p->out_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky_begin, ky_end;
                aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h,
                                &ky_begin, &ky_end);

                for (ox = 0; ox < p->out_w; ++ox) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx_begin, kx_end;
                    float acc = 0.0f;
                    aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                    &kx_begin, &kx_end);

                    for (ic = 0; ic < in_c_per_group; ++ic) {
                        const float *x_c = x_g + ic * in_plane;
                        const float *w_c = w_oc + ic * kernel_plane;
                        for (ky = ky_begin; ky < ky_end; ++ky) {
                            const int32_t row = (iy0 + ky * p->dilation_h) * p->in_w + ix0;
                            const float *w_row = w_c + ky * p->kernel_w;
                            for (kx = kx_begin; kx < kx_end; ++kx) {
                                acc += w_row[kx] * x_c[row + kx * p->dilation_w];
                            }
                        }
                    }
                    *y++ = aot_act_apply_f32(&p->act, acc + b);
                }
            }
        }
    }
}
