/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_binary_x86_f32_impl.h"

AOT_AVX2 void aot_mul_avx2_f32(const aot_binary_params *params, const float *a,
                               const float *b, float *y)
{
    aot_binary_avx2_f32(AOT_X86_MUL, params, a, b, y);
}
#else
typedef int aot_mul_avx2_f32_needs_x86;
#endif
