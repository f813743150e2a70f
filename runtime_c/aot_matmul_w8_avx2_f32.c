/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Compiled for AVX2 + FMA whatever -march says; the lowering rule
 * (targets/rules_transformer.py) picks it only on targets that have them. */
#define AOT_W8_AVX2 __attribute__((target("avx2,fma")))

/*
 * aot_matmul_w8_f32 with 4 x 16 output tiles held in eight ymm accumulators:
 * per k, 16 int8 weights are widened to two float vectors and each of the
 * four rows' x[k] is broadcast into two fused multiply-adds. Columns outer,
 * so one column block of W (k x 16 bytes) stays in L1 for every row block.
 * Tiles at the right or bottom edge run in scalar code. Uses FMA, so results
 * differ from aot_matmul_w8_f32 by rounding (sums in the same k order).
 */
static AOT_W8_AVX2 void aot_w8_avx2_tile(const float *x, const int8_t *w, const float *scale,
                                         const float *bias, float *y, int32_t n, int32_t k,
                                         int32_t j)
{
    __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps();
    __m256 a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps();
    __m256 a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
    __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
    __m256 s0, s1, b0, b1;
    int32_t kk;

    for (kk = 0; kk < k; ++kk) {
        const __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(w + kk * n + j));
        const __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
        const __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
        __m256 v = _mm256_broadcast_ss(x + kk);
        a00 = _mm256_fmadd_ps(v, w0, a00);
        a01 = _mm256_fmadd_ps(v, w1, a01);
        v = _mm256_broadcast_ss(x + k + kk);
        a10 = _mm256_fmadd_ps(v, w0, a10);
        a11 = _mm256_fmadd_ps(v, w1, a11);
        v = _mm256_broadcast_ss(x + 2 * k + kk);
        a20 = _mm256_fmadd_ps(v, w0, a20);
        a21 = _mm256_fmadd_ps(v, w1, a21);
        v = _mm256_broadcast_ss(x + 3 * k + kk);
        a30 = _mm256_fmadd_ps(v, w0, a30);
        a31 = _mm256_fmadd_ps(v, w1, a31);
    }
    s0 = _mm256_loadu_ps(scale + j);
    s1 = _mm256_loadu_ps(scale + j + 8);
    b0 = bias != NULL ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
    b1 = bias != NULL ? _mm256_loadu_ps(bias + j + 8) : _mm256_setzero_ps();
    _mm256_storeu_ps(y + j, _mm256_fmadd_ps(a00, s0, b0));
    _mm256_storeu_ps(y + j + 8, _mm256_fmadd_ps(a01, s1, b1));
    _mm256_storeu_ps(y + n + j, _mm256_fmadd_ps(a10, s0, b0));
    _mm256_storeu_ps(y + n + j + 8, _mm256_fmadd_ps(a11, s1, b1));
    _mm256_storeu_ps(y + 2 * n + j, _mm256_fmadd_ps(a20, s0, b0));
    _mm256_storeu_ps(y + 2 * n + j + 8, _mm256_fmadd_ps(a21, s1, b1));
    _mm256_storeu_ps(y + 3 * n + j, _mm256_fmadd_ps(a30, s0, b0));
    _mm256_storeu_ps(y + 3 * n + j + 8, _mm256_fmadd_ps(a31, s1, b1));
}

/* One output element in scalar code (edge tiles). */
static float aot_w8_avx2_dot(const float *xr, const int8_t *w, int32_t n, int32_t k, int32_t j)
{
    float acc = 0.0f;
    int32_t kk;
    for (kk = 0; kk < k; ++kk) {
        acc += xr[kk] * (float)w[kk * n + j];
    }
    return acc;
}

AOT_W8_AVX2 void aot_matmul_w8_avx2_f32(const aot_matmul_w8_params *params, const float *x,
                                        const int8_t *w, const float *scale,
                                        const float *bias, float *y)
{
    const int32_t m = params->m, n = params->n, k = params->k;
    const int32_t m4 = m - m % 4, n16 = n - n % 16;
    int32_t i, j;

    for (j = 0; j < n16; j += 16) {
        for (i = 0; i < m4; i += 4) {
            aot_w8_avx2_tile(x + i * k, w, scale, bias, y + i * n, n, k, j);
        }
    }
    for (i = 0; i < m; ++i) {
        for (j = i < m4 ? n16 : 0; j < n; ++j) {
            y[i * n + j] = aot_w8_avx2_dot(x + i * k, w, n, k, j) * scale[j] +
                           (bias != NULL ? bias[j] : 0.0f);
        }
    }
}
#else
typedef int aot_matmul_w8_avx2_f32_needs_x86;
#endif
