/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the sliding-window arithmetic shared by
 * aot_conv2d_f32 and the f32/s8 max and average pooling kernels. Ship it
 * with them.
 */
#ifndef AOT_WINDOW_IMPL_H
#define AOT_WINDOW_IMPL_H

#include "aot_kernels.h"

/*
 * The taps k in [0, kernel) of a window whose tap k sits at position
 * start + k * dilation, restricted to positions in [lo, hi). Computing this
 * once per output row or column lets the inner loops run without bounds
 * tests. The result is [*k_begin, *k_end), with k_end >= k_begin always.
 */
static inline void aot_window_taps(int32_t start, int32_t dilation,
                                   int32_t kernel, int32_t lo, int32_t hi,
                                   int32_t *k_begin, int32_t *k_end)
{
    int32_t kb = 0;
    int32_t ke = kernel;
    if (start < lo) {
        kb = (lo - start + dilation - 1) / dilation; /* first k reaching lo */
    }
    if (start >= hi) {
        ke = 0;
    } else if (start + (kernel - 1) * dilation >= hi) {
        ke = (hi - start + dilation - 1) / dilation; /* first k reaching hi */
    }
    if (ke < kb) {
        ke = kb; /* keep k_end - k_begin a valid (zero) count */
    }
    *k_begin = kb;
    *k_end = ke;
}

/*
 * The taps average pooling's divisor counts along one axis whose inside-input
 * taps are [k_begin, k_end): those, or with count_include_pad the taps inside
 * the padded input [-pad_lo, in + pad_hi) (taps past that, from ceil_mode,
 * never count).
 */
static inline int32_t aot_pool_count(int32_t start, int32_t dilation, int32_t kernel,
                                     int32_t in, int32_t pad_lo, int32_t pad_hi,
                                     int32_t count_include_pad,
                                     int32_t k_begin, int32_t k_end)
{
    int32_t pb, pe;
    if (!count_include_pad) {
        return k_end - k_begin;
    }
    aot_window_taps(start, dilation, kernel, -pad_lo, in + pad_hi, &pb, &pe);
    return pe - pb;
}

#endif /* AOT_WINDOW_IMPL_H */
