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
        for (j = 0; j < p->inner; ++j) {
            y_o[j] = 0.0f;
        }
        for (r = 0; r < p->reduce; ++r) {
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
