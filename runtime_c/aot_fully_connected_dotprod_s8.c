/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>
#define AOT_FC_DOT16(acc, x, w) vdotq_s32(acc, x, w)
#include "aot_fully_connected_neon_impl.h"

/* int8 fully connected with SDOT (16 products per instruction), bit-exact
 * with aot_fully_connected_s8; see aot_fully_connected_neon_impl.h. */
void aot_fully_connected_dotprod_s8(const aot_fully_connected_s8_params *params,
                                    const int8_t *input, const int8_t *weights,
                                    const int32_t *bias, int8_t *output)
{
    aot_fully_connected_neon_run(params, input, weights, bias, output);
}

#else
/* Built for a CPU without DotProd: this kernel is not available there. */
typedef int aot_fully_connected_dotprod_s8_unavailable;
#endif
