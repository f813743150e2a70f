/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_binary_impl.h"
#include "aot_fixedpoint.h"

/* TFLite's AddFunc (reference_integer_ops/add.h) on one pair of codes. */
static inline int8_t aot_add_s8_one(const aot_add_s8_params *p, int32_t a, int32_t b)
{
    const int32_t shifted_a = aot_wrap_shl32(p->a_offset + a, p->left_shift);
    const int32_t shifted_b = aot_wrap_shl32(p->b_offset + b, p->left_shift);
    const int32_t scaled_a = aot_mul_by_quantized_multiplier_smaller_than_one_exp(
        shifted_a, p->a_multiplier, p->a_shift);
    const int32_t scaled_b = aot_mul_by_quantized_multiplier_smaller_than_one_exp(
        shifted_b, p->b_multiplier, p->b_shift);
    const int32_t raw_sum = aot_wrap_add32(scaled_a, scaled_b);
    int32_t out = aot_wrap_add32(
        aot_mul_by_quantized_multiplier_smaller_than_one_exp(raw_sum, p->output_multiplier,
                                                             p->output_shift),
        p->output_offset);
    out = out < p->act_min ? p->act_min : out;
    out = out > p->act_max ? p->act_max : out;
    return (int8_t)out;
}

/*
 * int8 broadcasting add, bit-exact with TFLite's reference integer Add /
 * BroadcastAdd6DSlow (which apply the same AddFunc to every element pair):
 * both inputs get their offsets, left_shift bits of headroom and their own
 * (smaller-than-one) multiplier, are summed, rescaled to the output with
 * output_multiplier/output_shift, offset and clamped. All shifts here are
 * TFLite "Exp" shifts, <= 0 (right shifts). The broadcast walk (a stride of
 * 0 broadcasts; y may alias an input that is not broadcast) is
 * AOT_BINARY_S8_BODY in aot_binary_impl.h.
 */
void aot_add_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                int8_t *y)
{
    AOT_BINARY_S8_BODY(params, a, b, y, aot_add_s8_one);
}
