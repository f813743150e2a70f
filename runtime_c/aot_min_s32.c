/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_s32(const aot_binary_params *params, const int32_t *a, const int32_t *b, int32_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, int32_t, <);
}
