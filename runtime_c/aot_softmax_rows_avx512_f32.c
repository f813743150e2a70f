/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_vmath_avx512_impl.h"

/*
 * aot_softmax_rows_f32 on 16 columns at a time (the last block masked). The
 * exponentials are aot_expf's bits (aot_v16_expf); the row sum is taken in
 * 16 lanes and then across them, so it differs from the portable kernel's
 * index-order sum by rounding. A NaN anywhere, or a row of only -inf, still
 * makes the whole row NaN (x - max or the sum is NaN).
 */
static inline AOT_VMATH_AVX512 __m512 aot_softmax_rows_load(const float *xr, const float *br,
                                                           int32_t c, __mmask16 m)
{
    const __m512 v = _mm512_maskz_loadu_ps(m, xr + c);
    return br != NULL ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, br + c)) : v;
}

static inline AOT_VMATH_AVX512 __mmask16 aot_softmax_rows_mask(int32_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/* Rows r and r + 1 at once when two == 1 (the second row's work gives the
 * first's long dependency chains -- max, exponentials, sum -- company). */
static inline AOT_VMATH_AVX512 void aot_softmax_rows_avx512_pair(
    const aot_softmax_rows_params *p, const float *x, const float *bias, float *y, int32_t r,
    int two)
{
    const int32_t cols = p->cols;
    const float *x0 = x + r * cols, *x1 = x0 + (two ? cols : 0);
    const float *b0 = bias != NULL ? bias + (r % p->bias_rows) * cols : NULL;
    const float *b1 = bias != NULL ? bias + ((r + two) % p->bias_rows) * cols : NULL;
    float *y0 = y + r * cols, *y1 = y0 + (two ? cols : 0);
    __m512 max0 = _mm512_set1_ps(-AOT_INFINITY), max1 = max0;
    __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
    int32_t c;

    for (c = 0; c < cols; c += 16) {
        const __mmask16 m = aot_softmax_rows_mask(cols - c);
        max0 = _mm512_mask_max_ps(max0, m, max0, aot_softmax_rows_load(x0, b0, c, m));
        max1 = _mm512_mask_max_ps(max1, m, max1, aot_softmax_rows_load(x1, b1, c, m));
    }
    max0 = _mm512_set1_ps(_mm512_reduce_max_ps(max0));
    max1 = _mm512_set1_ps(_mm512_reduce_max_ps(max1));
    for (c = 0; c < cols; c += 16) {
        const __mmask16 m = aot_softmax_rows_mask(cols - c);
        const __m512 e0 = aot_v16_expf(_mm512_sub_ps(aot_softmax_rows_load(x0, b0, c, m), max0));
        const __m512 e1 = aot_v16_expf(_mm512_sub_ps(aot_softmax_rows_load(x1, b1, c, m), max1));
        _mm512_mask_storeu_ps(y0 + c, m, e0);
        _mm512_mask_storeu_ps(y1 + c, m, e1);
        sum0 = _mm512_mask_add_ps(sum0, m, sum0, e0);
        sum1 = _mm512_mask_add_ps(sum1, m, sum1, e1);
    }
    sum0 = _mm512_set1_ps(_mm512_reduce_add_ps(sum0));
    sum1 = _mm512_set1_ps(_mm512_reduce_add_ps(sum1));
    for (c = 0; c < cols; c += 16) {
        const __mmask16 m = aot_softmax_rows_mask(cols - c);
        __m512 v0 = _mm512_div_ps(_mm512_maskz_loadu_ps(m, y0 + c), sum0);
        __m512 v1 = _mm512_div_ps(_mm512_maskz_loadu_ps(m, y1 + c), sum1);
        if (p->replace_nan) {
            const __m512 nan_value = _mm512_set1_ps(p->nan_value);
            v0 = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q), v0, nan_value);
            v1 = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q), v1, nan_value);
        }
        _mm512_mask_storeu_ps(y0 + c, m, v0);
        _mm512_mask_storeu_ps(y1 + c, m, v1);
    }
}

AOT_VMATH_AVX512 void aot_softmax_rows_avx512_f32(const aot_softmax_rows_params *params,
                                                  const float *x, const float *bias, float *y)
{
    int32_t r;

    if (params->cols <= 0) {
        return;
    }
    for (r = 0; r + 2 <= params->rows; r += 2) {
        aot_softmax_rows_avx512_pair(params, x, bias, y, r, 1);
    }
    if (r < params->rows) {
        /* the last row alone: its twin is itself (same reads, same writes) */
        aot_softmax_rows_avx512_pair(params, x, bias, y, r, 0);
    }
}
#else
typedef int aot_softmax_rows_avx512_f32_needs_x86;
#endif
