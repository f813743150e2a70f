/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_u8(const aot_binary_params *params, const uint8_t *a, const uint8_t *b, uint8_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, uint8_t, <);
}
