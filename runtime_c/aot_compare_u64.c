/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_compare_u64(const aot_compare_params *params, const uint64_t *a, const uint64_t *b,
                     uint8_t *y)
{
    AOT_COMPARE_BODY(params, a, b, y, uint64_t);
}
