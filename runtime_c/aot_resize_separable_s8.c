/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * int8 separable resize in TFLite's ResizeBilinearInteger arithmetic: weights
 * are Q10 per axis (their products Q20), the weighted sum of raw codes is
 * rounded half away from zero by 2^20 -- no zero point enters, since each
 * axis's weights sum to 1024. For bilinear tables built with TFLite's integer
 * coordinates this is TFLite's kernel bit for bit; cubic and antialiasing
 * tables use the same sum, clamped to int8 (their taps can overshoot).
 * The lowering bounds sum |weights| so that the int32 accumulator cannot
 * overflow (TFLite uses int64; the values are the same).
 */
void aot_resize_separable_s8(const aot_resize_s8_params *params, const int8_t *x,
                             const int32_t *index_h, const int32_t *coeff_h,
                             const int32_t *index_w, const int32_t *coeff_w, int8_t *y)
{
    const aot_resize_s8_params *p = params;
    const int32_t in_plane = p->in_h * p->in_w;
    const int32_t th = p->taps_h, tw = p->taps_w;
    int32_t plane, oy, ox, i, j;

    for (plane = 0; plane < p->planes; ++plane) {
        const int8_t *x_p = x + plane * in_plane;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t *ih = index_h + oy * th;
            const int32_t *ch = coeff_h + oy * th;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t *iw = index_w + ox * tw;
                const int32_t *cw = coeff_w + ox * tw;
                int32_t acc = 0, v;
                if (ih[0] < 0 || iw[0] < 0) {
                    *y++ = (int8_t)p->extrapolation_code;
                    continue;
                }
                for (i = 0; i < th; ++i) {
                    const int8_t *row = x_p + ih[i] * p->in_w;
                    int32_t racc = 0;
                    for (j = 0; j < tw; ++j) {
                        racc += cw[j] * (int32_t)row[iw[j]];
                    }
                    acc += ch[i] * racc;
                }
                /* C division truncates toward zero: with the +-2^19 this rounds
                 * half away from zero, as TFLite (TFLITE_SINGLE_ROUNDING off) */
                v = (acc + (acc > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20);
                v = v < -128 ? -128 : v;
                v = v > 127 ? 127 : v;
                *y++ = (int8_t)v;
            }
        }
    }
}
