/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

void aot_where_f32(const aot_where_params *params, const uint8_t *cond, const float *x,
                   const float *y, float *out)
{
    int32_t idx[AOT_MAX_DIMS];
    int32_t i, d, co = 0, xo = 0, yo = 0;
    const int32_t last = params->ndim - 1;

    if (params->ndim <= 0) {
        for (i = 0; i < params->size; ++i) {
            out[i] = cond[i] != 0u ? x[i] : y[i];
        }
        return;
    }
    /* fixed-size clear: a variable-length zeroing loop becomes a memset call */
    for (d = 0; d < AOT_MAX_DIMS; ++d) {
        idx[d] = 0;
    }
    for (i = 0; i < params->size; ++i) {
        out[i] = cond[co] != 0u ? x[xo] : y[yo];
        /* odometer over the output's dims, moving each operand by its strides */
        for (d = last; d >= 0; --d) {
            co += params->c_strides[d];
            xo += params->x_strides[d];
            yo += params->y_strides[d];
            if (++idx[d] < params->dims[d]) {
                break;
            }
            co -= params->c_strides[d] * params->dims[d];
            xo -= params->x_strides[d] * params->dims[d];
            yo -= params->y_strides[d] * params->dims[d];
            idx[d] = 0;
        }
    }
}
