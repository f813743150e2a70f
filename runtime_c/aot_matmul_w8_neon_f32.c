/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

/*
 * aot_matmul_w8_f32 on panels of 8 columns, with w re-laid out by the
 * lowering rule as [ceil(n / 8)][k][8] (zero padded): a panel is one
 * contiguous run, 32 bytes per 4 k. Tiles of 8 rows x 8 columns in sixteen
 * q-register accumulators: per k the panel's 8 weights are widened to two
 * float vectors once for all 8 rows, and each row's x is loaded 4 k at a time
 * and used lane by lane (FMLA by element). Rows left over run one at a time,
 * k % 4 one step at a time, the columns past n through a local buffer. Every
 * output is the same sequence of fused multiply-adds (k ascending from 0,
 * then bias + acc * scale fused) in every tile shape, so neither the tiling
 * nor a split by rows changes a bit; results differ from aot_matmul_w8_f32
 * by that fusing only.
 */
#define W8_NEON_WIDEN(lo16, w0, w1)                                             \
    const float32x4_t w0 = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo16)));        \
    const float32x4_t w1 = vcvtq_f32_s32(vmovl_high_s16(lo16))

#define W8_NEON_FMA(r, w0, w1, lane)                                            \
    a##r##0 = vfmaq_laneq_f32(a##r##0, w0, x##r, lane);                         \
    a##r##1 = vfmaq_laneq_f32(a##r##1, w1, x##r, lane)

