/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

/* The input to exp() is Q5.26, the sum of the exps Q12.19 (TFLite's
 * kScaledDiffIntegerBits and kAccumulationIntegerBits). */
#define AOT_SOFTMAX_DIFF_BITS 5
#define AOT_SOFTMAX_ACCUM_BITS 12

/*
 * int8 softmax over the last axis of [outer][depth], bit-exact with TFLite's
 * reference_ops::Softmax<int8_t, int8_t> (which TFLM runs for int8): per row,
 * diff = x - max; each diff >= diff_min is scaled by input_multiplier <<
 * input_left_shift into Q5.26 and exponentiated with gemmlowp's
 * exp_on_negative_values; the exps (rescaled to Q12.19) are summed, the sum
 * inverted with GetReciprocal, and each output is
 * RoundingDivideByPOT(recip * exp, num_bits_over_unit + 23) - 128, clamped
 * to [-128, 127] (scale 1/256, zero point -128). Diffs below diff_min give
 * -128. Integer-only. The exps are computed twice per element, as TFLite
 * does, rather than stored, so no scratch buffer is needed; in place
 * (y == x) is not allowed because the second pass re-reads x.
 */
void aot_softmax_s8(const aot_softmax_s8_params *params, const int8_t *x, int8_t *y)
{
    const aot_softmax_s8_params *p = params;
    int32_t i, c;

    for (i = 0; i < p->outer; ++i) {
        const int8_t *x_row = x + i * p->depth;
        int8_t *y_row = y + i * p->depth;
        int32_t max_in_row = INT8_MIN;
        int32_t sum_of_exps = 0;
        int32_t num_bits_over_unit, shifted_scale, exponent;

        for (c = 0; c < p->depth; ++c) {
            max_in_row = x_row[c] > max_in_row ? x_row[c] : max_in_row;
        }

        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x_row[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled_diff = aot_mul_by_quantized_multiplier_greater_than_one(
                    diff, p->input_multiplier, p->input_left_shift);
                const int32_t e = aot_fp_exp_on_negative_values(scaled_diff,
                                                                AOT_SOFTMAX_DIFF_BITS);
                sum_of_exps = aot_wrap_add32(
                    sum_of_exps, aot_fp_rescale(e, 0, AOT_SOFTMAX_ACCUM_BITS));
            }
        }

        shifted_scale = aot_fp_get_reciprocal(sum_of_exps, AOT_SOFTMAX_ACCUM_BITS,
                                              &num_bits_over_unit);
        /* TFLite checks 0 <= exponent <= 31 (a row sum below 512). */
        exponent = num_bits_over_unit + 31 - 8;

        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x_row[c] - max_in_row;
            int32_t out = INT8_MIN;
            if (diff >= p->diff_min) {
                const int32_t scaled_diff = aot_mul_by_quantized_multiplier_greater_than_one(
                    diff, p->input_multiplier, p->input_left_shift);
                const int32_t e = aot_fp_exp_on_negative_values(scaled_diff,
                                                                AOT_SOFTMAX_DIFF_BITS);
                const int32_t prod = aot_fp_mul(shifted_scale, e);
                /* Past 31 the rounded quotient of a value below 2^31 is 0. */
                const int32_t unsat = exponent > 31 ? 0
                                    : aot_rounding_divide_by_pot(prod, exponent);
                out = unsat + INT8_MIN;
                out = out > INT8_MAX ? INT8_MAX : out;
                out = out < INT8_MIN ? INT8_MIN : out;
            }
            y_row[c] = (int8_t)out;
        }
    }
}
