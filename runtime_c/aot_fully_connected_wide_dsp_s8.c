/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_gemm_impl.h"

/*
 * aot_fully_connected_dsp_s8 with the weights pre-widened (`--optimize speed`),
 * bit-exact with aot_fully_connected_s8 (symmetric weights). weights: int32
 * words [n4 / 4][k4 / 4][4 rows][2], for each row and group of 4 columns the
 * int16 pairs (w0, w2) and (w1, w3) -- the SMLAD partners of SXTB16 of a word
 * of x and of it rotated by 8, so only x is unpacked, once for 4 rows
 * (aot_dsp_fc_4rows; with the requantization too for whole blocks of a
 * full-range layer, aot_dsp_fc_block). bias: [n4], zero-padded. multipliers: the
 * requantization table [n][3] of aot_dsp_gemm_impl.h, or NULL: multiplier
 * (doubled) and shift for every output. x's last k % 4 columns one by one
 * (never a word past the row's end).
 */
AOT_DSP_NO_LIBCALL
void aot_fully_connected_wide_dsp_s8(const aot_fully_connected_s8_params *params,
                                     const int8_t *input, const int32_t *weights,
                                     const int32_t *bias, int8_t *output)
{
    const aot_fully_connected_s8_params *p = params;
    const int32_t k = p->k, k4 = (k + 3) & ~3, groups = k >> 2, n = p->n;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t full = act_min == -128 && act_max == 127;
    const int32_t *const table = p->multipliers;
    int32_t one[3], ctx[3];
    int32_t row, j, i, fast;

    /* per tensor: the one table entry */
    one[0] = p->multiplier;
    if (p->shift <= -1 && p->shift >= -23) {
        one[1] = -p->shift;
        one[2] = (int32_t)((1u << (-p->shift - 1)) + ((uint32_t)output_offset << -p->shift));
    } else {
        one[1] = 0;
        one[2] = p->shift;
    }
    /* whole blocks of a full-range layer with right shifts only: in the micro-kernel */
    fast = full && groups > 0 && k == 4 * groups
           && (table != NULL ? aot_dsp_table_fast(table, n, act_min, act_max) : one[1] != 0);
    for (row = 0; row < p->m; ++row) {
        const int8_t *x = input + row * k;
        int8_t *y = output + row * n;
        j = 0;
        if (fast) {
            for (; j + 4 <= n; j += 4) {
                aot_dsp_fc_block(weights + j * (k4 >> 1), x, groups, bias + j,
                                 table != NULL ? table + 3 * j : one, table != NULL ? 3 : 0,
                                 y + j, ctx);
            }
        }
        for (; j < n; j += 4) {
            const int32_t *w = weights + j * (k4 >> 1);
            int32_t acc[4];
            if (groups > 0) {
                aot_dsp_fc_4rows(w, x, groups, bias + j, acc);
            } else {
                acc[0] = bias[j];
                acc[1] = bias[j + 1];
                acc[2] = bias[j + 2];
                acc[3] = bias[j + 3];
            }
            if (k > 4 * groups) {
                /* column c of a group: int16 (c & 1) * 2 + (c >> 1) of a row's two words */
                const int16_t *wt = (const int16_t *)(w + 8 * groups);
                for (i = 0; i < k - 4 * groups; ++i) {
                    const int32_t xv = x[4 * groups + i], at = (i & 1) * 2 + (i >> 1);
                    acc[0] = aot_wrap_add32(acc[0], wt[at] * xv);
                    acc[1] = aot_wrap_add32(acc[1], wt[4 + at] * xv);
                    acc[2] = aot_wrap_add32(acc[2], wt[8 + at] * xv);
                    acc[3] = aot_wrap_add32(acc[3], wt[12 + at] * xv);
                }
            }
            for (i = 0; i < 4 && j + i < n; ++i) {
                const int32_t *q = table != NULL ? table + 3 * (j + i) : one;
                y[j + i] = aot_dsp_table_output(acc[i], q, full, output_offset, act_min,
                                                act_max);
            }
        }
    }
}
