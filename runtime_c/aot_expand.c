/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_strided_copy_impl.h"

void aot_expand(const aot_strided_copy_params *params, const void *input, void *output)
{
    aot_strided_copy(params, input, output);
}
