/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

int aot_range_f32(const aot_range_params *params, const float *start, const float *limit,
                  const float *delta, float *output)
{
    const float s = *start, d = *delta;
    /* the length max(ceil((limit - start) / delta), 0), in double as numpy
     * computes it; ceil by hand (no libm) */
    const double q = ((double)*limit - (double)s) / (double)d;
    int64_t n = 0;
    int32_t i;

    if (!(q <= 2147483647.0)) {   /* NaN (0/0, infinities) or too long */
        return AOT_E_RANGE;
    }
    if (q > 0.0) {
        n = (int64_t)q;
        if ((double)n < q) {
            ++n;
        }
    }
    if (n != params->count) {
        return AOT_E_RANGE;
    }
    for (i = 0; i < params->count; ++i) {
        output[i] = s + (float)i * d;
    }
    return AOT_OK;
}
