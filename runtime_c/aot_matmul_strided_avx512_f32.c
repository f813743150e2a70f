/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AOT_MMS_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")))

/*
 * aot_matmul_f32 (bias NULL, no activation) for operands read through any
 * strides -- attention's heads cut out of [tokens][heads * dim] rows, K read
 * transposed -- with AVX-512. Per batch, B is first packed into scratch as
 * [k][n rounded up to 32] (zeros beyond n), so the product runs on
 * contiguous 32-column panels: tiles of 8 rows x 32 columns in sixteen zmm
 * accumulators, A's elements broadcast from wherever its strides put them.
 * Each output is alpha * (fused multiply-adds in k order from 0) in every
 * tile shape, so neither the tiling nor a split by batch changes a bit.
 */
static inline AOT_MMS_AVX512 __mmask16 aot_mms_mask(int32_t left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0
                                                       : (__mmask16)((1u << left) - 1u);
}

static AOT_MMS_AVX512 void aot_mms_pack(const aot_matmul_params *p, const float *b, float *bp,
                                        int32_t n32)
{
    const int32_t n = p->n, k = p->k;
    int32_t kk, j;

    if (p->b_col_stride == 1) {
        for (kk = 0; kk < k; ++kk) {
            const float *src = b + kk * p->b_k_stride;
            float *dst = bp + kk * n32;
            for (j = 0; j < n32; j += 16) {
                _mm512_storeu_ps(dst + j, _mm512_maskz_loadu_ps(aot_mms_mask(n - j), src + j));
            }
        }
        return;
    }
    /* B read down its columns (a transposed operand): walk each column's run */
    for (j = 0; j < n; ++j) {
        const float *src = b + j * p->b_col_stride;
        for (kk = 0; kk < k; ++kk) {
            bp[kk * n32 + j] = src[kk * p->b_k_stride];
        }
    }
    for (kk = 0; kk < k; ++kk) {
        for (j = n; j < n32; ++j) {
            bp[kk * n32 + j] = 0.0f;
        }
    }
}

#define AOT_MMS_ROW(r)                                                              \
    {                                                                               \
        const __m512 av = _mm512_set1_ps(ar[(r) * ars]);                            \
        c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                                 \
        c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                                 \
    }
#define AOT_MMS_STORE(r)                                                            \
    _mm512_mask_storeu_ps(y + (r) * n, m0, _mm512_mul_ps(alpha, c##r##0));          \
    _mm512_mask_storeu_ps(y + (r) * n + 16, m1, _mm512_mul_ps(alpha, c##r##1))

/* Rows i..i+7 of one 32-column panel; y points at (i, j). */
static AOT_MMS_AVX512 void aot_mms_tile8(const aot_matmul_params *p, const float *a,
                                         const float *bp, int32_t n32, float *y, int32_t j)
{
    const int32_t n = p->n, ars = p->a_row_stride, aks = p->a_k_stride;
    const __mmask16 m0 = aot_mms_mask(n - j), m1 = aot_mms_mask(n - j - 16);
    const __m512 alpha = _mm512_set1_ps(p->alpha);
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    __m512 c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    int32_t kk;

    for (kk = 0; kk < p->k; ++kk) {
        const float *ar = a + kk * aks;
        const __m512 b0 = _mm512_loadu_ps(bp + kk * n32 + j);
        const __m512 b1 = _mm512_loadu_ps(bp + kk * n32 + j + 16);
        AOT_MMS_ROW(0) AOT_MMS_ROW(1) AOT_MMS_ROW(2) AOT_MMS_ROW(3)
        AOT_MMS_ROW(4) AOT_MMS_ROW(5) AOT_MMS_ROW(6) AOT_MMS_ROW(7)
    }
    AOT_MMS_STORE(0); AOT_MMS_STORE(1); AOT_MMS_STORE(2); AOT_MMS_STORE(3);
    AOT_MMS_STORE(4); AOT_MMS_STORE(5); AOT_MMS_STORE(6); AOT_MMS_STORE(7);
}

/* One row of one 32-column panel (the rows below the last whole 8). */
static AOT_MMS_AVX512 void aot_mms_tile1(const aot_matmul_params *p, const float *a,
                                         const float *bp, int32_t n32, float *y, int32_t j)
{
    const int32_t n = p->n, ars = p->a_row_stride, aks = p->a_k_stride;
    const __mmask16 m0 = aot_mms_mask(n - j), m1 = aot_mms_mask(n - j - 16);
    const __m512 alpha = _mm512_set1_ps(p->alpha);
    __m512 c00 = _mm512_setzero_ps(), c01 = c00;
    int32_t kk;

    for (kk = 0; kk < p->k; ++kk) {
        const float *ar = a + kk * aks;
        const __m512 b0 = _mm512_loadu_ps(bp + kk * n32 + j);
        const __m512 b1 = _mm512_loadu_ps(bp + kk * n32 + j + 16);
        AOT_MMS_ROW(0)
    }
    AOT_MMS_STORE(0);
}

AOT_MMS_AVX512 void aot_matmul_strided_avx512_f32(const aot_matmul_params *params,
                                                  const float *a, const float *b,
                                                  const float *bias, float *y, void *scratch)
{
    const aot_matmul_params *p = params;
    const int32_t m = p->m, n = p->n, n32 = (n + 31) / 32 * 32;
    float *bp = (float *)scratch;
    int32_t bt, i, j;

    (void)bias;
    for (bt = 0; bt < p->batch; ++bt) {
        const float *a_b = a + (p->a_offsets != NULL ? p->a_offsets[bt] : 0);
        float *y_b = y + bt * m * n;

        aot_mms_pack(p, b + (p->b_offsets != NULL ? p->b_offsets[bt] : 0), bp, n32);
        for (j = 0; j < n; j += 32) {
            for (i = 0; i + 8 <= m; i += 8) {
                aot_mms_tile8(p, a_b + i * p->a_row_stride, bp, n32, y_b + i * n + j, j);
            }
            for (; i < m; ++i) {
                aot_mms_tile1(p, a_b + i * p->a_row_stride, bp, n32, y_b + i * n + j, j);
            }
        }
    }
}
#else
typedef int aot_matmul_strided_avx512_f32_needs_x86;
#endif
