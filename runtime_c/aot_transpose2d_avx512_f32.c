/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"

/*
 * Deinterleave by two-source permutes: 16 rows of `cols` floats are cols
 * vectors, and output column k's 16 floats (input cols * i + k) come from the
 * pairs of vectors (2 j, 2 j + 1), one vpermt2ps each, merged where the
 * pair's index is not negative. A last odd vector pairs with zeros. cols is a
 * literal (one copy per column count), so the indices and merge masks stay in
 * registers across rows.
 */
AOT_X86_INLINE AOT_AVX512 void aot_transpose2d_f32_rows(int32_t rows, const float *xb,
                                                        const int32_t *perms, float *yb,
                                                        const int cols)
{
    const int pairs = (cols + 1) / 2;
    __m512i idx[AOT_TRANSPOSE2D_X86_MAX_COLS][(AOT_TRANSPOSE2D_X86_MAX_COLS + 1) / 2];
    __mmask16 live[AOT_TRANSPOSE2D_X86_MAX_COLS][(AOT_TRANSPOSE2D_X86_MAX_COLS + 1) / 2];
    int32_t r;
    int k, j, v;
    AOT_X86_UNROLL
    for (k = 0; k < cols; ++k) {
        AOT_X86_UNROLL
        for (j = 0; j < pairs; ++j) {
            idx[k][j] = _mm512_loadu_si512((const void *)(perms + (k * pairs + j) * 16));
            live[k][j] = _mm512_cmpge_epi32_mask(idx[k][j], _mm512_setzero_si512());
        }
    }
    for (r = 0; r + 16 <= rows; r += 16) {
        const float *xr = xb + (size_t)r * (size_t)cols;
        __m512 vec[AOT_TRANSPOSE2D_X86_MAX_COLS + 1];
        AOT_X86_UNROLL
        for (v = 0; v < cols; ++v) {
            vec[v] = _mm512_loadu_ps(xr + 16 * v);
        }
        vec[cols] = _mm512_setzero_ps();
        AOT_X86_UNROLL
        for (k = 0; k < cols; ++k) {
            __m512 out = _mm512_maskz_permutex2var_ps(live[k][0], vec[0], idx[k][0], vec[1]);
            AOT_X86_UNROLL
            for (j = 1; j < pairs; ++j) {
                out = _mm512_mask_blend_ps(
                    live[k][j], out,
                    _mm512_permutex2var_ps(vec[2 * j], idx[k][j], vec[2 * j + 1]));
            }
            _mm512_storeu_ps(yb + (size_t)k * (size_t)rows + (size_t)r, out);
        }
    }
    for (; r < rows; ++r) {
        for (k = 0; k < cols; ++k) {
            yb[(size_t)k * (size_t)rows + (size_t)r] = xb[(size_t)r * (size_t)cols + (size_t)k];
        }
    }
}

AOT_AVX512 void aot_transpose2d_avx512_f32(const aot_transpose2d_inplace_params *params,
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
            aot_transpose2d_f32_rows(rows, xb, perms, yb, 2);
            break;
        case 3:
            aot_transpose2d_f32_rows(rows, xb, perms, yb, 3);
            break;
        case 4:
            aot_transpose2d_f32_rows(rows, xb, perms, yb, 4);
            break;
        case 5:
            aot_transpose2d_f32_rows(rows, xb, perms, yb, 5);
            break;
        case 6:
            aot_transpose2d_f32_rows(rows, xb, perms, yb, 6);
            break;
        case 7:
            aot_transpose2d_f32_rows(rows, xb, perms, yb, 7);
            break;
        default:
            aot_transpose2d_f32_rows(rows, xb, perms, yb, 8);
            break;
        }
    }
}
#else
typedef int aot_transpose2d_avx512_f32_needs_x86;
#endif
