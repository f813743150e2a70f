/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * y = e^(x - max) / sum(e^(x - max)) along the axis. Subtracting the max
 * keeps every exponent <= 0, so nothing overflows and the sum is >= 1.
 * A NaN anywhere on the axis makes that whole slice NaN, as in the float64
 * formula. Each x is read before the y at the same index is written, so
 * this also works in place.
 */
void aot_softmax_f32(const aot_softmax_params *params, const float *x, float *y)
{
    const aot_softmax_params *p = params;
    const int32_t stride = p->inner;
    int32_t o, j, a;

    if (p->axis <= 0) {
        return;
    }
    for (o = 0; o < p->outer; ++o) {
        for (j = 0; j < p->inner; ++j) {
            const int32_t base = o * p->axis * p->inner + j;
            float max_v = x[base];
            float sum = 0.0f;

            for (a = 1; a < p->axis; ++a) {
                const float v = x[base + a * stride];
                if (v > max_v) {
                    max_v = v;
                }
            }

            for (a = 0; a < p->axis; ++a) {
                const float e = aot_expf(x[base + a * stride] - max_v);
                y[base + a * stride] = e;
                sum += e;
            }
            for (a = 0; a < p->axis; ++a) {
                y[base + a * stride] /= sum;
            }
        }
    }
}
