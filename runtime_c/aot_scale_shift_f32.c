/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

void aot_scale_shift_f32(const aot_scale_shift_params *params, const float *x,
                         const float *scale, const float *shift, float *y)
{
    const aot_scale_shift_params *p = params;
    int32_t o, c, i;

    for (o = 0; o < p->outer; ++o) {
        for (c = 0; c < p->channels; ++c) {
            const int32_t base = (o * p->channels + c) * p->inner;
            const float s = scale[c];
            const float t = shift[c];
            for (i = 0; i < p->inner; ++i) {
                y[base + i] = x[base + i] * s + t;
            }
        }
    }
}
