/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the runtime: the register-blocked matrix-product cores of the
 * `--optimize speed` convolution and fully-connected DSP kernels
 * (aot_pointwise_conv2d_dsp_s8, aot_conv2d_wide_dsp_s8,
 * aot_fully_connected_wide_dsp_s8), and their requantization table. Ship it
 * with them.
 *
 * The inner loops are small inline-assembly micro-kernels (GCC extended asm,
 * accepted by arm-none-eabi-gcc and zig's clang alike) because they need every
 * core register: 8 accumulators, 4 operands and 2 pointers. Compilers cannot
 * allocate that many around the loop (clang keeps r7 as the frame pointer and
 * spills; measured), so each asm block saves and restores the registers it
 * uses itself and takes only pointers from C. Without __ARM_FEATURE_DSP (a
 * host build) the same functions are plain C with the same results, which is
 * how the kernels are also tested on the host.
 *
 * Requantization table (made at compile time, targets/rules_dsp.py
 * `requant_table`): per output channel three int32 {m2, right, c}: m2 = 2 *
 * multiplier wrapped to int32 (aot_dsp_impl.h), and, for a right shift in [1,
 * 23], right = -shift and c = 2^(right - 1) + output_offset * 2^right; else
 * right = 0 and c = the TFLite shift (the general path). With x = SMMLAR(acc,
 * m2, acc) = the rounding doubling high multiply of acc and the multiplier,
 * TFLite's y = clamp(rounding_divide_by_pot(x, right) + output_offset) is
 * SSAT8(QADD(x, c + (x >> 31)) >> right), clamped to [act_min, act_max]: the
 * output offset is a multiple of 2^right added before the floor division, and
 * QADD saturates only where both results clamp to the same end (the argument
 * of aot_dsp_round_fast in aot_dsp_impl.h, with the offset's |o| * 2^right <=
 * 2^30 in the bound).
 */
#ifndef AOT_DSP_GEMM_IMPL_H
#define AOT_DSP_GEMM_IMPL_H

#include "aot_dsp_impl.h"

/* The word after a pixel-pair buffer's last pair: no pair of int8 values widened
 * to int16 has 0x8000 as its high half, so the micro-kernel stops there. */
#define AOT_DSP_PAIR_END ((int32_t)0x80000000u)

/* r7 in the micro-kernels: clang keeps it as the frame pointer and refuses it
 * in a clobber list, so the asm saves it itself there (4 bytes of stack its
 * frame size does not show); gcc -O2 has no frame pointer and saves it with
 * the other clobbered registers (in the frame size its stack estimate reads). */
#if defined(__clang__)
#define AOT_DSP_SAVE_R7 "push {r7}\n\t"
#define AOT_DSP_RESTORE_R7 "pop {r7}\n\t"
#define AOT_DSP_CLOBBER_R7
#else
#define AOT_DSP_SAVE_R7
#define AOT_DSP_RESTORE_R7
#define AOT_DSP_CLOBBER_R7 , "r7"
#endif

/* acc + ((a * b + 2^31) >> 32) (SMMLAR), wrapping. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
AOT_DSP_INLINE int32_t aot_dsp_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}
#else
AOT_DSP_INLINE int32_t aot_dsp_smmlar(int32_t a, int32_t b, int32_t acc)
{
    return aot_wrap_add32(acc, (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32));
}
#endif

/* (lo(a), lo(b)) and (hi(a), hi(b)) as one PKHBT / PKHTB each (gcc makes two
 * instructions of aot_dsp_pack_lo's C form). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
AOT_DSP_INLINE int32_t aot_dsp_pkhbt(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

AOT_DSP_INLINE int32_t aot_dsp_pkhtb(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#else
AOT_DSP_INLINE int32_t aot_dsp_pkhbt(int32_t a, int32_t b) { return aot_dsp_pack_lo(a, b); }

AOT_DSP_INLINE int32_t aot_dsp_pkhtb(int32_t a, int32_t b) { return aot_dsp_pack_hi(a, b); }
#endif

/* A 16-bit load at any address (LDRH where the core allows unaligned ones). */
AOT_DSP_INLINE uint32_t aot_dsp_load16(const int8_t *p)
{
#if defined(__ARM_FEATURE_UNALIGNED) || defined(__x86_64__) || defined(__i386__) \
    || defined(__aarch64__)
    uint16_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
#else
    return (uint32_t)(uint8_t)p[0] | ((uint32_t)(uint8_t)p[1] << 8);
#endif
}

/* One requantized output from the table entry q (above); full: the clamp is
 * the whole int8 range (output_offset, act_min and act_max are read only on
 * the general path and for a narrower clamp). */
AOT_DSP_INLINE int8_t aot_dsp_table_output(int32_t acc, const int32_t *q, int32_t full,
                                           int32_t output_offset, int32_t act_min,
                                           int32_t act_max)
{
    const int32_t m2 = q[0], right = q[1], c = q[2];
    int32_t v;
    if (right == 0) {
        return aot_dsp_output(acc, m2, c, output_offset, act_min, act_max);
    }
    acc = aot_dsp_smmlar(acc, m2, acc);
    v = aot_dsp_ssat8(aot_dsp_qadd(acc, c + (acc >> 31)) >> right);
    if (!full) {
        v = v < act_min ? act_min : v;
        v = v > act_max ? act_max : v;
    }
    return (int8_t)v;
}

/* The micro-kernel loop of aot_dsp_mac_4x2 (below): r0 the weights, r1 the
 * pixel pair, r2-r5 pixel a's sums, r6-r9 pixel b's (both set), r10/r11 the x
 * pairs, r12/lr the weights. Ends with r0 past the block's weights and r1
 * past the end words. */
#define AOT_DSP_MAC_4X2_LOOP                                                        \
    "ldrd r10, r11, [r1], #8\n"                                                     \
    "1:\n\t"                                                                       \
    "ldrd r12, lr, [r0], #16\n\t"                                                  \
    "smlad r2, r12, r10, r2\n\t"                                                   \
    "smlad r6, r12, r11, r6\n\t"                                                   \
    "smlad r3, lr, r10, r3\n\t"                                                    \
    "smlad r7, lr, r11, r7\n\t"                                                    \
    "ldrd r12, lr, [r0, #-8]\n\t"                                                  \
    "smlad r4, r12, r10, r4\n\t"                                                   \
    "smlad r8, r12, r11, r8\n\t"                                                   \
    "smlad r5, lr, r10, r5\n\t"                                                    \
    "smlad r9, lr, r11, r9\n\t"                                                    \
    "ldrd r10, r11, [r1], #8\n\t"                                                  \
    "ldrd r12, lr, [r0], #16\n\t"                                                  \
    "smlad r2, r12, r10, r2\n\t"                                                   \
    "smlad r6, r12, r11, r6\n\t"                                                   \
    "smlad r3, lr, r10, r3\n\t"                                                    \
    "smlad r7, lr, r11, r7\n\t"                                                    \
    "ldrd r12, lr, [r0, #-8]\n\t"                                                  \
    "smlad r4, r12, r10, r4\n\t"                                                   \
    "smlad r8, r12, r11, r8\n\t"                                                   \
    "smlad r5, lr, r10, r5\n\t"                                                    \
    "smlad r9, lr, r11, r9\n\t"                                                    \
    "ldrd r10, r11, [r1], #8\n\t"                                                  \
    "cmp r10, #0x80000000\n\t"                                                     \
    "bne 1b\n\t"

/* The sums from the bias: r2-r5 = bias[0..3] (r2 holds bias), r6-r9 the same. */
#define AOT_DSP_MAC_4X2_INIT                                                        \
    "ldm r2, {r2-r5}\n\t"                                                          \
    "mov r6, r2\n\t"                                                               \
    "mov r7, r3\n\t"                                                               \
    "mov r8, r4\n\t"                                                               \
    "mov r9, r5\n\t"

/* Requantize channel c's two sums (pixel a's in ra, b's in rb) with the table
 * entry at r0 (advanced), store them at r1 and r1 + 1, r1 += lr. */
#define AOT_DSP_OUT_4X2(ra, rb)                                                     \
    "ldm r0!, {r10, r11, r12}\n\t"                                                 \
    "smmlar " ra ", " ra ", r10, " ra "\n\t"                                       \
    "smmlar " rb ", " rb ", r10, " rb "\n\t"                                       \
    "add r10, r12, " ra ", asr #31\n\t"                                            \
    "qadd " ra ", " ra ", r10\n\t"                                                 \
    "add r10, r12, " rb ", asr #31\n\t"                                            \
    "qadd " rb ", " rb ", r10\n\t"                                                 \
    "asr " ra ", " ra ", r11\n\t"                                                  \
    "asr " rb ", " rb ", r11\n\t"                                                  \
    "ssat " ra ", #8, " ra "\n\t"                                                  \
    "ssat " rb ", #8, " rb "\n\t"                                                  \
    "strb " ra ", [r1]\n\t"                                                        \
    "strb " rb ", [r1, #1]\n\t"                                                    \
    "add r1, r1, lr\n\t"

/*
 * The sums of the 4 weight rows r of a wide quad block with a pixel pair:
 * bias[r] + w_r . x_a at x[k4 + 2 + r] and bias[r] + w_r . x_b at x[k4 + 6 +
 * r] (written there, past the end words), where w: int32 words [k4 / 2][4
 * rows] (int16 pairs, k even low); x: the pixel pair [k4 / 2][2] words (pixel
 * a's pair, then b's; 8-byte aligned, as scratch is), then two
 * AOT_DSP_PAIR_END words and room for the 8 sums; k4 a multiple of 4. Per two
 * k pairs: 6 LDRD, 16 SMLAD, CMP, BNE -- 24 instructions for 32 MACs.
 */
AOT_DSP_INLINE void aot_dsp_mac_4x2(const int32_t *w, int32_t *x, const int32_t *bias)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    register const int32_t *w_ __asm__("r0") = w;
    register int32_t *x_ __asm__("r1") = x;
    register const int32_t *b_ __asm__("r2") = bias;
    __asm__ volatile(
        AOT_DSP_SAVE_R7
        AOT_DSP_MAC_4X2_INIT
        AOT_DSP_MAC_4X2_LOOP
        "stm r1, {r2-r9}\n\t"
        AOT_DSP_RESTORE_R7
        : "+r"(w_), "+r"(x_), "+r"(b_)
        :
        : "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "cc",
          "memory" AOT_DSP_CLOBBER_R7);
#else
    int32_t r, *acc;
    const int32_t *p = x;
    for (; p[0] != AOT_DSP_PAIR_END; p += 2) {
    }
    acc = x + (p - x) + 2;
    for (r = 0; r < 4; ++r) {
        acc[r] = acc[4 + r] = bias[r];
    }
    for (p = x; p[0] != AOT_DSP_PAIR_END; p += 2, w += 4) {
        for (r = 0; r < 4; ++r) {
            acc[r] = aot_dsp_smlad(w[r], p[0], acc[r]);
            acc[4 + r] = aot_dsp_smlad(w[r], p[1], acc[4 + r]);
        }
    }
#endif
}

