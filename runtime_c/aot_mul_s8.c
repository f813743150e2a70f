/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_fixedpoint.h"
#include "aot_kernels.h"

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
 * BroadcastMul (the same per-element formula on every pair). The dense output
 * is walked a row of the innermost dimension at a time; an odometer over the
 * outer dimensions moves the input offsets by their strides (0 broadcasts).
 * ndim == 0: dense, same size. y may alias an input that is not broadcast.
 */
void aot_mul_s8(const aot_mul_s8_params *params, const int8_t *a, const int8_t *b,
                int8_t *y)
{
    const aot_mul_s8_params *p = params;
    int32_t idx[AOT_MAX_DIMS];
    int32_t rows = 1, n, a_step, b_step, a_off = 0, b_off = 0;
    int32_t r, j, d;

    if (p->ndim <= 0) {
        for (j = 0; j < p->size; ++j) {
            y[j] = aot_mul_s8_one(p, a[j], b[j]);
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
            y[j] = aot_mul_s8_one(p, a_row[j * a_step], b_row[j * b_step]);
        }
        y += n;

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
