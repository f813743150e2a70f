/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the broadcasting float binary kernels on AVX2 and
 * AVX-512 (aot_{add,sub,mul,div}_{avx2,avx512}_f32). Ship it with them.
 * Include it only on x86, after <immintrin.h>.
 *
 * The output is walked as rows of the innermost dimension (aot_binary_impl.h's
 * cursor). A row whose operands are both contiguous, or one contiguous and one
 * a single repeated element (a scalar or a per-channel value), runs on whole
 * vectors; the AVX-512 tail is masked, the AVX2 tail scalar. Other rows
 * (strided innermost operands) run as the portable loop. Every element is one
 * IEEE operation and the fused activation the portable formula step for step
 * (separate multiplies and adds), so with the runtime's -ffp-contract=off the
 * results are bit for bit the portable kernel's. y may alias an operand of
 * y's shape (each element is read before it is written).
 */
#ifndef AOT_BINARY_X86_F32_IMPL_H
#define AOT_BINARY_X86_F32_IMPL_H

#include "aot_binary_impl.h"
#include "aot_conv2d_x86_impl.h"

enum { AOT_X86_ADD, AOT_X86_SUB, AOT_X86_MUL, AOT_X86_DIV };

AOT_X86_INLINE float aot_x86_op_f32(int op, float a, float b)
{
    switch (op) {
    case AOT_X86_ADD:
        return a + b;
    case AOT_X86_SUB:
        return a - b;
    case AOT_X86_MUL:
        return a * b;
    default:
        return a / b;
    }
}

/* The strided row and the AVX2 tail: the portable loop. */
AOT_X86_INLINE void aot_x86_binary_row_f32(int op, const aot_act_f32 *act, const float *a,
                                           int32_t a_step, const float *b, int32_t b_step,
                                           float *y, int32_t n)
{
    int32_t j;
    for (j = 0; j < n; ++j) {
        y[j] = aot_act_apply_f32(act, aot_x86_op_f32(op, a[j * a_step], b[j * b_step]));
    }
}

/* --------------------------------------------------------------- AVX2 */

AOT_X86_INLINE AOT_AVX2 __m256 aot_v8_op(int op, __m256 a, __m256 b)
{
    switch (op) {
    case AOT_X86_ADD:
        return _mm256_add_ps(a, b);
    case AOT_X86_SUB:
        return _mm256_sub_ps(a, b);
    case AOT_X86_MUL:
        return _mm256_mul_ps(a, b);
    default:
        return _mm256_div_ps(a, b);
    }
}

/* a_step, b_step in {0, 1}: 0 repeats the row's first element. */
AOT_X86_INLINE AOT_AVX2 void aot_v8_binary_row(int op, const aot_act_f32 *act, const float *a,
                                               int32_t a_step, const float *b, int32_t b_step,
                                               float *y, int32_t n)
{
    __m256 a0, b0;
    int32_t j;
    if (n <= 0) {
        return;
    }
    a0 = _mm256_set1_ps(a[0]);
    b0 = _mm256_set1_ps(b[0]);
    for (j = 0; j + 8 <= n; j += 8) {
        const __m256 va = a_step ? _mm256_loadu_ps(a + j) : a0;
        const __m256 vb = b_step ? _mm256_loadu_ps(b + j) : b0;
        _mm256_storeu_ps(y + j, aot_avx2_act(act, aot_v8_op(op, va, vb)));
    }
    aot_x86_binary_row_f32(op, act, a + j * a_step, a_step, b + j * b_step, b_step, y + j,
                           n - j);
}

AOT_X86_INLINE AOT_AVX2 void aot_binary_avx2_f32(int op, const aot_binary_params *p,
                                                 const float *a, const float *b, float *y)
{
    aot_binary_cursor c;
    int32_t r;
    aot_binary_cursor_init(&c, p);
    for (r = 0; r < c.rows; ++r) {
        const float *ar = a + c.a_off, *br = b + c.b_off;
        if (c.a_step == 1 && c.b_step == 1) {
            aot_v8_binary_row(op, &p->act, ar, 1, br, 1, y, c.n);
        } else if (c.a_step == 0 && c.b_step == 1) {
            aot_v8_binary_row(op, &p->act, ar, 0, br, 1, y, c.n);
        } else if (c.a_step == 1 && c.b_step == 0) {
            aot_v8_binary_row(op, &p->act, ar, 1, br, 0, y, c.n);
        } else {
            aot_x86_binary_row_f32(op, &p->act, ar, c.a_step, br, c.b_step, y, c.n);
        }
        y += c.n;
        aot_binary_cursor_next(&c, p);
    }
}

/* ------------------------------------------------------------ AVX-512 */

AOT_X86_INLINE AOT_AVX512 __m512 aot_v16_op(int op, __m512 a, __m512 b)
{
    switch (op) {
    case AOT_X86_ADD:
        return _mm512_add_ps(a, b);
    case AOT_X86_SUB:
        return _mm512_sub_ps(a, b);
    case AOT_X86_MUL:
        return _mm512_mul_ps(a, b);
    default:
        return _mm512_div_ps(a, b);
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_v16_binary_row(int op, const aot_act_f32 *act,
                                                  const float *a, int32_t a_step,
                                                  const float *b, int32_t b_step, float *y,
                                                  int32_t n)
{
    __m512 a0, b0;
    int32_t j;
    if (n <= 0) {
        return;
    }
    a0 = _mm512_set1_ps(a[0]);
    b0 = _mm512_set1_ps(b[0]);
    for (j = 0; j + 16 <= n; j += 16) {
        const __m512 va = a_step ? _mm512_loadu_ps(a + j) : a0;
        const __m512 vb = b_step ? _mm512_loadu_ps(b + j) : b0;
        _mm512_storeu_ps(y + j, aot_avx512_act(act, aot_v16_op(op, va, vb)));
    }
    if (j < n) {
        const __mmask16 k = (__mmask16)((1u << (n - j)) - 1u);
        /* idle lanes compute on 1.0f, so no lane raises a spurious 0 / 0 */
        const __m512 pad = _mm512_set1_ps(1.0f);
        const __m512 va = a_step ? _mm512_mask_loadu_ps(pad, k, a + j) : a0;
        const __m512 vb = b_step ? _mm512_mask_loadu_ps(pad, k, b + j) : b0;
        _mm512_mask_storeu_ps(y + j, k, aot_avx512_act(act, aot_v16_op(op, va, vb)));
    }
}

AOT_X86_INLINE AOT_AVX512 void aot_binary_avx512_f32(int op, const aot_binary_params *p,
                                                     const float *a, const float *b, float *y)
{
    aot_binary_cursor c;
    int32_t r;
    aot_binary_cursor_init(&c, p);
    for (r = 0; r < c.rows; ++r) {
        const float *ar = a + c.a_off, *br = b + c.b_off;
        if (c.a_step == 1 && c.b_step == 1) {
            aot_v16_binary_row(op, &p->act, ar, 1, br, 1, y, c.n);
        } else if (c.a_step == 0 && c.b_step == 1) {
            aot_v16_binary_row(op, &p->act, ar, 0, br, 1, y, c.n);
        } else if (c.a_step == 1 && c.b_step == 0) {
            aot_v16_binary_row(op, &p->act, ar, 1, br, 0, y, c.n);
        } else {
            aot_x86_binary_row_f32(op, &p->act, ar, c.a_step, br, c.b_step, y, c.n);
        }
        y += c.n;
        aot_binary_cursor_next(&c, p);
    }
}

#endif /* AOT_BINARY_X86_F32_IMPL_H */
