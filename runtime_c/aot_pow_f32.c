/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_binary_impl.h"
#include "aot_math.h"

/* x^y with a run-time, broadcast exponent (aot_powf).
 * y may alias an input of y's own shape (each element is read, then written). */
void aot_pow_f32(const aot_binary_params *params, const float *a, const float *b, float *y)
{
    aot_binary_cursor c;
    int32_t r, j;

    aot_binary_cursor_init(&c, params);
    for (r = 0; r < c.rows; ++r) {
        const float *a_ = a + c.a_off;
        const float *b_ = b + c.b_off;
        for (j = 0; j < c.n; ++j) {
            y[j] = aot_powf(a_[j * c.a_step], b_[j * c.b_step]);
        }
        y += c.n;
        aot_binary_cursor_next(&c, params);
    }
}
