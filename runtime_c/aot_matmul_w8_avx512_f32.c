/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Compiled for AVX-512 F/BW/VL whatever -march says; the lowering rule
 * (targets/rules_transformer.py) picks it only on targets that have them. */
#define AOT_W8_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl")))

/*
 * aot_matmul_w8_f32 with 4 x 32 output tiles held in eight zmm accumulators:
 * per k, 32 int8 weights are widened to two float vectors and each of the
 * four rows' x[k] is broadcast into two fused multiply-adds. Columns outer,
 * so one column block of W (k x 32 bytes) stays in L1 for every row block.
 * Tiles at the right or bottom edge run in scalar code. Uses FMA, so results
 * differ from aot_matmul_w8_f32 by rounding (sums in the same k order).
 */
static AOT_W8_AVX512 void aot_w8_avx512_tile(const float *x, const int8_t *w,
                                             const float *scale, const float *bias, float *y,
                                             int32_t n, int32_t k, int32_t j)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps();
    __m512 a10 = _mm512_setzero_ps(), a11 = _mm512_setzero_ps();
    __m512 a20 = _mm512_setzero_ps(), a21 = _mm512_setzero_ps();
    __m512 a30 = _mm512_setzero_ps(), a31 = _mm512_setzero_ps();
    __m512 s0, s1, b0, b1;
    int32_t kk;

    for (kk = 0; kk < k; ++kk) {
        const int8_t *wr = w + kk * n + j;
        const __m512 w0 = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)wr)));
        const __m512 w1 = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(wr + 16))));
        __m512 v = _mm512_set1_ps(x[kk]);
        a00 = _mm512_fmadd_ps(v, w0, a00);
        a01 = _mm512_fmadd_ps(v, w1, a01);
        v = _mm512_set1_ps(x[k + kk]);
        a10 = _mm512_fmadd_ps(v, w0, a10);
        a11 = _mm512_fmadd_ps(v, w1, a11);
        v = _mm512_set1_ps(x[2 * k + kk]);
        a20 = _mm512_fmadd_ps(v, w0, a20);
        a21 = _mm512_fmadd_ps(v, w1, a21);
        v = _mm512_set1_ps(x[3 * k + kk]);
        a30 = _mm512_fmadd_ps(v, w0, a30);
        a31 = _mm512_fmadd_ps(v, w1, a31);
    }
    s0 = _mm512_loadu_ps(scale + j);
    s1 = _mm512_loadu_ps(scale + j + 16);
    b0 = bias != NULL ? _mm512_loadu_ps(bias + j) : _mm512_setzero_ps();
    b1 = bias != NULL ? _mm512_loadu_ps(bias + j + 16) : _mm512_setzero_ps();
    _mm512_storeu_ps(y + j, _mm512_fmadd_ps(a00, s0, b0));
    _mm512_storeu_ps(y + j + 16, _mm512_fmadd_ps(a01, s1, b1));
    _mm512_storeu_ps(y + n + j, _mm512_fmadd_ps(a10, s0, b0));
    _mm512_storeu_ps(y + n + j + 16, _mm512_fmadd_ps(a11, s1, b1));
    _mm512_storeu_ps(y + 2 * n + j, _mm512_fmadd_ps(a20, s0, b0));
    _mm512_storeu_ps(y + 2 * n + j + 16, _mm512_fmadd_ps(a21, s1, b1));
    _mm512_storeu_ps(y + 3 * n + j, _mm512_fmadd_ps(a30, s0, b0));
    _mm512_storeu_ps(y + 3 * n + j + 16, _mm512_fmadd_ps(a31, s1, b1));
}

/* One output element in scalar code (edge tiles). */
static float aot_w8_avx512_dot(const float *xr, const int8_t *w, int32_t n, int32_t k, int32_t j)
{
    float acc = 0.0f;
    int32_t kk;
    for (kk = 0; kk < k; ++kk) {
        acc += xr[kk] * (float)w[kk * n + j];
    }
    return acc;
}

AOT_W8_AVX512 void aot_matmul_w8_avx512_f32(const aot_matmul_w8_params *params,
                                            const float *x, const int8_t *w,
                                            const float *scale, const float *bias, float *y)
{
    const int32_t m = params->m, n = params->n, k = params->k;
    const int32_t m4 = m - m % 4, n32 = n - n % 32;
    int32_t i, j;

    for (j = 0; j < n32; j += 32) {
        for (i = 0; i < m4; i += 4) {
            aot_w8_avx512_tile(x + i * k, w, scale, bias, y + i * n, n, k, j);
        }
    }
    for (i = 0; i < m; ++i) {
        for (j = i < m4 ? n32 : 0; j < n; ++j) {
            y[i * n + j] = aot_w8_avx512_dot(x + i * k, w, n, k, j) * scale[j] +
                           (bias != NULL ? bias[j] : 0.0f);
        }
    }
}
#else
typedef int aot_matmul_w8_avx512_f32_needs_x86;
#endif
