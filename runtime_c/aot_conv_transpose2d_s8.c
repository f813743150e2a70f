/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

/*
 * int8 transposed convolution, bit-exact with TFLite's reference
 * TransposeConv (per-channel int8): each output is bias + the int32 sum of
 * w * (x + input_offset) over the taps that reach it, then
 * MultiplyByQuantizedMultiplier per output channel, + output_offset, clamp.
 * TFLite scatters into an int32 copy of the whole output; here one output row
 * at a time is summed in scratch, for each kernel row that lands on it from
 * the one input row it comes from. The row's sums are kept by column phase
 * (column ox at [ox % stride_w][ox / stride_w]), so one kernel column's taps
 * from an input row go to consecutive sums: contiguous loops a compiler
 * vectorizes. The integer sum does not depend on the order (it wraps in
 * uint32 like TFLite's int32 accumulator would), so the bits are TFLite's.
 */
void aot_conv_transpose2d_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                             const int8_t *weights, const int32_t *bias, int8_t *output,
                             void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t out_plane = p->out_h * p->out_w;
    const int32_t kernel_plane = p->kernel_h * p->kernel_w;
    const int32_t in_c_per_group = p->in_c / p->groups;
    const int32_t out_c_per_group = p->out_c / p->groups;
    /* weights [in_c][out_c / groups][kh][kw]: one input channel further on */
    const int32_t w_ic_stride = out_c_per_group * kernel_plane;
    const int32_t sw = p->stride_w;
    const int32_t phase_len = (p->out_w + sw - 1) / sw;
    const int32_t input_offset = p->input_offset;
    uint32_t *acc = (uint32_t *)scratch;  /* [stride_w][phase_len] */
    int32_t n, oc, oy, ky, kx, ic, j, r;

    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * in_plane;
        for (oc = 0; oc < p->out_c; ++oc) {
            const int32_t group = oc / out_c_per_group;
            const int8_t *x_g = x_n + group * in_c_per_group * in_plane;
            const int8_t *w_oc = weights + (group * in_c_per_group * out_c_per_group
                                            + oc % out_c_per_group) * kernel_plane;
            const uint32_t b = bias != NULL ? (uint32_t)bias[oc] : 0u;
            const int32_t mult = p->multipliers[oc], shift = p->shifts[oc];
            int8_t *y = output + (n * p->out_c + oc) * out_plane;

            for (oy = 0; oy < p->out_h; ++oy) {
                int8_t *y_row = y + oy * p->out_w;
                for (j = 0; j < sw * phase_len; ++j) {
                    acc[j] = b;
                }
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t t = oy + p->pad_top - ky * p->dilation_h;
                    int32_t iy;
                    if (t < 0 || t % p->stride_h != 0) {
                        continue;
                    }
                    iy = t / p->stride_h;
                    if (iy >= p->in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        /* input column ix lands on output column ox0 + ix * sw; those
                         * inside [0, out_w) are ix in [ix_begin, ix_end) */
                        const int32_t ox0 = kx * p->dilation_w - p->pad_left;
                        const int32_t last = p->out_w - 1 - ox0;
                        const int32_t ix_begin = ox0 >= 0 ? 0 : (-ox0 + sw - 1) / sw;
                        const int32_t phase = ((ox0 % sw) + sw) % sw;
                        int32_t ix_end = last < 0 ? 0 : last / sw + 1;
                        uint32_t *a;
                        int32_t count;
                        ix_end = ix_end < p->in_w ? ix_end : p->in_w;
                        if (ix_end <= ix_begin) {
                            continue;
                        }
                        count = ix_end - ix_begin;
                        /* ox / sw = (ox0 - phase) / sw + ix, an exact division */
                        a = acc + phase * phase_len + (ox0 - phase) / sw + ix_begin;
                        for (ic = 0; ic < in_c_per_group; ++ic) {
                            const int32_t w = (int32_t)w_oc[ic * w_ic_stride
                                                            + ky * p->kernel_w + kx];
                            const int8_t *x_row = x_g + ic * in_plane + iy * p->in_w + ix_begin;
                            for (j = 0; j < count; ++j) {
                                a[j] += (uint32_t)(w * ((int32_t)x_row[j] + input_offset));
                            }
                        }
                    }
                }
                for (r = 0; r < sw; ++r) {
                    const uint32_t *a = acc + r * phase_len;
                    for (j = 0; r + j * sw < p->out_w; ++j) {
                        int32_t v = aot_mul_by_quantized_multiplier((int32_t)a[j], mult, shift);
                        v = aot_wrap_add32(v, p->output_offset);
                        v = v < p->act_min ? p->act_min : v;
                        v = v > p->act_max ? p->act_max : v;
                        y_row[r + j * sw] = (int8_t)v;
                    }
                }
            }
        }
    }
}
