/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

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
 * TFLite "Exp" shifts, <= 0 (right shifts).
 *
 * The dense output is walked a row of the innermost dimension at a time;
 * an odometer over the outer dimensions moves the input offsets by their
 * strides (a stride of 0 broadcasts). ndim == 0: dense, same size.
 * y may alias an input that is not broadcast (each element is read before
 * the same element is written).
 */
void aot_add_s8(const aot_add_s8_params *params, const int8_t *a, const int8_t *b,
                int8_t *y)
{
    const aot_add_s8_params *p = params;
    int32_t idx[AOT_MAX_DIMS];
    int32_t rows = 1, n, a_step, b_step, a_off = 0, b_off = 0;
    int32_t r, j, d;

    if (p->ndim <= 0) {
        for (j = 0; j < p->size; ++j) {
            y[j] = aot_add_s8_one(p, a[j], b[j]);
        }
        return;
    }
    /* A fixed-size clear: gcc turns a zeroing loop of variable length
     * into a call to memset, which a libc-free build does not have. */
    for (d = 0; d < AOT_MAX_DIMS; ++d) {
        idx[d] = 0;
    }
    for (d = 0; d < p->ndim - 1; ++d) {
        rows *= p->dims[d];
    }
    n = p->dims[p->ndim - 1];
    a_step = p->a_strides[p->ndim - 1];
    b_step = p->b_strides[p->ndim - 1];

    for (r = 0; r < rows; ++r) {
        const int8_t *a_row = a + a_off;
        const int8_t *b_row = b + b_off;
        for (j = 0; j < n; ++j) {
            y[j] = aot_add_s8_one(p, a_row[j * a_step], b_row[j * b_step]);
        }
        y += n;

        /* Next row: increment the odometer, carrying into outer dims. */
        for (d = p->ndim - 2; d >= 0; --d) {
            a_off += p->a_strides[d];
            b_off += p->b_strides[d];
            if (++idx[d] < p->dims[d]) {
                break;
            }
            a_off -= p->a_strides[d] * p->dims[d];
            b_off -= p->b_strides[d] * p->dims[d];
            idx[d] = 0;
        }
    }
}
