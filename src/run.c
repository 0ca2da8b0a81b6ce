/* run.c - one scenario end to end: partition -> plan -> simulate -> closed form. */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autopart.h"
#include "costmodel.h"
#include "diag.h"
#include "partition.h"
#include "scenario.h"
#include "schedule.h"
#include "xalloc.h"

int pp_run_scenario(const struct pp_scenario *sc, int record_spans, struct pp_run **out,
                    struct pp_diag *d)
{
    struct pp_run *r = pp_xcalloc(1, sizeof *r);
    r->sc = sc;
    size_t pieces = (size_t)sc->stages * (size_t)sc->chunks;
    int rc = 0;
    r->model = sc->model;
    switch (sc->partition_mode) {
    case PP_PARTITION_BALANCED:
        rc = pp_partition_balanced(sc->model, pieces, &r->part, d);
        break;
    case PP_PARTITION_EXPLICIT:
        rc = pp_partition_explicit(sc->model, sc->partition_counts, sc->n_partition_counts,
                                   &r->part, d);
        break;
    case PP_PARTITION_PIPEDREAM:
    case PP_PARTITION_AUTO:
        rc = pp_autopart_run(sc, &r->autopart, d);
        if (rc == 0) {
            r->model = r->autopart.model;
            rc = pp_partition_explicit(r->model, r->autopart.counts, r->autopart.n_counts,
                                       &r->part, d);
        }
        break;
    }
    struct pp_sched_params sp = {.stages = sc->stages, .chunks = sc->chunks, .microbatches = sc->microbatches};
    if (rc == 0)
        rc = pp_plan_build(sc->schedule, &sp, &r->plan, d);
    r->cfg.link_bandwidth_bytes_per_s = sc->link_bandwidth_bytes_per_s;
    r->cfg.link_latency_ms = sc->link_latency_ms;
    r->cfg.optimizer_state_bytes_per_parameter_byte = sc->optimizer_state_bytes_per_parameter_byte;
    r->cfg.gradient_bytes_per_parameter_byte = sc->gradient_bytes_per_parameter_byte;
    r->cfg.optimizer_step_ms = sc->optimizer_step_ms;
    r->cfg.device_memory_bytes = sc->device_memory_bytes;
    r->cfg.record_spans = record_spans;
    if (rc == 0)
        rc = pp_sim_run(r->plan, r->part, &r->cfg, &r->res, d);
    if (rc) {
        /* Library-level diagnostics carry no file; name the scenario. */
        if (d && !d->file[0])
            snprintf(d->file, sizeof d->file, "%s", sc->file ? sc->file : "");
        pp_run_free(r);
        return rc;
    }
    pp_analytic_estimate(r->plan, r->part, &r->cfg, &r->analytic);

    r->data_parallel = sc->devices / sc->stages;
    r->iteration_time_ms = (double)r->res->makespan_ns / 1e6;
    double samples = (double)sc->microbatches * sc->microbatch_size * r->data_parallel;
    r->throughput_samples_per_s =
        r->res->makespan_ns > 0 ? samples / ((double)r->res->makespan_ns / 1e9) : 0;
    pp_time busy = 0;
    for (int dv = 0; dv < r->res->n_devices; dv++)
        busy += r->res->dev[dv].busy_ns;
    r->bubble_fraction =
        r->res->makespan_ns > 0
            ? 1.0 - (double)busy / ((double)r->res->n_devices * (double)r->res->makespan_ns)
            : 0;
    r->fits_memory = 1;
    for (int dv = 0; dv < r->res->n_devices; dv++) {
        if (!r->res->dev[dv].over_memory)
            continue;
        if (r->fits_memory)
            snprintf(r->infeasible_reason, sizeof r->infeasible_reason,
                     "device %d needs %.4g GB at peak, more than device_memory_bytes (%.4g GB)",
                     dv, r->res->dev[dv].peak_memory_bytes / 1e9, sc->device_memory_bytes / 1e9);
        r->fits_memory = 0;
    }
    *out = r;
    return 0;
}

void pp_run_free(struct pp_run *r)
{
    if (!r)
        return;
    pp_partition_free(r->part);
    pp_autopart_clear(&r->autopart);
    pp_plan_free(r->plan);
    pp_sim_result_free(r->res);
    free(r);
}