/*
 * aot_dsp_mac_4x2 and the 8 outputs: y[r * y_stride] (pixel a) and y[r *
 * y_stride + 1] (pixel b) = the requantized sums, for a layer clamped to the
 * full int8 range whose 4 table entries q (3 words each) all have a right
 * shift (the short form of aot_dsp_table_output). x[k4 + 2 .. k4 + 4] are
 * used to hand q, y and y_stride to the micro-kernel.
 */
AOT_DSP_INLINE void aot_dsp_block_4x2(const int32_t *w, int32_t *x, int32_t k4,
                                      const int32_t *bias, const int32_t *q, int8_t *y,
                                      int32_t y_stride)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    register const int32_t *w_ __asm__("r0") = w;
    register int32_t *x_ __asm__("r1") = x;
    register const int32_t *b_ __asm__("r2") = bias;
    x[k4 + 2] = (int32_t)(uintptr_t)q;
    x[k4 + 3] = (int32_t)(uintptr_t)y;
    x[k4 + 4] = y_stride;
    __asm__ volatile(
        AOT_DSP_SAVE_R7
        AOT_DSP_MAC_4X2_INIT
        AOT_DSP_MAC_4X2_LOOP
        "ldm r1, {r0, r1, lr}\n\t"
        AOT_DSP_OUT_4X2("r2", "r6")
        AOT_DSP_OUT_4X2("r3", "r7")
        AOT_DSP_OUT_4X2("r4", "r8")
        AOT_DSP_OUT_4X2("r5", "r9")
        AOT_DSP_RESTORE_R7
        : "+r"(w_), "+r"(x_), "+r"(b_)
        :
        : "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "cc",
          "memory" AOT_DSP_CLOBBER_R7);
