/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the float32 AVX-512 matrix product behind
 * aot_conv2d_avx512_f32 and aot_matmul_avx512_f32, aot_gemm_avx512_f32_impl.h
 * with 16-lane vectors and 12 x 32 tiles (24 accumulators). Include after
 * aot_conv2d_x86_impl.h.
 *
 * Y[i][p] = act(alpha * sum_k A[i][k] * B[k][p] + beta * bias(i, p)) for rows i
 * in [0, m) and virtual pixels p in [0, nv). A is strided (row a_rs, column
 * a_ks); k runs over kgroups groups of `taps` rows of B, row (g, t) starting at
 * b + g * cs + offs[t] (a phase-plane tap, or simply a matrix row). Tiles are
 * 12 rows x 32 pixels (24 accumulators); the last, partial pixel tile uses
 * masked loads, so B needs no read slack. Products are fused multiply-adds in
 * k order: results differ from the portable kernel (separate multiply and
 * add) by rounding only.
 */
#ifndef AOT_GEMM_AVX512_F32_IMPL_H
#define AOT_GEMM_AVX512_F32_IMPL_H

#define AOT_GEMM_AVX512_MR 12
#define AOT_GEMM_AVX512_NR 32

typedef aot_x86_gemm_f32 aot_gemm_avx512_f32;

AOT_X86_INLINE AOT_AVX512 void aot_gemm_avx512_f32_finish(const aot_gemm_avx512_f32 *g,
                                                          int32_t i, int32_t j0, int32_t n,
                                                          __m512 v0, __m512 v1)
{
    const __m512 alpha = _mm512_set1_ps(g->alpha);
    const int32_t n0 = n < 16 ? n : 16, n1 = n - n0;
    const __mmask16 m0 = (__mmask16)((1u << n0) - 1u), m1 = (__mmask16)((1u << n1) - 1u);
    float *row = g->y + i * g->y_rs;
    v0 = _mm512_mul_ps(alpha, v0);
    v1 = _mm512_mul_ps(alpha, v1);
    if (g->bias != NULL) {
        const __m512 beta = _mm512_set1_ps(g->beta);
        const float *bp = g->bias + i * g->bias_rs;
        __m512 b0, b1;
        if (g->bias_cs == 0) {
            b0 = b1 = _mm512_set1_ps(*bp);
        } else {
            b0 = _mm512_maskz_loadu_ps(m0, bp + j0);
            b1 = _mm512_maskz_loadu_ps(m1, bp + j0 + 16);
        }
        v0 = _mm512_add_ps(v0, _mm512_mul_ps(beta, b0));
        v1 = _mm512_add_ps(v1, _mm512_mul_ps(beta, b1));
    }
    v0 = aot_avx512_act(g->act, v0);
    v1 = aot_avx512_act(g->act, v1);
    if (g->geom == NULL) {
        _mm512_mask_storeu_ps(row + j0, m0, v0);
        _mm512_mask_storeu_ps(row + j0 + 16, m1, v1);
    } else {
        float vals[32];
        _mm512_storeu_ps(vals, v0);
        _mm512_storeu_ps(vals + 16, v1);
        aot_avx512_store_f32(g->geom, g->out_w, j0, n, vals, row);
    }
}

/* One tile of mr rows (a literal at every call) x 16 pixels, n of them real. */
AOT_X86_INLINE AOT_AVX512 void aot_gemm_avx512_f32_tile(const aot_gemm_avx512_f32 *g, const int32_t mr,
                                                    int32_t i0, int32_t j0, int32_t n)
{
    __m512 c0[AOT_GEMM_AVX512_MR], c1[AOT_GEMM_AVX512_MR];
    const int32_t n0 = n < 16 ? n : 16, n1 = n - n0;
    const __mmask16 m0 = (__mmask16)((1u << n0) - 1u), m1 = (__mmask16)((1u << n1) - 1u);
    const float *a = g->a + i0 * g->a_rs;
    int32_t r, kg, t;
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
    }
    for (kg = 0; kg < g->kgroups; ++kg) {
        const float *bg = g->b + kg * g->cs + j0;
        for (t = 0; t < g->taps; ++t) {
            const float *bp = bg + g->offs[t];
            const float *ap = a + (kg * g->taps + t) * g->a_ks;
            __m512 b0, b1;
            if (n == AOT_GEMM_AVX512_NR) {
                b0 = _mm512_loadu_ps(bp);
                b1 = _mm512_loadu_ps(bp + 16);
            } else {
                b0 = _mm512_maskz_loadu_ps(m0, bp);
                b1 = _mm512_maskz_loadu_ps(m1, bp + 16);
            }
            AOT_X86_UNROLL
            for (r = 0; r < mr; ++r) {
                const __m512 w = _mm512_set1_ps(ap[r * g->a_rs]);
                c0[r] = _mm512_fmadd_ps(w, b0, c0[r]);
                c1[r] = _mm512_fmadd_ps(w, b1, c1[r]);
            }
        }
    }
    AOT_X86_UNROLL
    for (r = 0; r < mr; ++r) {
        aot_gemm_avx512_f32_finish(g, i0 + r, j0, n, c0[r], c1[r]);
    }
}

