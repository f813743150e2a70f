/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Compiled for AVX2 + FMA whatever -march says; the lowering rule
 * (targets/rules_transformer.py) picks it only on targets that have them. */
#define AOT_W8_AVX2 __attribute__((target("avx2,fma")))

/*
 * aot_matmul_w8_f32 on panels of 16 columns, with w re-laid out by the
 * lowering rule as [ceil(n / 16)][k][16] (zero padded): each panel is one
 * contiguous run of k * 16 bytes. Per k, the panel's 16 int8 weights are
 * widened to two float vectors once and used by 6 rows (12 ymm accumulators),
 * so the widening costs 4 instructions per 12 fused multiply-adds. Columns
 * outer, so one panel stays in cache while every row block streams past.
 * Rows left over run one at a time, the columns past n with masked scale,
 * bias and output. Every output is the same sequence of fused multiply-adds
 * (k ascending from 0, then acc * scale + bias fused) in every tile shape, so
 * neither the tiling nor a split by rows changes a bit; results differ from
 * aot_matmul_w8_f32 by that fusing only.
 */
static inline AOT_W8_AVX2 __m256i aot_w8_avx2_mask(int32_t left)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
}

#define AOT_W8_ROW(r)                                                               \
    {                                                                               \
        const __m256 v = _mm256_broadcast_ss(x + (r) * k + kk);                     \
        c##r##0 = _mm256_fmadd_ps(v, w0, c##r##0);                                  \
        c##r##1 = _mm256_fmadd_ps(v, w1, c##r##1);                                  \
    }
#define AOT_W8_STORE(r)                                                             \
    _mm256_maskstore_ps(y + (r) * n, m0, _mm256_fmadd_ps(c##r##0, s0, b0));         \
    _mm256_maskstore_ps(y + (r) * n + 8, m1, _mm256_fmadd_ps(c##r##1, s1, b1))
#define AOT_W8_TILE_BEGIN                                                           \
    const __m256i m0 = aot_w8_avx2_mask(n - j), m1 = aot_w8_avx2_mask(n - j - 8);   \
    const __m256 s0 = _mm256_maskload_ps(scale + j, m0);                            \
    const __m256 s1 = _mm256_maskload_ps(scale + j + 8, m1);                        \
    const __m256 b0 = bias != NULL ? _mm256_maskload_ps(bias + j, m0) : _mm256_setzero_ps(); \
    const __m256 b1 = bias != NULL ? _mm256_maskload_ps(bias + j + 8, m1) : _mm256_setzero_ps(); \
    const int8_t *wp = w + (j / 16) * k * 16;                                       \
    int32_t kk
#define AOT_W8_K_BEGIN                                                              \
    for (kk = 0; kk < k; ++kk) {                                                    \
        const __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(wp + kk * 16)); \
        const __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));              \
        const __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
#define AOT_W8_K_END }

/* Rows 0..5 (x and y point at the first) of the panel at column j. */
static AOT_W8_AVX2 void aot_w8_avx2_tile6(const float *x, const int8_t *w, const float *scale,
                                          const float *bias, float *y, int32_t n, int32_t k,
                                          int32_t j)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    AOT_W8_TILE_BEGIN;
    AOT_W8_K_BEGIN
        AOT_W8_ROW(0) AOT_W8_ROW(1) AOT_W8_ROW(2) AOT_W8_ROW(3) AOT_W8_ROW(4) AOT_W8_ROW(5)
    AOT_W8_K_END
    AOT_W8_STORE(0); AOT_W8_STORE(1); AOT_W8_STORE(2); AOT_W8_STORE(3);
    AOT_W8_STORE(4); AOT_W8_STORE(5);
}

static AOT_W8_AVX2 void aot_w8_avx2_tile1(const float *x, const int8_t *w, const float *scale,
                                          const float *bias, float *y, int32_t n, int32_t k,
                                          int32_t j)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00;
    AOT_W8_TILE_BEGIN;
    AOT_W8_K_BEGIN
        AOT_W8_ROW(0)
    AOT_W8_K_END
    AOT_W8_STORE(0);
}

AOT_W8_AVX2 void aot_matmul_w8_avx2_f32(const aot_matmul_w8_params *params, const float *x,
                                        const int8_t *w, const float *scale,
                                        const float *bias, float *y)
{
    const int32_t m = params->m, n = params->n, k = params->k;
    int32_t i, j;

    for (j = 0; j < n; j += 16) {
        for (i = 0; i + 6 <= m; i += 6) {
            aot_w8_avx2_tile6(x + i * k, w, scale, bias, y + i * n + j, n, k, j);
        }
        for (; i < m; ++i) {
            aot_w8_avx2_tile1(x + i * k, w, scale, bias, y + i * n + j, n, k, j);
        }
    }
}
#else
typedef int aot_matmul_w8_avx2_f32_needs_x86;
#endif
