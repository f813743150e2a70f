/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Takes the max row by row over [reduce][inner], so every read is
 * sequential. NaN propagates (as in numpy's max): a NaN candidate always
 * replaces the current value, and once the current value is NaN no
 * comparison is true any more. An empty reduction gives -inf.
 */
void aot_reduce_max_f32(const aot_reduce_params *params, const float *x, float *y)
{
    const aot_reduce_params *p = params;
    int32_t o, r, j;

    for (o = 0; o < p->outer; ++o) {
        const float *x_o = x + o * p->reduce * p->inner;
        float *y_o = y + o * p->inner;
        for (j = 0; j < p->inner; ++j) {
            y_o[j] = -AOT_INFINITY;
        }
        for (r = 0; r < p->reduce; ++r) {
            const float *x_r = x_o + r * p->inner;
            for (j = 0; j < p->inner; ++j) {
                const float v = x_r[j];
                if (v > y_o[j] || v != v) {
                    y_o[j] = v;
                }
            }
        }
    }
}
