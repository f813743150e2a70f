/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the broadcasting loop shared by aot_add_f32,
 * aot_sub_f32, aot_mul_f32, aot_div_f32, aot_and_bool, aot_add_s8 and
 * aot_mul_s8. Ship it with them.
 *
 * The output is dense, so it is walked as rows of the innermost dimension;
 * an odometer over the outer dimensions moves the two input offsets by
 * their strides. The operator is pasted into the row loop by a macro rather
 * than passed as a function pointer, so the inner loop stays a plain
 * arithmetic loop even at -O0/-Os or when the compiler does not inline.
 */
#ifndef AOT_BINARY_IMPL_H
#define AOT_BINARY_IMPL_H

#include "aot_kernels.h"

typedef struct {
    int32_t rows;   /* number of innermost rows */
    int32_t n;      /* elements per row */
    int32_t a_step; /* stride of a, b along a row */
    int32_t b_step;
    int32_t a_off;  /* offset of the current row's first element */
    int32_t b_off;
    int32_t idx[AOT_MAX_DIMS];
} aot_binary_cursor;

/* The cursor over a broadcast shape given by its fields, so that the int8
 * kernels' own params structs (aot_add_s8_params, aot_mul_s8_params) share it. */
static inline void aot_binary_cursor_start(aot_binary_cursor *c, int32_t size,
                                           int32_t ndim, const int32_t *dims,
                                           const int32_t *a_strides,
                                           const int32_t *b_strides)
{
    int32_t d;
    c->a_off = 0;
    c->b_off = 0;
    if (ndim <= 0) {
        /* Dense, same size: a single row. */
        c->rows = size > 0 ? 1 : 0;
        c->n = size;
        c->a_step = 1;
        c->b_step = 1;
        return;
    }
    /* A fixed-size clear: gcc turns a zeroing loop of variable length
     * into a call to memset, which a libc-free build does not have. */
    for (d = 0; d < AOT_MAX_DIMS; ++d) {
        c->idx[d] = 0;
    }
    c->rows = 1;
    for (d = 0; d < ndim - 1; ++d) {
        c->rows *= dims[d];
    }
    c->n = dims[ndim - 1];
    c->a_step = a_strides[ndim - 1];
    c->b_step = b_strides[ndim - 1];
}

/* Moves to the next row: increments the odometer over dims [0, ndim - 1). */
static inline void aot_binary_cursor_advance(aot_binary_cursor *c, int32_t ndim,
                                             const int32_t *dims,
                                             const int32_t *a_strides,
                                             const int32_t *b_strides)
{
    int32_t d;
    for (d = ndim - 2; d >= 0; --d) {
        c->a_off += a_strides[d];
        c->b_off += b_strides[d];
        if (++c->idx[d] < dims[d]) {
            return;
        }
        /* This digit wraps: undo its whole sweep and carry. */
        c->a_off -= a_strides[d] * dims[d];
        c->b_off -= b_strides[d] * dims[d];
        c->idx[d] = 0;
    }
}

static inline void aot_binary_cursor_init(aot_binary_cursor *c,
                                          const aot_binary_params *p)
{
    aot_binary_cursor_start(c, p->size, p->ndim, p->dims, p->a_strides, p->b_strides);
}

static inline void aot_binary_cursor_next(aot_binary_cursor *c,
                                          const aot_binary_params *p)
{
    aot_binary_cursor_advance(c, p->ndim, p->dims, p->a_strides, p->b_strides);
}

/* Applies the fused activation to a finished output row. */
static inline void aot_binary_activate_row(const aot_act_f32 *act, float *y,
                                           int32_t n)
{
    int32_t j;
    if (act->kind == AOT_ACT_NONE) {
        return;
    }
    for (j = 0; j < n; ++j) {
        y[j] = aot_act_apply_f32(act, y[j]);
    }
}

/*
 * The body of a broadcasting binary kernel: y = act(a OP b), with OP an
 * infix operator token (+, -, *, /). The dense case gets its own loop so
 * that compilers can vectorise it.
 */
