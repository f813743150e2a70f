/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * int8 fully connected with SMLAD, bit-exact with aot_fully_connected_s8
 * (symmetric weights: weights_offset 0, weights_offsets NULL), no scratch.
 * weights: quad layout, [n4 / 4][k4 / 4][4 rows][4 bytes] (n4, k4: n and k
 * rounded up to 4, zero-padded), natural byte order: a word of weights and a
 * word of x, both SXTB16'd (and rotated by 8), make two SMLADs over 4
 * columns. bias: [n] with the input offset folded in (always present);
 * multipliers and shifts: [n] tables, or NULL: multiplier/shift for all. Four outputs at a
 * time; x's last k % 4 columns one by one (never a word past the row's end).
 */
AOT_DSP_NO_LIBCALL
void aot_fully_connected_dsp_s8(const aot_fully_connected_s8_params *params,
                                const int8_t *input, const int8_t *weights,
                                const int32_t *bias, int8_t *output)
{
    const aot_fully_connected_s8_params *p = params;
    const int32_t k = p->k, k4 = (k + 3) & ~3, full = k >> 2, n = p->n;
    const int32_t per_channel = p->multipliers != NULL;
    int32_t row, j, i, g;

    for (row = 0; row < p->m; ++row) {
        const int8_t *x_row = input + row * k;
        int8_t *y = output + row * n;
        for (j = 0; j < n; j += 4) {
            const int8_t *w = weights + j * k4;
            const int8_t *x = x_row;
            int32_t a0 = bias[j];
            int32_t a1 = j + 1 < n ? bias[j + 1] : 0;
            int32_t a2 = j + 2 < n ? bias[j + 2] : 0;
            int32_t a3 = j + 3 < n ? bias[j + 3] : 0;
            int32_t acc[4];
            for (g = 0; g < full; ++g) {
                const int32_t xv = aot_dsp_load32(x);
                const int32_t xe = aot_dsp_sxtb16(xv), xo = aot_dsp_sxtb16_ror8(xv);
                int32_t wv;
                wv = aot_dsp_load32(w);
                a0 = aot_dsp_smlad(aot_dsp_sxtb16(wv), xe, a0);
                a0 = aot_dsp_smlad(aot_dsp_sxtb16_ror8(wv), xo, a0);
                wv = aot_dsp_load32(w + 4);
                a1 = aot_dsp_smlad(aot_dsp_sxtb16(wv), xe, a1);
                a1 = aot_dsp_smlad(aot_dsp_sxtb16_ror8(wv), xo, a1);
                wv = aot_dsp_load32(w + 8);
                a2 = aot_dsp_smlad(aot_dsp_sxtb16(wv), xe, a2);
                a2 = aot_dsp_smlad(aot_dsp_sxtb16_ror8(wv), xo, a2);
                wv = aot_dsp_load32(w + 12);
                a3 = aot_dsp_smlad(aot_dsp_sxtb16(wv), xe, a3);
                a3 = aot_dsp_smlad(aot_dsp_sxtb16_ror8(wv), xo, a3);
                x += 4;
                w += 16;
            }
            for (i = 0; i < k - 4 * full; ++i) {
                const int32_t xv = x[i];
                a0 = aot_wrap_add32(a0, w[i] * xv);
                a1 = aot_wrap_add32(a1, w[4 + i] * xv);
                a2 = aot_wrap_add32(a2, w[8 + i] * xv);
                a3 = aot_wrap_add32(a3, w[12 + i] * xv);
            }
            acc[0] = a0;
            acc[1] = a1;
            acc[2] = a2;
            acc[3] = a3;
            for (i = 0; i < 4 && j + i < n; ++i) {
                const int32_t mult = per_channel ? p->multipliers[j + i] : p->multiplier;
                const int32_t shift = per_channel ? p->shifts[j + i] : p->shift;
                y[j + i] = aot_dsp_output(acc[i], mult, shift, p->output_offset, p->act_min,
                                          p->act_max);
            }
        }
    }
}