#define W8_NEON_STORE(r)                                                        \
    w8_neon_store(y + (r) * n, cols, vfmaq_f32(b0, a##r##0, s0), vfmaq_f32(b1, a##r##1, s1))

static inline void w8_neon_store(float *y, int32_t cols, float32x4_t v0, float32x4_t v1)
{
    if (cols >= 8) {
        vst1q_f32(y, v0);
        vst1q_f32(y + 4, v1);
    } else {
        float t[8];
        int32_t c;
        vst1q_f32(t, v0);
        vst1q_f32(t + 4, v1);
        for (c = 0; c < cols; ++c) {
            y[c] = t[c];
        }
    }
}

static inline void w8_neon_affine(const float *scale, const float *bias, int32_t cols,
                                  float32x4_t *s0, float32x4_t *s1, float32x4_t *b0,
                                  float32x4_t *b1)
{
    float s[8], b[8];
    int32_t c;
    /* no initializer: gcc may make one a call to libc's memset */
    for (c = 0; c < 8; ++c) {
        s[c] = c < cols ? scale[c] : 0.0f;
        b[c] = c < cols && bias != NULL ? bias[c] : 0.0f;
    }
    *s0 = vld1q_f32(s);
    *s1 = vld1q_f32(s + 4);
    *b0 = vld1q_f32(b);
    *b1 = vld1q_f32(b + 4);
}

/* Rows 0..7 (x and y point at the first) of the panel wp; cols of it are real. */
static void aot_w8_neon_tile8(const float *x, const int8_t *wp, const float *scale,
                              const float *bias, float *y, int32_t n, int32_t k, int32_t cols)
{
    const float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
    float32x4_t a40 = z, a41 = z, a50 = z, a51 = z, a60 = z, a61 = z, a70 = z, a71 = z;
    float32x4_t s0, s1, b0, b1;
    int32_t kk = 0;

    for (; kk + 4 <= k; kk += 4) {
        const int8x16_t q01 = vld1q_s8(wp + kk * 8), q23 = vld1q_s8(wp + kk * 8 + 16);
        const int16x8_t h0 = vmovl_s8(vget_low_s8(q01)), h1 = vmovl_high_s8(q01);
        const int16x8_t h2 = vmovl_s8(vget_low_s8(q23)), h3 = vmovl_high_s8(q23);
        const float32x4_t x0 = vld1q_f32(x + kk), x1 = vld1q_f32(x + k + kk);
        const float32x4_t x2 = vld1q_f32(x + 2 * k + kk), x3 = vld1q_f32(x + 3 * k + kk);
        const float32x4_t x4 = vld1q_f32(x + 4 * k + kk), x5 = vld1q_f32(x + 5 * k + kk);
        const float32x4_t x6 = vld1q_f32(x + 6 * k + kk), x7 = vld1q_f32(x + 7 * k + kk);
        {
            W8_NEON_WIDEN(h0, w0, w1);
            W8_NEON_FMA(0, w0, w1, 0); W8_NEON_FMA(1, w0, w1, 0); W8_NEON_FMA(2, w0, w1, 0);
            W8_NEON_FMA(3, w0, w1, 0); W8_NEON_FMA(4, w0, w1, 0); W8_NEON_FMA(5, w0, w1, 0);
            W8_NEON_FMA(6, w0, w1, 0); W8_NEON_FMA(7, w0, w1, 0);
        }
        {
            W8_NEON_WIDEN(h1, w0, w1);
            W8_NEON_FMA(0, w0, w1, 1); W8_NEON_FMA(1, w0, w1, 1); W8_NEON_FMA(2, w0, w1, 1);
            W8_NEON_FMA(3, w0, w1, 1); W8_NEON_FMA(4, w0, w1, 1); W8_NEON_FMA(5, w0, w1, 1);
            W8_NEON_FMA(6, w0, w1, 1); W8_NEON_FMA(7, w0, w1, 1);
        }
        {
            W8_NEON_WIDEN(h2, w0, w1);
            W8_NEON_FMA(0, w0, w1, 2); W8_NEON_FMA(1, w0, w1, 2); W8_NEON_FMA(2, w0, w1, 2);
            W8_NEON_FMA(3, w0, w1, 2); W8_NEON_FMA(4, w0, w1, 2); W8_NEON_FMA(5, w0, w1, 2);
            W8_NEON_FMA(6, w0, w1, 2); W8_NEON_FMA(7, w0, w1, 2);
        }
        {
            W8_NEON_WIDEN(h3, w0, w1);
            W8_NEON_FMA(0, w0, w1, 3); W8_NEON_FMA(1, w0, w1, 3); W8_NEON_FMA(2, w0, w1, 3);
            W8_NEON_FMA(3, w0, w1, 3); W8_NEON_FMA(4, w0, w1, 3); W8_NEON_FMA(5, w0, w1, 3);
            W8_NEON_FMA(6, w0, w1, 3); W8_NEON_FMA(7, w0, w1, 3);
        }
    }
    for (; kk < k; ++kk) {
        const int16x8_t h = vmovl_s8(vld1_s8(wp + kk * 8));
        const float32x4_t x0 = vdupq_n_f32(x[kk]), x1 = vdupq_n_f32(x[k + kk]);
        const float32x4_t x2 = vdupq_n_f32(x[2 * k + kk]), x3 = vdupq_n_f32(x[3 * k + kk]);
        const float32x4_t x4 = vdupq_n_f32(x[4 * k + kk]), x5 = vdupq_n_f32(x[5 * k + kk]);
        const float32x4_t x6 = vdupq_n_f32(x[6 * k + kk]), x7 = vdupq_n_f32(x[7 * k + kk]);
        W8_NEON_WIDEN(h, w0, w1);
        W8_NEON_FMA(0, w0, w1, 0); W8_NEON_FMA(1, w0, w1, 0); W8_NEON_FMA(2, w0, w1, 0);
        W8_NEON_FMA(3, w0, w1, 0); W8_NEON_FMA(4, w0, w1, 0); W8_NEON_FMA(5, w0, w1, 0);
        W8_NEON_FMA(6, w0, w1, 0); W8_NEON_FMA(7, w0, w1, 0);
    }
    w8_neon_affine(scale, bias, cols, &s0, &s1, &b0, &b1);
    W8_NEON_STORE(0); W8_NEON_STORE(1); W8_NEON_STORE(2); W8_NEON_STORE(3);
    W8_NEON_STORE(4); W8_NEON_STORE(5); W8_NEON_STORE(6); W8_NEON_STORE(7);
}

/* One row of the panel wp. */
static void aot_w8_neon_tile1(const float *x, const int8_t *wp, const float *scale,
                              const float *bias, float *y, int32_t n, int32_t k, int32_t cols)
{
    float32x4_t a00 = vdupq_n_f32(0.0f), a01 = a00, s0, s1, b0, b1;
    int32_t kk;

    for (kk = 0; kk < k; ++kk) {
        const int16x8_t h = vmovl_s8(vld1_s8(wp + kk * 8));
        const float32x4_t x0 = vdupq_n_f32(x[kk]);
        W8_NEON_WIDEN(h, w0, w1);
        W8_NEON_FMA(0, w0, w1, 0);
    }
    w8_neon_affine(scale, bias, cols, &s0, &s1, &b0, &b1);
    (void)n;
    W8_NEON_STORE(0);
}

void aot_matmul_w8_neon_f32(const aot_matmul_w8_params *params, const float *x,
                            const int8_t *w, const float *scale, const float *bias, float *y)
{
    const int32_t m = params->m, n = params->n, k = params->k;
    int32_t i, j;

    for (j = 0; j < n; j += 8) {
        const int8_t *wp = w + (j / 8) * k * 8;
        const int32_t cols = n - j;
        for (i = 0; i + 8 <= m; i += 8) {
            aot_w8_neon_tile8(x + i * k, wp, scale + j, bias != NULL ? bias + j : NULL,
                              y + i * n + j, n, k, cols);
        }
        for (; i < m; ++i) {
            aot_w8_neon_tile1(x + i * k, wp, scale + j, bias != NULL ? bias + j : NULL,
                              y + i * n + j, n, k, cols);
        }
    }
}
#else
typedef int aot_matmul_w8_neon_f32_needs_aarch64;
#endif
