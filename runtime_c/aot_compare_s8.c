/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_compare_s8(const aot_compare_params *params, const int8_t *a, const int8_t *b,
                    uint8_t *y)
{
    AOT_COMPARE_BODY(params, a, b, y, int8_t);
}
