/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * Deinterleave by byte shuffles: 16 rows of `cols` bytes are cols 16-byte
 * chunks, and output column k's 16 bytes are the OR over chunks v of
 * vpshufb(chunk v, shuffles[k][v]) (a byte from elsewhere is zeroed by a
 * 0x80 index). A zmm carries four such groups of 16 rows, one per 128-bit
 * lane, so each output column gets 64 contiguous bytes per step.
 */
AOT_X86_INLINE AOT_AVX512 __m128i aot_transpose2d_group16(const int8_t *x, const int8_t *shuffles,
                                                          int32_t cols, int32_t k)
{
    __m128i out = _mm_setzero_si128();
    int32_t v;
    for (v = 0; v < cols; ++v) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(const void *)(x + 16 * v));
        const __m128i idx = _mm_loadu_si128(
            (const __m128i *)(const void *)(shuffles + (k * cols + v) * 64));
        out = _mm_or_si128(out, _mm_shuffle_epi8(chunk, idx));
    }
    return out;
}

AOT_AVX512 void aot_transpose2d_avx512_s8(const aot_transpose2d_inplace_params *params,
                                          const int8_t *x, const int8_t *shuffles, int8_t *y)
{
    const aot_transpose2d_inplace_params *p = params;
    const int32_t rows = p->rows, cols = p->cols;
    int32_t b, r, k, v;

    for (b = 0; b < p->batch; ++b) {
        const int8_t *xb = x + (size_t)b * (size_t)rows * (size_t)cols;
        int8_t *yb = y + (size_t)b * (size_t)rows * (size_t)cols;
        for (r = 0; r + 64 <= rows; r += 64) {
            const int8_t *xr = xb + (size_t)r * (size_t)cols;
            __m512i chunks[AOT_TRANSPOSE2D_X86_MAX_COLS];
            for (v = 0; v < cols; ++v) {   /* lane j: chunk v of rows r + 16 j .. */
                __m512i c = _mm512_castsi128_si512(
                    _mm_loadu_si128((const __m128i *)(const void *)(xr + 16 * v)));
                c = _mm512_inserti32x4(c, _mm_loadu_si128((const __m128i *)(const void *)(
                                              xr + 16 * (v + cols))), 1);
                c = _mm512_inserti32x4(c, _mm_loadu_si128((const __m128i *)(const void *)(
                                              xr + 16 * (v + 2 * cols))), 2);
                chunks[v] = _mm512_inserti32x4(c, _mm_loadu_si128((const __m128i *)(
                                                      const void *)(xr + 16 * (v + 3 * cols))), 3);
            }
            for (k = 0; k < cols; ++k) {
                __m512i out = _mm512_setzero_si512();
                for (v = 0; v < cols; ++v) {
                    const __m512i idx = _mm512_loadu_si512(
                        (const void *)(shuffles + (k * cols + v) * 64));
                    out = _mm512_or_si512(out, _mm512_shuffle_epi8(chunks[v], idx));
                }
                _mm512_storeu_si512((void *)(yb + (size_t)k * (size_t)rows + (size_t)r), out);
            }
        }
        for (; r + 16 <= rows; r += 16) {
            for (k = 0; k < cols; ++k) {
                _mm_storeu_si128((__m128i *)(void *)(yb + (size_t)k * (size_t)rows + (size_t)r),
                                 aot_transpose2d_group16(xb + (size_t)r * (size_t)cols, shuffles,
                                                         cols, k));
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
typedef int aot_transpose2d_avx512_s8_needs_x86;
#endif
