/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aot runtime: the executor interface of <name>_run_ex (threads).
 *
 * A model compiled for a target with an operating system (x86-64, AArch64)
 * has, besides <name>_run, an entry point
 *
 *     int <name>_run_ex(<inputs>, <outputs>, void *arena, const aot_executor *ex);
 *
 * that cuts each heavy layer (convolutions, matrix products) into ex->workers
 * parts along output channels or rows and hands them to ex->parallel_for: the
 * application's own thread pool, an RTOS's task API, or the bundled pthreads
 * executor (aot_executor_pthreads.h, an optional file outside the libc-free
 * core). Every part writes only its own slice of the layer's output, and the
 * cut never splits a kernel's block of work, so the results are bit-for-bit
 * the same for every number of workers. ex == NULL, or ex->workers <= 1, runs
 * every layer in the calling thread (this is what <name>_run does).
 *
 * Needs no libc: only <stdint.h> and <stddef.h>.
 */
#ifndef AOT_EXECUTOR_H
#define AOT_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One part of a layer: part index in [0, parts); context is the model's. */
typedef void (*aot_task_fn)(void *context, int32_t part);

typedef struct aot_executor aot_executor;

struct aot_executor {
    /*
     * Call fn(context, i) once for every i in [0, n), in any order and on any
     * threads, and return only when all n calls have returned (the model's
     * next layer reads what they wrote: the return must also publish their
     * writes to the caller, as joining a thread or a mutex/condition variable
     * hand-off does). The model passes n == workers.
     */
    void (*parallel_for)(const aot_executor *executor, aot_task_fn fn, void *context,
                         int32_t n);
    void *user;       /* the executor's own state, e.g. its thread pool */
    int32_t workers;  /* parts per split layer; <= 1 runs everything serially */
};

/*
 * The units [*first, *first + *count) of part `part` of `parts`: `units` units
 * in blocks of `grain` (the last block may be short), whole blocks dealt out
 * as evenly as possible in order. *count is 0 for a part with no block.
 */
static inline void aot_split_range(int32_t units, int32_t grain, int32_t part, int32_t parts,
                                   int32_t *first, int32_t *count)
{
    const int64_t blocks = ((int64_t)units + grain - 1) / grain;
    int64_t begin = blocks * part / parts * grain;
    int64_t end = blocks * (part + 1) / parts * grain;

    begin = begin < units ? begin : units;
    end = end < units ? end : units;
    *first = (int32_t)begin;
    *count = (int32_t)(end - begin);
}

#ifdef __cplusplus
}
#endif

#endif /* AOT_EXECUTOR_H */
