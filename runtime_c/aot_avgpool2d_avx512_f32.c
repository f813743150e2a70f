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

/* Each lane l of the result: the sum of the 16 lanes of s[l] (s is clobbered). */
AOT_X86_INLINE AOT_AVX512 __m512 aot_v16_sums16(__m512 *s)
{
    __m512 t[8], u[4];
    int i;
    AOT_X86_UNROLL
    for (i = 0; i < 8; ++i) {   /* 128-bit lane: s[2i] 0+2, s[2i+1] 0+2, s[2i] 1+3, s[2i+1] 1+3 */
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(s[2 * i], s[2 * i + 1]),
                             _mm512_unpackhi_ps(s[2 * i], s[2 * i + 1]));
    }
    AOT_X86_UNROLL
    for (i = 0; i < 4; ++i) {   /* 128-bit lane k: partial sums of s[4i .. 4i + 3] */
        const __m512d a = _mm512_castps_pd(t[2 * i]), b = _mm512_castps_pd(t[2 * i + 1]);
        u[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    t[0] = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x44),
                         _mm512_shuffle_f32x4(u[0], u[1], 0xEE));
    t[1] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x44),
                         _mm512_shuffle_f32x4(u[2], u[3], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_f32x4(t[0], t[1], 0x88),
                         _mm512_shuffle_f32x4(t[0], t[1], 0xDD));
}

/* Global pooling (one window covering each whole plane, no padding): 16
 * planes at a time, each summed in its own vector as the window path sums
 * it, the 16 horizontal sums done together and one division for all, instead
 * of a latency-bound reduction and division per plane. */
static AOT_AVX512 void aot_avgpool2d_avx512_planes(const aot_pool2d_params *p, const float *x,
                                                  float *y)
{
    const int32_t n = p->in_h * p->in_w;
    const __m512 count = _mm512_set1_ps((float)n);
    int32_t c0, l;
    for (c0 = 0; c0 < p->planes; c0 += 16) {
        const int32_t nc = p->planes - c0 < 16 ? p->planes - c0 : 16;
        __m512 s[16];
        AOT_X86_UNROLL
        for (l = 0; l < 16; ++l) {
            s[l] = l < nc ? aot_v16_sum_run(_mm512_setzero_ps(), x + (c0 + l) * n, n)
                          : _mm512_setzero_ps();
        }
        _mm512_mask_storeu_ps(y + c0, (__mmask16)((1u << nc) - 1u),
                              _mm512_div_ps(aot_v16_sums16(s), count));
    }
}

AOT_AVX512 void aot_avgpool2d_avx512_f32(const aot_pool2d_params *params, const float *x,
                                         float *y)
{
    const aot_pool2d_params *p = params;
    if (p->out_h == 1 && p->out_w == 1 && p->kernel_h == p->in_h && p->kernel_w == p->in_w &&
        p->dilation_h == 1 && p->dilation_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
        p->pad_bottom == 0 && p->pad_right == 0) {
        aot_avgpool2d_avx512_planes(p, x, y);
        return;
    }
    AOT_POOL2D_BODY(params, x, y, float, params->count_include_pad,
                    aot_avgpool2d_avx512_window, params);
}
#else
typedef int aot_avgpool2d_avx512_f32_needs_x86;
#endif
