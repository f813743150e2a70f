/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Transposed convolution as "sum over input channels, then scatter". For one
 * output channel and one kernel tap (ky, kx), every input position lands on
 * one output position, so the channel sum is a dense plane in scratch built
 * by contiguous multiply-adds over whole input planes (loops a compiler
 * vectorizes); the plane is then added once into the strided output
 * positions of that tap. Each output element is bias + its taps in (ky, kx)
 * order, each tap's input channels in order: a fixed sequence, whatever the
 * split of output channels among threads.
 */
void aot_conv_transpose2d_f32(const aot_conv2d_params *params, const float *input,
                              const float *weights, const float *bias, float *output,
                              void *scratch)
{
    const aot_conv2d_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t kernel_plane = p->kernel_h * p->kernel_w;
    const int32_t in_c_per_group = p->in_c / p->groups;
    const int32_t out_c_per_group = p->out_c / p->groups;
    float *acc = (float *)scratch;  /* [in_h][in_w] */
    int32_t n, oc, ic, ky, kx, iy, ix, i;

    for (n = 0; n < p->batch; ++n) {
        const float *x_n = input + n * p->in_c * in_plane;
        for (oc = 0; oc < p->out_c; ++oc) {
            float *y = output + (n * p->out_c + oc) * out_plane;
            const int32_t group = oc / out_c_per_group;
            const float *x_g = x_n + group * in_c_per_group * in_plane;
            /* weights [in_c][out_c / groups][kh][kw]: this oc's taps of input channel
             * ic of its group are at w_oc + ic * out_c_per_group * kernel_plane */
            const float *w_oc = weights + (group * in_c_per_group * out_c_per_group
                                           + oc % out_c_per_group) * kernel_plane;
            const float b = bias != NULL ? bias[oc] : 0.0f;

            for (i = 0; i < out_plane; ++i) {
                y[i] = b;
            }
            for (ky = 0; ky < p->kernel_h; ++ky) {
                for (kx = 0; kx < p->kernel_w; ++kx) {
                    const int32_t ox0 = kx * p->dilation_w - p->pad_left;
                    int32_t ix_begin = 0, ix_end = p->in_w;

                    for (ic = 0; ic < in_c_per_group; ++ic) {
                        const float w = w_oc[ic * out_c_per_group * kernel_plane
                                             + ky * p->kernel_w + kx];
                        const float *x_c = x_g + ic * in_plane;
                        if (ic == 0) {
                            for (i = 0; i < in_plane; ++i) {
                                acc[i] = w * x_c[i];
                            }
                        } else {
                            for (i = 0; i < in_plane; ++i) {
                                acc[i] += w * x_c[i];
                            }
                        }
                    }
                    /* the input columns whose output column is inside [0, out_w) */
                    while (ix_begin < ix_end && ox0 + ix_begin * p->stride_w < 0) {
                        ++ix_begin;
                    }
                    while (ix_end > ix_begin && ox0 + (ix_end - 1) * p->stride_w >= p->out_w) {
                        --ix_end;
                    }
                    for (iy = 0; iy < p->in_h; ++iy) {
                        const int32_t oy = iy * p->stride_h - p->pad_top + ky * p->dilation_h;
                        const float *a_row = acc + iy * p->in_w;
                        /* an offset, not a pointer: ox0 may be negative */
                        const int32_t row = oy * p->out_w + ox0;
                        if (oy < 0 || oy >= p->out_h) {
                            continue;
                        }
                        for (ix = ix_begin; ix < ix_end; ++ix) {
                            y[row + ix * p->stride_w] += a_row[ix];
                        }
                    }
                }
            }
            if (p->act.kind != AOT_ACT_NONE) {
                for (i = 0; i < out_plane; ++i) {
                    y[i] = aot_act_apply_f32(&p->act, y[i]);
                }
            }
        }
    }
}
