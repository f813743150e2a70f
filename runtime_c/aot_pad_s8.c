/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * int8 N-d pad: the byte-for-byte counterpart of the float pad (same index
 * mapping, see there), with the constant as an int8 code. TFLite's int8
 * PAD fills with the output zero point, PADV2 with its quantized constant,
 * MIRROR_PAD REFLECT is AOT_PAD_REFLECT; edge and wrap only move codes.
 * Whole rows are filled and copied with aot_memset / aot_memcpy (gcc would
 * turn byte loops into libc calls, which a libc-free build does not have).
 */

/* The input index that output index o of dimension d reads, or -1 for the
 * constant value. */
static int32_t aot_pad_s8_source(const aot_pad_s8_params *p, int32_t d, int32_t o)
{
    const int32_t pb = p->pads_begin[d];
    const int32_t i = o - pb;
    const int32_t lo = pb < 0 ? -pb : 0;
    const int32_t out_end = p->out_dims[d] - pb;
    const int32_t hi = out_end < p->in_dims[d] ? out_end : p->in_dims[d];
    const int32_t len = hi - lo;
    int32_t t;

    if (i >= lo && i < hi) {
        return i;
    }
    if (len <= 0 || p->mode == AOT_PAD_CONSTANT) {
        return -1;
    }
    switch (p->mode) {
    case AOT_PAD_EDGE:
        return i < lo ? lo : hi - 1;
    case AOT_PAD_REFLECT:
        if (len == 1) {
            return lo;
        }
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

void aot_pad_s8(const aot_pad_s8_params *params, const int8_t *x, int8_t *y)
{
    const aot_pad_s8_params *p = params;
    const int8_t value = (int8_t)p->value;
    int32_t in_strides[AOT_MAX_DIMS];
    int32_t idx[AOT_MAX_DIMS];
    int32_t rows = 1;
    int32_t last, n, pb, lo, hi, copy_begin, copy_end;
    int32_t r, j, d;

    if (p->ndim <= 0) {
        y[0] = x[0];
        return;
    }
    last = p->ndim - 1;
    in_strides[last] = 1;
    for (d = last; d > 0; --d) {
        in_strides[d - 1] = in_strides[d] * p->in_dims[d];
    }
    /* A fixed-size clear: gcc turns a zeroing loop of variable length
     * into a call to memset, which a libc-free build does not have. */
    for (d = 0; d < AOT_MAX_DIMS; ++d) {
        idx[d] = 0;
    }
    for (d = 0; d < last; ++d) {
        rows *= p->out_dims[d];
    }

    /* Along the last dimension, outputs [copy_begin, copy_end) are a
     * straight copy of the kept input range; only the ends need mapping. */
    n = p->out_dims[last];
    pb = p->pads_begin[last];
    lo = pb < 0 ? -pb : 0;
    hi = n - pb < p->in_dims[last] ? n - pb : p->in_dims[last];
    if (hi < lo) {
        hi = lo;
    }
    copy_begin = lo + pb;
    copy_end = hi + pb;

    for (r = 0; r < rows; ++r) {
        int32_t base = 0;
        int32_t in_padding = 0;

        for (d = 0; d < last; ++d) {
            const int32_t i = aot_pad_s8_source(p, d, idx[d]);
            if (i < 0) {
                in_padding = 1;
                break;
            }
            base += i * in_strides[d];
        }

        if (in_padding) {
            aot_memset(y, value, (size_t)n);
        } else {
            const int8_t *x_row = x + base;
            for (j = 0; j < copy_begin; ++j) {
                const int32_t i = aot_pad_s8_source(p, last, j);
                y[j] = i < 0 ? value : x_row[i];
            }
            if (copy_end > copy_begin) {
                aot_memcpy(y + copy_begin, x_row + (copy_begin - pb),
                           (size_t)(copy_end - copy_begin));
            }
            for (j = copy_end; j < n; ++j) {
                const int32_t i = aot_pad_s8_source(p, last, j);
                y[j] = i < 0 ? value : x_row[i];
            }
        }
        y += n;

        for (d = last - 1; d >= 0; --d) {
            if (++idx[d] < p->out_dims[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
}
