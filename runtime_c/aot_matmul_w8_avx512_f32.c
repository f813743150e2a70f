/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Compiled for AVX-512 F/BW/VL whatever -march says; the lowering rule
 * (targets/rules_transformer.py) picks it only on targets that have them. */
#define AOT_W8_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl")))

/*
 * aot_matmul_w8_f32 on panels of 32 columns, with w re-laid out by the
 * lowering rule as [ceil(n / 32)][k][32] (zero padded): each panel is one
 * contiguous run of k * 32 bytes, so streaming the weights in from memory
 * uses whole cache lines in order. Per k, the panel's 32 int8 weights are
 * widened to two float vectors once and used by 12 rows (24 zmm
 * accumulators), so the widening costs 4 instructions per 24 fused
 * multiply-adds. Columns outer, so one panel stays in cache while every row
 * block streams past. Rows left over run in tiles of 4 and 1, the columns
 * past n with masked scale, bias and output.
 * Every output is the same sequence of fused multiply-adds (k ascending from
 * 0, then acc * scale + bias fused) in every tile shape, so neither the
 * tiling nor a split by rows changes a bit; results differ from
 * aot_matmul_w8_f32 by that fusing only.
 */
static inline AOT_W8_AVX512 __mmask16 aot_w8_avx512_mask(int32_t left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0
                                                       : (__mmask16)((1u << left) - 1u);
}

static inline AOT_W8_AVX512 __m512 aot_w8_avx512_widen(const int8_t *w)
{
    const __m128i q = _mm_loadu_si128((const __m128i *)(const void *)w);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
}

#define AOT_W8_ROW(r)                                                               \
    {                                                                               \
        const __m512 v = _mm512_set1_ps(xk[(r) * k]);                               \
        c##r##0 = _mm512_fmadd_ps(v, w0, c##r##0);                                  \
        c##r##1 = _mm512_fmadd_ps(v, w1, c##r##1);                                  \
    }
#define AOT_W8_STORE(r)                                                             \
    _mm512_mask_storeu_ps(y + (r) * n, m0, _mm512_fmadd_ps(c##r##0, s0, b0));       \
    _mm512_mask_storeu_ps(y + (r) * n + 16, m1, _mm512_fmadd_ps(c##r##1, s1, b1))
#define AOT_W8_TILE_BEGIN                                                           \
    const __mmask16 m0 = aot_w8_avx512_mask(n - j), m1 = aot_w8_avx512_mask(n - j - 16); \
    const __m512 s0 = _mm512_maskz_loadu_ps(m0, scale + j);                         \
    const __m512 s1 = _mm512_maskz_loadu_ps(m1, scale + j + 16);                    \
    const __m512 b0 = bias != NULL ? _mm512_maskz_loadu_ps(m0, bias + j)             \
                                   : _mm512_setzero_ps();                           \
    const __m512 b1 = bias != NULL ? _mm512_maskz_loadu_ps(m1, bias + j + 16)        \
                                   : _mm512_setzero_ps();                           \
    const int8_t *wp = w + (j / 32) * k * 32;                                       \
    int32_t kk
#define AOT_W8_K_BEGIN                                                              \
    for (kk = 0; kk < k; ++kk) {                                                    \
        const float *xk = x + kk;                                                   \
        const __m512 w0 = aot_w8_avx512_widen(wp + kk * 32);                        \
        const __m512 w1 = aot_w8_avx512_widen(wp + kk * 32 + 16);
#define AOT_W8_K_END }

/* Rows 0..11 (x and y point at the first) of the panel at column j. */
static AOT_W8_AVX512 void aot_w8_avx512_tile12(const float *x, const int8_t *w,
                                               const float *scale, const float *bias,
                                               float *y, int32_t n, int32_t k, int32_t j)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00;
    __m512 c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;
    AOT_W8_TILE_BEGIN;
    AOT_W8_K_BEGIN
        AOT_W8_ROW(0) AOT_W8_ROW(1) AOT_W8_ROW(2) AOT_W8_ROW(3)
        AOT_W8_ROW(4) AOT_W8_ROW(5) AOT_W8_ROW(6) AOT_W8_ROW(7)
        AOT_W8_ROW(8) AOT_W8_ROW(9) AOT_W8_ROW(10) AOT_W8_ROW(11)
    AOT_W8_K_END
    AOT_W8_STORE(0); AOT_W8_STORE(1); AOT_W8_STORE(2); AOT_W8_STORE(3);
    AOT_W8_STORE(4); AOT_W8_STORE(5); AOT_W8_STORE(6); AOT_W8_STORE(7);
    AOT_W8_STORE(8); AOT_W8_STORE(9); AOT_W8_STORE(10); AOT_W8_STORE(11);
}

static AOT_W8_AVX512 void aot_w8_avx512_tile4(const float *x, const int8_t *w,
                                              const float *scale, const float *bias,
                                              float *y, int32_t n, int32_t k, int32_t j)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00;
    AOT_W8_TILE_BEGIN;
    AOT_W8_K_BEGIN
        AOT_W8_ROW(0) AOT_W8_ROW(1) AOT_W8_ROW(2) AOT_W8_ROW(3)
    AOT_W8_K_END
    AOT_W8_STORE(0); AOT_W8_STORE(1); AOT_W8_STORE(2); AOT_W8_STORE(3);
}

static AOT_W8_AVX512 void aot_w8_avx512_tile1(const float *x, const int8_t *w,
                                              const float *scale, const float *bias,
                                              float *y, int32_t n, int32_t k, int32_t j)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00;
    AOT_W8_TILE_BEGIN;
    AOT_W8_K_BEGIN
        AOT_W8_ROW(0)
    AOT_W8_K_END
    AOT_W8_STORE(0);
}

AOT_W8_AVX512 void aot_matmul_w8_avx512_f32(const aot_matmul_w8_params *params,
                                            const float *x, const int8_t *w,
                                            const float *scale, const float *bias, float *y)
{
    const int32_t m = params->m, n = params->n, k = params->k;
    int32_t i, j;

    for (j = 0; j < n; j += 32) {
        for (i = 0; i + 12 <= m; i += 12) {
            aot_w8_avx512_tile12(x + i * k, w, scale, bias, y + i * n + j, n, k, j);
        }
        for (; i + 4 <= m; i += 4) {
            aot_w8_avx512_tile4(x + i * k, w, scale, bias, y + i * n + j, n, k, j);
        }
        for (; i < m; ++i) {
            aot_w8_avx512_tile1(x + i * k, w, scale, bias, y + i * n + j, n, k, j);
        }
    }
}
#else
typedef int aot_matmul_w8_avx512_f32_needs_x86;
#endif
