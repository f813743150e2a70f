/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * Every element goes through int64 (integer and bool sources) or double
 * (float sources), so one switch per side covers every pair of types.
 * Float to integer truncates toward zero as C does; NaN and values outside
 * the target's range (undefined in C, unspecified in ONNX) saturate, NaN to 0.
 */

static int aot_cast_is_float(int32_t t)
{
    return t == AOT_DT_FLOAT || t == AOT_DT_DOUBLE;
}

static double aot_cast_read_f(const void *src, int32_t t, int32_t i)
{
    return t == AOT_DT_FLOAT ? (double)((const float *)src)[i] : ((const double *)src)[i];
}

static int64_t aot_cast_read_i(const void *src, int32_t t, int32_t i)
{
    switch (t) {
    case AOT_DT_UINT8:
    case AOT_DT_BOOL:
        return (int64_t)((const uint8_t *)src)[i];
    case AOT_DT_INT8:
        return (int64_t)((const int8_t *)src)[i];
    case AOT_DT_UINT16:
        return (int64_t)((const uint16_t *)src)[i];
    case AOT_DT_INT16:
        return (int64_t)((const int16_t *)src)[i];
    case AOT_DT_INT32:
        return (int64_t)((const int32_t *)src)[i];
    case AOT_DT_UINT32:
        return (int64_t)((const uint32_t *)src)[i];
    case AOT_DT_UINT64:
        return (int64_t)((const uint64_t *)src)[i];
    default:
        return ((const int64_t *)src)[i];
    }
}

/* A double truncated and clamped into [lo, hi]; NaN gives 0. */
static int64_t aot_cast_trunc(double v, int64_t lo, int64_t hi)
{
    if (!(v == v)) {
        return 0;
    }
    if (v <= (double)lo) {
        return lo;
    }
    if (v >= (double)hi) {
        return hi;
    }
    return (int64_t)v;
}

void aot_cast(const aot_cast_params *params, const void *src, void *dst)
{
    int32_t i;
    const int32_t from = params->from, to = params->to;
    const int from_float = aot_cast_is_float(from);

    for (i = 0; i < params->size; ++i) {
        double f = 0.0;
        int64_t v = 0;
        if (from_float) {
            f = aot_cast_read_f(src, from, i);
        } else {
            v = aot_cast_read_i(src, from, i);
            f = from == AOT_DT_UINT64 ? (double)(uint64_t)v : (double)v;
        }
        switch (to) {
        case AOT_DT_FLOAT:
            ((float *)dst)[i] = (float)f;
            break;
        case AOT_DT_DOUBLE:
            ((double *)dst)[i] = f;
            break;
        case AOT_DT_BOOL:
            ((uint8_t *)dst)[i] = (uint8_t)(from_float ? f != 0.0 : v != 0);
            break;
        case AOT_DT_UINT8:
            ((uint8_t *)dst)[i] = (uint8_t)(from_float ? aot_cast_trunc(f, 0, 255) : v);
            break;
        case AOT_DT_INT8:
            ((int8_t *)dst)[i] = (int8_t)(from_float ? aot_cast_trunc(f, -128, 127) : v);
            break;
        case AOT_DT_UINT16:
            ((uint16_t *)dst)[i] =
                (uint16_t)(from_float ? aot_cast_trunc(f, 0, 65535) : v);
            break;
        case AOT_DT_INT16:
            ((int16_t *)dst)[i] =
                (int16_t)(from_float ? aot_cast_trunc(f, -32768, 32767) : v);
            break;
        case AOT_DT_INT32:
            ((int32_t *)dst)[i] =
                (int32_t)(from_float ? aot_cast_trunc(f, INT32_MIN, INT32_MAX) : v);
            break;
        case AOT_DT_UINT32:
            ((uint32_t *)dst)[i] =
                (uint32_t)(from_float ? aot_cast_trunc(f, 0, UINT32_MAX) : v);
            break;
        case AOT_DT_UINT64:
            /* 2^63 and up: beyond int64, computed apart */
            ((uint64_t *)dst)[i] = from_float
                ? (f >= 9223372036854775808.0
                       ? (f >= 18446744073709551615.0 ? UINT64_MAX
                                                      : (uint64_t)f)
                       : (uint64_t)aot_cast_trunc(f, 0, INT64_MAX))
                : (uint64_t)v;
            break;
        default:
            ((int64_t *)dst)[i] = from_float
                ? aot_cast_trunc(f, INT64_MIN, INT64_MAX)
                : v;
            break;
        }
    }
}
