/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the loop of aot_fully_connected_neon_s8 and
 * aot_fully_connected_dotprod_s8 (AArch64 only). Ship it with them. The
 * including file defines AOT_FC_DOT16(acc, x, w): acc (int32x4) plus the
 * products of 16 int8 pairs, summed into its lanes in any grouping.
 *
 * y[m][n] = requant(sum_k x[m][k] * w[n][k] + bias[n]); the lowering folds
 * input_offset * sum_k w[n][k] into bias (symmetric weights only), so the
 * inner loop multiplies raw codes. Four outputs at a time share each input
 * load; their sums are reduced with pairwise adds and requantized together
 * (per-lane multipliers when per channel). Sums wrap as in the portable kernel.
 */
#ifndef AOT_FULLY_CONNECTED_NEON_IMPL_H
#define AOT_FULLY_CONNECTED_NEON_IMPL_H

#include "aot_requant_neon_impl.h"
#include "aot_types.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* The int32 sum of x[k] * w[k] for k in [k0, k). */
AOT_NEON_INLINE int32_t aot_fc_tail(const int8_t *x, const int8_t *w, int32_t k0, int32_t k)
{
    uint32_t sum = 0u;
    for (; k0 < k; ++k0) {
        sum += (uint32_t)((int32_t)x[k0] * (int32_t)w[k0]);
    }
    return (int32_t)sum;
}

AOT_NEON_INLINE void aot_fully_connected_neon_run(const aot_fully_connected_s8_params *p,
                                                  const int8_t *input, const int8_t *weights,
                                                  const int32_t *bias, int8_t *output)
{
    const int32_t K = p->k, k16 = p->k & ~15;
    const int32x4_t offset = vdupq_n_s32(p->output_offset);
    const int8x8_t lo = vdup_n_s8((int8_t)p->act_min), hi = vdup_n_s8((int8_t)p->act_max);
    int32_t i, j, k;

    for (i = 0; i < p->m; ++i) {
        const int8_t *x = input + i * K;
        int8_t *y = output + i * p->n;
        for (j = 0; j < p->n; j += 4) {
            const int32_t count = p->n - j < 4 ? p->n - j : 4;
            const int8_t *w0 = weights + j * K;
            const int8_t *w1 = count > 1 ? w0 + K : w0;
            const int8_t *w2 = count > 2 ? w0 + 2 * K : w0;
            const int8_t *w3 = count > 3 ? w0 + 3 * K : w0;
            int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, sum, mult, sh, b4;
            int8x8_t packed;
            int32_t tail[4], b[4], m4[4], s4[4], t;
            int8_t out[8];
            for (k = 0; k < k16; k += 16) {
                const int8x16_t xv = vld1q_s8(x + k);
                a0 = AOT_FC_DOT16(a0, xv, vld1q_s8(w0 + k));
                a1 = AOT_FC_DOT16(a1, xv, vld1q_s8(w1 + k));
                a2 = AOT_FC_DOT16(a2, xv, vld1q_s8(w2 + k));
                a3 = AOT_FC_DOT16(a3, xv, vld1q_s8(w3 + k));
            }
            sum = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
            if (k16 < K) {
                tail[0] = aot_fc_tail(x, w0, k16, K);
                tail[1] = aot_fc_tail(x, w1, k16, K);
                tail[2] = aot_fc_tail(x, w2, k16, K);
                tail[3] = aot_fc_tail(x, w3, k16, K);
                sum = vaddq_s32(sum, vld1q_s32(tail));
            }
            if (count == 4) {
                b4 = bias != NULL ? vld1q_s32(bias + j) : vdupq_n_s32(0);
                mult = p->multipliers != NULL ? vld1q_s32(p->multipliers + j)
                                              : vdupq_n_s32(p->multiplier);
                sh = p->shifts != NULL ? vld1q_s32(p->shifts + j) : vdupq_n_s32(p->shift);
            } else {
                for (t = 0; t < 4; ++t) {
                    const int32_t jj = t < count ? j + t : j;
                    b[t] = bias != NULL ? bias[jj] : 0;
                    m4[t] = p->multipliers != NULL ? p->multipliers[jj] : p->multiplier;
                    s4[t] = p->shifts != NULL ? p->shifts[jj] : p->shift;
                }
                b4 = vld1q_s32(b);
                mult = vld1q_s32(m4);
                sh = vld1q_s32(s4);
            }
            sum = vaddq_s32(sum, b4);
            packed = aot_neon_requant4(sum, mult, aot_neon_left_shift(sh),
                                       aot_neon_right_shift(sh), offset, lo, hi);
            if (count == 4) {
                vst1_lane_s8(y + j, packed, 0);   /* byte stores: y + j may be unaligned */
                vst1_lane_s8(y + j + 1, packed, 1);
                vst1_lane_s8(y + j + 2, packed, 2);
                vst1_lane_s8(y + j + 3, packed, 3);
                continue;
            }
            vst1_s8(out, packed);
            for (t = 0; t < 4; ++t) {
                if (t < count) {
                    y[j + t] = out[t];
                }
            }
        }
    }
}

#endif /* __aarch64__ && __ARM_NEON */
#endif /* AOT_FULLY_CONNECTED_NEON_IMPL_H */
