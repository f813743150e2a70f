/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

/*
 * aot_matmul_w8_f32 with 4 x 16 output tiles in sixteen q-register
 * accumulators: per k, 16 int8 weights are widened to four float vectors
 * and each of the four rows' x[k] feeds four fused multiply-adds (FMLA by
 * scalar). Columns outer, so one column block of W (k x 16 bytes) stays in
 * L1 for every row block. Edge tiles run in scalar code. FMLA fuses, so
 * results differ from aot_matmul_w8_f32 by rounding (same k order).
 */
#define W8_NEON_ROW(r)                                                      \
    do {                                                                    \
        const float xv = x[(r) * k + kk];                                   \
        a##r##0 = vfmaq_n_f32(a##r##0, w0, xv);                             \
        a##r##1 = vfmaq_n_f32(a##r##1, w1, xv);                             \
        a##r##2 = vfmaq_n_f32(a##r##2, w2, xv);                             \
        a##r##3 = vfmaq_n_f32(a##r##3, w3, xv);                             \
    } while (0)

#define W8_NEON_STORE(r)                                                    \
    do {                                                                    \
        vst1q_f32(y + (r) * n + j, vfmaq_f32(b0, a##r##0, s0));             \
        vst1q_f32(y + (r) * n + j + 4, vfmaq_f32(b1, a##r##1, s1));         \
        vst1q_f32(y + (r) * n + j + 8, vfmaq_f32(b2, a##r##2, s2));         \
        vst1q_f32(y + (r) * n + j + 12, vfmaq_f32(b3, a##r##3, s3));        \
    } while (0)

/* Named accumulators, not an array: compilers keep them in registers. */
static void aot_w8_neon_tile(const float *x, const int8_t *w, const float *scale,
                             const float *bias, float *y, int32_t n, int32_t k, int32_t j)
{
    const float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
    float32x4_t a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
    float32x4_t s0, s1, s2, s3, b0 = z, b1 = z, b2 = z, b3 = z;
    int32_t kk;

    for (kk = 0; kk < k; ++kk) {
        const int8x16_t q = vld1q_s8(w + kk * n + j);
        const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
        const float32x4_t w0 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
        const float32x4_t w1 = vcvtq_f32_s32(vmovl_high_s16(lo));
        const float32x4_t w2 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
        const float32x4_t w3 = vcvtq_f32_s32(vmovl_high_s16(hi));
        W8_NEON_ROW(0);
        W8_NEON_ROW(1);
        W8_NEON_ROW(2);
        W8_NEON_ROW(3);
    }
    s0 = vld1q_f32(scale + j);
    s1 = vld1q_f32(scale + j + 4);
    s2 = vld1q_f32(scale + j + 8);
    s3 = vld1q_f32(scale + j + 12);
    if (bias != NULL) {
        b0 = vld1q_f32(bias + j);
        b1 = vld1q_f32(bias + j + 4);
        b2 = vld1q_f32(bias + j + 8);
        b3 = vld1q_f32(bias + j + 12);
    }
    W8_NEON_STORE(0);
    W8_NEON_STORE(1);
    W8_NEON_STORE(2);
    W8_NEON_STORE(3);
}

void aot_matmul_w8_neon_f32(const aot_matmul_w8_params *params, const float *x,
                            const int8_t *w, const float *scale, const float *bias, float *y)
{
    const int32_t m = params->m, n = params->n, k = params->k;
    const int32_t m4 = m - m % 4, n16 = n - n % 16;
    int32_t i, j, kk;

    for (j = 0; j < n16; j += 16) {
        for (i = 0; i < m4; i += 4) {
            aot_w8_neon_tile(x + i * k, w, scale, bias, y + i * n, n, k, j);
        }
    }
    for (i = 0; i < m; ++i) {
        for (j = i < m4 ? n16 : 0; j < n; ++j) {
            float acc = 0.0f;
            for (kk = 0; kk < k; ++kk) {
                acc += x[i * k + kk] * (float)w[kk * n + j];
            }
            y[i * n + j] = acc * scale[j] + (bias != NULL ? bias[j] : 0.0f);
        }
    }
}
#else
typedef int aot_matmul_w8_neon_f32_needs_aarch64;
#endif
