/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aot runtime, optional: an aot_executor backed by a POSIX threads pool.
 *
 * Not part of the libc-free core: it needs pthreads and malloc, so its source,
 * aot_executor_pthreads.c, is not written into a model's output; it ships in
 * the aot package (runtime_c/, where this header comes from). Build it where
 * there is an operating system (link with -pthread), never into Cortex-M
 * firmware. Use it as
 *
 *     aot_executor ex;
 *     if (aot_executor_pthreads_create(&ex, 4) == 0) {
 *         rc = kws_run_ex(input, output, arena, &ex);   (as often as needed)
 *         aot_executor_pthreads_destroy(&ex);
 *     }
 *
 * The calling thread is worker 0 and works too: `workers` - 1 threads are
 * started. Waiting workers spin briefly, then sleep on a condition variable.
 * One executor serves one _run_ex call at a time.
 */
#ifndef AOT_EXECUTOR_PTHREADS_H
#define AOT_EXECUTOR_PTHREADS_H

#include "aot_executor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills *executor with a pool of `workers` (1..256) workers: 0, or -1 when the
 * count is out of range or memory or threads could not be had. */
int aot_executor_pthreads_create(aot_executor *executor, int32_t workers);

/* Stops and joins the workers and frees the pool; *executor becomes serial. */
void aot_executor_pthreads_destroy(aot_executor *executor);

#ifdef __cplusplus
}
#endif

#endif /* AOT_EXECUTOR_PTHREADS_H */
