/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_compare_u16(const aot_compare_params *params, const uint16_t *a, const uint16_t *b,
                     uint8_t *y)
{
    AOT_COMPARE_BODY(params, a, b, y, uint16_t);
}
