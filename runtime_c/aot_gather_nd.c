/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

int aot_gather_nd(const aot_gather_nd_params *params, const void *data,
                  const int64_t *indices, void *output)
{
    const uint8_t *bytes = (const uint8_t *)data;
    uint8_t *out = (uint8_t *)output;
    const int32_t tuples = params->batch * params->count;
    int32_t b, t, k;

    /* every index is checked before anything is written */
    for (t = 0; t < tuples; ++t) {
        const int64_t *tuple = indices + t * params->depth;
        for (k = 0; k < params->depth; ++k) {
            if (tuple[k] < -(int64_t)params->dims[k] || tuple[k] >= params->dims[k]) {
                return AOT_E_RANGE;
            }
        }
    }
    for (b = 0; b < params->batch; ++b) {
        const uint8_t *base = bytes + b * params->batch_bytes;
        for (t = 0; t < params->count; ++t) {
            int32_t offset = 0;
            for (k = 0; k < params->depth; ++k) {
                int32_t j = (int32_t)indices[k];
                if (j < 0) {
                    j += params->dims[k];
                }
                offset += j * params->strides[k];
            }
            aot_memcpy(out, base + offset, (size_t)params->row_bytes);
            out += params->row_bytes;
            indices += params->depth;
        }
    }
    return AOT_OK;
}
