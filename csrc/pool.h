/* pool.h -- fastinit's thread pool: persistent workers that take numbered chunks of one job.
 *
 * It replaces OpenMP, whose runtime (libgomp) hangs a process forked after a parallel
 * region: fork is how multiprocessing, DataLoader and Dask workers start on Linux. This pool
 * is rebuilt lazily in a forked child, links only pthreads (Win32 threads on Windows), and
 * does not depend on the compiler having an OpenMP runtime (Apple's clang has none). */
#ifndef FASTINIT_POOL_H
#define FASTINIT_POOL_H

#include <stdint.h>

/* One chunk of a job: chunk i of n. The chunks of a job must be independent. */
typedef void (*fi_task)(void *ctx, uint64_t i);

/* Run task(ctx, i) for every i in [0, n) on up to nthreads threads, the calling one among
 * them, and return when all are done. Chunks go to whichever thread is free next, so a
 * thread slowed down by another process holds the job up by at most one chunk. Safe to call
 * from several threads at once (a call that finds the pool busy runs on its own thread) and
 * from a task (likewise). Never fails: if workers cannot be started, the caller does the
 * work. */
void fi_pool_run(int nthreads, uint64_t n, fi_task task, void *ctx);

/* Workers started so far (for tests: 0 in a freshly forked child until its first job). */
int fi_pool_workers(void);

#endif
