/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_max_s64(const aot_binary_params *params, const int64_t *a, const int64_t *b, int64_t *y)
{
    AOT_MINMAX_BODY(params, a, b, y, int64_t, >);
}
