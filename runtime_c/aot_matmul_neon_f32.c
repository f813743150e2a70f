/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_act_neon_impl.h"
#include "aot_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

/* alpha * acc + beta * bias, then the activation, for outputs (i, j..j+3);
 * the portable kernel's operations in its order. */
static inline float32x4_t aot_matmul_neon_finish(const aot_matmul_params *p, const float *bias,
                                                 int32_t i, int32_t j, float32x4_t acc)
{
    float32x4_t v = vmulq_n_f32(acc, p->alpha);
    if (bias != NULL) {
        const float *b = bias + i * p->bias_row_stride + j * p->bias_col_stride;
        float32x4_t bv;
        if (p->bias_col_stride == 1) {
            bv = vld1q_f32(b);
        } else if (p->bias_col_stride == 0) {
            bv = vdupq_n_f32(b[0]);
        } else {
            const float lanes[4] = {b[0], b[p->bias_col_stride], b[2 * p->bias_col_stride],
                                    b[3 * p->bias_col_stride]};
            bv = vld1q_f32(lanes);
        }
        v = vaddq_f32(v, vmulq_n_f32(bv, p->beta));
    }
    return aot_neon_act_f32(&p->act, v);
}

#define AOT_MM_ROW(r)                                                  \
    do {                                                               \
        const float av = a##r[k * p->a_k_stride];                      \
        c##r##0 = vfmaq_n_f32(c##r##0, b0, av);                        \
        c##r##1 = vfmaq_n_f32(c##r##1, b1, av);                        \
        c##r##2 = vfmaq_n_f32(c##r##2, b2, av);                        \
        c##r##3 = vfmaq_n_f32(c##r##3, b3, av);                        \
    } while (0)

