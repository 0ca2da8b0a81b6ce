/* sweep_run.h - running a slice of a sweep on worker threads. */
#ifndef PP_SWEEP_RUN_H
#define PP_SWEEP_RUN_H

#include <stdint.h>

#include "sweep.h"

/* Called from the calling thread while workers run (about every 0.2 s) and
 * once at the end. */
typedef void (*pp_sweep_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Rows of configurations first .. first+n-1, in that order, appended to out;
 * stats[0..n) receive their summaries. jobs = 1 runs them in the calling
 * thread. When pp_limits_stop() turns true no further configuration starts
 * and the rows are incomplete: the caller checks it and writes nothing. */
int pp_sweep_run_range(const struct pp_sweep_job *job, uint64_t first, uint64_t n, int jobs,
                       pp_sweep_progress_fn progress, void *ctx, struct pp_buf *out,
                       struct pp_sweep_stat *stats);

#endif
