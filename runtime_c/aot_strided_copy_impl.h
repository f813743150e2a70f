/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the strided copy shared by aot_expand and
 * aot_slice (see aot_strided_copy_params). Ship it with them.
 *
 * The output is dense, so it is written as rows of the innermost dimension;
 * an odometer over the outer dimensions moves the source offset by its
 * strides. A row whose source is contiguous is one aot_memcpy; otherwise
 * elements are copied with the integer type of their size, so the loop is a
 * plain load/store loop, not a byte loop.
 */
#ifndef AOT_STRIDED_COPY_IMPL_H
#define AOT_STRIDED_COPY_IMPL_H

#include "aot_kernels.h"
#include "aot_math.h"

#define AOT_STRIDED_ROW(T, dst, src, n, step)                                 \
    do {                                                                      \
        T *d_ = (T *)(void *)(dst);                                           \
        int32_t j_;                                                           \
        for (j_ = 0; j_ < (n); ++j_) {                                        \
            d_[j_] = *(const T *)(const void *)((src) + j_ * (step));         \
        }                                                                     \
    } while (0)

static inline void aot_strided_copy_row(uint8_t *dst, const uint8_t *src, int32_t n,
                                        int32_t step, int32_t elem_bytes)
{
    int32_t j;
    if (step == elem_bytes) {
        aot_memcpy(dst, src, (size_t)n * (size_t)elem_bytes);
        return;
    }
    switch (elem_bytes) {
    case 1:
        AOT_STRIDED_ROW(uint8_t, dst, src, n, step);
        break;
    case 2:
        AOT_STRIDED_ROW(uint16_t, dst, src, n, step);
        break;
    case 4:
        AOT_STRIDED_ROW(uint32_t, dst, src, n, step);
        break;
    case 8:
        AOT_STRIDED_ROW(uint64_t, dst, src, n, step);
        break;
    default:
        for (j = 0; j < n; ++j) {
            aot_memcpy(dst + j * elem_bytes, src + j * step, (size_t)elem_bytes);
        }
        break;
    }
}

static inline void aot_strided_copy(const aot_strided_copy_params *p, const void *src,
                                    void *dst)
{
    const uint8_t *s = (const uint8_t *)src;
    uint8_t *d = (uint8_t *)dst;
    int32_t idx[AOT_MAX_DIMS];
    int32_t k, r, rows = 1, off = p->src_offset;
    const int32_t last = p->ndim - 1;
    const int32_t n = p->dims[last];
    const int32_t step = p->src_strides[last];
    const int32_t row_bytes = n * p->elem_bytes;

    /* fixed-size clear: a variable-length zeroing loop becomes a memset call */
    for (k = 0; k < AOT_MAX_DIMS; ++k) {
        idx[k] = 0;
    }
    for (k = 0; k < last; ++k) {
        rows *= p->dims[k];
    }
    for (r = 0; r < rows; ++r) {
        aot_strided_copy_row(d, s + off, n, step, p->elem_bytes);
        d += row_bytes;
        for (k = last - 1; k >= 0; --k) {
            off += p->src_strides[k];
            if (++idx[k] < p->dims[k]) {
                break;
            }
            off -= p->src_strides[k] * p->dims[k];
            idx[k] = 0;
        }
    }
}

#endif /* AOT_STRIDED_COPY_IMPL_H */
