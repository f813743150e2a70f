/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * y = (x - max) - log(sum(e^(x - max))) along the axis: with the max
 * subtracted every exponent is <= 0 and the sum >= 1, so nothing overflows
 * and log never sees 0. Each x is read before the y at the same index is
 * written, so this also works in place.
 */
void aot_log_softmax_f32(const aot_softmax_params *params, const float *x, float *y)
{
    const aot_softmax_params *p = params;
    const int32_t stride = p->inner;
    int32_t o, j, a;

    for (o = 0; o < p->outer; ++o) {
        for (j = 0; j < p->inner; ++j) {
            const int32_t base = o * p->axis * p->inner + j;
            float max_v = x[base];
            float sum = 0.0f, log_sum;

            for (a = 1; a < p->axis; ++a) {
                const float v = x[base + a * stride];
                if (v > max_v || v != v) {
                    max_v = v;
                }
            }
            for (a = 0; a < p->axis; ++a) {
                sum += aot_expf(x[base + a * stride] - max_v);
            }
            log_sum = aot_logf(sum);
            for (a = 0; a < p->axis; ++a) {
                y[base + a * stride] = (x[base + a * stride] - max_v) - log_sum;
            }
        }
    }
}
