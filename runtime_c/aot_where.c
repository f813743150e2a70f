/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * The element type only matters through its size: elements are moved with
 * the integer type of that size (the switch is outside the loop).
 */
#define AOT_WHERE_LOOP(T)                                                     \
    do {                                                                      \
        const T *x_ = (const T *)x;                                           \
        const T *y_ = (const T *)y;                                           \
        T *o_ = (T *)out;                                                     \
        for (i = 0; i < params->size; ++i) {                                  \
            o_[i] = cond[co] != 0u ? x_[xo] : y_[yo];                         \
            for (d = last; d >= 0; --d) {                                     \
                co += params->c_strides[d];                                   \
                xo += params->x_strides[d];                                   \
                yo += params->y_strides[d];                                   \
                if (++idx[d] < params->dims[d]) {                             \
                    break;                                                    \
                }                                                             \
                co -= params->c_strides[d] * params->dims[d];                 \
                xo -= params->x_strides[d] * params->dims[d];                 \
                yo -= params->y_strides[d] * params->dims[d];                 \
                idx[d] = 0;                                                   \
            }                                                                 \
            if (last < 0) { /* dense: every operand moves with the output */  \
                ++co;                                                         \
                ++xo;                                                         \
                ++yo;                                                         \
            }                                                                 \
        }                                                                     \
    } while (0)

void aot_where(const aot_where_params *params, const uint8_t *cond, const void *x,
               const void *y, void *out)
{
    int32_t idx[AOT_MAX_DIMS];
    int32_t i, d, co = 0, xo = 0, yo = 0;
    const int32_t last = params->ndim - 1;

    /* fixed-size clear: a variable-length zeroing loop becomes a memset call */
    for (d = 0; d < AOT_MAX_DIMS; ++d) {
        idx[d] = 0;
    }
    switch (params->elem_bytes) {
    case 1:
        AOT_WHERE_LOOP(uint8_t);
        break;
    case 2:
        AOT_WHERE_LOOP(uint16_t);
        break;
    case 8:
        AOT_WHERE_LOOP(uint64_t);
        break;
    default:
        AOT_WHERE_LOOP(uint32_t);
        break;
    }
}
