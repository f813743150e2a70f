/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include "aot_matmul_strided_impl.h"

/* aot_matmul_avx2_f32 for operands read through any strides: B straight from
 * its buffer when its rows are contiguous, else one batch at a time from a
 * dense copy in scratch (see aot_matmul_strided_impl.h). */
void aot_matmul_strided_avx2_f32(const aot_matmul_params *params, const float *a,
                                 const float *b, const float *bias, float *y, void *scratch)
{
    const aot_matmul_params *p = params;
    int32_t bt;

    if (p->b_col_stride == 1) {
        aot_matmul_avx2_f32(p, a, b, bias, y);
        return;
    }
    for (bt = 0; bt < p->batch; ++bt) {
        const aot_matmul_params one = aot_matmul_strided_pack(p, b, bt, (float *)scratch);
        aot_matmul_avx2_f32(&one, a + (p->a_offsets != NULL ? p->a_offsets[bt] : 0),
                            (const float *)scratch, bias, y + bt * p->m * p->n);
    }
}
#else
typedef int aot_matmul_strided_avx2_f32_needs_avx2;
#endif