#else
    const int32_t *acc = x + k4 + 2;
    int32_t r;
    aot_dsp_mac_4x2(w, x, bias);
    for (r = 0; r < 4; ++r) {
        const int8_t va = aot_dsp_table_output(acc[r], q + 3 * r, 1, 0, -128, 127);
        const int8_t vb = aot_dsp_table_output(acc[4 + r], q + 3 * r, 1, 0, -128, 127);
        y[r * y_stride] = va;
        y[r * y_stride + 1] = vb;
    }
#endif
}

/*
 * All out_c outputs of two pixels: ya[oc * y_stride] and yb[oc * y_stride] =
 * requantized bias[oc] + w_oc . x (w: wide quad weights [out_c4 / 4][k4 / 2][4
 * rows]; bias [out_c4], zero-padded; x: the pixel pair of aot_dsp_mac_4x2;
 * quant: the requantization table, [out_c][3]; fast: aot_dsp_table_fast of
 * it). A missing second pixel is a copy of the first and yb == ya: its
 * outputs are stored over the first's. Full blocks of 4 channels of two
 * adjacent pixels (yb == ya + 1) of a fast layer requantize in the
 * micro-kernel (aot_dsp_block_4x2), the rest here.
 */
AOT_DSP_INLINE void aot_dsp_gemm_4x2(const int32_t *w, int32_t k4, const int32_t *bias,
                                     int32_t out_c, const int32_t *quant, int32_t fast,
                                     int32_t output_offset, int32_t act_min, int32_t act_max,
                                     int32_t *x, int8_t *ya, int8_t *yb, int32_t y_stride)
{
    const int32_t full = act_min == -128 && act_max == 127;
    int32_t oc = 0, r;
    if (fast && yb == ya + 1) {
        for (; oc + 4 <= out_c; oc += 4) {
            aot_dsp_block_4x2(w, x, k4, bias + oc, quant + 3 * oc, ya + oc * y_stride,
                              y_stride);
            w += 2 * k4;
        }
    }
    for (; oc < out_c; oc += 4) {
        const int32_t rows = out_c - oc < 4 ? out_c - oc : 4;
        const int32_t *const acc = x + k4 + 2;
        aot_dsp_mac_4x2(w, x, bias + oc);
        for (r = 0; r < rows; ++r) {
            const int32_t *q = quant + 3 * (oc + r);
            const int32_t at = (oc + r) * y_stride;
            /* both computed before the int8 stores, which may alias the table */
            const int8_t va = aot_dsp_table_output(acc[r], q, full, output_offset, act_min,
                                                   act_max);
            const int8_t vb = aot_dsp_table_output(acc[4 + r], q, full, output_offset, act_min,
                                                   act_max);
            ya[at] = va;
            yb[at] = vb;
        }
        w += 2 * k4;
    }
}

