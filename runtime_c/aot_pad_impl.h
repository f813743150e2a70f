/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the index mapping and row walk shared by aot_pad_f32
 * and aot_pad_s8 (the same geometry; only the element type and the fill
 * differ). Ship it with them.
 *
 * Output index o of a dimension reads input index i = o - pads_begin.
 * Negative pads crop first and the remaining pads then extend the cropped
 * input, as onnxruntime does (so reflect/edge/wrap never bring back a
 * cropped element); numpy.pad, the ONNX reference, cannot crop. The kept
 * input range of a dimension is [lo, hi), lo = max(0, -pads_begin) and
 * hi = min(in_dim, out_dim - pads_begin).
 *
 * The output is walked as rows of the last dimension. Along it, outputs
 * [copy_begin, copy_end) are a straight copy of the kept input range; only
 * the ends need aot_pad_source.
 */
#ifndef AOT_PAD_IMPL_H
#define AOT_PAD_IMPL_H

#include "aot_kernels.h"

/* The geometry fields of aot_pad_params / aot_pad_s8_params. */
typedef struct {
    int32_t ndim; /* >= 1 */
    const int32_t *in_dims;
    const int32_t *out_dims;
    const int32_t *pads_begin;
    int32_t mode; /* aot_pad_mode */
} aot_pad_geometry;

typedef struct {
    int32_t rows;       /* rows of the last dimension in the output */
    int32_t n;          /* elements per output row */
    int32_t pb;         /* pads_begin of the last dimension */
    int32_t copy_begin; /* [copy_begin, copy_end): y[j] = x_row[j - pb] */
    int32_t copy_end;
    int32_t in_strides[AOT_MAX_DIMS];
    int32_t idx[AOT_MAX_DIMS];
} aot_pad_cursor;

/* The input index that output index o of dimension d reads, or -1 for the
 * constant value. */
static inline int32_t aot_pad_source(const aot_pad_geometry *g, int32_t d, int32_t o)
{
    const int32_t pb = g->pads_begin[d];
    const int32_t i = o - pb;
    const int32_t lo = pb < 0 ? -pb : 0;
    const int32_t out_end = g->out_dims[d] - pb;
    const int32_t hi = out_end < g->in_dims[d] ? out_end : g->in_dims[d];
    const int32_t len = hi - lo;
    int32_t t;

    if (i >= lo && i < hi) {
        return i;
    }
    if (len <= 0 || g->mode == AOT_PAD_CONSTANT) {
        return -1; /* nothing left to extend after cropping: use the value */
    }
    switch (g->mode) {
    case AOT_PAD_EDGE:
        return i < lo ? lo : hi - 1;
    case AOT_PAD_REFLECT:
        if (len == 1) {
            return lo;
        }
        /* Mirroring without repeating the edge has period 2 * (len - 1);
         * this also covers pads wider than the input, as numpy does. */
        t = (i - lo) % (2 * (len - 1));
        if (t < 0) {
            t += 2 * (len - 1);
        }
        return lo + (t < len ? t : 2 * (len - 1) - t);
    case AOT_PAD_WRAP:
        t = (i - lo) % len;
        if (t < 0) {
            t += len;
        }
        return lo + t;
    default:
        return -1;
    }
}

/* Fills g from a params struct's fields (ndim >= 1) and starts c at row 0. */
static inline void aot_pad_cursor_init(aot_pad_cursor *c, aot_pad_geometry *g, int32_t ndim,
                                       const int32_t *in_dims, const int32_t *out_dims,
                                       const int32_t *pads_begin, int32_t mode)
{
    const int32_t last = ndim - 1;
    int32_t lo, hi, d;

    g->ndim = ndim;
    g->in_dims = in_dims;
    g->out_dims = out_dims;
    g->pads_begin = pads_begin;
    g->mode = mode;
    c->in_strides[last] = 1;
    for (d = last; d > 0; --d) {
        c->in_strides[d - 1] = c->in_strides[d] * g->in_dims[d];
    }
    /* A fixed-size clear: gcc turns a zeroing loop of variable length
     * into a call to memset, which a libc-free build does not have. */
    for (d = 0; d < AOT_MAX_DIMS; ++d) {
        c->idx[d] = 0;
    }
    c->rows = 1;
    for (d = 0; d < last; ++d) {
        c->rows *= g->out_dims[d];
    }
    c->n = g->out_dims[last];
    c->pb = g->pads_begin[last];
    lo = c->pb < 0 ? -c->pb : 0;
    hi = c->n - c->pb < g->in_dims[last] ? c->n - c->pb : g->in_dims[last];
    if (hi < lo) {
        hi = lo;
    }
    c->copy_begin = lo + c->pb;
    c->copy_end = hi + c->pb;
}

/* The input offset of the current output row's source row, or -1 when the
 * row lies in the padding of an outer dimension; then moves to the next row. */
static inline int32_t aot_pad_cursor_next(aot_pad_cursor *c, const aot_pad_geometry *g)
{
    const int32_t last = g->ndim - 1;
    int32_t base = 0;
    int32_t d;

    for (d = 0; d < last; ++d) {
        const int32_t i = aot_pad_source(g, d, c->idx[d]);
        if (i < 0) {
            base = -1;
            break;
        }
        base += i * c->in_strides[d];
    }
    for (d = last - 1; d >= 0; --d) {
        if (++c->idx[d] < g->out_dims[d]) {
            break;
        }
        c->idx[d] = 0;
    }
    return base;
}

#endif /* AOT_PAD_IMPL_H */
