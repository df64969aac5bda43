/*
 * pool.c -- the thread pool (pool.h says what it does; here is how).
 *
 * One job at a time. The caller publishes it (task, ctx, n) under the lock, bumps the job
 * number and wakes the workers; every thread then takes chunk numbers from one atomic
 * counter until none are left. Workers that wake after the caller has closed the job do not
 * join it, so the caller waits only for workers that are inside the job, never for one the
 * scheduler has not run yet. A worker spins briefly after a job before it sleeps, so
 * back-to-back fills do not pay a wake-up each; the caller wakes only as many sleepers as
 * the job can use, so a small job on a many-core machine does not stir every thread.
 *
 * Fork: the child has only the forking thread. pthread_atfork takes the lock around the fork
 * (no job is half-published in the copy) and the child's handler forgets the parent's
 * workers; the child starts its own on its first large fill.
 */
#include "pool.h"
#include "portable.h"

#ifdef _WIN32
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0600
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0600     /* Vista: SRW locks, condition variables, InitOnce */
#endif
#include <windows.h>
typedef SRWLOCK fi_mutex;
typedef CONDITION_VARIABLE fi_cond;
static void mutex_init(fi_mutex *m) { InitializeSRWLock(m); }
static void mutex_lock(fi_mutex *m) { AcquireSRWLockExclusive(m); }
static void mutex_unlock(fi_mutex *m) { ReleaseSRWLockExclusive(m); }
static void cond_init(fi_cond *c) { InitializeConditionVariable(c); }
static void cond_wait(fi_cond *c, fi_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static void cond_broadcast(fi_cond *c) { WakeAllConditionVariable(c); }
static void cond_signal(fi_cond *c) { WakeConditionVariable(c); }
#else
#include <pthread.h>
typedef pthread_mutex_t fi_mutex;
typedef pthread_cond_t fi_cond;
static void mutex_init(fi_mutex *m) { pthread_mutex_init(m, NULL); }
static void mutex_lock(fi_mutex *m) { pthread_mutex_lock(m); }
static void mutex_unlock(fi_mutex *m) { pthread_mutex_unlock(m); }
static void cond_init(fi_cond *c) { pthread_cond_init(c, NULL); }
static void cond_wait(fi_cond *c, fi_mutex *m) { pthread_cond_wait(c, m); }
static void cond_broadcast(fi_cond *c) { pthread_cond_broadcast(c); }
static void cond_signal(fi_cond *c) { pthread_cond_signal(c); }
#endif

#define MAX_WORKERS 255
/* Pauses a worker spins through after a job before sleeping: 2000 pauses are 10 to 100
 * microseconds (a pause is 10 to 140 cycles, by CPU). */
#define SPIN 2000

/* The job number, which idle workers poll, and the chunk counter, which busy ones bump: each
 * on its own cache line, apart from the lock. */
static FI_ALIGN64 volatile uint64_t job_number;
static FI_ALIGN64 volatile uint64_t next_chunk;

static struct {
    fi_mutex lock;              /* guards all below but `next` and the spinners' reads */
    fi_cond wake;               /* workers sleep here between jobs */
    fi_cond done;               /* the caller sleeps here for the workers inside its job */
    int nworkers;               /* workers started (in this process) */
    int max_workers;            /* lowered when the system refuses a thread */
    int sleepers;               /* workers waiting on `wake` */
    int busy;                   /* a job is running: other callers run theirs alone */
    int open;                   /* workers may still join the job */
    int joined, want;           /* workers inside the job; how many it may take */
    fi_task task;
    void *ctx;
    uint64_t n;
} pool;

#ifdef _WIN32
static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
#else
static pthread_once_t once = PTHREAD_ONCE_INIT;
#endif

/* Take chunks until none are left. */
static void run_chunks(fi_task task, void *ctx, uint64_t n)
{
    uint64_t i;
    while ((i = fi_atomic_fetch_add64(&next_chunk, 1)) < n) task(ctx, i);
}

static void worker_loop(uint64_t seen)
{
    for (;;) {
        for (int k = 0; k < SPIN && fi_atomic_load64(&job_number) == seen; k++) fi_cpu_relax();
        mutex_lock(&pool.lock);
        while (job_number == seen) {
            pool.sleepers++;
            cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
        }
        seen = job_number;
        if (!pool.open || pool.joined >= pool.want) {
            mutex_unlock(&pool.lock);
            continue;
        }
        pool.joined++;
        fi_task task = pool.task;
        void *ctx = pool.ctx;
        uint64_t n = pool.n;
        mutex_unlock(&pool.lock);
        run_chunks(task, ctx, n);
        mutex_lock(&pool.lock);
        if (--pool.joined == 0 && !pool.open) cond_broadcast(&pool.done);
        mutex_unlock(&pool.lock);
    }
}

/* A worker starts waiting for the job after the one current when it was made (passed in,
 * as the caller bumps the number before the worker may first look). */
#ifdef _WIN32
static DWORD WINAPI worker_main(LPVOID arg)
{
    worker_loop((uint64_t)(uintptr_t)arg);
    return 0;
}
#else
static void *worker_main(void *arg)
{
    worker_loop((uint64_t)(uintptr_t)arg);
    return NULL;
}
#endif

/* Start workers until there are `count` (or as many as the system gives). Under the lock. */
static void grow(int count)
{
    if (count > pool.max_workers) count = pool.max_workers;
    while (pool.nworkers < count) {
        void *arg = (void *)(uintptr_t)job_number;
#ifdef _WIN32
        HANDLE h = CreateThread(NULL, 0, worker_main, arg, 0, NULL);
        if (h == NULL) {
            pool.max_workers = pool.nworkers;   /* do not ask again on every call */
            return;
        }
        CloseHandle(h);
#else
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&t, &attr, worker_main, arg);
        pthread_attr_destroy(&attr);
        if (err != 0) {
            pool.max_workers = pool.nworkers;   /* do not ask again on every call */
            return;
        }
#endif
        pool.nworkers++;
    }
}

