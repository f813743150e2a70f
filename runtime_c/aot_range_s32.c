/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

int aot_range_s32(const aot_range_params *params, const int32_t *start, const int32_t *limit,
                  const int32_t *delta, int32_t *output)
{
    const int64_t s = *start, l = *limit, d = *delta;
    int64_t n = 0;
    int32_t i;

    /* max(ceil((limit - start) / delta), 0); int64 holds every difference */
    if (d == 0) {
        return AOT_E_RANGE;
    }
    if (d > 0 && l > s) {
        n = (l - s - 1) / d + 1;
    } else if (d < 0 && l < s) {
        n = (s - l - 1) / -d + 1;
    }
    if (n != params->count) {
        return AOT_E_RANGE;
    }
    for (i = 0; i < params->count; ++i) {
        output[i] = (int32_t)(s + (int64_t)i * d);
    }
    return AOT_OK;
}
