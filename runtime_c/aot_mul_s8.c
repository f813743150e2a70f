/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_binary_impl.h"
#include "aot_fixedpoint.h"

/* TFLite's MulElementwise (reference_integer_ops/mul.h) on one pair of codes:
 * |a + a_offset| and |b + b_offset| are at most 255, so their product fits. */
static inline int8_t aot_mul_s8_one(const aot_mul_s8_params *p, int32_t a, int32_t b)
{
    int32_t out = aot_wrap_add32(
        aot_mul_by_quantized_multiplier((a + p->a_offset) * (b + p->b_offset),
                                        p->output_multiplier, p->output_shift),
        p->output_offset);
    out = out < p->act_min ? p->act_min : out;
    out = out > p->act_max ? p->act_max : out;
    return (int8_t)out;
}

/*
 * int8 broadcasting multiply, bit-exact with TFLite's reference integer Mul /
 * BroadcastMul (the same per-element formula on every pair), walked as
 * AOT_BINARY_S8_BODY in aot_binary_impl.h.
 */
void aot_mul_s8(const aot_mul_s8_params *params, const int8_t *a, const int8_t *b,
                int8_t *y)
{
    AOT_BINARY_S8_BODY(params, a, b, y, aot_mul_s8_one);
}
