/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: what aot_matmul_strided_{avx2,neon}_f32 share. A
 * matrix product whose B is read down its columns (b_col_stride != 1, e.g.
 * attention's K^T read straight out of [tokens][heads * dim]) gets each
 * batch's B copied into scratch as a dense [k][n] matrix, which the ISA's
 * aot_matmul_*_f32 (b_col_stride == 1 only) then multiplies.
 */
#ifndef AOT_MATMUL_STRIDED_IMPL_H
#define AOT_MATMUL_STRIDED_IMPL_H

#include "aot_kernels.h"

/* B of batch bt as a dense [k][n] in bp; returns the one-batch parameters
 * that read it (A and Y pointers advanced by the caller). */
static aot_matmul_params aot_matmul_strided_pack(const aot_matmul_params *p, const float *b,
                                                 int32_t bt, float *bp)
{
    const float *src = b + (p->b_offsets != NULL ? p->b_offsets[bt] : 0);
    aot_matmul_params one = *p;
    int32_t kk, j;

    /* walk the source in its own order (down each column) */
    for (j = 0; j < p->n; ++j) {
        for (kk = 0; kk < p->k; ++kk) {
            bp[kk * p->n + j] = src[j * p->b_col_stride + kk * p->b_k_stride];
        }
    }
    one.batch = 1;
    one.b_k_stride = p->n;
    one.b_col_stride = 1;
    one.a_offsets = NULL;
    one.b_offsets = NULL;
    return one;
}

#endif /* AOT_MATMUL_STRIDED_IMPL_H */
