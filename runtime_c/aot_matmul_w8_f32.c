/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Output tiles of TILE_M rows by TILE_N columns are summed in a local array
 * (no aliasing, fixed trip counts: compilers keep it in vector registers),
 * k ascending. Columns are the outer loop, so the int8 weights of one column
 * block (k * TILE_N bytes) stay in cache while every row block streams past.
 * Every element is 0.0f plus its first product, then the others in k order
 * (no zeroing loop: gcc would make it a call to libc's memset), the same in
 * full and partial tiles, so the tiling never changes a result bit.
 */
#define TILE_M 4
#define TILE_N 16

static void aot_matmul_w8_tile(const aot_matmul_w8_params *p, const float *x,
                               const int8_t *w, const float *scale, const float *bias,
                               float *y, int32_t i0, int32_t rows, int32_t j0, int32_t cols)
{
    float acc[TILE_M][TILE_N];
    const int32_t n = p->n, k = p->k;
    int32_t r, c, kk;

    for (r = 0; r < rows; ++r) {
        const float a = x[(i0 + r) * k];
        for (c = 0; c < cols; ++c) {
            acc[r][c] = 0.0f + a * (float)w[j0 + c];
        }
    }
    for (kk = 1; kk < k; ++kk) {
        const int8_t *wr = w + kk * n + j0;
        for (r = 0; r < rows; ++r) {
            const float a = x[(i0 + r) * k + kk];
            for (c = 0; c < cols; ++c) {
                acc[r][c] += a * (float)wr[c];
            }
        }
    }
    for (r = 0; r < rows; ++r) {
        float *yr = y + (i0 + r) * n + j0;
        for (c = 0; c < cols; ++c) {
            yr[c] = acc[r][c] * scale[j0 + c] + (bias != NULL ? bias[j0 + c] : 0.0f);
        }
    }
}

/* The full tile, written out so that every loop has a constant trip count and
 * each row's accumulators are a separate local array (kept in registers). */
static void aot_matmul_w8_full_tile(const aot_matmul_w8_params *p, const float *x,
                                    const int8_t *w, const float *scale, const float *bias,
                                    float *y, int32_t i0, int32_t j0)
{
    float acc0[TILE_N], acc1[TILE_N], acc2[TILE_N], acc3[TILE_N];
    const int32_t n = p->n, k = p->k;
    const float *x0 = x + i0 * k, *x1 = x0 + k, *x2 = x1 + k, *x3 = x2 + k;
    int32_t c, kk;

    for (c = 0; c < TILE_N; ++c) {
        const float wv = (float)w[j0 + c];
        acc0[c] = 0.0f + x0[0] * wv;
        acc1[c] = 0.0f + x1[0] * wv;
        acc2[c] = 0.0f + x2[0] * wv;
        acc3[c] = 0.0f + x3[0] * wv;
    }
    for (kk = 1; kk < k; ++kk) {
        const int8_t *wr = w + kk * n + j0;
        const float a0 = x0[kk], a1 = x1[kk], a2 = x2[kk], a3 = x3[kk];
        for (c = 0; c < TILE_N; ++c) {
            const float wv = (float)wr[c];
            acc0[c] += a0 * wv;
            acc1[c] += a1 * wv;
            acc2[c] += a2 * wv;
            acc3[c] += a3 * wv;
        }
    }
    for (c = 0; c < TILE_N; ++c) {
        const float s = scale[j0 + c], b = bias != NULL ? bias[j0 + c] : 0.0f;
        y[i0 * n + j0 + c] = acc0[c] * s + b;
        y[(i0 + 1) * n + j0 + c] = acc1[c] * s + b;
        y[(i0 + 2) * n + j0 + c] = acc2[c] * s + b;
        y[(i0 + 3) * n + j0 + c] = acc3[c] * s + b;
    }
}

void aot_matmul_w8_f32(const aot_matmul_w8_params *params, const float *x,
                       const int8_t *w, const float *scale, const float *bias, float *y)
{
    const int32_t m = params->m, n = params->n;
    int32_t i, j;

    for (j = 0; j < n; j += TILE_N) {
        const int32_t cols = n - j < TILE_N ? n - j : TILE_N;
        for (i = 0; i < m; i += TILE_M) {
            const int32_t rows = m - i < TILE_M ? m - i : TILE_M;
            if (rows == TILE_M && cols == TILE_N) {
                aot_matmul_w8_full_tile(params, x, w, scale, bias, y, i, j);
            } else {
                aot_matmul_w8_tile(params, x, w, scale, bias, y, i, rows, j, cols);
            }
        }
    }
}
