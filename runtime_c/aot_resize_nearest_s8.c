/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * int8 nearest-neighbour resize: a pure gather of codes (input and output share
 * one scale and zero point; the lowering requantizes afterwards where a model's
 * differ, as TFLite's RESIZE_NEAREST_NEIGHBOR would need a QUANTIZE op). The
 * compiler has turned the coordinate transformation and rounding mode into one
 * source index per output row and column.
 */
void aot_resize_nearest_s8(const aot_resize_s8_params *params, const int8_t *x,
                           const int32_t *index_h, const int32_t *index_w, int8_t *y)
{
    const aot_resize_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int8_t outside = (int8_t)p->extrapolation_code;
    int32_t plane, oy, ox;

    for (plane = 0; plane < p->planes; ++plane) {
        const int8_t *x_p = x + plane * in_plane;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy = index_h[oy];
            if (iy < 0) {
                for (ox = 0; ox < p->out_w; ++ox) {
                    *y++ = outside;
                }
                continue;
            }
            {
                const int8_t *row = x_p + iy * p->in_w;
                for (ox = 0; ox < p->out_w; ++ox) {
                    const int32_t ix = index_w[ox];
                    *y++ = ix < 0 ? outside : row[ix];
                }
            }
        }
    }
}
