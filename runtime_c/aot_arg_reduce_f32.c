/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * ArgMax / ArgMin over the middle axis of [outer][reduce][inner]: the index
 * of the first (select_last: the last) extreme value. A NaN counts as the
 * extreme (numpy's argmax/argmin pick the first NaN).
 */
void aot_arg_reduce_f32(const aot_arg_reduce_params *params, const float *x, int64_t *y)
{
    const aot_arg_reduce_params *p = params;
    int32_t o, r, j;

    for (o = 0; o < p->outer; ++o) {
        const float *x_o = x + o * p->reduce * p->inner;
        for (j = 0; j < p->inner; ++j) {
            float best = x_o[j];
            int32_t at = 0;
            for (r = 1; r < p->reduce && best == best; ++r) {
                const float v = x_o[r * p->inner + j];
                const int better = p->is_min ? v < best : v > best;
                if (better || v != v || (p->select_last && v == best)) {
                    best = v;
                    at = r;
                }
            }
            y[o * p->inner + j] = (int64_t)at;
        }
    }
}
