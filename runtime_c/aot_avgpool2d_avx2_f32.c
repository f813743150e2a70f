/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_window_impl.h"

/* acc plus the n floats at x in 8 lanes; four sums in flight on long runs
 * (whole planes), the tail a masked load: nothing past x + n is read. */
AOT_X86_INLINE AOT_AVX2 __m256 aot_v8_sum_run(__m256 acc, const float *x, int32_t n)
{
    int32_t j = 0;
    if (n >= 32) {
        __m256 s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        for (; j + 32 <= n; j += 32) {
            acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + j));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + j + 8));
            s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + j + 16));
            s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + j + 24));
        }
        acc = _mm256_add_ps(_mm256_add_ps(acc, s1), _mm256_add_ps(s2, s3));
    }
    for (; j + 8 <= n; j += 8) {
        acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + j));
    }
    if (j < n) {
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        acc = _mm256_add_ps(acc, _mm256_maskload_ps(
                                     x + j, _mm256_cmpgt_epi32(_mm256_set1_epi32(n - j), lanes)));
    }
    return acc;
}

AOT_X86_INLINE AOT_AVX2 float aot_v8_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* The mean of one window: aot_avgpool2d_avx512_f32's scheme on 8 lanes. */
AOT_X86_INLINE AOT_AVX2 float aot_avgpool2d_avx2_window(const aot_pool2d_params *p,
                                                        const float *x_c,
                                                        const aot_pool_window *w)
{
    const int32_t n = w->kx_end - w->kx_begin;
    __m256 acc = _mm256_setzero_ps();
    int32_t ky, kx;
    if (p->dilation_w != 1) {
        float sum = 0.0f;
        for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
            const int32_t row = (w->iy0 + ky * p->dilation_h) * p->in_w + w->ix0;
            for (kx = w->kx_begin; kx < w->kx_end; ++kx) {
                sum += x_c[row + kx * p->dilation_w];
            }
        }
        return sum / (float)(w->rows * w->cols);
    }
    if (n == p->in_w && p->dilation_h == 1) {
        acc = aot_v8_sum_run(acc, x_c + (w->iy0 + w->ky_begin) * p->in_w,
                             (w->ky_end - w->ky_begin) * n);
    } else {
        for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
            acc = aot_v8_sum_run(
                acc, x_c + (w->iy0 + ky * p->dilation_h) * p->in_w + w->ix0 + w->kx_begin, n);
        }
    }
    return aot_v8_hsum(acc) / (float)(w->rows * w->cols);
}

AOT_AVX2 void aot_avgpool2d_avx2_f32(const aot_pool2d_params *params, const float *x, float *y)
{
    AOT_POOL2D_BODY(params, x, y, float, params->count_include_pad,
                    aot_avgpool2d_avx2_window, params);
}
#else
typedef int aot_avgpool2d_avx2_f32_needs_x86;
#endif
