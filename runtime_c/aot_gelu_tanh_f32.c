/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

void aot_gelu_tanh_f32(const aot_unary_params *params, const float *x, float *y)
{
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        const float v = x[i];
        const float inner = 0.797884560802865f * (v + 0.044715f * v * v * v);
        y[i] = 0.5f * v * (1.0f + aot_tanhf(inner));
    }
}
