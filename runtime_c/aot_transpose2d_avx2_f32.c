/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * 8 rows of `cols` floats are cols vectors; output column k's 8 floats
 * (input cols * i + k) are gathered from each vector v by one vpermps,
 * merged where the index for (k, v) is not negative (its sign bit selects).
 * cols is a literal (one copy per column count), so the loop over rows
 * keeps the indices in registers where they fit.
 */
AOT_X86_INLINE AOT_AVX2 void aot_transpose2d_f32_rows8(int32_t rows, const float *xb,
                                                      const int32_t *perms, float *yb,
                                                      const int cols)
{
    int32_t r;
    int k, v;
    for (r = 0; r + 8 <= rows; r += 8) {
        const float *xr = xb + (size_t)r * (size_t)cols;
        __m256 vec[AOT_TRANSPOSE2D_X86_MAX_COLS];
        AOT_X86_UNROLL
        for (v = 0; v < cols; ++v) {
            vec[v] = _mm256_loadu_ps(xr + 8 * v);
        }
        AOT_X86_UNROLL
        for (k = 0; k < cols; ++k) {
            __m256 out = _mm256_setzero_ps();
            AOT_X86_UNROLL
            for (v = 0; v < cols; ++v) {
                const __m256i idx = _mm256_loadu_si256(
                    (const __m256i *)(const void *)(perms + (k * cols + v) * 8));
                out = _mm256_blendv_ps(_mm256_permutevar8x32_ps(vec[v], idx), out,
                                       _mm256_castsi256_ps(idx));
            }
            _mm256_storeu_ps(yb + (size_t)k * (size_t)rows + (size_t)r, out);
        }
    }
    for (; r < rows; ++r) {
        for (k = 0; k < cols; ++k) {
            yb[(size_t)k * (size_t)rows + (size_t)r] = xb[(size_t)r * (size_t)cols + (size_t)k];
        }
    }
}

AOT_AVX2 void aot_transpose2d_avx2_f32(const aot_transpose2d_inplace_params *params,
                                       const float *x, const int32_t *perms, float *y)
{
    const aot_transpose2d_inplace_params *p = params;
    const int32_t rows = p->rows, cols = p->cols;
    int32_t b;

    for (b = 0; b < p->batch; ++b) {
        const float *xb = x + (size_t)b * (size_t)rows * (size_t)cols;
        float *yb = y + (size_t)b * (size_t)rows * (size_t)cols;
        switch (cols) {
        case 2:
            aot_transpose2d_f32_rows8(rows, xb, perms, yb, 2);
            break;
        case 3:
            aot_transpose2d_f32_rows8(rows, xb, perms, yb, 3);
            break;
        case 4:
            aot_transpose2d_f32_rows8(rows, xb, perms, yb, 4);
            break;
        case 5:
            aot_transpose2d_f32_rows8(rows, xb, perms, yb, 5);
            break;
        case 6:
            aot_transpose2d_f32_rows8(rows, xb, perms, yb, 6);
            break;
        case 7:
            aot_transpose2d_f32_rows8(rows, xb, perms, yb, 7);
            break;
        default:
            aot_transpose2d_f32_rows8(rows, xb, perms, yb, 8);
            break;
        }
    }
}
#else
typedef int aot_transpose2d_avx2_f32_needs_x86;
#endif