/* Whether aot_dsp_gemm_4x2 may take aot_dsp_block_4x2: the full int8 clamp and
 * every channel's table entry with a right shift. */
AOT_DSP_INLINE int32_t aot_dsp_table_fast(const int32_t *quant, int32_t out_c, int32_t act_min,
                                          int32_t act_max)
{
    int32_t oc;
    if (act_min != -128 || act_max != 127) {
        return 0;
    }
    for (oc = 0; oc < out_c; ++oc) {
        if (quant[3 * oc + 1] == 0) {
            return 0;
        }
    }
    return 1;
}

/* The loop of the fully-connected micro-kernel: r0 the weights, r1 x, r12 x's
 * end, r2-r5 the sums (set), r6/r7 x (0, 2) and (1, 3), r8-r11 two rows'
 * weights. */
#define AOT_DSP_FC_4ROWS_LOOP                                                       \
    "1:\n\t"                                                                       \
    "ldr r7, [r1], #4\n\t"                                                         \
    "sxtb16 r6, r7\n\t"                                                            \
    "sxtb16 r7, r7, ror #8\n\t"                                                    \
    "ldm r0!, {r8-r11}\n\t"                                                        \
    "smlad r2, r8, r6, r2\n\t"                                                     \
    "smlad r2, r9, r7, r2\n\t"                                                     \
    "smlad r3, r10, r6, r3\n\t"                                                    \
    "smlad r3, r11, r7, r3\n\t"                                                    \
    "ldm r0!, {r8-r11}\n\t"                                                        \
    "smlad r4, r8, r6, r4\n\t"                                                     \
    "smlad r4, r9, r7, r4\n\t"                                                     \
    "smlad r5, r10, r6, r5\n\t"                                                    \
    "smlad r5, r11, r7, r5\n\t"                                                    \
    "cmp r1, r12\n\t"                                                              \
    "bne 1b\n\t"

