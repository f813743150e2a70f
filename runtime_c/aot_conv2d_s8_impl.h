/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the int8 convolution loop shared by aot_conv2d_s8
 * (TFLite: symmetric weights, requantized int8 output), aot_conv2d_asym_s8
 * (a weight zero point per output channel) and aot_conv2d_s8_s32 (int32
 * sums, ConvInteger). Ship it with them. Each kernel instantiates the loop
 * nest once with literal arguments; the TFLite kernel's inner loop is the
 * plain w * (x + input_offset) (sharing one function between the variants
 * cost the TFLite path 5-10% more instructions on Cortex-M4).
 *
 * acc = sum over the in-bounds taps of (w + weights_offset) * (x + input_offset),
 * plus bias; padded taps add nothing (a padded x equals the input zero point,
 * so (x + input_offset) is 0 there whatever the weight). The int32 sum is
 * order-independent (it wraps like TFLite's accumulator would, computed in
 * uint32 so that the wrap is defined), so walking NCHW instead of NHWC gives
 * the same bits as TFLite's NHWC reference kernels.
 *
 * One output element at a time; the range of kernel taps inside the input
 * is computed once per output row/column, so the inner loops have no bounds
 * tests. Input positions are int32 offsets, never out-of-range pointers.
 */
#ifndef AOT_CONV2D_S8_IMPL_H
#define AOT_CONV2D_S8_IMPL_H

#include "aot_fixedpoint.h"
#include "aot_window_impl.h"

#if defined(__GNUC__) || defined(__clang__)
#define AOT_CONV_INLINE static inline __attribute__((always_inline))
#else
#define AOT_CONV_INLINE static inline
#endif

/* The taps of one output element (always inlined). */
AOT_CONV_INLINE uint32_t aot_conv2d_s8_taps(const int8_t *x_g, const int8_t *w_oc,
                                            int32_t in_plane, int32_t kernel_plane,
                                            int32_t in_c_per_group, int32_t in_w,
                                            int32_t kernel_w, int32_t dilation_h,
                                            int32_t dilation_w, int32_t input_offset,
                                            int32_t iy0, int32_t ix0, int32_t ky_begin,
                                            int32_t ky_end, int32_t kx_begin, int32_t kx_end,
                                            int32_t weights_offset, uint32_t sum)
{
    int32_t ic, ky, kx;

    for (ic = 0; ic < in_c_per_group; ++ic) {
        const int8_t *x_c = x_g + ic * in_plane;
        const int8_t *w_c = w_oc + ic * kernel_plane;
        for (ky = ky_begin; ky < ky_end; ++ky) {
            const int32_t row = (iy0 + ky * dilation_h) * in_w + ix0;
            const int8_t *w_row = w_c + ky * kernel_w;
            for (kx = kx_begin; kx < kx_end; ++kx) {
                const int32_t xv = (int32_t)x_c[row + kx * dilation_w];
                sum += (uint32_t)(((int32_t)w_row[kx] + weights_offset) * (xv + input_offset));
            }
        }
    }
    return sum;
}

/* The whole convolution; exactly one of out_s8 / out_s32 is not NULL, and
 * with_offsets says whether p->weights_offsets (when not NULL) is used. Call
 * sites pass literals, so the unused parts are compiled away. */
AOT_CONV_INLINE void aot_conv2d_s8_run(const aot_conv2d_s8_params *p, const int8_t *input,
                                       const int8_t *weights, const int32_t *bias,
                                       int8_t *out_s8, int32_t *out_s32, int32_t with_offsets)
{
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t kernel_plane = p->kernel_h * p->kernel_w;
    const int32_t in_c_per_group = p->in_c / p->groups;
    const int32_t out_c_per_group = p->out_c / p->groups;
    const int32_t out_size = p->out_c * p->out_h * p->out_w;
    const int32_t in_w = p->in_w, kernel_w = p->kernel_w;
    const int32_t dilation_h = p->dilation_h, dilation_w = p->dilation_w;
    const int32_t input_offset = p->input_offset;
    int32_t n, oc, oy, ox;

    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * p->in_c * in_plane;
        int8_t *y8 = out_s8 != NULL ? out_s8 + n * out_size : NULL;
        int32_t *y32 = out_s32 != NULL ? out_s32 + n * out_size : NULL;

        for (oc = 0; oc < p->out_c; ++oc) {
            const int32_t group = oc / out_c_per_group;
            const int8_t *x_g = x_n + group * in_c_per_group * in_plane;
            const int8_t *w_oc = weights + oc * in_c_per_group * kernel_plane;
            const uint32_t b = bias != NULL ? (uint32_t)bias[oc] : 0u;
            const int32_t woff =
                with_offsets && p->weights_offsets != NULL ? p->weights_offsets[oc] : 0;

            for (oy = 0; oy < p->out_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int32_t ky_begin, ky_end;
                aot_window_taps(iy0, p->dilation_h, p->kernel_h, 0, p->in_h,
                                &ky_begin, &ky_end);

                for (ox = 0; ox < p->out_w; ++ox) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t kx_begin, kx_end;
                    uint32_t sum;
                    aot_window_taps(ix0, p->dilation_w, p->kernel_w, 0, p->in_w,
                                    &kx_begin, &kx_end);
                    sum = aot_conv2d_s8_taps(x_g, w_oc, in_plane, kernel_plane,
                                             in_c_per_group, in_w, kernel_w, dilation_h,
                                             dilation_w, input_offset, iy0, ix0, ky_begin,
                                             ky_end, kx_begin, kx_end, woff, b);
                    if (y32 != NULL) {
                        *y32++ = (int32_t)sum;
                    } else {
                        int32_t acc = aot_mul_by_quantized_multiplier(
                            (int32_t)sum, p->multipliers[oc], p->shifts[oc]);
                        acc = aot_wrap_add32(acc, p->output_offset);
                        acc = acc < p->act_min ? p->act_min : acc;
                        acc = acc > p->act_max ? p->act_max : acc;
                        *y8++ = (int8_t)acc;
                    }
                }
            }
        }
    }
}

#endif /* AOT_CONV2D_S8_IMPL_H */
