/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_transpose_impl.h"

/* Dense N-d transpose of 1-byte elements (int8 codes). */
void aot_transpose_s8(const aot_transpose_params *params, const int8_t *x, int8_t *y)
{
    AOT_TRANSPOSE_BODY(params, x, y, int8_t);
}
