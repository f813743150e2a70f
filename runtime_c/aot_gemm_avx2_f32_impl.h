/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the float32 AVX2 + FMA matrix product behind
 * aot_conv2d_avx2_f32 and aot_matmul_avx2_f32. Include after
 * aot_conv2d_x86_impl.h.
 *
 * Y[i][p] = act(alpha * sum_k A[i][k] * B[k][p] + beta * bias(i, p)) for rows i
 * in [0, m) and virtual pixels p in [0, nv). A is strided (row a_rs, column
 * a_ks); k runs over kgroups groups of `taps` rows of B, row (g, t) starting at
 * b + g * cs + offs[t] (a phase-plane tap, or simply a matrix row). Tiles are
 * 6 rows x 16 pixels (12 accumulators); the last, partial pixel tile uses
 * masked loads, so B needs no read slack. Products are fused multiply-adds in
 * k order: results differ from the portable kernel (separate multiply and
 * add) by rounding only.
 */
#ifndef AOT_GEMM_AVX2_F32_IMPL_H
#define AOT_GEMM_AVX2_F32_IMPL_H

#define AOT_GEMM_AVX2_MR 6
#define AOT_GEMM_AVX2_NR 16

typedef aot_x86_gemm_f32 aot_gemm_avx2_f32;

AOT_X86_INLINE AOT_AVX2 void aot_gemm_avx2_f32_finish(const aot_gemm_avx2_f32 *g, int32_t i,
                                                      int32_t j0, int32_t n, __m256 v0,
                                                      __m256 v1)
{
    const __m256 alpha = _mm256_set1_ps(g->alpha);
    const __m256i m0 = aot_avx2_mask8(n), m1 = aot_avx2_mask8(n - 8);
    float *row = g->y + i * g->y_rs;
    v0 = _mm256_mul_ps(alpha, v0);
    v1 = _mm256_mul_ps(alpha, v1);
    if (g->bias != NULL) {
        const __m256 beta = _mm256_set1_ps(g->beta);
        const float *bp = g->bias + i * g->bias_rs;
        __m256 b0, b1;
        if (g->bias_cs == 0) {
            b0 = b1 = _mm256_broadcast_ss(bp);
        } else {
            b0 = _mm256_maskload_ps(bp + j0, m0);
            b1 = _mm256_maskload_ps(bp + j0 + 8, m1);
        }
        v0 = _mm256_add_ps(v0, _mm256_mul_ps(beta, b0));
        v1 = _mm256_add_ps(v1, _mm256_mul_ps(beta, b1));
    }
    v0 = aot_avx2_act(g->act, v0);
    v1 = aot_avx2_act(g->act, v1);
    if (g->geom == NULL) {
        _mm256_maskstore_ps(row + j0, m0, v0);
        _mm256_maskstore_ps(row + j0 + 8, m1, v1);
    } else {
        float vals[16];
        _mm256_storeu_ps(vals, v0);
        _mm256_storeu_ps(vals + 8, v1);
        aot_x86_store_f32(g->geom, g->out_w, j0, n, vals, row);
    }
}

/* One tile of mr rows (a literal at every call) x 16 pixels, n of them real. */
AOT_X86_INLINE AOT_AVX2 void aot_gemm_avx2_f32_tile(const aot_gemm_avx2_f32 *g, const int32_t mr,
                                                    int32_t i0, int32_t j0, int32_t n)
{
    __m256 c0[AOT_GEMM_AVX2_MR], c1[AOT_GEMM_AVX2_MR];
    const __m256i m0 = aot_avx2_mask8(n), m1 = aot_avx2_mask8(n - 8);
    const float *a = g->a + i0 * g->a_rs;
    int32_t r, kg, t;
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        c0[r] = _mm256_setzero_ps();
        c1[r] = _mm256_setzero_ps();
    }
    for (kg = 0; kg < g->kgroups; ++kg) {
        const float *bg = g->b + kg * g->cs + j0;
        for (t = 0; t < g->taps; ++t) {
            const float *bp = bg + g->offs[t];
            const float *ap = a + (kg * g->taps + t) * g->a_ks;
            __m256 b0, b1;
            if (n == AOT_GEMM_AVX2_NR) {
                b0 = _mm256_loadu_ps(bp);
                b1 = _mm256_loadu_ps(bp + 8);
            } else {
                b0 = _mm256_maskload_ps(bp, m0);
                b1 = _mm256_maskload_ps(bp + 8, m1);
            }
            AOT_X86_UNROLL
            for (r = 0; r < mr; ++r) {
                const __m256 w = _mm256_broadcast_ss(ap + r * g->a_rs);
                c0[r] = _mm256_fmadd_ps(w, b0, c0[r]);
                c1[r] = _mm256_fmadd_ps(w, b1, c1[r]);
            }
        }
    }
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        aot_gemm_avx2_f32_finish(g, i0 + r, j0, n, c0[r], c1[r]);
    }
}

/* The widest tile of 6/4/2/1 rows that fits the rows left at i0
 * (few instantiations: each is a fully unrolled register tile); returns its height. */
static AOT_AVX2 int32_t aot_gemm_avx2_f32_rows(const aot_gemm_avx2_f32 *g, int32_t i0,
                                               int32_t j0, int32_t n)
{
    const int32_t left = g->m - i0;
    if (left >= 6) {
        aot_gemm_avx2_f32_tile(g, 6, i0, j0, n);
        return 6;
    }
    if (left >= 4) {
        aot_gemm_avx2_f32_tile(g, 4, i0, j0, n);
        return 4;
    }
    if (left >= 2) {
        aot_gemm_avx2_f32_tile(g, 2, i0, j0, n);
        return 2;
    }
    aot_gemm_avx2_f32_tile(g, 1, i0, j0, n);
    return 1;
}

/* Pixel tiles outermost, unless all of B fits in L2 (here 256 KiB): then row
 * tiles outermost, so each weight (A) row is fetched from memory once -- the
 * late layers of a network have few pixels and many weights. */
static AOT_AVX2 void aot_gemm_avx2_f32_run(const aot_gemm_avx2_f32 *g)
{
    const int64_t b_bytes = (int64_t)g->kgroups * g->taps * g->nv * 4;
    int32_t i0, j0, n, mr;
    if (b_bytes <= 256 * 1024) {
        for (i0 = 0; i0 < g->m; i0 += mr) {
            mr = 1;
            for (j0 = 0; j0 < g->nv; j0 += AOT_GEMM_AVX2_NR) {
                n = g->nv - j0 < AOT_GEMM_AVX2_NR ? g->nv - j0 : AOT_GEMM_AVX2_NR;
                mr = aot_gemm_avx2_f32_rows(g, i0, j0, n);
            }
        }
        return;
    }
    for (j0 = 0; j0 < g->nv; j0 += AOT_GEMM_AVX2_NR) {
        n = g->nv - j0 < AOT_GEMM_AVX2_NR ? g->nv - j0 : AOT_GEMM_AVX2_NR;
        for (i0 = 0; i0 < g->m; i0 += mr) {
            mr = aot_gemm_avx2_f32_rows(g, i0, j0, n);
        }
    }
}

#endif /* AOT_GEMM_AVX2_F32_IMPL_H */
