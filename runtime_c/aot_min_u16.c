/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_u16(const aot_binary_params *params, const uint16_t *a, const uint16_t *b, uint16_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, uint16_t, <);
}
