/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

int aot_gather_w8_f32(const aot_gather_w8_params *params, const int64_t *indices,
                      const int8_t *table, const float *scale, float *output)
{
    int32_t r, c;
    const int32_t cols = params->cols;

    for (r = 0; r < params->count; ++r) {
        if (indices[r] < -(int64_t)params->rows || indices[r] >= params->rows) {
            return AOT_E_RANGE;
        }
    }
    for (r = 0; r < params->count; ++r) {
        int32_t i = (int32_t)indices[r];
        const int8_t *q;
        const float *s;
        if (i < 0) {
            i += params->rows;
        }
        q = table + i * cols;
        s = scale + i * params->scale_row_stride;
        for (c = 0; c < cols; ++c) {
            output[c] = (float)q[c] * s[c * params->scale_col_stride];
        }
        output += cols;
    }
    return AOT_OK;
}
