/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

/*
 * int8 mean over the middle axis of [outer][reduce][inner], bit-exact with
 * TensorFlow Lite Micro's int8 MEAN (reference_ops::QuantizedMeanOrSum with
 * compute_sum = false, which CMSIS-NN's arm_mean_s8 matches):
 *   acc = sum_r (x + input_offset)                         (int32, wrapping)
 *   y   = clamp(MultiplyByQuantizedMultiplier(acc, multiplier, shift)
 *               + output_offset, act_min, act_max)
 * where multiplier/shift already hold input_scale / output_scale / reduce
 * (folded at compile time exactly as TFLM does, see aot.quantmath.mean_multiplier).
 */
void aot_mean_s8(const aot_mean_s8_params *params, const int8_t *x, int8_t *y)
{
    const aot_mean_s8_params *p = params;
    int32_t o, r, j;

    for (o = 0; o < p->outer; ++o) {
        const int8_t *x_o = x + o * p->reduce * p->inner;
        for (j = 0; j < p->inner; ++j) {
            uint32_t sum = 0u;
            int32_t acc;
            for (r = 0; r < p->reduce; ++r) {
                sum += (uint32_t)((int32_t)x_o[r * p->inner + j] + p->input_offset);
            }
            acc = aot_mul_by_quantized_multiplier((int32_t)sum, p->multiplier, p->shift);
            acc = aot_wrap_add32(acc, p->output_offset);
            acc = acc < p->act_min ? p->act_min : acc;
            acc = acc > p->act_max ? p->act_max : acc;
            y[o * p->inner + j] = (int8_t)acc;
        }
    }
}
