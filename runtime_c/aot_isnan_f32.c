/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

void aot_isnan_f32(const aot_unary_params *params, const float *x, uint8_t *y)
{
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        const float v = x[i];
        y[i] = (uint8_t)(v != v);
    }
}
