/* SPDX-License-Identifier: Apache-2.0 */
#include "aot_kernels.h"
#include "aot_math.h"

/*
 * In-place transpose by cycle following. Element k = r * cols + c of a
 * matrix moves to c * rows + r. From each slot not yet filled, the element
 * there is swapped into its destination, which brings that slot's old element
 * back to the start slot, until the element for the start slot arrives; a bit
 * per element (in scratch) marks the slots already filled. Every element
 * moves once: O(rows * cols).
 */
void aot_transpose2d_inplace(const aot_transpose2d_inplace_params *params, const void *x,
                             void *y, void *scratch)
{
    const aot_transpose2d_inplace_params *p = params;
    const int32_t n = p->rows * p->cols;
    const int32_t elem = p->elem_bytes;
    uint8_t *done = (uint8_t *)scratch;
    int32_t b, start, i;

    if ((const void *)y != x) {
        aot_memcpy(y, x, (size_t)p->batch * (size_t)n * (size_t)elem);
    }
    for (b = 0; b < p->batch; ++b) {
        uint8_t *m = (uint8_t *)y + (size_t)b * (size_t)n * (size_t)elem;
        aot_memset(done, 0, (size_t)(n + 7) / 8u);
        for (start = 0; start < n; ++start) {
            uint8_t *hand = m + (size_t)start * (size_t)elem;
            int32_t k = start;
            if ((done[start >> 3] >> (start & 7)) & 1u) {
                continue;
            }
            /* The slot of `start` holds the element in hand, first index k. */
            for (;;) {
                const int32_t dst = (k % p->cols) * p->rows + k / p->cols;
                uint8_t *slot = m + (size_t)dst * (size_t)elem;
                if (dst == start) {
                    break;
                }
                for (i = 0; i < elem; ++i) {   /* a swap: no memcpy call either */
                    const uint8_t t = slot[i];
                    slot[i] = hand[i];
                    hand[i] = t;
                }
                done[dst >> 3] = (uint8_t)(done[dst >> 3] | (1u << (dst & 7)));
                k = dst;
            }
            done[start >> 3] = (uint8_t)(done[start >> 3] | (1u << (start & 7)));
        }
    }
}