/* The widest tile of 12/8/4/2/1 rows that fits the rows left at i0
 * (few instantiations: each is a fully unrolled register tile); returns its height. */
static AOT_AVX512 int32_t aot_gemm_avx512_f32_rows(const aot_gemm_avx512_f32 *g, int32_t i0,
                                               int32_t j0, int32_t n)
{
    const int32_t left = g->m - i0;
    if (left >= 12) {
        aot_gemm_avx512_f32_tile(g, 12, i0, j0, n);
        return 12;
    }
    if (left >= 8) {
        aot_gemm_avx512_f32_tile(g, 8, i0, j0, n);
        return 8;
    }
    if (left >= 4) {
        aot_gemm_avx512_f32_tile(g, 4, i0, j0, n);
        return 4;
    }
    if (left >= 2) {
        aot_gemm_avx512_f32_tile(g, 2, i0, j0, n);
        return 2;
    }
    aot_gemm_avx512_f32_tile(g, 1, i0, j0, n);
    return 1;
}

/* A few rows (a matrix-vector product: batch-1 fully connected): one row x 128
 * pixels, eight independent accumulators instead of two, so the fused
 * multiply-adds are not bound by their latency (the k order is unchanged). */
#define AOT_GEMM_AVX512_WIDE 128

static AOT_AVX512 void aot_gemm_avx512_f32_wide(const aot_gemm_avx512_f32 *g, int32_t i,
                                               int32_t j0)
{
    const int32_t n = g->nv - j0 < AOT_GEMM_AVX512_WIDE ? g->nv - j0 : AOT_GEMM_AVX512_WIDE;
    const float *a = g->a + i * g->a_rs;
    __mmask16 mk[8];
    __m512 c[8];
    int32_t v, kg, t;
    AOT_X86_UNROLL
    for (v = 0; v < 8; ++v) {
        const int32_t left = n - 16 * v;
        mk[v] = left >= 16 ? (__mmask16)0xFFFF
                : left <= 0 ? (__mmask16)0
                            : (__mmask16)((1u << left) - 1u);
        c[v] = _mm512_setzero_ps();
    }
    for (kg = 0; kg < g->kgroups; ++kg) {
        const float *bg = g->b + kg * g->cs + j0;
        for (t = 0; t < g->taps; ++t) {
            const float *bp = bg + g->offs[t];
            const __m512 w = _mm512_set1_ps(a[(kg * g->taps + t) * g->a_ks]);
            AOT_X86_UNROLL
            for (v = 0; v < 8; ++v) {   /* a dead vector's mask is 0: it reads nothing */
                c[v] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mk[v], bp + 16 * v), c[v]);
            }
        }
    }
    for (v = 0; v < 8 && 16 * v < n; v += 2) {
        aot_gemm_avx512_f32_finish(g, i, j0 + 16 * v, n - 16 * v < 32 ? n - 16 * v : 32, c[v],
                                   c[v + 1]);
    }
}

/* Pixel tiles outermost, unless all of B fits in L2 (here 256 KiB): then row
 * tiles outermost, so each weight (A) row is fetched from memory once -- the
 * late layers of a network have few pixels and many weights. */
static AOT_AVX512 void aot_gemm_avx512_f32_run(const aot_gemm_avx512_f32 *g)
{
    const int64_t b_bytes = (int64_t)g->kgroups * g->taps * g->nv * 4;
    int32_t i0, j0, n, mr;
    if (g->m < 4) {
        for (i0 = 0; i0 < g->m; ++i0) {
            for (j0 = 0; j0 < g->nv; j0 += AOT_GEMM_AVX512_WIDE) {
                aot_gemm_avx512_f32_wide(g, i0, j0);
            }
        }
        return;
    }
    if (b_bytes <= 256 * 1024) {
        for (i0 = 0; i0 < g->m; i0 += mr) {
            mr = 1;
            for (j0 = 0; j0 < g->nv; j0 += AOT_GEMM_AVX512_NR) {
                n = g->nv - j0 < AOT_GEMM_AVX512_NR ? g->nv - j0 : AOT_GEMM_AVX512_NR;
                mr = aot_gemm_avx512_f32_rows(g, i0, j0, n);
            }
        }
        return;
    }
    for (j0 = 0; j0 < g->nv; j0 += AOT_GEMM_AVX512_NR) {
        n = g->nv - j0 < AOT_GEMM_AVX512_NR ? g->nv - j0 : AOT_GEMM_AVX512_NR;
        for (i0 = 0; i0 < g->m; i0 += mr) {
            mr = aot_gemm_avx512_f32_rows(g, i0, j0, n);
        }
    }
}

#endif /* AOT_GEMM_AVX512_F32_IMPL_H */
