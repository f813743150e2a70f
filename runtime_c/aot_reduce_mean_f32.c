/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Sums rows of [reduce][inner] into the output row, so every read is
 * sequential; each output still adds its inputs in index order. Dividing
 * the sum (rather than multiplying by 1 / reduce) avoids a second rounding.
 * An empty reduction gives 0 / 0 = NaN, as numpy's mean does.
 */
void aot_reduce_mean_f32(const aot_reduce_params *params, const float *x, float *y)
{
    const aot_reduce_params *p = params;
    const float count = (float)p->reduce;
    int32_t o, r, j;

    for (o = 0; o < p->outer; ++o) {
        const float *x_o = x + o * p->reduce * p->inner;
        float *y_o = y + o * p->inner;
        if (p->reduce <= 0) {
            for (j = 0; j < p->inner; ++j) {
                y_o[j] = 0.0f / count;
            }
            continue;
        }
        /* The first row starts each sum as 0.0f + x (exactly what clearing
         * and adding gives, -0.0 included) instead of a zeroing loop,
         * which gcc would turn into a call to libc's memset. */
        for (j = 0; j < p->inner; ++j) {
            y_o[j] = 0.0f + x_o[j];
        }
        for (r = 1; r < p->reduce; ++r) {
            const float *x_r = x_o + r * p->inner;
            for (j = 0; j < p->inner; ++j) {
                y_o[j] += x_r[j];
            }
        }
        for (j = 0; j < p->inner; ++j) {
            y_o[j] /= count;
        }
    }
}
