/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Every int8 unary op is a function of one code, so the compiler evaluates
 * TFLite's integer kernel (logistic, tanh, hard-swish, leaky ReLU, ...) on
 * all 256 codes at compile time and this kernel only looks the results up.
 */
void aot_lut_s8(const aot_size_params *params, const int8_t *x, const int8_t *table,
                int8_t *y)
{
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        y[i] = table[(int32_t)x[i] + 128];
    }
}
