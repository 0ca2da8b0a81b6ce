/* staleness.h - delays of the weights each block update reads
 * (pipedream-theory.md §2).
 *
 * Block updates are counted globally, in the trace's order (wtrace.h). For
 * update k, a B on stage s of microbatch m, j_k^(i) is the number of updates
 * before F(i, m) and the delay of block i is k - j_k^(i). Schedules that apply
 * gradients in groups (a flush, a 2BW batch, one LocalSGD local step) apply a
 * group as one Jacobi step: every update in it has k = S * (groups before it),
 * and a read sees S * (groups applied before it). So a flushing schedule has
 * delay 0, 2BW has S (one batch), and LocalSGD 0 inside a replica. */
#ifndef PP_STALENESS_H
#define PP_STALENESS_H

#include <stdint.h>

#include "schedule.h"
#include "wtrace.h"

struct pp_diag;

struct pp_staleness {
    int n_blocks;             /* S (pieces) */
    enum pp_wsem sem;
    int64_t n_updates;        /* block updates counted (B ops) */
    int64_t steady_mb;        /* the microbatch the matrices describe */
    /* [s * n_blocks + i]: update on block s reading block i, for steady_mb */
    int64_t *delay_matrix;
    double *delay_ms_matrix;  /* F(i, m) start to the update's end (B end), ms */
    int64_t *own_stage;       /* [s]: own-block versions between F(s,m) and B(s,m) */
    int *stash_versions;      /* [device]: peak weight versions held (from the replay) */
    int n_devices;
    /* steady state: the matrix's max and mean; p10 over the second half of
     * the updates (the paper code's convention, §2.3 table) */
    int64_t max_delay;
    double mean_delay, p10_delay;
    double max_delay_ms, mean_delay_ms;
    /* the whole run, start-up transient included */
    int64_t run_max_delay;
    double run_mean_delay, run_p10_delay;
};

/* Delays of a traced timeline; O(updates * S) time. */
int pp_staleness_compute(const struct pp_wtrace *t, const struct pp_sim_result *sim,
                         struct pp_staleness **out, struct pp_diag *d);
void pp_staleness_free(struct pp_staleness *s);

/* The paper's unit-time model (F = B = 1 step = 1 ms, free communication,
 * results visible the next step): build `kind` for S stages and N
 * microbatches (0 = 10 S; at least 2 S, so that microbatch N/2 is in steady
 * state), replay it, trace and measure. For pipedream-2bw
 * batch_microbatches is 2BW's m (0 = S); for flushing schedules the plan is
 * one iteration of N. */
int pp_staleness_unit(enum pp_schedule_kind kind, int stages, int64_t microbatches,
                      int64_t batch_microbatches, enum pp_wconv conv,
                      struct pp_staleness **out, struct pp_diag *d);

/* numpy's default percentile (linear interpolation between closest ranks) of
 * a histogram hist[0..n_hist) of non-negative integer values. */
double pp_hist_percentile(const int64_t *hist, int64_t n_hist, double q);

#endif
