/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * Each row of y = softmax(x + bias) as aot_softmax_f32 computes it over the
 * last axis (max subtracted; the sum in index order; a NaN or a row of only
 * -inf gives a row of NaN), then, with replace_nan, every NaN becomes
 * nan_value. Each x is read before the y at the same index is written: in
 * place works.
 */
void aot_softmax_rows_f32(const aot_softmax_rows_params *params, const float *x,
                          const float *bias, float *y)
{
    const int32_t cols = params->cols;
    int32_t r, c;

    if (cols <= 0) {
        return;
    }
    for (r = 0; r < params->rows; ++r) {
        const float *xr = x + r * cols;
        const float *br = bias != NULL ? bias + (r % params->bias_rows) * cols : NULL;
        float *yr = y + r * cols;
        float max_v = br != NULL ? xr[0] + br[0] : xr[0];
        float sum = 0.0f;

        for (c = 1; c < cols; ++c) {
            const float v = br != NULL ? xr[c] + br[c] : xr[c];
            if (v > max_v) {
                max_v = v;
            }
        }
        for (c = 0; c < cols; ++c) {
            const float e = aot_expf((br != NULL ? xr[c] + br[c] : xr[c]) - max_v);
            yr[c] = e;
            sum += e;
        }
        for (c = 0; c < cols; ++c) {
            const float v = yr[c] / sum;
            yr[c] = params->replace_nan && v != v ? params->nan_value : v;
        }
    }
}
