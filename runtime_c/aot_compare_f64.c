/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_compare_f64(const aot_compare_params *params, const double *a, const double *b,
                     uint8_t *y)
{
    AOT_COMPARE_BODY(params, a, b, y, double);
}
