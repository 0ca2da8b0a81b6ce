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
    /* The other conventions (schedules.md §1), with ideal = the busiest
     * device's compute time: Megatron's (T - ideal) / ideal, i.e. (p-1)/m for
     * 1F1B; GPipe's (T - ideal) / T; Zero Bubble's (cost - ideal) / cost with
     * cost = the largest makespan from 0, or own span for the schedules ZB
     * measures that way (zb_cost_uses_span). */
    double ideal_ms;
    double bubble_megatron, bubble_gpipe, zb_bubble_rate;
    int zb_cost_uses_span;
    double steady_throughput_samples_per_s; /* microbatches m/4 .. 3m/4; 0 if m < 4 */
    int fits_memory;              /* no device over device_memory_bytes */
    char infeasible_reason[256];  /* set when !fits_memory */
};

/* Run the scenario. record_spans keeps op spans for plots and traces.
 * Returns 0 (check fits_memory for the exit-3 case) or a negative PP_E*. */
int pp_run_scenario(const struct pp_scenario *sc, int record_spans, struct pp_run **out,
                    struct pp_diag *d);
void pp_run_free(struct pp_run *r);

#endif
