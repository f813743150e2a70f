/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_compare_u32(const aot_compare_params *params, const uint32_t *a, const uint32_t *b,
                     uint8_t *y)
{
    AOT_COMPARE_BODY(params, a, b, y, uint32_t);
}
