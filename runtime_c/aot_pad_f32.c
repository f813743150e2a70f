/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_pad_impl.h"

void aot_pad_f32(const aot_pad_params *params, const float *x, float *y)
{
    const aot_pad_params *p = params;
    aot_pad_geometry g;
    aot_pad_cursor c;
    int32_t r, j;

    if (p->ndim <= 0) {
        y[0] = x[0];
        return;
    }
    aot_pad_cursor_init(&c, &g, p->ndim, p->in_dims, p->out_dims, p->pads_begin, p->mode);
    for (r = 0; r < c.rows; ++r, y += c.n) {
        const int32_t base = aot_pad_cursor_next(&c, &g);
        const float *x_row;
        if (base < 0) {
            for (j = 0; j < c.n; ++j) {
                y[j] = p->value;
            }
            continue;
        }
        x_row = x + base;
        for (j = 0; j < c.copy_begin; ++j) {
            const int32_t i = aot_pad_source(&g, g.ndim - 1, j);
            y[j] = i < 0 ? p->value : x_row[i];
        }
        for (j = c.copy_begin; j < c.copy_end; ++j) {
            y[j] = x_row[j - c.pb];
        }
        for (j = c.copy_end; j < c.n; ++j) {
            const int32_t i = aot_pad_source(&g, g.ndim - 1, j);
            y[j] = i < 0 ? p->value : x_row[i];
        }
    }
}
