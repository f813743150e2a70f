/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_binary_impl.h"

void aot_or_bool(const aot_binary_params *params, const uint8_t *a, const uint8_t *b,
                 uint8_t *y)
{
    aot_binary_cursor c;
    int32_t r, j;

    aot_binary_cursor_init(&c, params);
    for (r = 0; r < c.rows; ++r) {
        const uint8_t *ar = a + c.a_off;
        const uint8_t *br = b + c.b_off;
        for (j = 0; j < c.n; ++j) {
            y[j] = (uint8_t)((ar[j * c.a_step] != 0u) | (br[j * c.b_step] != 0u));
        }
        y += c.n;
        aot_binary_cursor_next(&c, params);
    }
}
