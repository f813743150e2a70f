/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_dw_impl.h"
#include "aot_window_impl.h"

/*
 * aot_avgpool2d_s8 for TFLite's AVERAGE_POOL_2D (input and output parameters
 * equal: count_multipliers NULL; dilation_w 1, which the lowering rule
 * checks), bit-exact with it: the same windows, divisor and rounding, the
 * sums four taps per word (aot_dsp_sum_s8). A window spanning whole input
 * rows (dilation_h 1) is one run of bytes: a global pool sums its plane at once.
 */
AOT_DSP_INLINE int8_t avgpool_dsp_window(const aot_pool2d_s8_params *params, const int8_t *x_c,
                                         const aot_pool_window *w)
{
    const aot_pool2d_params *p = &params->pool;
    const int32_t count = w->rows * w->cols, n = w->kx_end - w->kx_begin;
    const int8_t *first = x_c + (w->iy0 + w->ky_begin * p->dilation_h) * p->in_w + w->ix0
                          + w->kx_begin;
    int32_t sum = 0, ky;
    if (n == p->in_w && p->dilation_h == 1) {
        sum = aot_dsp_sum_s8(first, (w->ky_end - w->ky_begin) * n);
    } else {
        for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
            sum += aot_dsp_sum_s8(first, n);
            first += p->dilation_h * p->in_w;
        }
    }
    if (count <= 0) {
        sum = 0;
    } else {
        sum = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    }
    sum = sum < params->act_min ? params->act_min : sum;
    sum = sum > params->act_max ? params->act_max : sum;
    return (int8_t)sum;
}

void aot_avgpool2d_dsp_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y)
{
    AOT_POOL2D_BODY(&params->pool, x, y, int8_t, 0, avgpool_dsp_window, params);
}
