/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * 1 / (1 + e^-x) needs no special cases: for very negative x, e^-x is +inf
 * and the quotient is 0; for very positive x it is 1; NaN stays NaN.
 * The relative error stays within a few ulp because 1 + e^-x never cancels.
 */
void aot_sigmoid_f32(const aot_unary_params *params, const float *x, float *y)
{
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        y[i] = 1.0f / (1.0f + aot_expf(-x[i]));
    }
}
