/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Hardmax along the axis: 1 at the first maximum, 0 elsewhere. The index
 * is found before anything is written, so this also works in place.
 */
void aot_hardmax_f32(const aot_softmax_params *params, const float *x, float *y)
{
    const aot_softmax_params *p = params;
    const int32_t stride = p->inner;
    int32_t o, j, a;

    for (o = 0; o < p->outer; ++o) {
        for (j = 0; j < p->inner; ++j) {
            const int32_t base = o * p->axis * p->inner + j;
            float max_v = x[base];
            int32_t at = 0;
            for (a = 1; a < p->axis; ++a) {
                if (x[base + a * stride] > max_v) {
                    max_v = x[base + a * stride];
                    at = a;
                }
            }
            for (a = 0; a < p->axis; ++a) {
                y[base + a * stride] = a == at ? 1.0f : 0.0f;
            }
        }
    }
}
