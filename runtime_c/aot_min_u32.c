/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_u32(const aot_binary_params *params, const uint32_t *a, const uint32_t *b, uint32_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, uint32_t, <);
}
