/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AOT_LN_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")))

/* 1 / sqrt(v) as (float)(1 / sqrt((double)v)): the double has an error of at
 * most one double ulp, so the float is the correctly rounded value except
 * within 2^-52 of a rounding boundary (0 -> inf, inf -> 0, v < 0 -> NaN). */
static inline AOT_LN_AVX512 float aot_layer_norm_avx512_rsqrt(float v)
{
    const __m128d d = _mm_cvtss_sd(_mm_setzero_pd(), _mm_set_ss(v));
    return _mm_cvtss_f32(_mm_cvtsd_ss(_mm_setzero_ps(),
                                      _mm_div_sd(_mm_set_sd(1.0), _mm_sqrt_sd(d, d))));
}

static inline AOT_LN_AVX512 __mmask16 aot_layer_norm_avx512_mask(int32_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/*
 * aot_layer_norm_f32 on 16 columns at a time (the last block masked): the
 * mean and the variance are summed in 16 lanes and then across them, so they
 * differ from the portable kernel's index-order sums by rounding; each y is
 * then the portable expression ((x - mean) * rstd * scale + bias, no fused
 * multiply-add).
 */
AOT_LN_AVX512 void aot_layer_norm_avx512_f32(const aot_layer_norm_params *params,
                                             const float *x, const float *scale,
                                             const float *bias, float *y, float *mean_out,
                                             float *inv_std_out)
{
    const int32_t n = params->inner;
    int32_t r, i;

    for (r = 0; r < params->outer; ++r) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        __m512 acc = _mm512_setzero_ps(), vmean, vrstd;
        float mean, var, rstd;

        for (i = 0; i < n; i += 16) {
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(aot_layer_norm_avx512_mask(n - i),
                                                           xr + i));
        }
        mean = _mm512_reduce_add_ps(acc) / (float)n;
        vmean = _mm512_set1_ps(mean);
        acc = _mm512_setzero_ps();
        for (i = 0; i < n; i += 16) {
            const __mmask16 m = aot_layer_norm_avx512_mask(n - i);
            const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + i), vmean);
            acc = _mm512_add_ps(acc, _mm512_mul_ps(d, d));
        }
        var = _mm512_reduce_add_ps(acc) / (float)n;
        rstd = aot_layer_norm_avx512_rsqrt(var + params->epsilon);
        if (mean_out != NULL) {
            mean_out[r] = mean;
        }
        if (inv_std_out != NULL) {
            inv_std_out[r] = rstd;
        }
        vrstd = _mm512_set1_ps(rstd);
        /* y[i] is written only after x[i] is read: in place works */
        for (i = 0; i < n; i += 16) {
            const __mmask16 m = aot_layer_norm_avx512_mask(n - i);
            __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + i), vmean),
                                     vrstd);
            v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, scale + i));
            if (bias != NULL) {
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + i));
            }
            _mm512_mask_storeu_ps(yr + i, m, v);
        }
    }
}
#else
typedef int aot_layer_norm_avx512_f32_needs_x86;
#endif
