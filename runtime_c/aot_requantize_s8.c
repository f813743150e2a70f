/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

/*
 * int8 -> int8 requantization, bit-exact with TFLite's QUANTIZE of an int8
 * tensor into different int8 parameters (reference_ops::Requantize):
 * y = clamp(MultiplyByQuantizedMultiplier(x + input_offset, multiplier, shift)
 *           + output_offset, act_min, act_max).
 * Element i is read before y[i] is written: in place allowed.
 */
void aot_requantize_s8(const aot_requantize_s8_params *params, const int8_t *x, int8_t *y)
{
    const aot_requantize_s8_params *p = params;
    int32_t i;

    for (i = 0; i < p->size; ++i) {
        int32_t acc = aot_mul_by_quantized_multiplier((int32_t)x[i] + p->input_offset,
                                                      p->multiplier, p->shift);
        acc = aot_wrap_add32(acc, p->output_offset);
        acc = acc < p->act_min ? p->act_min : acc;
        acc = acc > p->act_max ? p->act_max : acc;
        y[i] = (int8_t)acc;
    }
}
