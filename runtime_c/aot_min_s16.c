/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_s16(const aot_binary_params *params, const int16_t *a, const int16_t *b, int16_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, int16_t, <);
}
