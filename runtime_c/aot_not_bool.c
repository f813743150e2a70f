/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

void aot_not_bool(const aot_unary_params *params, const uint8_t *x, uint8_t *y)
{
    int32_t i;
    for (i = 0; i < params->size; ++i) {
        y[i] = (uint8_t)(x[i] == 0u);
    }
}
