/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * Reductions over the middle axis of [outer][reduce][inner], chosen by
 * params->op: each output adds (multiplies, compares) its inputs in index
 * order, row by row so every read is sequential. Max/Min propagate NaN as
 * numpy does. LogSumExp subtracts the maximum first, so nothing overflows
 * (+-inf maxima give +-inf). reduce >= 1 (aot rejects zero-size tensors).
 * The _DIVISOR norms give 1 instead of 0: a zero norm means a slice of
 * zeros, which LpNormalization keeps 0 by dividing it by 1.
 */

static float aot_reduce_start(int32_t op)
{
    switch (op) {
    case AOT_REDUCE_MAX:
        return -AOT_INFINITY;
    case AOT_REDUCE_MIN:
        return AOT_INFINITY;
    case AOT_REDUCE_PROD:
        return 1.0f;
    default:
        return 0.0f;
    }
}

static float aot_reduce_step(int32_t op, float acc, float v)
{
    switch (op) {
    case AOT_REDUCE_MAX:
        return (v > acc || v != v) ? v : acc;
    case AOT_REDUCE_MIN:
        return (v < acc || v != v) ? v : acc;
    case AOT_REDUCE_PROD:
        return acc * v;
    case AOT_REDUCE_SUM_SQUARE:
    case AOT_REDUCE_L2:
    case AOT_REDUCE_L2_DIVISOR:
        return acc + v * v;
    case AOT_REDUCE_L1:
    case AOT_REDUCE_L1_DIVISOR:
        return acc + (v < 0.0f ? -v : v);
    default: /* SUM, LOG_SUM */
        return acc + v;
    }
}

void aot_reduce_f32(const aot_reduce_op_params *params, const float *x, float *y)
{
    const aot_reduce_op_params *p = params;
    const int32_t op = p->op == AOT_REDUCE_LOG_SUM_EXP ? AOT_REDUCE_MAX : p->op;
    int32_t o, r, j;

    for (o = 0; o < p->outer; ++o) {
        const float *x_o = x + o * p->reduce * p->inner;
        float *y_o = y + o * p->inner;
        /* The first row starts each result from the op's identity, rather
         * than a clearing loop, which gcc would turn into a call to memset. */
        for (j = 0; j < p->inner; ++j) {
            y_o[j] = aot_reduce_step(op, aot_reduce_start(op), x_o[j]);
        }
        for (r = 1; r < p->reduce; ++r) {
            const float *x_r = x_o + r * p->inner;
            for (j = 0; j < p->inner; ++j) {
                y_o[j] = aot_reduce_step(op, y_o[j], x_r[j]);
            }
        }
        if (p->op == AOT_REDUCE_LOG_SUM_EXP) {
            for (j = 0; j < p->inner; ++j) {
                const float m = y_o[j];
                float sum = 0.0f;
                if (m == AOT_INFINITY || m == -AOT_INFINITY || m != m) {
                    continue;
                }
                for (r = 0; r < p->reduce; ++r) {
                    sum += aot_expf(x_o[r * p->inner + j] - m);
                }
                y_o[j] = m + aot_logf(sum);
            }
        } else if (p->op == AOT_REDUCE_L2 || p->op == AOT_REDUCE_L2_DIVISOR) {
            for (j = 0; j < p->inner; ++j) {
                y_o[j] = aot_sqrtf(y_o[j]);
            }
        }
        if (p->op == AOT_REDUCE_L1_DIVISOR || p->op == AOT_REDUCE_L2_DIVISOR) {
            for (j = 0; j < p->inner; ++j) {
                y_o[j] = y_o[j] == 0.0f ? 1.0f : y_o[j];
            }
        } else if (p->op == AOT_REDUCE_LOG_SUM) {
            for (j = 0; j < p->inner; ++j) {
                y_o[j] = aot_logf(y_o[j]);
            }
        }
    }
}
