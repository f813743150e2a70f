/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_math.h"
#include "aot_pad_impl.h"

/*
 * int8 N-d pad: the byte-for-byte counterpart of the float pad (same index
 * mapping, aot_pad_impl.h), with the constant as an int8 code. TFLite's int8
 * PAD fills with the output zero point, PADV2 with its quantized constant,
 * MIRROR_PAD REFLECT is AOT_PAD_REFLECT; edge and wrap only move codes.
 * Whole rows are filled and copied with aot_memset / aot_memcpy (gcc would
 * turn byte loops into libc calls, which a libc-free build does not have).
 */
void aot_pad_s8(const aot_pad_s8_params *params, const int8_t *x, int8_t *y)
{
    const aot_pad_s8_params *p = params;
    const int8_t value = (int8_t)p->value;
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
        const int8_t *x_row;
        if (base < 0) {
            aot_memset(y, value, (size_t)c.n);
            continue;
        }
        x_row = x + base;
        for (j = 0; j < c.copy_begin; ++j) {
            const int32_t i = aot_pad_source(&g, g.ndim - 1, j);
            y[j] = i < 0 ? value : x_row[i];
        }
        if (c.copy_end > c.copy_begin) {
            aot_memcpy(y + c.copy_begin, x_row + (c.copy_begin - c.pb),
                       (size_t)(c.copy_end - c.copy_begin));
        }
        for (j = c.copy_end; j < c.n; ++j) {
            const int32_t i = aot_pad_source(&g, g.ndim - 1, j);
            y[j] = i < 0 ? value : x_row[i];
        }
    }
}
