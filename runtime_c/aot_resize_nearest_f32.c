/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Nearest-neighbour resize as a pure gather: the compiler has already turned
 * the coordinate transformation and rounding mode into one source index per
 * output row and column, so no coordinate arithmetic happens at run time.
 */
void aot_resize_nearest_f32(const aot_resize_params *params, const float *x,
                            const int32_t *index_h, const int32_t *index_w, float *y)
{
    const aot_resize_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    int32_t plane, oy, ox;

    for (plane = 0; plane < p->planes; ++plane) {
        const float *x_p = x + plane * in_plane;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy = index_h[oy];
            if (iy < 0) {
                for (ox = 0; ox < p->out_w; ++ox) {
                    *y++ = p->extrapolation_value;
                }
                continue;
            }
            {
                const float *row = x_p + iy * p->in_w;
                for (ox = 0; ox < p->out_w; ++ox) {
                    const int32_t ix = index_w[ox];
                    *y++ = ix < 0 ? p->extrapolation_value : row[ix];
                }
            }
        }
    }
}