/* Requantize the sum in ra with the table entry at r6 (r6 += r7), store it at
 * r8 (r8 += 1). */
#define AOT_DSP_OUT_1(ra)                                                           \
    "ldm r6, {r9, r10, r11}\n\t"                                                   \
    "add r6, r6, r7\n\t"                                                           \
    "smmlar " ra ", " ra ", r9, " ra "\n\t"                                        \
    "add r9, r11, " ra ", asr #31\n\t"                                             \
    "qadd " ra ", " ra ", r9\n\t"                                                  \
    "asr " ra ", " ra ", r10\n\t"                                                  \
    "ssat " ra ", #8, " ra "\n\t"                                                  \
    "strb " ra ", [r8], #1\n\t"

/*
 * acc[r] = bias[r] + w_r . x over the first 4 * groups columns (groups >= 1)
 * for the 4 rows of a block of aot_fully_connected_wide_dsp_s8's weights
 * (int32 words [k4 / 4][4 rows][2]: per group of 4 columns the int16 pairs
 * (w0, w2), (w1, w3); 4-byte aligned); x: int8, any alignment; bias: 4
 * values. Per group of 4 columns: LDR, 2 SXTB16, 2 LDM, 8 SMLAD, CMP, BNE --
 * 15 instructions for 16 MACs.
 */
AOT_DSP_INLINE void aot_dsp_fc_4rows(const int32_t *w, const int8_t *x, int32_t groups,
                                     const int32_t *bias, int32_t acc[4])
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    register const int32_t *w_ __asm__("r0") = w;
    register const int8_t *x_ __asm__("r1") = x;
    register const int32_t *b_ __asm__("r2") = bias;
    register int32_t *a_ __asm__("r3") = acc;
    register const int8_t *e_ __asm__("r12") = x + 4 * groups;
    __asm__ volatile(
        AOT_DSP_SAVE_R7
        "mov lr, r3\n\t"
        "ldm r2, {r2-r5}\n\t"
        AOT_DSP_FC_4ROWS_LOOP
        "stm lr, {r2-r5}\n\t"
        AOT_DSP_RESTORE_R7
        : "+r"(w_), "+r"(x_), "+r"(b_), "+r"(a_)
        : "r"(e_)
        : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "lr", "cc", "memory" AOT_DSP_CLOBBER_R7);
