/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
/* int16 products (|x * w| <= 2^14) pairwise-added into int32 lanes (SADALP). */
#define AOT_FC_DOT16(acc, x, w)                                                  \
    vpadalq_s16(vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(w))),     \
                vmull_high_s8(x, w))
#include "aot_fully_connected_neon_impl.h"

/* int8 fully connected with SMULL + SADALP (Armv8.0 NEON), bit-exact with
 * aot_fully_connected_s8; see aot_fully_connected_neon_impl.h. */
void aot_fully_connected_neon_s8(const aot_fully_connected_s8_params *params,
                                 const int8_t *input, const int8_t *weights,
                                 const int32_t *bias, int8_t *output)
{
    aot_fully_connected_neon_run(params, input, weights, bias, output);
}

#else
/* Built for a CPU without NEON: this kernel is not available there. */
typedef int aot_fully_connected_neon_s8_unavailable;
#endif
