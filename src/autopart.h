/* autopart.h - stage splits chosen by the planner for a scenario
 * (`pipeline.partition: pipedream | auto`).
 *
 * `pipedream` is exactly what `ppsim plan -n STAGES --straight_pipeline -b BW`
 * chooses (PipeDream's DP, its quirks included); `auto` is the split `ppsim
 * plan --objective simulated` would pick for the scenario's stage count,
 * schedule, microbatches and memory. PipeDream's stages are antichain closures,
 * which need not be contiguous in the graph's default topological order, so
 * the model is re-linearised stage by stage (a topological order, since a
 * closure holds all its ancestors) and each layer's output_bytes recomputed. */
#ifndef PP_AUTOPART_H
#define PP_AUTOPART_H

#include <stddef.h>

struct pp_scenario;
struct pp_costmodel;
struct pp_diag;

struct pp_autopart {
    struct pp_costmodel *model; /* re-linearised; owned */
    size_t *counts;             /* layers per piece, stages * chunks of them */
    size_t n_counts;
    double predicted_s;         /* PipeDream: slowest stage; auto: simulated iteration */
};

/* Plan sc's model for sc->stages * sc->chunks pieces. The model must come from
 * a PipeDream graph (scenario validation checks it). A stop in the planner or
 * the simulated search (-PP_EINTR, -PP_EINFEASIBLE: limits.h) is returned
 * with its diagnostic, never a split. */
int pp_autopart_run(const struct pp_scenario *sc, struct pp_autopart *out, struct pp_diag *d);
void pp_autopart_clear(struct pp_autopart *ap);

#endif
