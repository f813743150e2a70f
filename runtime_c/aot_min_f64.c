/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_compare_impl.h"

void aot_min_f64(const aot_binary_params *params, const double *a, const double *b, double *y)
{
    AOT_MINMAX_BODY(params, a, b, y, double, <);
}