#define AOT_BINARY_F32_BODY(params, a, b, y, OP)                              \
    do {                                                                      \
        aot_binary_cursor c_;                                                 \
        float *y_ = (y);                                                      \
        int32_t r_, j_;                                                       \
        aot_binary_cursor_init(&c_, (params));                                \
        for (r_ = 0; r_ < c_.rows; ++r_) {                                    \
            const float *a_ = (a) + c_.a_off;                                 \
            const float *b_ = (b) + c_.b_off;                                 \
            if (c_.a_step == 1 && c_.b_step == 1) {                           \
                for (j_ = 0; j_ < c_.n; ++j_) {                               \
                    y_[j_] = a_[j_] OP b_[j_];                                \
                }                                                             \
            } else {                                                          \
                for (j_ = 0; j_ < c_.n; ++j_) {                               \
                    y_[j_] = a_[j_ * c_.a_step] OP b_[j_ * c_.b_step];        \
                }                                                             \
            }                                                                 \
            aot_binary_activate_row(&(params)->act, y_, c_.n);                \
            y_ += c_.n;                                                       \
            aot_binary_cursor_next(&c_, (params));                            \
        }                                                                     \
    } while (0)

/*
 * The body of an int8 broadcasting kernel: y[i] = ONE(params, a code, b code),
 * ONE the kernel's per-element TFLite formula. params is any struct with the
 * broadcast fields of aot_binary_params (size, ndim, dims, a_strides,
 * b_strides). ndim == 0: dense, same size. y may alias an input that is not
 * broadcast (each element is read before the same element is written).
 */
#define AOT_BINARY_S8_BODY(params, a, b, y, ONE)                              \
    do {                                                                      \
        int8_t *y_ = (y);                                                     \
        int32_t r_, j_;                                                       \
        if ((params)->ndim <= 0) {                                            \
            for (j_ = 0; j_ < (params)->size; ++j_) {                         \
                y_[j_] = ONE((params), (a)[j_], (b)[j_]);                     \
            }                                                                 \
        } else {                                                              \
            aot_binary_cursor c_;                                             \
            aot_binary_cursor_start(&c_, (params)->size, (params)->ndim,      \
                                    (params)->dims, (params)->a_strides,      \
                                    (params)->b_strides);                     \
            for (r_ = 0; r_ < c_.rows; ++r_) {                                \
                const int8_t *a_ = (a) + c_.a_off;                            \
                const int8_t *b_ = (b) + c_.b_off;                            \
                for (j_ = 0; j_ < c_.n; ++j_) {                               \
                    y_[j_] = ONE((params), a_[j_ * c_.a_step],                \
                                 b_[j_ * c_.b_step]);                         \
                }                                                             \
                y_ += c_.n;                                                   \
                aot_binary_cursor_advance(&c_, (params)->ndim, (params)->dims, \
                                          (params)->a_strides,                \
                                          (params)->b_strides);               \
            }                                                                 \
        }                                                                     \
    } while (0)

/* The body of the bool And / Or / Xor: y = (a != 0) OP (b != 0), broadcasting. */
#define AOT_LOGICAL_BOOL_BODY(params, a, b, y, OP)                            \
    do {                                                                      \
        aot_binary_cursor c_;                                                 \
        uint8_t *y_ = (y);                                                    \
        int32_t r_, j_;                                                       \
        aot_binary_cursor_init(&c_, (params));                                \
        for (r_ = 0; r_ < c_.rows; ++r_) {                                    \
            const uint8_t *a_ = (a) + c_.a_off;                               \
            const uint8_t *b_ = (b) + c_.b_off;                               \
            for (j_ = 0; j_ < c_.n; ++j_) {                                   \
                y_[j_] = (uint8_t)((a_[j_ * c_.a_step] != 0u)                 \
                                   OP (b_[j_ * c_.b_step] != 0u));            \
            }                                                                 \
            y_ += c_.n;                                                       \
            aot_binary_cursor_next(&c_, (params));                            \
        }                                                                     \
    } while (0)

#endif /* AOT_BINARY_IMPL_H */
