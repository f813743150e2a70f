/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

void aot_copy2d(const aot_copy2d_params *params, const void *src, void *dst)
{
    const aot_copy2d_params *p = params;
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = (unsigned char *)dst;
    int32_t r;

    if (p->rows <= 0 || p->row_bytes <= 0) {
        return;
    }
    /* Rows laid end to end are one block: a single copy is faster. */
    if (p->src_stride == p->row_bytes && p->dst_stride == p->row_bytes) {
        aot_memcpy(d, s, (size_t)p->rows * (size_t)p->row_bytes);
        return;
    }
    for (r = 0; r < p->rows; ++r) {
        aot_memcpy(d + r * p->dst_stride, s + r * p->src_stride,
                   (size_t)p->row_bytes);
    }
}
