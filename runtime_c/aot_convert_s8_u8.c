/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

void aot_convert_s8_u8(const aot_size_params *params, const int8_t *x, uint8_t *y)
{
    int32_t i;

    /* The shift by 128 stays in range both ways, so the conversion is exact. */
    for (i = 0; i < params->size; ++i) {
        y[i] = (uint8_t)((int32_t)x[i] + 128);
    }
}
