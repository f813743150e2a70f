/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_conv2d_s8_impl.h"

/*
 * Integer convolution with int32 results (ONNX ConvInteger), NCHW: the int32
 * sum of aot_conv2d_s8_impl.h, stored without requantization.
 */
void aot_conv2d_s8_s32(const aot_conv2d_s8_params *params, const int8_t *input,
                       const int8_t *weights, const int32_t *bias, int32_t *output)
{
    aot_conv2d_s8_run(params, input, weights, bias, NULL, output, 1);
}
