/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * The element-wise float32 functions ONNX has no kernel of their own for,
 * chosen by params->op. One switch per call, then a plain loop per function.
 *
 * No libm: exp/log/pow/sqrt/tanh/sin/cos come from aot_math.h. floor/ceil/round
 * truncate through int32 below 2^23, where a float may have a fraction; from
 * 2^23 on every float is an integer already. expm1 (ELU family) uses
 * 2 t / (1 - t) with t = tanh(x / 2), which does not cancel near 0 as
 * e^x - 1 does; log1p (softplus) uses log(w) * u / (w - 1) with w = 1 + u,
 * which cancels the rounding of w (Goldberg). y may be x (in place).
 */

typedef union {
    float f;
    uint32_t u;
} aot_f32_bits;

#define AOT_TWO23 8388608.0f

static float aot_with_sign_of(float v, float of)
{
    aot_f32_bits a, b;
    a.f = v;
    b.f = of;
    a.u = (a.u & 0x7fffffffu) | (b.u & 0x80000000u);
    return a.f;
}

static float aot_abs(float v)
{
    aot_f32_bits a;
    a.f = v;
    a.u &= 0x7fffffffu;
    return a.f;
}

/* Toward zero; x itself for |x| >= 2^23, inf and NaN; keeps the sign of zero. */
static float aot_trunc(float x)
{
    if (!(aot_abs(x) < AOT_TWO23)) {
        return x;
    }
    return aot_with_sign_of((float)(int32_t)x, x);
}

static float aot_floor(float x)
{
    const float t = aot_trunc(x);
    return t > x ? t - 1.0f : t;
}

static float aot_ceil(float x)
{
    const float t = aot_trunc(x);
    return t < x ? aot_with_sign_of(t + 1.0f, x) : t;
}

static float aot_round_even(float x)
{
    const float t = aot_trunc(x);
    const float d = aot_abs(x - t); /* exact */
    const float step = x < 0.0f ? -1.0f : 1.0f;
    if (d > 0.5f || (d == 0.5f && (int32_t)t % 2 != 0)) {
        return aot_with_sign_of(t + step, x);
    }
    return t;
}

static float aot_expm1(float x)
{
    const float t = aot_tanhf(0.5f * x);
    if (x > 88.0f) {
        return aot_expf(x); /* t rounds to 1 long before; e^x - 1 = e^x there */
    }
    return 2.0f * t / (1.0f - t);
}

/* log(1 + e^x), for any x without overflow. */
static float aot_softplus(float x)
{
    const float u = aot_expf(-aot_abs(x));
    const float w = 1.0f + u;
    const float l = w == 1.0f ? u : aot_logf(w) * (u / (w - 1.0f));
    return (x > 0.0f ? x : 0.0f) + l;
}

void aot_unary_f32(const aot_unary_math_params *params, const float *x, float *y)
{
    const int32_t n = params->size;
    const float alpha = params->alpha, beta = params->beta, gamma = params->gamma;
    int32_t i;

    switch (params->op) {
    case AOT_UNARY_NEG:
        for (i = 0; i < n; ++i) {
            y[i] = -x[i];
        }
        break;
    case AOT_UNARY_ABS:
        for (i = 0; i < n; ++i) {
            y[i] = aot_abs(x[i]);
        }
        break;
    case AOT_UNARY_SQRT:
        for (i = 0; i < n; ++i) {
            y[i] = aot_sqrtf(x[i]);
        }
        break;
    case AOT_UNARY_RECIPROCAL:
        for (i = 0; i < n; ++i) {
            y[i] = 1.0f / x[i];
        }
        break;
    case AOT_UNARY_EXP:
        for (i = 0; i < n; ++i) {
            y[i] = aot_expf(x[i]);
        }
        break;
    case AOT_UNARY_LOG:
        for (i = 0; i < n; ++i) {
            y[i] = aot_logf(x[i]);
        }
        break;
    case AOT_UNARY_FLOOR:
        for (i = 0; i < n; ++i) {
            y[i] = aot_floor(x[i]);
        }
        break;
    case AOT_UNARY_CEIL:
        for (i = 0; i < n; ++i) {
            y[i] = aot_ceil(x[i]);
        }
        break;
    case AOT_UNARY_ROUND:
        for (i = 0; i < n; ++i) {
            y[i] = aot_round_even(x[i]);
        }
        break;
    case AOT_UNARY_SIGN:
        for (i = 0; i < n; ++i) {
            const float v = x[i];
            y[i] = v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v; /* 0 and NaN stay */
        }
        break;
    case AOT_UNARY_POW:
        for (i = 0; i < n; ++i) {
            y[i] = aot_powf(x[i], alpha);
        }
        break;
    case AOT_UNARY_SQUARE:
        for (i = 0; i < n; ++i) {
            y[i] = x[i] * x[i];
        }
        break;
    case AOT_UNARY_CUBE:
        for (i = 0; i < n; ++i) {
            y[i] = x[i] * x[i] * x[i];
        }
        break;
    case AOT_UNARY_SOFTPLUS:
        for (i = 0; i < n; ++i) {
            y[i] = aot_softplus(x[i]);
        }
        break;
    case AOT_UNARY_SOFTSIGN:
        for (i = 0; i < n; ++i) {
            y[i] = x[i] / (1.0f + aot_abs(x[i]));
        }
        break;
    case AOT_UNARY_ELU:
        for (i = 0; i < n; ++i) {
            const float v = x[i];
            y[i] = v < 0.0f ? alpha * aot_expm1(v) : v;
        }
        break;
    case AOT_UNARY_SELU:
        for (i = 0; i < n; ++i) {
            const float v = x[i];
            y[i] = gamma * (v > 0.0f ? v : alpha * aot_expm1(v));
        }
        break;
    case AOT_UNARY_CELU:
        for (i = 0; i < n; ++i) {
            const float v = x[i];
            y[i] = v > 0.0f ? v : alpha * aot_expm1(v / alpha);
        }
        break;
    case AOT_UNARY_MISH:
        for (i = 0; i < n; ++i) {
            y[i] = x[i] * aot_tanhf(aot_softplus(x[i]));
        }
        break;
    case AOT_UNARY_THRESHOLDED_RELU:
        for (i = 0; i < n; ++i) {
            y[i] = x[i] > alpha ? x[i] : 0.0f;
        }
        break;
    case AOT_UNARY_SHRINK:
        for (i = 0; i < n; ++i) {
            const float v = x[i];
            y[i] = v < -beta ? v + alpha : v > beta ? v - alpha : 0.0f;
        }
        break;
    case AOT_UNARY_SIN:
        for (i = 0; i < n; ++i) {
            y[i] = aot_sinf(x[i]);
        }
        break;
    case AOT_UNARY_COS:
        for (i = 0; i < n; ++i) {
            y[i] = aot_cosf(x[i]);
        }
        break;
    default: /* AOT_UNARY_COPY */
        for (i = 0; i < n; ++i) {
            y[i] = x[i];
        }
        break;
    }
}
