/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Both loop orders below add the products of each output element in the
 * same order (k ascending, starting from 0), so which one runs does not
 * change the result.
 */

/* alpha * acc + beta * bias, then the activation. */
static float aot_matmul_finish(const aot_matmul_params *p, const float *bias,
                               int32_t i, int32_t j, float acc)
{
    float v = p->alpha * acc;
    if (bias != NULL) {
        v += p->beta * bias[i * p->bias_row_stride + j * p->bias_col_stride];
    }
    return aot_act_apply_f32(&p->act, v);
}

void aot_matmul_f32(const aot_matmul_params *params, const float *a,
                    const float *b, const float *bias, float *y)
{
    const aot_matmul_params *p = params;
    int32_t bt, i, j, kk;

    for (bt = 0; bt < p->batch; ++bt) {
        const float *a_b = a + (p->a_offsets != NULL ? p->a_offsets[bt] : 0);
        const float *b_b = b + (p->b_offsets != NULL ? p->b_offsets[bt] : 0);
        float *y_b = y + bt * p->m * p->n;

        for (i = 0; i < p->m; ++i) {
            const float *a_row = a_b + i * p->a_row_stride;
            float *y_row = y_b + i * p->n;

            if (p->b_col_stride == 1) {
                /* Rows of B are contiguous: accumulate a whole output row
                 * at a time (order i, k, j), so the inner loop streams
                 * through B and Y with unit stride and vectorises. */
                if (p->k <= 0) {
                    for (j = 0; j < p->n; ++j) {
                        y_row[j] = aot_matmul_finish(p, bias, i, j, 0.0f);
                    }
                    continue;
                }
                /* k = 0 starts each sum as 0.0f + product (exactly what
                 * clearing the row and adding would give, -0.0 included)
                 * rather than in a separate zeroing loop, which gcc would
                 * turn into a call to libc's memset. */
                {
                    const float a_i0 = a_row[0];
                    for (j = 0; j < p->n; ++j) {
                        y_row[j] = 0.0f + a_i0 * b_b[j];
                    }
                }
                for (kk = 1; kk < p->k; ++kk) {
                    const float a_ik = a_row[kk * p->a_k_stride];
                    const float *b_row = b_b + kk * p->b_k_stride;
                    for (j = 0; j < p->n; ++j) {
                        y_row[j] += a_ik * b_row[j];
                    }
                }
                for (j = 0; j < p->n; ++j) {
                    y_row[j] = aot_matmul_finish(p, bias, i, j, y_row[j]);
                }
            } else {
                /* B is read down its columns (e.g. a transposed weight):
                 * a dot product per output element (order i, j, k). */
                for (j = 0; j < p->n; ++j) {
                    const float *b_col = b_b + j * p->b_col_stride;
                    float acc = 0.0f;
                    for (kk = 0; kk < p->k; ++kk) {
                        acc += a_row[kk * p->a_k_stride] * b_col[kk * p->b_k_stride];
                    }
                    y_row[j] = aot_matmul_finish(p, bias, i, j, acc);
                }
            }
        }
    }
}
