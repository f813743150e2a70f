/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_u64(const aot_binary_params *params, const uint64_t *a, const uint64_t *b, uint64_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, uint64_t, <);
}