#else
    int32_t g, r;
    for (r = 0; r < 4; ++r) {
        acc[r] = bias[r];
    }
    for (g = 0; g < groups; ++g, x += 4, w += 8) {
        const int32_t xv = aot_dsp_load32(x);
        const int32_t xe = aot_dsp_sxtb16(xv), xo = aot_dsp_sxtb16_ror8(xv);
        for (r = 0; r < 4; ++r) {
            acc[r] = aot_dsp_smlad(w[2 * r + 1], xo, aot_dsp_smlad(w[2 * r], xe, acc[r]));
        }
    }
#endif
}

/*
 * aot_dsp_fc_4rows (k = 4 * groups exactly) and the 4 outputs y[0..3] = the
 * requantized sums, for a layer clamped to the full int8 range whose table
 * entries all have a right shift: row r's entry at q + r * q_step (q_step 3,
 * or 0 for one entry for all). ctx: 3 words the micro-kernel reads q, q_step
 * and y from.
 */
AOT_DSP_INLINE void aot_dsp_fc_block(const int32_t *w, const int8_t *x, int32_t groups,
                                     const int32_t *bias, const int32_t *q, int32_t q_step,
                                     int8_t *y, int32_t ctx[3])
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    register const int32_t *w_ __asm__("r0") = w;
    register const int8_t *x_ __asm__("r1") = x;
    register const int32_t *b_ __asm__("r2") = bias;
    register int32_t *c_ __asm__("r3") = ctx;
    register const int8_t *e_ __asm__("r12") = x + 4 * groups;
    ctx[0] = (int32_t)(uintptr_t)q;
    ctx[1] = 4 * q_step;
    ctx[2] = (int32_t)(uintptr_t)y;
    __asm__ volatile(
        AOT_DSP_SAVE_R7
        "mov lr, r3\n\t"
        "ldm r2, {r2-r5}\n\t"
        AOT_DSP_FC_4ROWS_LOOP
        "ldm lr, {r6, r7, r8}\n\t"
        AOT_DSP_OUT_1("r2")
        AOT_DSP_OUT_1("r3")
        AOT_DSP_OUT_1("r4")
        AOT_DSP_OUT_1("r5")
        AOT_DSP_RESTORE_R7
        : "+r"(w_), "+r"(x_), "+r"(b_), "+r"(c_)
        : "r"(e_)
        : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "lr", "cc", "memory" AOT_DSP_CLOBBER_R7);
#else
    int32_t acc[4], r;
    (void)ctx;
    aot_dsp_fc_4rows(w, x, groups, bias, acc);
    for (r = 0; r < 4; ++r) {
        y[r] = aot_dsp_table_output(acc[r], q + r * q_step, 1, 0, -128, 127);
    }
#endif
}

/* aot_conv2d_wide_dsp_s8's scratch: the pixel pair x (k4 + 10 words: pairs,
 * end words, sums), then offsets, each of the k4 taps' offset from its
 * window's first input byte (0 past k: a byte the zero weights there ignore). */
AOT_DSP_INLINE void aot_dsp_im2col_pair_setup(const aot_conv2d_s8_params *p, int32_t k4,
                                              int32_t *x, int32_t *offsets)
{
    aot_dsp_im2col_offsets(p, k4, offsets);
    x[k4] = x[k4 + 1] = AOT_DSP_PAIR_END;
}

/* The windows of output pixels a = (oya, oxa) and b = (oyb, oxb) into the pixel
 * pair (aot_dsp_mac_4x2's x: per two taps pixel a's int16 pair, then b's). */