static void reset(void)
{
    mutex_init(&pool.lock);
    cond_init(&pool.wake);
    cond_init(&pool.done);
    pool.nworkers = pool.sleepers = 0;
    pool.max_workers = MAX_WORKERS;
    pool.busy = pool.open = pool.joined = pool.want = 0;
}

#ifndef _WIN32
static void before_fork(void) { mutex_lock(&pool.lock); }
static void after_fork_parent(void) { mutex_unlock(&pool.lock); }
/* The parent's workers do not exist here; the lock and conditions are made anew, as the
 * copies may hold the state of threads that are gone. */
static void after_fork_child(void) { reset(); }

static void init(void)
{
    reset();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}
#else
static BOOL CALLBACK init(PINIT_ONCE o, PVOID p, PVOID *c)
{
    (void)o, (void)p, (void)c;
    reset();
    return TRUE;
}
#endif

void fi_pool_run(int nthreads, uint64_t n, fi_task task, void *ctx)
{
    if (nthreads <= 1 || n <= 1) {
        for (uint64_t i = 0; i < n; i++) task(ctx, i);
        return;
    }
#ifdef _WIN32
    InitOnceExecuteOnce(&once, init, NULL, NULL);
#else
    pthread_once(&once, init);
#endif
    uint64_t helpers = n - 1 < (uint64_t)(nthreads - 1) ? n - 1 : (uint64_t)(nthreads - 1);
    mutex_lock(&pool.lock);
    if (pool.busy) {
        mutex_unlock(&pool.lock);
        for (uint64_t i = 0; i < n; i++) task(ctx, i);
        return;
    }
    grow((int)helpers);
    pool.busy = 1;
    pool.task = task;
    pool.ctx = ctx;
    pool.n = n;
    next_chunk = 0;
    pool.open = 1;
    pool.joined = 0;
    pool.want = (int)helpers < pool.nworkers ? (int)helpers : pool.nworkers;
    fi_atomic_store64(&job_number, job_number + 1);
    /* Spinning workers see the new number themselves; wake sleepers only for the places
     * left (a woken worker that finds the job full goes back to sleep). */
    for (int i = 0; i < pool.want && i < pool.sleepers; i++) cond_signal(&pool.wake);
    mutex_unlock(&pool.lock);

    run_chunks(task, ctx, n);

    mutex_lock(&pool.lock);
    pool.open = 0;
    while (pool.joined > 0) cond_wait(&pool.done, &pool.lock);
    pool.busy = 0;
    mutex_unlock(&pool.lock);
}

int fi_pool_workers(void)
{
#ifdef _WIN32
    InitOnceExecuteOnce(&once, init, NULL, NULL);
#else
    pthread_once(&once, init);
#endif
    mutex_lock(&pool.lock);
    int n = pool.nworkers;
    mutex_unlock(&pool.lock);
    return n;
}
