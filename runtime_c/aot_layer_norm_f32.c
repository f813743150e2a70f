/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

/*
 * 1 / sqrt(v) for v > 0 without libc: a bit-pattern first guess refined by
 * Newton steps in double (relative error 3.4e-3 -> 1.7e-5 -> 4.5e-10 ->
 * 3e-19), so the float result is the correctly rounded value except where
 * the double lies within 2^-60 of a rounding boundary. Once per row.
 */
static float aot_layer_norm_rsqrt(float v)
{
    union {
        float f;
        uint32_t u;
    } b;
    double d = (double)v, y;
    int i;

    if (!(v > 0.0f)) {
        return v == 0.0f ? AOT_INFINITY : AOT_NAN;
    }
    if (v == AOT_INFINITY) {
        return 0.0f;
    }
    b.f = v;
    b.u = 0x5f3759dfu - (b.u >> 1);
    y = (double)b.f;
    if (b.u >= 0x7f800000u) {
        /* v subnormal: the guess overflows; start from a scaled problem */
        y = 1.0 / (double)(v * 16777216.0f) * 4096.0;
    }
    for (i = 0; i < 4; ++i) {
        y = y * (1.5 - 0.5 * d * y * y);
    }
    return (float)y;
}

void aot_layer_norm_f32(const aot_layer_norm_params *params, const float *x,
                        const float *scale, const float *bias, float *y, float *mean_out,
                        float *inv_std_out)
{
    int32_t r, i;
    const int32_t n = params->inner;

    for (r = 0; r < params->outer; ++r) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mean = 0.0f, var = 0.0f, rstd;

        for (i = 0; i < n; ++i) {
            mean += xr[i];
        }
        mean /= (float)n;
        for (i = 0; i < n; ++i) {
            const float d = xr[i] - mean;
            var += d * d;
        }
        var /= (float)n;
        rstd = aot_layer_norm_rsqrt(var + params->epsilon);
        if (mean_out != NULL) {
            mean_out[r] = mean;
        }
        if (inv_std_out != NULL) {
            inv_std_out[r] = rstd;
        }
        /* y[i] is written only after x[i] is read: in place works */
        if (bias != NULL) {
            for (i = 0; i < n; ++i) {
                yr[i] = (xr[i] - mean) * rstd * scale[i] + bias[i];
            }
        } else {
            for (i = 0; i < n; ++i) {
                yr[i] = (xr[i] - mean) * rstd * scale[i];
            }
        }
    }
}
