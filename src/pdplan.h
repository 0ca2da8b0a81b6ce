/* pdplan.h - PipeDream's partitioner: the dynamic program over antichain
 * states, with replication, hierarchical levels, the memory filter, straight
 * pipelines, activation compression and "use fewer machines".
 *
 * This reproduces optimizer_graph_hierarchical.py's numbers exactly, quirks
 * included (pipedream-optimizer.md §3-§6, §9): the first stage of every
 * (sub)problem has no transfer terms and divides its all-reduce by the lower
 * level's machine count; the memory test is ceil((N - r) / r') times the
 * stage's activations plus weights. Where PipeDream crashes (use fewer
 * machines together with the memory constraint, an infeasible answer), ppsim
 * treats "infeasible" as +infinity and answers. */
#ifndef PP_PDPLAN_H
#define PP_PDPLAN_H

#include <stddef.h>
#include <stdint.h>

struct pp_antichains;
struct pp_diag;

#define PP_PD_MAX_LEVELS 8

/* Work done and the total, in the same units (candidate cuts visited); done
 * == total exactly once, at the end. The total grows once when an
 * infeasible plan needs the second (memory) pass. */
typedef void (*pp_pdplan_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct pp_pdplan_opts {
    size_t n_levels;
    size_t machines[PP_PD_MAX_LEVELS];      /* per level, innermost first */
    double bandwidth_bps[PP_PD_MAX_LEVELS]; /* bytes/s per level */
    int use_memory_constraint;
    double memory_bytes;                    /* per machine, with the constraint */
    int straight;                           /* no replication */
    int fewer_machines;
    double compression;                     /* activation compression; 0 = not given */
    /* Called every few tens of milliseconds of DP work; NULL = none. The
     * library never prints: the command draws the bar. */
    pp_pdplan_progress_fn progress;
    void *progress_ctx;
};

/* One stage at one level. Level 0 is the innermost (PipeDream's "Level 1"). */
struct pp_pdstage {
    size_t level;
    size_t first_state, end_state; /* states [first, end) */
    size_t replicas;               /* machines (or groups) at this level */
    size_t gpus;                   /* level 0: replicas times those of the enclosing stages */
    size_t parent;                 /* index of the enclosing stage; SIZE_MAX at the top */
    size_t stage_id;               /* level 0: PipeDream's stage id; else SIZE_MAX */
    /* Per minibatch of the stage's own (sub)pipeline: compute / replicas (at
     * levels above 0 "compute" is the lower level's time for the range),
     * all-reduce / replicas, the larger of the in and out transfers, and the
     * stage time max(compute + allreduce, transfer). */
    double compute_s, allreduce_s, transfer_s, time_s;
    double memory_bytes;           /* the stash the memory check tested */
};

struct pp_pdplan {
    int feasible;
    double bottleneck_s;       /* "Time per stage in pipeline" */
    double single_s;           /* "Time taken by single-stage pipeline" */
    double data_parallel_s;    /* the all-machines data-parallel time it compares with */
    size_t machines_total, machines_used;
    struct pp_pdstage *stages; /* top level first; each stage followed by its children */
    size_t n_stages, n_leaf;
    /* Infeasible under the memory constraint: the smallest memory_bytes that
     * gives a plan (INFINITY: none does, e.g. too few states for a straight
     * pipeline). */
    double memory_needed_bytes;
};

/* Polls pp_limits_stop() (interrupt, --time-limit) as it goes and gives up
 * with pp_limits_stopped()'s code. */
int pp_pdplan_solve(const struct pp_antichains *a, const struct pp_pdplan_opts *o,
                    struct pp_pdplan **out, struct pp_diag *d);
void pp_pdplan_free(struct pp_pdplan *p);

#endif
