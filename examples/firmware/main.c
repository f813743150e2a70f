/* SPDX-License-Identifier: Apache-2.0 */
/* Runs two aot-compiled models, KWS (--name kws) and AD (--name ad), on fixed
 * inputs and prints every output over semihosting, one line per element:
 *
 *     <model> out<i> <element> <IEEE-754 bits in hex> <value in decimal>
 *
 * then "<model> rc <code>" and finally "done". The hex bits are exact (the test
 * compares them with onnxruntime); the decimals are for people. */
#include <stdint.h>

#include "ad.h"
#include "kws.h"
#include "semihost.h"

/* KWS runs in its own static arena: kws.c is compiled with -DKWS_STATIC_ARENA and
 * KWS_ARENA_ATTR (see the Makefile), and kws_run gets NULL for the arena. AD runs in
 * an arena owned here, placed in the same linker section by hand. */
static uint8_t ad_arena[AD_ARENA_SIZE]
    __attribute__((aligned(AD_ARENA_ALIGN), section(".bss.arena.ad")));

static float kws_in[KWS_INPUT0_SIZE], kws_out[KWS_OUTPUT0_SIZE];
static float ad_in[AD_INPUT0_SIZE], ad_out[AD_OUTPUT0_SIZE];

/* x[i] = ((((i + seed) * 7919) mod 2001) - 1000) / 100: a fixed input in [-10, 10] that
 * numpy reproduces bit for bit (the int is exact in float; one rounded division). */
static void fill(float *x, uint32_t n, uint32_t seed)
{
    uint32_t i;

    for (i = 0u; i < n; i++) {
        int32_t k = (int32_t)(((i + seed) * 7919u) % 2001u) - 1000;
        x[i] = (float)k / 100.0f;
    }
}

static void print_outputs(const char *model, int rc, const float *y, uint32_t n)
{
    uint32_t i;
    union {
        float f;
        uint32_t u;
    } bits;

    for (i = 0u; i < n; i++) {
        bits.f = y[i];
        sh_puts(model);
        sh_puts(" out0 ");
        sh_put_u32(i);
        sh_puts(" ");
        sh_put_hex32(bits.u);
        sh_puts(" ");
        sh_put_float(y[i]);
        sh_puts("\n");
    }
    sh_puts(model);
    sh_puts(rc < 0 ? " rc -" : " rc ");
    sh_put_u32((uint32_t)(rc < 0 ? -rc : rc));
    sh_puts("\n");
}

int main(void)
{
    int rc_kws, rc_ad;

    fill(kws_in, KWS_INPUT0_SIZE, 1u);
    rc_kws = kws_run(kws_in, kws_out, NULL);   /* NULL: its static arena */
    print_outputs("kws", rc_kws, kws_out, KWS_OUTPUT0_SIZE);

    fill(ad_in, AD_INPUT0_SIZE, 2u);
    rc_ad = ad_run(ad_in, ad_out, ad_arena);
    print_outputs("ad", rc_ad, ad_out, AD_OUTPUT0_SIZE);

    sh_puts("done\n");
    return rc_kws != 0 || rc_ad != 0;
}
