/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_binary_impl.h"

void aot_div_f32(const aot_binary_params *params, const float *a,
                 const float *b, float *y)
{
    AOT_BINARY_F32_BODY(params, a, b, y, /);
}
