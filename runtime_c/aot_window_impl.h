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

/* One pooling window: its tap (0, 0) sits at input (iy0, ix0); the taps
 * [ky_begin, ky_end) x [kx_begin, kx_end) lie inside the input; rows * cols
 * is average pooling's divisor (aot_pool_count). */
typedef struct {
    int32_t iy0, ix0;
    int32_t ky_begin, ky_end;
    int32_t kx_begin, kx_end;
    int32_t rows, cols;
} aot_pool_window;

/*
 * The body of a 2-D pooling kernel over [planes][in_h][in_w] -> [planes][out_h]
 * [out_w]: for every output, in order, *y++ = WINDOW(ctx, x_c, &window), with
 * x_c the plane's input (of element type T). COUNT_PAD is count_include_pad
 * for the divisor; max pooling passes 0 and never reads rows/cols.
 */
#define AOT_POOL2D_BODY(p, x, y, T, COUNT_PAD, WINDOW, ctx)                       \
    do {                                                                          \
        const int32_t in_plane_ = (p)->in_h * (p)->in_w;                          \
        aot_pool_window w_;                                                       \
        int32_t c_, oy_, ox_;                                                     \
        for (c_ = 0; c_ < (p)->planes; ++c_) {                                    \
            const T *x_c_ = (x) + c_ * in_plane_;                                 \
            for (oy_ = 0; oy_ < (p)->out_h; ++oy_) {                              \
                w_.iy0 = oy_ * (p)->stride_h - (p)->pad_top;                      \
                aot_window_taps(w_.iy0, (p)->dilation_h, (p)->kernel_h, 0,        \
                                (p)->in_h, &w_.ky_begin, &w_.ky_end);             \
                w_.rows = aot_pool_count(w_.iy0, (p)->dilation_h, (p)->kernel_h,  \
                                         (p)->in_h, (p)->pad_top, (p)->pad_bottom, \
                                         (COUNT_PAD), w_.ky_begin, w_.ky_end);    \
                for (ox_ = 0; ox_ < (p)->out_w; ++ox_) {                          \
                    w_.ix0 = ox_ * (p)->stride_w - (p)->pad_left;                 \
                    aot_window_taps(w_.ix0, (p)->dilation_w, (p)->kernel_w, 0,    \
                                    (p)->in_w, &w_.kx_begin, &w_.kx_end);         \
                    w_.cols = aot_pool_count(w_.ix0, (p)->dilation_w,             \
                                             (p)->kernel_w, (p)->in_w,            \
                                             (p)->pad_left, (p)->pad_right,       \
                                             (COUNT_PAD), w_.kx_begin,            \
                                             w_.kx_end);                          \
                    *(y)++ = WINDOW((ctx), x_c_, &w_);                            \
                }                                                                 \
            }                                                                     \
        }                                                                         \
    } while (0)

#endif /* AOT_WINDOW_IMPL_H */
