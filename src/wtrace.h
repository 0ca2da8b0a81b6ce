/* wtrace.h - the weight reads and writes of a replayed timeline, in the order
 * the PipeDream theory paper counts them (pipedream-theory.md §1.5, §2.1).
 *
 * A forward F(i, m) reads block i's weights; a backward B(s, m) (or the BW half
 * of a split backward) computes block s's gradient. What happens to that
 * gradient depends on the schedule's weight semantics:
 *   IMMEDIATE   pipedream: applied at once (one block update per B);
 *   LOCAL       localsgd: applied at once to the microbatch's replica
 *               (m mod R); all replicas are averaged every R*H microbatches;
 *   ACCUMULATE  synchronous (flushing) schedules: summed over the batch and
 *               applied at the flush that ends it;
 *   DOUBLE      pipedream-2bw: summed over a batch of M microbatches and
 *               applied when the batch's last B on the block ends; reads use
 *               the version 2BW's semantics give (schedules.md §2.4).
 * Both staleness (staleness.h) and the convergence replays (converge.h) walk
 * the same event list, so the delays they see are the same by construction. */
#ifndef PP_WTRACE_H
#define PP_WTRACE_H

#include <stddef.h>
#include <stdint.h>

#include "evq.h"

struct pp_plan;
struct pp_sim_result;
struct pp_diag;

enum pp_wsem { PP_WSEM_IMMEDIATE, PP_WSEM_LOCAL, PP_WSEM_ACCUMULATE, PP_WSEM_DOUBLE };

/* When does a weight write become visible to a read?
 *   PAPER     the seed paper's unit-time code: ops are ordered by (start time,
 *             stage) and a B's update is visible to every later op in that
 *             order, including an F on a higher stage in the same step (§2.4);
 *   PHYSICAL  an update is visible once its B has ended (B end <= F start). */
enum pp_wconv { PP_WCONV_PAPER, PP_WCONV_PHYSICAL };

enum pp_wev_kind {
    PP_WEV_APPLY,   /* ACCUMULATE/DOUBLE: apply the summed gradient of `block` */
    PP_WEV_GRAD,    /* B(block, mb): compute block's gradient for mb */
    PP_WEV_AVERAGE, /* LOCAL: average every replica (block = mb = -1) */
    PP_WEV_READ,    /* F(block, mb): read block's weights */
};

struct pp_wevent {
    pp_time key_ns;   /* the ordering time (convention-dependent) */
    pp_time start_ns, end_ns; /* the op's span; APPLY/AVERAGE: both = key_ns */
    int64_t mb;       /* global microbatch id (iteration * per-iteration + m);
                       * APPLY: the batch (iteration) it ends; AVERAGE: the round's last mb */
    int32_t block;    /* model piece 0..n_blocks-1 */
    int32_t replica;  /* LOCAL: mb mod replicas; else 0 */
    int32_t kind;     /* enum pp_wev_kind */
    int32_t version;  /* READ under DOUBLE: number of applied batches read; else -1 */
    int32_t rank;     /* the sort rank below (kept so sorting needs no global state) */
};

struct pp_wtrace {
    enum pp_wsem sem;
    enum pp_wconv conv;
    int n_blocks;              /* model pieces (stages * chunks) */
    int replicas;              /* LOCAL: R; else 1 */
    int64_t n_microbatches;    /* over all iterations */
    int64_t batch_microbatches;/* ACCUMULATE/DOUBLE: microbatches per applied batch */
    int64_t average_every;     /* LOCAL: microbatches per round (R*H) */
    pp_time makespan_ns;       /* of the whole trace */
    /* Sorted by (key_ns, rank, block, kind, mb). Under PAPER, APPLY and
     * AVERAGE rank 0 (a sync point precedes every op at the same instant) and
     * GRAD and READ share rank 1 (ties go by stage, as in the paper's step
     * loop). Under PHYSICAL, GRAD ranks 0, APPLY/AVERAGE 1 (they are keyed at
     * the end of the GRAD that completes them) and READ 2: an update ending at
     * t is seen by a read starting at t. */
    struct pp_wevent *ev;
    size_t n_ev;
};

struct pp_wtrace_opts {
    enum pp_wconv conv;
    /* ACCUMULATE: replay the one-iteration plan this many times back to back
     * (each iteration starts when the previous one's makespan ends); 0 = 1. */
    int iterations;
    /* DOUBLE: microbatches per weight version (2BW's m, at least the stage
     * count); 0 = the plan's microbatches (one batch). */
    int64_t batch_microbatches;
};

/* Build the trace of a replayed plan (sim must have been run with
 * record_spans). Fails with -PP_EINVAL when the plan's semantics cannot be
 * traced (an FB-overlapped or bidirectional plan is traced as ACCUMULATE) or
 * when a 2BW read would need a version that does not exist yet. */
int pp_wtrace_build(const struct pp_plan *plan, const struct pp_sim_result *sim,
                    const struct pp_wtrace_opts *opts, struct pp_wtrace **out, struct pp_diag *d);
void pp_wtrace_free(struct pp_wtrace *t);

#endif
