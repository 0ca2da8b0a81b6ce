/* simplan.h - plan for the schedule you will run (`ppsim plan --objective
 * simulated`): PipeDream's objective is the slowest stage of an asynchronous
 * pipeline; a synchronous schedule also pays the bubble and holds a
 * schedule-dependent number of microbatches (1F1B stage r: min(m, p - r),
 * GPipe: m). For every data-parallel width d and stage count p = devices / d,
 * a DP over PipeDream's antichain states proposes splits that fit the memory
 * under that schedule, PipeDream's own straight split is added, and the event
 * simulator scores each; the best time per minibatch wins. */
#ifndef PP_SIMPLAN_H
#define PP_SIMPLAN_H

#include <stddef.h>

#include "schedule.h"

struct pp_antichains;
struct pp_pdgraph;
struct pp_diag;

struct pp_simplan_opts {
    size_t devices;
    double bandwidth_bps;        /* between stages and for the data-parallel all-reduce */
    double memory_bytes;         /* per device; 0 = unlimited */
    enum pp_schedule_kind schedule;
    size_t microbatches;         /* per iteration, each of the profile's batch size */
    double gradient_factor;      /* gradient bytes per parameter byte */
    double optimizer_factor;     /* optimizer state bytes per parameter byte */
    size_t only_stages;          /* 0: search every stage count; else just this one */
};

enum pp_simplan_source { PP_SP_MEMORY_DP, PP_SP_PIPEDREAM };

struct pp_simplan_cand {
    size_t dp, stages;
    enum pp_simplan_source source;
    size_t *cuts;                /* stages end states (exclusive), last = n_states */
    double iteration_s;          /* simulated pipeline + data-parallel all-reduce */
    double allreduce_s;
    double per_minibatch_s;      /* iteration_s / (microbatches * dp) */
    double peak_bytes;           /* largest per-device peak */
    int fits;
};

struct pp_simplan {
    struct pp_simplan_cand *cands;
    size_t n_cands;
    size_t best;                 /* SIZE_MAX: nothing fits */
};

/* 0, or an error in d. A stop (limits.h: -PP_EINTR on SIGINT or SIGTERM,
 * -PP_EINFEASIBLE past --time-limit) anywhere in the search is returned, with
 * its diagnostic: a stopped search is never a result. */
int pp_simplan_run(const struct pp_pdgraph *g, const struct pp_antichains *a,
                   const struct pp_simplan_opts *o, struct pp_simplan **out, struct pp_diag *d);
void pp_simplan_free(struct pp_simplan *s);

#endif
