/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

int aot_range_s64(const aot_range_params *params, const int64_t *start, const int64_t *limit,
                  const int64_t *delta, int64_t *output)
{
    const int64_t s = *start, l = *limit, d = *delta;
    uint64_t span, step, n = 0u;
    int32_t i;

    /* the length, max(ceil((limit - start) / delta), 0), in unsigned
     * arithmetic: limit - start may not fit int64 */
    if (d == 0) {
        return AOT_E_RANGE;
    }
    if (d > 0 && l > s) {
        span = (uint64_t)l - (uint64_t)s;
        step = (uint64_t)d;
        n = (span - 1u) / step + 1u;
    } else if (d < 0 && l < s) {
        span = (uint64_t)s - (uint64_t)l;
        step = 0u - (uint64_t)d;
        n = (span - 1u) / step + 1u;
    }
    if (n != (uint64_t)params->count) {
        return AOT_E_RANGE;
    }
    for (i = 0; i < params->count; ++i) {
        output[i] = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
    }
    return AOT_OK;
}
