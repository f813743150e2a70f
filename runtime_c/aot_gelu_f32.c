/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/* Written as the exported graphs compute it, x * 0.5 * (1 + erf(x / sqrt 2)),
 * so the result follows the unfused nodes' rounding. */
void aot_gelu_f32(const aot_unary_params *params, const float *x, float *y)
{
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        const float v = x[i];
        y[i] = v * (0.5f * (1.0f + aot_erff(v / 1.41421356f)));
    }
}
