/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_binary_impl.h"

void aot_xor_bool(const aot_binary_params *params, const uint8_t *a, const uint8_t *b,
                  uint8_t *y)
{
    AOT_LOGICAL_BOOL_BODY(params, a, b, y, ^);
}