AOT_DSP_INLINE void aot_dsp_im2col_pairs(const aot_conv2d_s8_params *p, const int8_t *x_n,
                                         int32_t oya, int32_t oxa, int32_t oyb, int32_t oxb,
                                         const int32_t *offsets, int32_t k4, int32_t *pair)
{
    const int32_t iya = oya * p->stride_h - p->pad_top, ixa = oxa * p->stride_w - p->pad_left;
    const int32_t iyb = oyb * p->stride_h - p->pad_top, ixb = oxb * p->stride_w - p->pad_left;
    int32_t *d = pair;

    if (aot_dsp_im2col_inside(p, oya, oxa) && aot_dsp_im2col_inside(p, oyb, oxb)) {
        const int8_t *a = x_n + iya * p->in_w + ixa, *b = x_n + iyb * p->in_w + ixb;
        const int32_t *o = offsets, *const end = offsets + k4;
        for (; o < end; o += 4, d += 4) {
            const int32_t o0 = o[0], o1 = o[1], o2 = o[2], o3 = o[3];
            d[0] = aot_dsp_pkhbt(a[o0], a[o1]);
            d[1] = aot_dsp_pkhbt(b[o0], b[o1]);
            d[2] = aot_dsp_pkhbt(a[o2], a[o3]);
            d[3] = aot_dsp_pkhbt(b[o2], b[o3]);
        }
        return;
    }
    {
        /* a window over the border: row by row, a row outside the input or a
         * column outside it gives the zero point */
        const int32_t in_h = p->in_h, in_w = p->in_w, kh = p->kernel_h, kw = p->kernel_w;
        const int32_t dh = p->dilation_h, dw = p->dilation_w, fill = -p->input_offset;
        const int32_t in_plane = in_h * in_w;
        int32_t i = 0, ic, ky, kx, pa = 0, pb = 0;
        for (ic = 0; ic < p->in_c; ++ic) {
            const int8_t *x_c = x_n + ic * in_plane;
            for (ky = 0; ky < kh; ++ky) {
                const int32_t ya = iya + ky * dh, yb = iyb + ky * dh;
                const int8_t *ra = (uint32_t)ya < (uint32_t)in_h ? x_c + ya * in_w : NULL;
                const int8_t *rb = (uint32_t)yb < (uint32_t)in_h ? x_c + yb * in_w : NULL;
                int32_t xa = ixa, xb = ixb;
                for (kx = 0; kx < kw; ++kx, ++i, xa += dw, xb += dw) {
                    const int32_t va = ra != NULL && (uint32_t)xa < (uint32_t)in_w ? ra[xa] : fill;
                    const int32_t vb = rb != NULL && (uint32_t)xb < (uint32_t)in_w ? rb[xb] : fill;
                    if (i & 1) {
                        d[0] = aot_dsp_pkhbt(pa, va);
                        d[1] = aot_dsp_pkhbt(pb, vb);
                        d += 2;
                    } else {
                        pa = va;
                        pb = vb;
                    }
                }
            }
        }
        if (i & 1) {      /* the odd last tap, with the zero weight past k */
            d[0] = aot_dsp_pack_lo(pa, 0);
            d[1] = aot_dsp_pack_lo(pb, 0);
            d += 2;
            ++i;
        }
        for (; i < k4; i += 2, d += 2) {
            d[0] = d[1] = 0;
        }
    }
}

/*
 * Whether aot_conv2d_wide_dsp_s8 takes the channel-pair tap order: an even
 * in_c and 3-wide rows read with stride_w and dilation_w 1. Its k index is then
 * ((ic / 2 * kernel_h + ky) * 3 + kx) * 2 + ic % 2 (the weights re-laid so at
 * compile time, targets/rules_dsp.py), so an int16 pair is two channels' values
 * of one tap, and one word of each of two planes' rows holds the 4 columns two
 * horizontally adjacent windows read: 2 LDR, 4 SXTB16, 4 PKH give 12 values.
 */
