/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_transpose_impl.h"

void aot_transpose_f32(const aot_transpose_params *params, const float *x, float *y)
{
    AOT_TRANSPOSE_BODY(params, x, y, float);
}
