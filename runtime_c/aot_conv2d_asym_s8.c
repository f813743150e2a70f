/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_conv2d_s8_impl.h"

/*
 * int8 convolution with asymmetric weights (a zero point per output channel,
 * e.g. the uint8 weights of an ONNX QLinearConv): as aot_conv2d_s8, with
 * (w + weights_offsets[oc]) in place of w. TFLite has no such convolution.
 */
void aot_conv2d_asym_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                        const int8_t *weights, const int32_t *bias, int8_t *output)
{
    aot_conv2d_s8_run(params, input, weights, bias, output, NULL, 1);
}
