/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_f32(const aot_binary_params *params, const float *a, const float *b, float *y)
{
    AOT_MINMAX_BODY(params, a, b, y, float, <);
}
