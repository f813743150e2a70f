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

    aot_x86_gemm_from_matmul(&g, p, offs, bias);
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
