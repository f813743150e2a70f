/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_conv2d_s8_impl.h"

/*
 * int8 convolution, NCHW, bit-exact with TFLite's reference ConvPerChannel
 * and DepthwiseConvPerChannel (groups == in_c, out_c = in_c * multiplier,
 * output channel oc reading input channel oc / multiplier, as both ONNX and
 * TFLite order them): the int32 sum of aot_conv2d_s8_impl.h over symmetric
 * weights (weights_offsets is ignored), then MultiplyByQuantizedMultiplier
 * per output channel, + output_offset, clamp to [act_min, act_max].
 */
void aot_conv2d_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                   const int8_t *weights, const int32_t *bias, int8_t *output)
{
    aot_conv2d_s8_run(params, input, weights, bias, output, NULL, 0);
}