#define AOT_MM_STORE(r)                                                                   \
    do {                                                                                  \
        {                                                                                 \
            float *yr = y_b + (i + (r)) * p->n + j;                                       \
            vst1q_f32(yr, aot_matmul_neon_finish(p, bias, i + (r), j, c##r##0));          \
            vst1q_f32(yr + 4, aot_matmul_neon_finish(p, bias, i + (r), j + 4, c##r##1));  \
            vst1q_f32(yr + 8, aot_matmul_neon_finish(p, bias, i + (r), j + 8, c##r##2));  \
            vst1q_f32(yr + 12, aot_matmul_neon_finish(p, bias, i + (r), j + 12, c##r##3)); \
        }                                                                                 \
    } while (0)

/* Row i alone: 16-column tiles of 4 sums, then 4-column tiles. Returns the
 * first column not done. */
static int32_t aot_matmul_neon_row(const aot_matmul_params *p, const float *a_b, const float *b_b,
                                   const float *bias, float *y_b, int32_t i)
{
    const float *ar = a_b + i * p->a_row_stride;
    float *yr = y_b + i * p->n;
    int32_t j, k;
    for (j = 0; j + 16 <= p->n; j += 16) {
        float32x4_t c0 = vdupq_n_f32(0.0f), c1 = c0, c2 = c0, c3 = c0;
        for (k = 0; k < p->k; ++k) {
            const float *brow = b_b + k * p->b_k_stride + j;
            const float av = ar[k * p->a_k_stride];
            c0 = vfmaq_n_f32(c0, vld1q_f32(brow), av);
            c1 = vfmaq_n_f32(c1, vld1q_f32(brow + 4), av);
            c2 = vfmaq_n_f32(c2, vld1q_f32(brow + 8), av);
            c3 = vfmaq_n_f32(c3, vld1q_f32(brow + 12), av);
        }
        vst1q_f32(yr + j, aot_matmul_neon_finish(p, bias, i, j, c0));
        vst1q_f32(yr + j + 4, aot_matmul_neon_finish(p, bias, i, j + 4, c1));
        vst1q_f32(yr + j + 8, aot_matmul_neon_finish(p, bias, i, j + 8, c2));
        vst1q_f32(yr + j + 12, aot_matmul_neon_finish(p, bias, i, j + 12, c3));
    }
    for (; j + 4 <= p->n; j += 4) {
        float32x4_t c0 = vdupq_n_f32(0.0f);
        for (k = 0; k < p->k; ++k) {
            c0 = vfmaq_n_f32(c0, vld1q_f32(b_b + k * p->b_k_stride + j), ar[k * p->a_k_stride]);
        }
        vst1q_f32(yr + j, aot_matmul_neon_finish(p, bias, i, j, c0));
    }
    return j;
}

/* Columns j0..n-1 (fewer than 4) of row i, one fused multiply-add at a time. */
static void aot_matmul_neon_tail(const aot_matmul_params *p, const float *a_b, const float *b_b,
                                 const float *bias, float *y_b, int32_t i, int32_t j0)
{
    const float *ar = a_b + i * p->a_row_stride;
    int32_t j, k;
    for (j = j0; j < p->n; ++j) {
        float acc = 0.0f, v;
        for (k = 0; k < p->k; ++k) {
            /* a fused multiply-add like the vector lanes (no libm fmaf) */
            acc = vget_lane_f32(vfma_n_f32(vdup_n_f32(acc), vdup_n_f32(ar[k * p->a_k_stride]),
                                           b_b[k * p->b_k_stride + j]), 0);
        }
        v = p->alpha * acc;
        if (bias != NULL) {
            v += p->beta * bias[i * p->bias_row_stride + j * p->bias_col_stride];
        }
        y_b[i * p->n + j] = aot_act_apply_f32(&p->act, v);
    }
}

/*
 * Batched matrix product (see aot_matmul_params) for B with contiguous rows
 * (b_col_stride == 1; the lowering keeps aot_matmul_f32 otherwise): tiles of
 * 4 rows x 16 columns in 16 float32x4 sums, leftover rows one at a time,
 * then 4-column and single-column tails. Each sum adds its products in k
 * order from 0 like aot_matmul_f32, with fused multiply-adds (one rounding
 * per product instead of two), then alpha, beta * bias and the activation as
 * the portable kernel does.
 */
void aot_matmul_neon_f32(const aot_matmul_params *params, const float *a, const float *b,
                         const float *bias, float *y)
{
    const aot_matmul_params *p = params;
    int32_t bt, i, j, k, r;

    for (bt = 0; bt < p->batch; ++bt) {
        const float *a_b = a + (p->a_offsets != NULL ? p->a_offsets[bt] : 0);
        const float *b_b = b + (p->b_offsets != NULL ? p->b_offsets[bt] : 0);
        float *y_b = y + bt * p->m * p->n;

        for (i = 0; i + 4 <= p->m; i += 4) {
            const float *a0 = a_b + i * p->a_row_stride, *a1 = a0 + p->a_row_stride;
            const float *a2 = a1 + p->a_row_stride, *a3 = a2 + p->a_row_stride;
            for (j = 0; j + 16 <= p->n; j += 16) {
                float32x4_t c00 = vdupq_n_f32(0.0f), c01 = c00, c02 = c00, c03 = c00;
                float32x4_t c10 = c00, c11 = c00, c12 = c00, c13 = c00;
                float32x4_t c20 = c00, c21 = c00, c22 = c00, c23 = c00;
                float32x4_t c30 = c00, c31 = c00, c32 = c00, c33 = c00;
                for (k = 0; k < p->k; ++k) {
                    const float *brow = b_b + k * p->b_k_stride + j;
                    const float32x4_t b0 = vld1q_f32(brow), b1 = vld1q_f32(brow + 4);
                    const float32x4_t b2 = vld1q_f32(brow + 8), b3 = vld1q_f32(brow + 12);
                    AOT_MM_ROW(0);
                    AOT_MM_ROW(1);
                    AOT_MM_ROW(2);
                    AOT_MM_ROW(3);
                }
                AOT_MM_STORE(0);
                AOT_MM_STORE(1);
                AOT_MM_STORE(2);
                AOT_MM_STORE(3);
            }
            for (; j + 4 <= p->n; j += 4) {
                float32x4_t c0 = vdupq_n_f32(0.0f), c1 = c0, c2 = c0, c3 = c0;
                for (k = 0; k < p->k; ++k) {
                    const float32x4_t bv = vld1q_f32(b_b + k * p->b_k_stride + j);
                    c0 = vfmaq_n_f32(c0, bv, a0[k * p->a_k_stride]);
                    c1 = vfmaq_n_f32(c1, bv, a1[k * p->a_k_stride]);
                    c2 = vfmaq_n_f32(c2, bv, a2[k * p->a_k_stride]);
                    c3 = vfmaq_n_f32(c3, bv, a3[k * p->a_k_stride]);
                }
                vst1q_f32(y_b + i * p->n + j, aot_matmul_neon_finish(p, bias, i, j, c0));
                vst1q_f32(y_b + (i + 1) * p->n + j, aot_matmul_neon_finish(p, bias, i + 1, j, c1));
                vst1q_f32(y_b + (i + 2) * p->n + j, aot_matmul_neon_finish(p, bias, i + 2, j, c2));
                vst1q_f32(y_b + (i + 3) * p->n + j, aot_matmul_neon_finish(p, bias, i + 3, j, c3));
            }
            for (r = 0; r < 4; ++r) {
                aot_matmul_neon_tail(p, a_b, b_b, bias, y_b, i + r, j);
            }
        }
        for (; i < p->m; ++i) {
            aot_matmul_neon_tail(p, a_b, b_b, bias, y_b, i,
                                 aot_matmul_neon_row(p, a_b, b_b, bias, y_b, i));
        }
    }
}

#else
/* Built for a CPU without NEON: this kernel is not available there. */
typedef int aot_matmul_neon_f32_unavailable;
#endif
