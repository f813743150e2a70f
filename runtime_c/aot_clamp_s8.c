/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * y = min(max(x, act_min), act_max) on int8 codes: a standalone quantized
 * ReLU / ReLU6 / Clip whose input and output share scale and zero point
 * (TFLite's int8 ReLU with equal scales reduces to exactly this).
 * In place allowed.
 */
void aot_clamp_s8(const aot_clamp_s8_params *params, const int8_t *x, int8_t *y)
{
    const int32_t lo = params->act_min;
    const int32_t hi = params->act_max;
    int32_t i;

    for (i = 0; i < params->size; ++i) {
        int32_t v = x[i];
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        y[i] = (int8_t)v;
    }
}
