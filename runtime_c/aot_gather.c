/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

int aot_gather(const aot_gather_params *params, const void *data, const int64_t *indices,
               void *output)
{
    const uint8_t *bytes = (const uint8_t *)data;
    uint8_t *out = (uint8_t *)output;
    int32_t o, r;
    const int32_t inner = params->inner_bytes;

    /* every index is checked before anything is written */
    for (r = 0; r < params->count; ++r) {
        if (indices[r] < -(int64_t)params->axis_dim || indices[r] >= params->axis_dim) {
            return AOT_E_RANGE;
        }
    }
    for (o = 0; o < params->outer; ++o) {
        const uint8_t *plane = bytes + o * params->axis_dim * inner;
        for (r = 0; r < params->count; ++r) {
            int32_t i = (int32_t)indices[r];
            const uint8_t *src;
            if (i < 0) {
                i += params->axis_dim;
            }
            src = plane + i * inner;
            aot_memcpy(out, src, (size_t)inner);
            out += inner;
        }
    }
    return AOT_OK;
}
