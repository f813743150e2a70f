/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the body of aot_compare_<dtype> (Equal, Less,
 * LessOrEqual, Greater, GreaterOrEqual). Ship it with them.
 *
 * The comparison is chosen once per row, outside the element loop, and
 * pasted in as an infix operator so that each row loop is a plain typed
 * loop. Rows and broadcasting come from aot_binary_impl.h's cursor. Float
 * comparisons are IEEE's: anything compared with NaN is false.
 */
#ifndef AOT_COMPARE_IMPL_H
#define AOT_COMPARE_IMPL_H

#include "aot_binary_impl.h"

#define AOT_COMPARE_ROW(a, b, y, c, OP)                                       \
    do {                                                                      \
        int32_t j_;                                                           \
        for (j_ = 0; j_ < (c).n; ++j_) {                                      \
            (y)[j_] = (uint8_t)((a)[j_ * (c).a_step] OP (b)[j_ * (c).b_step]); \
        }                                                                     \
    } while (0)

#define AOT_COMPARE_BODY(params, a, b, y, T)                                  \
    do {                                                                      \
        aot_binary_cursor c_;                                                 \
        uint8_t *y_ = (y);                                                    \
        int32_t r_;                                                           \
        aot_binary_cursor_start(&c_, (params)->size, (params)->ndim,          \
                                (params)->dims, (params)->a_strides,          \
                                (params)->b_strides);                         \
        for (r_ = 0; r_ < c_.rows; ++r_) {                                    \
            const T *a_ = (a) + c_.a_off;                                     \
            const T *b_ = (b) + c_.b_off;                                     \
            switch ((params)->op) {                                           \
            case AOT_CMP_LESS:                                                \
                AOT_COMPARE_ROW(a_, b_, y_, c_, <);                           \
                break;                                                        \
            case AOT_CMP_LESS_EQUAL:                                          \
                AOT_COMPARE_ROW(a_, b_, y_, c_, <=);                          \
                break;                                                        \
            case AOT_CMP_GREATER:                                             \
                AOT_COMPARE_ROW(a_, b_, y_, c_, >);                           \
                break;                                                        \
            case AOT_CMP_GREATER_EQUAL:                                       \
                AOT_COMPARE_ROW(a_, b_, y_, c_, >=);                          \
                break;                                                        \
            default:                                                          \
                AOT_COMPARE_ROW(a_, b_, y_, c_, ==);                          \
                break;                                                        \
            }                                                                 \
            y_ += c_.n;                                                       \
            aot_binary_cursor_advance(&c_, (params)->ndim, (params)->dims,    \
                                      (params)->a_strides,                    \
                                      (params)->b_strides);                   \
        }                                                                     \
    } while (0)

/*
 * The body of a broadcasting Max / Min: y = a if (a CMP b) or a is NaN,
 * else b -- NaN in either operand gives NaN, as numpy's maximum/minimum.
 * (For integers a != a is false and drops out.)
 */
#define AOT_MINMAX_BODY(params, a, b, y, T, CMP)                              \
    do {                                                                      \
        aot_binary_cursor c_;                                                 \
        T *y_ = (y);                                                          \
        int32_t r_, j_;                                                       \
        aot_binary_cursor_init(&c_, (params));                                \
        for (r_ = 0; r_ < c_.rows; ++r_) {                                    \
            const T *a_ = (a) + c_.a_off;                                     \
            const T *b_ = (b) + c_.b_off;                                     \
            for (j_ = 0; j_ < c_.n; ++j_) {                                   \
                const T u_ = a_[j_ * c_.a_step];                              \
                const T v_ = b_[j_ * c_.b_step];                              \
                y_[j_] = (u_ CMP v_ || u_ != u_) ? u_ : v_;                   \
            }                                                                 \
            y_ += c_.n;                                                       \
            aot_binary_cursor_next(&c_, (params));                            \
        }                                                                     \
    } while (0)

#endif /* AOT_COMPARE_IMPL_H */
