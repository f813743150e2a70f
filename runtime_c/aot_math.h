/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aot runtime: libc-free replacements for the few libc functions the kernels
 * need, so generated code links with no C library and gives the same float
 * results on every target. Error bounds are measured by tests/test_math.py
 * against float64 references over the whole float range.
 */
#ifndef AOT_MATH_H
#define AOT_MATH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Copies n bytes; the regions must not overlap. */
void aot_memcpy(void *dst, const void *src, size_t n);
/** Fills n bytes with the low byte of value. */
void aot_memset(void *dst, int value, size_t n);

/**
 * e^x; error at most 1.02 ulp (0.99 ulp when the compiler does not contract
 * a * b + c into fused multiply-adds), measured over every float. Subnormal
 * results are rounded once (gradual underflow). +inf above 88.7228317
 * (so for +inf), 0 below -103.972076 (so for -inf); NaN in, NaN out.
 */
float aot_expf(float x);
/**
 * tanh(x); error at most 1.5 ulp, measured over every float (also with
 * fused multiply-adds). Exactly x for |x| < 2^-12 (so tanh(-0) = -0),
 * exactly +-1 for |x| > 9.02 (and +-inf); NaN in, NaN out.
 */
float aot_tanhf(float x);
/**
 * erf(x); error at most 2 ulp and 1.2e-7 absolute (also with fused
 * multiply-adds), measured over a dense sample of [0, 4.5] against float64
 * (tests/test_math.py). Exactly +-1 for |x| > 3.92 (and +-inf), erf(-0) = -0;
 * NaN in, NaN out.
 */
float aot_erff(float x);

/**
 * sqrt(x), correctly rounded (error at most 0.5 ulp), in integer arithmetic:
 * no FPU or libm needed. sqrt(-0) = -0, NaN for x < 0; NaN in, NaN out.
 */
float aot_sqrtf(float x);
/**
 * log(x); error at most 0.96 ulp (without fused multiply-adds), measured
 * over every positive float. -inf for +-0, NaN for x < 0,
 * +inf for +inf; NaN in, NaN out.
 */
float aot_logf(float x);
/**
 * x^y with C99 pow's special cases (x^0 = 1, 1^y = 1, a negative x only
 * with an integer y). y = 0.5 as aot_sqrtf; integer |y| <= 64 by repeated
 * squaring, relative error at most |y| * 2^-23; else e^(y log|x|), relative
 * error at most (4 + |y log x|) * 2^-23 (tests/test_more_ops.py).
 */
float aot_powf(float x, float y);
/**
 * sin(x); error at most 2.6 ulp for every finite x (exact Payne-Hanek
 * reduction, also for huge x), measured over a sample of every float
 * (tests/test_more_ops.py). x for |x| < 2^-12 (so sin(-0) = -0); NaN for
 * +-inf and NaN.
 */
float aot_sinf(float x);
/** cos(x); error at most 2.6 ulp for every finite x, as aot_sinf. NaN for +-inf and NaN. */
float aot_cosf(float x);

#ifdef __cplusplus
}
#endif

#endif /* AOT_MATH_H */
