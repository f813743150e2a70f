/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * int8 -> float at a model's output, as ONNX DequantizeLinear:
 * x = (q - zero_point) * scale, the difference exact in int32 and the
 * product one float32 rounding.
 */
void aot_dequantize_s8_f32(const aot_quantize_params *params, const int8_t *x, float *y)
{
    const float scale = params->scale;
    const int32_t zp = params->zero_point;
    int32_t i;

    for (i = 0; i < params->size; ++i) {
        y[i] = (float)((int32_t)x[i] - zp) * scale;
    }
}
