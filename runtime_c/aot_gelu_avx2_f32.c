/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_vmath_avx2_impl.h"

/* aot_gelu_f32 on 8 lanes: the same expression and rounding per element
 * (aot_v8_erff is aot_erff lane by lane), so results are bit for bit the
 * portable kernel's. The tail runs the scalar expression. */
AOT_VMATH_AVX2 void aot_gelu_avx2_f32(const aot_unary_params *params, const float *x,
                                      float *y)
{
    const int32_t size = params->size, size8 = size - size % 8;
    int32_t i;

    for (i = 0; i < size8; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 e = aot_v8_erff(_mm256_div_ps(v, _mm256_set1_ps(1.41421356f)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, _mm256_mul_ps(_mm256_set1_ps(0.5f),
                                              _mm256_add_ps(_mm256_set1_ps(1.0f), e))));
    }
    for (; i < size; ++i) {
        const float v = x[i];
        y[i] = v * (0.5f * (1.0f + aot_erff(v / 1.41421356f)));
    }
}
#else
typedef int aot_gelu_avx2_f32_needs_x86;
#endif
