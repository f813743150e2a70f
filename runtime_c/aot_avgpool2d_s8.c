/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_window_impl.h"

/*
 * int8 average pooling over [planes][in_h][in_w], bit-exact with TFLite's
 * reference_integer_ops::AveragePool: the int32 sum of the taps inside the
 * input, divided by the tap count rounding half away from zero as TFLite
 * does ((sum +- count / 2) / count, truncating division), clamped to
 * [act_min, act_max]. Input and output share scale and zero point.
 *
 * TFLite always divides by the in-bounds count (count_include_pad == 0).
 * With count_include_pad the divisor is the number of taps inside the padded
 * input, as the float kernel aot_avgpool2d_f32 counts them for ONNX, and
 * padded taps add nothing to the sum: code 0 here, the zero point with
 * count_multipliers (which the compiler uses for ONNX's count_include_pad).
 * Dilation is supported likewise.
 * A window with no tap to count (never produced by valid shapes) gives 0
 * before the clamp, where TFLite would fail the op.
 *
 * With count_multipliers (input and output parameters differ, e.g. an
 * onnxruntime QDQ model; TFLite has no such pooling) the sum of
 * (x + input_offset) is rescaled and divided by the count in one
 * MultiplyByQuantizedMultiplier, then output_offset is added.
 */
static inline int8_t aot_avgpool2d_s8_window(const aot_pool2d_s8_params *params,
                                             const int8_t *x_c, const aot_pool_window *w)
{
    const aot_pool2d_params *p = &params->pool;
    const int32_t count = w->rows * w->cols;
    int32_t sum = 0;
    int32_t ky, kx;
    for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
        const int32_t row = (w->iy0 + ky * p->dilation_h) * p->in_w + w->ix0;
        for (kx = w->kx_begin; kx < w->kx_end; ++kx) {
            sum += x_c[row + kx * p->dilation_w];
        }
    }
    if (count <= 0) {
        sum = 0;
    } else if (params->count_multipliers != NULL) {
        const int32_t taps = (w->ky_end - w->ky_begin) * (w->kx_end - w->kx_begin);
        sum = aot_wrap_add32(sum, params->input_offset * taps);
        sum = aot_mul_by_quantized_multiplier(
            sum, params->count_multipliers[count - 1], params->count_shifts[count - 1]);
        sum = aot_wrap_add32(sum, params->output_offset);
    } else {
        sum = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    }
    sum = sum < params->act_min ? params->act_min : sum;
    sum = sum > params->act_max ? params->act_max : sum;
    return (int8_t)sum;
}

void aot_avgpool2d_s8(const aot_pool2d_s8_params *params, const int8_t *x, int8_t *y)
{
    AOT_POOL2D_BODY(&params->pool, x, y, int8_t, params->pool.count_include_pad,
                    aot_avgpool2d_s8_window, params);
}
