/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Separable resize: each output element is a weighted sum over taps_h source
 * rows times taps_w source columns, with indices (already clamped to the
 * input) and weights from compile-time tables. Linear, cubic and the
 * antialiasing filters differ only in those tables. A first index of -1 in
 * a row's or column's taps marks a position outside the crop box
 * (tf_crop_and_resize), which takes the extrapolation value.
 */
void aot_resize_separable_f32(const aot_resize_params *params, const float *x,
                              const int32_t *index_h, const float *coeff_h,
                              const int32_t *index_w, const float *coeff_w, float *y)
{
    const aot_resize_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t th = p->taps_h, tw = p->taps_w;
    int32_t plane, oy, ox, i, j;

    for (plane = 0; plane < p->planes; ++plane) {
        const float *x_p = x + plane * in_plane;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t *ih = index_h + oy * th;
            const float *ch = coeff_h + oy * th;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t *iw = index_w + ox * tw;
                const float *cw = coeff_w + ox * tw;
                float acc = 0.0f;
                if (ih[0] < 0 || iw[0] < 0) {
                    *y++ = p->extrapolation_value;
                    continue;
                }
                for (i = 0; i < th; ++i) {
                    const float *row = x_p + ih[i] * p->in_w;
                    float racc = 0.0f;
                    for (j = 0; j < tw; ++j) {
                        racc += cw[j] * row[iw[j]];
                    }
                    acc += ch[i] * racc;
                }
                *y++ = acc;
            }
        }
    }
}
