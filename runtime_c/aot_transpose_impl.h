/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the loop shared by aot_transpose_f32 and
 * aot_transpose_s8, which differ only in the element type. Ship it with them.
 *
 * Walks the output densely, a row of the last output dimension at a time,
 * while an odometer over the other output dimensions moves the input offset
 * by their input strides. ndim == 0 is a scalar. The element type is pasted
 * in by a macro so that each kernel's copy loop is a plain typed loop.
 */
#ifndef AOT_TRANSPOSE_IMPL_H
#define AOT_TRANSPOSE_IMPL_H

#include "aot_kernels.h"

#define AOT_TRANSPOSE_BODY(params, x, y, T)                                   \
    do {                                                                      \
        const aot_transpose_params *p_ = (params);                            \
        T *y_ = (y);                                                          \
        int32_t idx_[AOT_MAX_DIMS];                                           \
        int32_t rows_ = 1;                                                    \
        int32_t n_, step_, in_off_ = 0;                                       \
        int32_t r_, j_, d_;                                                   \
        if (p_->ndim <= 0) {                                                  \
            y_[0] = (x)[0];                                                   \
            break;                                                            \
        }                                                                     \
        /* A fixed-size clear: gcc turns a zeroing loop of variable length    \
         * into a call to memset, which a libc-free build does not have. */   \
        for (d_ = 0; d_ < AOT_MAX_DIMS; ++d_) {                               \
            idx_[d_] = 0;                                                     \
        }                                                                     \
        for (d_ = 0; d_ < p_->ndim - 1; ++d_) {                               \
            rows_ *= p_->out_dims[d_];                                        \
        }                                                                     \
        n_ = p_->out_dims[p_->ndim - 1];                                      \
        step_ = p_->in_strides[p_->ndim - 1];                                 \
        for (r_ = 0; r_ < rows_; ++r_) {                                      \
            const T *x_row_ = (x) + in_off_;                                  \
            for (j_ = 0; j_ < n_; ++j_) {                                     \
                y_[j_] = x_row_[j_ * step_];                                  \
            }                                                                 \
            y_ += n_;                                                         \
            /* Next row: increment the odometer, carrying into outer dims. */ \
            for (d_ = p_->ndim - 2; d_ >= 0; --d_) {                          \
                in_off_ += p_->in_strides[d_];                                \
                if (++idx_[d_] < p_->out_dims[d_]) {                          \
                    break;                                                    \
                }                                                             \
                in_off_ -= p_->in_strides[d_] * p_->out_dims[d_];             \
                idx_[d_] = 0;                                                 \
            }                                                                 \
        }                                                                     \
    } while (0)

#endif /* AOT_TRANSPOSE_IMPL_H */
