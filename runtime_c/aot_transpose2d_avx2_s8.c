/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * As aot_transpose2d_avx512_s8 with two groups of 16 rows per ymm (vpshufb
 * works within each 128-bit lane), then one group per xmm, then bytes.
 */
AOT_AVX2 void aot_transpose2d_avx2_s8(const aot_transpose2d_inplace_params *params,
                                      const int8_t *x, const int8_t *shuffles, int8_t *y)
{
    const aot_transpose2d_inplace_params *p = params;
    const int32_t rows = p->rows, cols = p->cols;
    int32_t b, r, k, v;

    for (b = 0; b < p->batch; ++b) {
        const int8_t *xb = x + (size_t)b * (size_t)rows * (size_t)cols;
        int8_t *yb = y + (size_t)b * (size_t)rows * (size_t)cols;
        for (r = 0; r + 32 <= rows; r += 32) {
            const int8_t *xr = xb + (size_t)r * (size_t)cols;
            __m256i chunks[AOT_TRANSPOSE2D_X86_MAX_COLS];
            for (v = 0; v < cols; ++v) {   /* lane j: chunk v of rows r + 16 j .. */
                chunks[v] = _mm256_inserti128_si256(
                    _mm256_castsi128_si256(
                        _mm_loadu_si128((const __m128i *)(const void *)(xr + 16 * v))),
                    _mm_loadu_si128((const __m128i *)(const void *)(xr + 16 * (v + cols))), 1);
            }
            for (k = 0; k < cols; ++k) {
                __m256i out = _mm256_setzero_si256();
                for (v = 0; v < cols; ++v) {
                    const __m256i idx = _mm256_loadu_si256(
                        (const __m256i *)(const void *)(shuffles + (k * cols + v) * 64));
                    out = _mm256_or_si256(out, _mm256_shuffle_epi8(chunks[v], idx));
                }
                _mm256_storeu_si256((__m256i *)(void *)(yb + (size_t)k * (size_t)rows + (size_t)r),
                                    out);
            }
        }
        for (; r + 16 <= rows; r += 16) {
            const int8_t *xr = xb + (size_t)r * (size_t)cols;
            for (k = 0; k < cols; ++k) {
                __m128i out = _mm_setzero_si128();
                for (v = 0; v < cols; ++v) {
                    const __m128i idx = _mm_loadu_si128(
                        (const __m128i *)(const void *)(shuffles + (k * cols + v) * 64));
                    out = _mm_or_si128(out, _mm_shuffle_epi8(_mm_loadu_si128(
                                                (const __m128i *)(const void *)(xr + 16 * v)),
                                            idx));
                }
                _mm_storeu_si128((__m128i *)(void *)(yb + (size_t)k * (size_t)rows + (size_t)r),
                                 out);
            }
        }
        for (; r < rows; ++r) {
            for (k = 0; k < cols; ++k) {
                yb[(size_t)k * (size_t)rows + (size_t)r] = xb[(size_t)r * (size_t)cols + (size_t)k];
            }
        }
    }
}
#else
typedef int aot_transpose2d_avx2_s8_needs_x86;
#endif
