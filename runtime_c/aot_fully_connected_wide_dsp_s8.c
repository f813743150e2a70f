/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_impl.h"

/*
 * aot_fully_connected_dsp_s8 with the weights pre-widened (`--optimize speed`),
 * bit-exact with aot_fully_connected_s8 (symmetric weights). weights: int32
 * words [n4 / 4][k4 / 4][4 rows][2], for each row and group of 4 columns the
 * int16 pairs (w0, w2) and (w1, w3) -- the SMLAD partners of SXTB16 of a word
 * of x and of it rotated by 8, so only x is unpacked (2 SXTB16 per 16 MACs
 * instead of 10), and a row's two words are one LDRD. Four outputs at a time; x's last k % 4 columns one by one
 * (never a word past the row's end). Per-channel right shifts in [1, 23] take
 * the short requantization (aot_dsp_output_fast_clamp).
 */
AOT_DSP_NO_LIBCALL
void aot_fully_connected_wide_dsp_s8(const aot_fully_connected_s8_params *params,
                                     const int8_t *input, const int32_t *weights,
                                     const int32_t *bias, int8_t *output)
{
    const aot_fully_connected_s8_params *p = params;
    const int32_t k = p->k, k4 = (k + 3) & ~3, full = k >> 2, n = p->n;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *const multipliers = p->multipliers, *const shifts = p->shifts;
    int32_t row, j, i, g;

    for (row = 0; row < p->m; ++row) {
        const int8_t *x_row = input + row * k;
        int8_t *y = output + row * n;
        for (j = 0; j < n; j += 4) {
            const int32_t *w = weights + j * (k4 >> 1);
            const int8_t *x = x_row;
            int32_t a0 = bias[j];
            int32_t a1 = j + 1 < n ? bias[j + 1] : 0;
            int32_t a2 = j + 2 < n ? bias[j + 2] : 0;
            int32_t a3 = j + 3 < n ? bias[j + 3] : 0;
            int32_t acc[4];
            for (g = 0; g < full; ++g) {
                const int32_t xv = aot_dsp_load32(x);
                const int32_t xe = aot_dsp_sxtb16(xv), xo = aot_dsp_sxtb16_ror8(xv);
                int32_t we, wo;
                AOT_DSP_LDRD(we, wo, w, 0);
                a0 = aot_dsp_smlad(wo, xo, aot_dsp_smlad(we, xe, a0));
                AOT_DSP_LDRD(we, wo, w, 8);
                a1 = aot_dsp_smlad(wo, xo, aot_dsp_smlad(we, xe, a1));
                AOT_DSP_LDRD(we, wo, w, 16);
                a2 = aot_dsp_smlad(wo, xo, aot_dsp_smlad(we, xe, a2));
                AOT_DSP_LDRD(we, wo, w, 24);
                a3 = aot_dsp_smlad(wo, xo, aot_dsp_smlad(we, xe, a3));
                x += 4;
                w += 8;
            }
            if (k > 4 * full) {
                /* column c of a group: int16 (c & 1) * 2 + (c >> 1) of a row's two words */
                const int16_t *wt = (const int16_t *)w;
                for (i = 0; i < k - 4 * full; ++i) {
                    const int32_t xv = x[i], at = (i & 1) * 2 + (i >> 1);
                    a0 = aot_wrap_add32(a0, wt[at] * xv);
                    a1 = aot_wrap_add32(a1, wt[4 + at] * xv);
                    a2 = aot_wrap_add32(a2, wt[8 + at] * xv);
                    a3 = aot_wrap_add32(a3, wt[12 + at] * xv);
                }
            }
            acc[0] = a0;
            acc[1] = a1;
            acc[2] = a2;
            acc[3] = a3;
            for (i = 0; i < 4 && j + i < n; ++i) {
                const int32_t mult = multipliers != NULL ? multipliers[j + i] : p->multiplier;
                const int32_t shift = shifts != NULL ? shifts[j + i] : p->shift;
                if (shift <= -1 && shift >= -23) {
                    y[j + i] = aot_dsp_output_fast_clamp(acc[i], mult, -shift,
                                                         (int32_t)1 << (-shift - 1),
                                                         output_offset, act_min, act_max);
                } else {
                    y[j + i] = aot_dsp_output(acc[i], mult, shift, output_offset, act_min,
                                              act_max);
                }
            }
        }
    }
}
