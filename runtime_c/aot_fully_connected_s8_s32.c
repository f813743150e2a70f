/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Integer matrix product with int32 results (ONNX MatMulInteger):
 * y[m][n] = sum_k (x[m][k] + input_offset) * (w[n][k] + weights_offset_n)
 * (+ bias[n]), wrapping in int32 (computed in uint32 so the wrap is defined).
 * Weights are [n][k], one row per output column.
 */
void aot_fully_connected_s8_s32(const aot_fully_connected_s8_params *params,
                                const int8_t *input, const int8_t *weights,
                                const int32_t *bias, int32_t *output)
{
    const aot_fully_connected_s8_params *p = params;
    const int32_t input_offset = p->input_offset;
    int32_t i, j, k;

    for (i = 0; i < p->m; ++i) {
        const int8_t *x = input + i * p->k;
        for (j = 0; j < p->n; ++j) {
            const int8_t *w = weights + j * p->k;
            const int32_t weights_offset =
                p->weights_offsets != NULL ? p->weights_offsets[j] : p->weights_offset;
            uint32_t sum = bias != NULL ? (uint32_t)bias[j] : 0u;
            for (k = 0; k < p->k; ++k) {
                sum += (uint32_t)(((int32_t)w[k] + weights_offset) *
                                  ((int32_t)x[k] + input_offset));
            }
            *output++ = (int32_t)sum;
        }
    }
}
