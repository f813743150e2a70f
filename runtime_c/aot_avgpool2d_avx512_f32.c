/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_window_impl.h"

/* acc plus the n floats at x in 16 lanes; four sums in flight on long runs
 * (whole planes), the tail masked: nothing past x + n is read. */
AOT_X86_INLINE AOT_AVX512 __m512 aot_v16_sum_run(__m512 acc, const float *x, int32_t n)
{
    int32_t j = 0;
    if (n >= 64) {
        __m512 s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        for (; j + 64 <= n; j += 64) {
            acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + j));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + j + 16));
            s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + j + 32));
            s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + j + 48));
        }
        acc = _mm512_add_ps(_mm512_add_ps(acc, s1), _mm512_add_ps(s2, s3));
    }
    for (; j + 16 <= n; j += 16) {
        acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + j));
    }
    if (j < n) {
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - j)) - 1u), x + j));
    }
    return acc;
}

/*
 * The mean of one window, as aot_avgpool2d_f32 (same taps, same divisor) but
 * summed in 16 lanes: each kernel row's taps are a contiguous run, and a window
 * spanning whole input rows (global pooling) is one run. The lanes change the
 * order of the additions, so results differ from the portable kernel by
 * rounding. Column dilation has no runs: summed as the portable kernel does.
 */
AOT_X86_INLINE AOT_AVX512 float aot_avgpool2d_avx512_window(const aot_pool2d_params *p,
                                                            const float *x_c,
                                                            const aot_pool_window *w)
{
    const int32_t n = w->kx_end - w->kx_begin;
    __m512 acc = _mm512_setzero_ps();
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
        acc = aot_v16_sum_run(acc, x_c + (w->iy0 + w->ky_begin) * p->in_w,
                              (w->ky_end - w->ky_begin) * n);
    } else {
        for (ky = w->ky_begin; ky < w->ky_end; ++ky) {
            acc = aot_v16_sum_run(
                acc, x_c + (w->iy0 + ky * p->dilation_h) * p->in_w + w->ix0 + w->kx_begin, n);
        }
    }
    return _mm512_reduce_add_ps(acc) / (float)(w->rows * w->cols);
}

AOT_AVX512 void aot_avgpool2d_avx512_f32(const aot_pool2d_params *params, const float *x,
                                         float *y)
{
    AOT_POOL2D_BODY(params, x, y, float, params->count_include_pad,
                    aot_avgpool2d_avx512_window, params);
}
#else
typedef int aot_avgpool2d_avx512_f32_needs_x86;
#endif
