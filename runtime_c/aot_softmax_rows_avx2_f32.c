/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_vmath_avx2_impl.h"

/*
 * aot_softmax_rows_f32 on 8 columns at a time (the last cols % 8 in scalar
 * code). The exponentials are aot_expf's bits (aot_v8_expf); the row sum is
 * taken in 8 lanes, then across them, then the tail, so it differs from the
 * portable kernel's index-order sum by rounding. A NaN anywhere, or a row of
 * only -inf, still makes the whole row NaN.
 */
static inline AOT_VMATH_AVX2 float aot_softmax_rows_avx2_hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

static inline AOT_VMATH_AVX2 float aot_softmax_rows_avx2_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

AOT_VMATH_AVX2 void aot_softmax_rows_avx2_f32(const aot_softmax_rows_params *params,
                                              const float *x, const float *bias, float *y)
{
    const int32_t cols = params->cols, cols8 = cols - cols % 8;
    int32_t r, c;

    if (cols <= 0) {
        return;
    }
    for (r = 0; r < params->rows; ++r) {
        const float *xr = x + r * cols;
        const float *br = bias != NULL ? bias + (r % params->bias_rows) * cols : NULL;
        float *yr = y + r * cols;
        __m256 vmax = _mm256_set1_ps(-AOT_INFINITY), vsum = _mm256_setzero_ps(), vm;
        float max_v, sum;

        for (c = 0; c < cols8; c += 8) {
            __m256 v = _mm256_loadu_ps(xr + c);
            if (br != NULL) {
                v = _mm256_add_ps(v, _mm256_loadu_ps(br + c));
            }
            vmax = _mm256_max_ps(v, vmax);
        }
        max_v = aot_softmax_rows_avx2_hmax(vmax);
        for (; c < cols; ++c) {
            const float v = br != NULL ? xr[c] + br[c] : xr[c];
            max_v = v > max_v || v != v ? v : max_v;
        }
        vm = _mm256_set1_ps(max_v);
        for (c = 0; c < cols8; c += 8) {
            __m256 v = _mm256_loadu_ps(xr + c), e;
            if (br != NULL) {
                v = _mm256_add_ps(v, _mm256_loadu_ps(br + c));
            }
            e = aot_v8_expf(_mm256_sub_ps(v, vm));
            _mm256_storeu_ps(yr + c, e);
            vsum = _mm256_add_ps(vsum, e);
        }
        sum = aot_softmax_rows_avx2_hsum(vsum);
        for (; c < cols; ++c) {
            const float e = aot_expf((br != NULL ? xr[c] + br[c] : xr[c]) - max_v);
            yr[c] = e;
            sum += e;
        }
        vm = _mm256_set1_ps(sum);
        for (c = 0; c < cols8; c += 8) {
            __m256 v = _mm256_div_ps(_mm256_loadu_ps(yr + c), vm);
            if (params->replace_nan) {
                v = _mm256_blendv_ps(v, _mm256_set1_ps(params->nan_value),
                                     _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            }
            _mm256_storeu_ps(yr + c, v);
        }
        for (; c < cols; ++c) {
            const float v = yr[c] / sum;
            yr[c] = params->replace_nan && v != v ? params->nan_value : v;
        }
    }
}
#else
typedef int aot_softmax_rows_avx2_f32_needs_x86;
#endif
