/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_dsp_gemm_impl.h"

/*
 * int8 1x1 convolution with the DSP extension's SMLAD, bit-exact with
 * aot_conv2d_s8 and aot_pointwise_conv2d_inplace_s8, and like the latter it
 * may run in place (same conditions). Two pixels at a time: their in_c inputs
 * are gathered from NCHW into scratch as a pixel pair (aot_dsp_gemm_impl.h:
 * per two channels one 16-bit load from each plane gives both pixels' pairs
 * with one ORR and two SXTB16), then every output channel of both is computed
 * (aot_dsp_gemm_4x2), so an output lands only on input already gathered. An
 * odd last pixel is computed as a pair with itself.
 */
AOT_DSP_NO_LIBCALL
void aot_pointwise_conv2d_dsp_s8(const aot_conv2d_s8_params *params, const int8_t *input,
                                 const int32_t *weights, const int32_t *bias, int8_t *output,
                                 void *scratch)
{
    const aot_conv2d_s8_params *p = params;
    const int32_t plane = p->in_h * p->in_w;
    const int32_t in_c = p->in_c, pairs = in_c >> 1;
    const int32_t k4 = (in_c + 3) & ~3;
    const int32_t fast = aot_dsp_table_fast(p->multipliers, p->out_c, p->act_min, p->act_max);
    int32_t *x = (int32_t *)scratch;
    int32_t n, pix, i;

    for (i = 0; i < k4; ++i) {
        x[i] = 0;     /* the pairs past in_c stay 0 */
    }
    x[k4] = x[k4 + 1] = AOT_DSP_PAIR_END;
    for (n = 0; n < p->batch; ++n) {
        const int8_t *x_n = input + n * in_c * plane;
        int8_t *y_n = output + n * p->out_c * plane;

        for (pix = 0; pix < plane; pix += 2) {
            const int8_t *src = x_n + pix;
            int32_t *dst = x;
            int8_t *yb = y_n + pix + 1;
            if (pix + 1 < plane) {
                for (i = 0; i < pairs; ++i) {
                    /* bytes (a0, b0, a1, b1): channel 2i's pixels, then 2i + 1's */
                    const uint32_t t = aot_dsp_load16(src) | (aot_dsp_load16(src + plane) << 16);
                    dst[0] = aot_dsp_sxtb16((int32_t)t);
                    dst[1] = aot_dsp_sxtb16_ror8((int32_t)t);
                    src += 2 * plane;
                    dst += 2;
                }
                if (in_c & 1) {
                    dst[0] = src[0] & 0xFFFF;
                    dst[1] = src[1] & 0xFFFF;
                }
            } else {      /* the last of an odd count: no byte past the plane */
                for (i = 0; i < pairs; ++i) {
                    dst[0] = dst[1] = aot_dsp_pack_lo(src[0], src[plane]);
                    src += 2 * plane;
                    dst += 2;
                }
                if (in_c & 1) {
                    dst[0] = dst[1] = src[0] & 0xFFFF;
                }
                yb = y_n + pix;
            }
            aot_dsp_gemm_4x2(weights, k4, bias, p->out_c, p->multipliers, fast, p->output_offset,
                             p->act_min, p->act_max, x, y_n + pix, yb, plane);
        }
    }
}
