/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: when and how the in-place depthwise convolutions
 * (aot_depthwise_conv2d_inplace_f32 / _s8) copy output rows out of their
 * scratch ring. Ship it with them.
 *
 * The output starts at the input's address. The kernels walk the planes
 * g = n * channels + c in order and, within a plane, the output rows in
 * order; output row oy of plane g reads only input rows >= max(0, oy *
 * stride_h - pad_top) of input plane g, and later rows and planes read no
 * lower input. So once row oy is next, every element before input element
 * g * in_plane + max(0, oy * stride_h - pad_top) * in_w has been read for
 * the last time, and the finished output rows that end at or before that
 * element may be written. Output plane g ends at (g + 1) * out_plane <=
 * (g + 1) * in_plane (out_plane <= in_plane), so a plane's rows never land on
 * a later plane's input and all of them may be written once the plane is done.
 *
 * targets/rules_inplace.py sizes the ring with this same rule: the rows
 * computed but not yet written, plus the one being computed.
 */
#ifndef AOT_INPLACE_IMPL_H
#define AOT_INPLACE_IMPL_H

#include "aot_kernels.h"
#include "aot_math.h"

/* How many of plane g's output rows [0, oy) may be written before output row
 * oy is computed. Element offsets fit int32: they lie inside the tensors. */
static inline int32_t aot_inplace_rows_ready(int32_t g, int32_t oy, int32_t stride_h,
                                             int32_t pad_top, int32_t in_h, int32_t in_w,
                                             int32_t out_h, int32_t out_w)
{
    int32_t iy = oy * stride_h - pad_top;
    int32_t free_elems, rows;
    iy = iy < 0 ? 0 : (iy > in_h ? in_h : iy);
    /* input elements before the first one still to be read, counted from the
     * start of output plane g: g * (in_plane - out_plane) + iy * in_w >= 0 */
    free_elems = g * (in_h * in_w - out_h * out_w) + iy * in_w;
    rows = free_elems / out_w;
    return rows < oy ? rows : oy;
}

/* Copies a plane's finished output rows [done, until) from the ring of
 * ring_rows rows of row_bytes each to their place in y_plane; returns until. */
static inline int32_t aot_inplace_flush_rows(void *y_plane, const void *ring, int32_t done,
                                             int32_t until, int32_t ring_rows,
                                             size_t row_bytes)
{
    for (; done < until; ++done) {
        aot_memcpy((uint8_t *)y_plane + (size_t)done * row_bytes,
                   (const uint8_t *)ring + (size_t)(done % ring_rows) * row_bytes, row_bytes);
    }
    return done;
}

#endif /* AOT_INPLACE_IMPL_H */
