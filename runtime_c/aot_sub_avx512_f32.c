/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "aot_binary_x86_f32_impl.h"

AOT_AVX512 void aot_sub_avx512_f32(const aot_binary_params *params, const float *a,
                                   const float *b, float *y)
{
    aot_binary_avx512_f32(AOT_X86_SUB, params, a, b, y);
}
#else
typedef int aot_sub_avx512_f32_needs_x86;
#endif
