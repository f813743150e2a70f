/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pthreads executor (see aot_executor_pthreads.h). Only built where POSIX
 * threads exist; elsewhere (bare-metal toolchains) this file is empty.
 */
#if defined(__unix__) || defined(__APPLE__)

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "aot_executor_pthreads.h"

#define AOT_POOL_MAX_WORKERS 256
/* Polls before a waiting thread sleeps: about the time a layer part takes, so
 * back-to-back layers do not put the workers to sleep. */
#define AOT_POOL_SPINS 2000

typedef struct aot_pool aot_pool;

typedef struct {
    aot_pool *pool;
    pthread_t thread;
} aot_pool_worker;

/*
 * Parts are claimed one at a time under `lock` (next < n) by the caller and
 * by every awake worker, so a worker the OS has not scheduled yet delays
 * nothing: the caller runs the parts nobody claimed and then waits only for
 * parts that are running. `generation` tells workers a new job (or stop) is
 * there; a worker claims only from the generation it saw.
 */
struct aot_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;       /* workers sleep here between jobs */
    pthread_cond_t finished;   /* the caller sleeps here for the last parts */
    aot_task_fn fn;
    void *context;
    int32_t n;
    int32_t next;              /* the next unclaimed part */
    int32_t done;              /* parts finished */
    unsigned generation;
    int32_t sleepers;
    int caller_waits;
    int stop;
    int32_t workers;
    aot_pool_worker helpers[1];   /* workers - 1 of them */
};

static void aot_pool_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims and runs parts of job `generation` until none is left. */
static void aot_pool_work(aot_pool *pool, unsigned generation)
{
    for (;;) {
        aot_task_fn fn;
        void *context;
        int32_t part;

        pthread_mutex_lock(&pool->lock);
        if (pool->generation != generation || pool->next >= pool->n) {
            pthread_mutex_unlock(&pool->lock);
            return;
        }
        part = pool->next++;
        fn = pool->fn;
        context = pool->context;
        pthread_mutex_unlock(&pool->lock);

        fn(context, part);

        pthread_mutex_lock(&pool->lock);
        __atomic_store_n(&pool->done, pool->done + 1, __ATOMIC_RELEASE);
        if (pool->done == pool->n && pool->caller_waits) {
            pthread_cond_signal(&pool->finished);
        }
        pthread_mutex_unlock(&pool->lock);
    }
}

static void *aot_pool_main(void *arg)
{
    aot_pool *pool = ((aot_pool_worker *)arg)->pool;
    unsigned seen = 0u;

    for (;;) {
        int32_t spins = 0;
        unsigned generation;
        while (__atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE) == seen) {
            if (++spins < AOT_POOL_SPINS) {
                aot_pool_pause();
                continue;
            }
            pthread_mutex_lock(&pool->lock);
            pool->sleepers += 1;
            while (pool->generation == seen) {
                pthread_cond_wait(&pool->wake, &pool->lock);
            }
            pool->sleepers -= 1;
            pthread_mutex_unlock(&pool->lock);
        }
        pthread_mutex_lock(&pool->lock);
        generation = pool->generation;
        if (pool->stop) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        pthread_mutex_unlock(&pool->lock);
        seen = generation;
        aot_pool_work(pool, generation);
    }
}

static void aot_pool_parallel_for(const aot_executor *executor, aot_task_fn fn, void *context,
                                  int32_t n)
{
    aot_pool *pool = (aot_pool *)executor->user;
    unsigned generation;
    int32_t spins = 0;

    if (pool == NULL || pool->workers <= 1 || n <= 1) {
        int32_t i;
        for (i = 0; i < n; ++i) {
            fn(context, i);
        }
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->context = context;
    pool->n = n;
    pool->next = 0;
    __atomic_store_n(&pool->done, 0, __ATOMIC_RELAXED);
    generation = pool->generation + 1u;
    __atomic_store_n(&pool->generation, generation, __ATOMIC_RELEASE);
    if (pool->sleepers > 0) {
        pthread_cond_broadcast(&pool->wake);
    }
    pthread_mutex_unlock(&pool->lock);

    aot_pool_work(pool, generation);
    while (__atomic_load_n(&pool->done, __ATOMIC_ACQUIRE) < n) {
        if (++spins < AOT_POOL_SPINS) {
            aot_pool_pause();
            continue;
        }
        pthread_mutex_lock(&pool->lock);
        pool->caller_waits = 1;
        while (pool->done < n) {
            pthread_cond_wait(&pool->finished, &pool->lock);
        }
        pool->caller_waits = 0;
        pthread_mutex_unlock(&pool->lock);
    }
}

int aot_executor_pthreads_create(aot_executor *executor, int32_t workers)
{
    aot_pool *pool;
    int32_t i;

    if (executor == NULL || workers < 1 || workers > AOT_POOL_MAX_WORKERS) {
        return -1;
    }
    pool = (aot_pool *)calloc(1u, sizeof(aot_pool)
                              + (size_t)workers * sizeof(aot_pool_worker));
    if (pool == NULL) {
        return -1;
    }
    pool->workers = 1;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return -1;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return -1;
    }
    if (pthread_cond_init(&pool->finished, NULL) != 0) {
        pthread_cond_destroy(&pool->wake);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return -1;
    }
    executor->parallel_for = aot_pool_parallel_for;
    executor->user = pool;
    executor->workers = 1;
    for (i = 1; i < workers; ++i) {
        aot_pool_worker *w = &pool->helpers[i - 1];
        w->pool = pool;
        if (pthread_create(&w->thread, NULL, aot_pool_main, w) != 0) {
            aot_executor_pthreads_destroy(executor);
            return -1;
        }
        pool->workers = i + 1;
    }
    executor->workers = workers;
    return 0;
}

void aot_executor_pthreads_destroy(aot_executor *executor)
{
    aot_pool *pool;
    int32_t i;

    if (executor == NULL || executor->user == NULL) {
        return;
    }
    pool = (aot_pool *)executor->user;
    pthread_mutex_lock(&pool->lock);
    pool->stop = 1;
    __atomic_store_n(&pool->generation, pool->generation + 1u, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (i = 1; i < pool->workers; ++i) {
        pthread_join(pool->helpers[i - 1].thread, NULL);
    }
    pthread_cond_destroy(&pool->finished);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
    executor->user = NULL;
    executor->workers = 1;
}

#else

/* No POSIX threads here: nothing to build (ISO C wants a declaration). */
typedef int aot_executor_pthreads_unavailable;

#endif
