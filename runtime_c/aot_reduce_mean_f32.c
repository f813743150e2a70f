/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Sums rows of [reduce][inner] into the output row, so every read is
 * sequential; each output still adds its inputs in index order. Dividing
 * the sum (rather than multiplying by 1 / reduce) avoids a second rounding.
 * An empty reduction gives 0 / 0 = NaN, as numpy's mean does.
 */
void aot_reduce_mean_f32(const aot_reduce_params *params, const float *x, float *y)
{
    const aot_reduce_params *p = params;
    const float count = (float)p->reduce;
    int32_t o, r, j;

    for (o = 0; o < p->outer; ++o) {
        const float *x_o = x + o * p->reduce * p->inner;
        float *y_o = y + o * p->inner;
        if (p->reduce <= 0) {
            for (j = 0; j < p->inner; ++j) {
                y_o[j] = 0.0f / count;
            }
            continue;
        }
        if (p->inner == 1) {
            /* A whole-plane mean (global average pooling, e.g. squeeze-excite):
             * 8 interleaved partial sums kept in registers, combined pairwise.
             * One running sum in y_o[0] would cost a store-to-load round trip
             * per element. The order is fixed, so results stay reproducible.
             * Named scalars, not an array: gcc would clear an array with memset. */
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            float s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
            for (r = 0; r + 8 <= p->reduce; r += 8) {
                s0 += x_o[r];
                s1 += x_o[r + 1];
                s2 += x_o[r + 2];
                s3 += x_o[r + 3];
                s4 += x_o[r + 4];
                s5 += x_o[r + 5];
                s6 += x_o[r + 6];
                s7 += x_o[r + 7];
            }
            for (; r < p->reduce; ++r) {
                s0 += x_o[r];
            }
            y_o[0] = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) / count;
            continue;
        }
        /* The first row starts each sum as 0.0f + x (exactly what clearing
         * and adding gives, -0.0 included) instead of a zeroing loop,
         * which gcc would turn into a call to libc's memset. */
        for (j = 0; j < p->inner; ++j) {
            y_o[j] = 0.0f + x_o[j];
        }
        for (r = 1; r < p->reduce; ++r) {
            const float *x_r = x_o + r * p->inner;
            for (j = 0; j < p->inner; ++j) {
                y_o[j] += x_r[j];
            }
        }
        for (j = 0; j < p->inner; ++j) {
            y_o[j] /= count;
        }
    }
}
