/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Walks the output densely, a row of the last output dimension at a time,
 * while an odometer over the other output dimensions moves the input offset
 * by their input strides. ndim == 0 is a scalar.
 */
void aot_transpose_f32(const aot_transpose_params *params, const float *x, float *y)
{
    const aot_transpose_params *p = params;
    int32_t idx[AOT_MAX_DIMS];
    int32_t rows = 1;
    int32_t n, step, in_off = 0;
    int32_t r, j, d;

    if (p->ndim <= 0) {
        y[0] = x[0];
        return;
    }
    /* A fixed-size clear: gcc turns a zeroing loop of variable length
     * into a call to memset, which a libc-free build does not have. */
    for (d = 0; d < AOT_MAX_DIMS; ++d) {
        idx[d] = 0;
    }
    for (d = 0; d < p->ndim - 1; ++d) {
        rows *= p->out_dims[d];
    }
    n = p->out_dims[p->ndim - 1];
    step = p->in_strides[p->ndim - 1];

    for (r = 0; r < rows; ++r) {
        const float *x_row = x + in_off;
        for (j = 0; j < n; ++j) {
            y[j] = x_row[j * step];
        }
        y += n;

        /* Next row: increment the odometer, carrying into outer dims. */
        for (d = p->ndim - 2; d >= 0; --d) {
            in_off += p->in_strides[d];
            if (++idx[d] < p->out_dims[d]) {
                break;
            }
            in_off -= p->in_strides[d] * p->out_dims[d];
            idx[d] = 0;
        }
    }
}
