/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

void aot_erf_f32(const aot_unary_params *params, const float *x, float *y)
{
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        y[i] = aot_erff(x[i]);
    }
}
