/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_conv2d_x86_impl.h"
#include "aot_gemm_avx512_f32_impl.h"

/* aot_matmul_f32 for B with contiguous rows (b_col_stride == 1) and a bias
 * column stride of 0 or 1, on the AVX-512 matrix product (FMA rounding). */
AOT_AVX512 void aot_matmul_avx512_f32(const aot_matmul_params *params, const float *a,
                                  const float *b, const float *bias, float *y)
{
    const aot_matmul_params *p = params;
    const int32_t offs[1] = {0};
    aot_gemm_avx512_f32 g;
    int32_t bt;

    g.m = p->m;
    g.nv = p->n;
    g.a_rs = p->a_row_stride;
    g.a_ks = p->a_k_stride;
    g.kgroups = p->k;
    g.taps = 1;
    g.cs = p->b_k_stride;
    g.offs = offs;
    g.y_rs = p->n;
    g.geom = NULL;
    g.out_w = p->n;
    g.bias = bias;
    g.bias_rs = p->bias_row_stride;
    g.bias_cs = p->bias_col_stride;
    g.alpha = p->alpha;
    g.beta = p->beta;
    g.act = &p->act;
    for (bt = 0; bt < p->batch; ++bt) {
        g.a = a + (p->a_offsets != NULL ? p->a_offsets[bt] : 0);
        g.b = b + (p->b_offsets != NULL ? p->b_offsets[bt] : 0);
        g.y = y + bt * p->m * p->n;
        aot_gemm_avx512_f32_run(&g);
    }
}
#else
typedef int aot_matmul_avx512_f32_needs_x86;
#endif