AOT_DSP_INLINE int32_t aot_dsp_channel_pairs(const aot_conv2d_s8_params *p)
{
    return (p->in_c & 1) == 0 && p->kernel_w == 3 && p->stride_w == 1 && p->dilation_w == 1;
}

/* aot_dsp_im2col_pairs in the channel-pair tap order (above). */
AOT_DSP_INLINE void aot_dsp_im2col_channel_pairs(const aot_conv2d_s8_params *p,
                                                 const int8_t *x_n, int32_t oya, int32_t oxa,
                                                 int32_t oyb, int32_t oxb, int32_t k4,
                                                 int32_t *pair)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_plane = in_h * in_w;
    const int32_t kh = p->kernel_h, dh = p->dilation_h, cp_n = p->in_c >> 1;
    const int32_t iya = oya * p->stride_h - p->pad_top, ixa = oxa - p->pad_left;
    const int32_t iyb = oyb * p->stride_h - p->pad_top, ixb = oxb - p->pad_left;
    int32_t *d = pair, *const end = pair + k4;
    int32_t cp, ky, kx;

    if (oyb == oya && oxb == oxa + 1 && aot_dsp_im2col_inside(p, oya, oxa)
        && aot_dsp_im2col_inside(p, oyb, oxb)) {
        /* columns ixa .. ixa + 3 of each row: pixel a reads 0..2, b 1..3 */
        const int8_t *row = x_n + iya * in_w + ixa;
        for (cp = 0; cp < cp_n; ++cp, row += 2 * in_plane) {
            const int8_t *r = row;
            for (ky = 0; ky < kh; ++ky, r += dh * in_w) {
                const int32_t c4 = aot_dsp_load32(r), d4 = aot_dsp_load32(r + in_plane);
                const int32_t e0 = aot_dsp_sxtb16(c4), o0 = aot_dsp_sxtb16_ror8(c4);
                const int32_t e1 = aot_dsp_sxtb16(d4), o1 = aot_dsp_sxtb16_ror8(d4);
                const int32_t p1 = aot_dsp_pkhbt(o0, o1), p2 = aot_dsp_pkhtb(e0, e1);
                d[0] = aot_dsp_pkhbt(e0, e1);
                d[1] = p1;
                d[2] = p1;
                d[3] = p2;
                d[4] = p2;
                d[5] = aot_dsp_pkhtb(o0, o1);
                d += 6;
            }
        }
    } else {
        const int32_t fill = -p->input_offset;
        for (cp = 0; cp < cp_n; ++cp) {
            const int8_t *x_c = x_n + 2 * cp * in_plane;
            for (ky = 0; ky < kh; ++ky) {
                const int32_t ya = iya + ky * dh, yb = iyb + ky * dh;
                const int8_t *ra = (uint32_t)ya < (uint32_t)in_h ? x_c + ya * in_w : NULL;
                const int8_t *rb = (uint32_t)yb < (uint32_t)in_h ? x_c + yb * in_w : NULL;
                for (kx = 0; kx < 3; ++kx) {
                    const int32_t xa = ixa + kx, xb = ixb + kx;
                    const int32_t ina = ra != NULL && (uint32_t)xa < (uint32_t)in_w;
                    const int32_t inb = rb != NULL && (uint32_t)xb < (uint32_t)in_w;
                    d[0] = ina ? aot_dsp_pkhbt(ra[xa], ra[xa + in_plane])
                               : aot_dsp_pkhbt(fill, fill);
                    d[1] = inb ? aot_dsp_pkhbt(rb[xb], rb[xb + in_plane])
                               : aot_dsp_pkhbt(fill, fill);
                    d += 2;
                }
            }
        }
    }
    for (; d < end; d += 2) {     /* the zero weights' pair past k */
        d[0] = d[1] = 0;
    }
}

#endif /* AOT_DSP_GEMM_IMPL_H */
