/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

void aot_gather_rows(const aot_gather_rows_params *params, const void *src, void *dst)
{
    const uint8_t *s = (const uint8_t *)src;
    uint8_t *d = (uint8_t *)dst;
    int32_t r;
    for (r = 0; r < params->rows; ++r) {
        aot_memcpy(d, s + params->offsets[r], (size_t)params->row_bytes);
        d += params->row_bytes;
    }
}
