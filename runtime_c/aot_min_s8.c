/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_s8(const aot_binary_params *params, const int8_t *a, const int8_t *b, int8_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, int8_t, <);
}
