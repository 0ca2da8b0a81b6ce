/* run.h - the whole path for one scenario: partition -> plan -> simulate ->
 * closed form, with the derived figures every report prints. */
#ifndef PP_RUN_H
#define PP_RUN_H

#include "analytic.h"
#include "autopart.h"
#include "sim.h"

struct pp_scenario;
struct pp_partition;
struct pp_plan;
struct pp_diag;

struct pp_run {
    const struct pp_scenario *sc; /* borrowed */
    const struct pp_costmodel *model; /* sc->model, or the planner's re-linearised copy */
    struct pp_autopart autopart;      /* partition: pipedream | auto */
    struct pp_partition *part;
    struct pp_plan *plan;
    struct pp_sim_result *res;
    struct pp_sim_config cfg;
    struct pp_analytic analytic;
    int data_parallel;            /* devices / stages */
    double iteration_time_ms;
    double throughput_samples_per_s; /* all data-parallel replicas */
    double bubble_fraction;       /* 1 - sum busy / (devices * iteration time) */
    int fits_memory;              /* no device over device_memory_bytes */
    char infeasible_reason[256];  /* set when !fits_memory */
};

/* Run the scenario. record_spans keeps op spans for plots and traces.
 * Returns 0 (check fits_memory for the exit-3 case) or a negative PP_E*. */
int pp_run_scenario(const struct pp_scenario *sc, int record_spans, struct pp_run **out,
                    struct pp_diag *d);
void pp_run_free(struct pp_run *r);

#endif
