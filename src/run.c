/* run.c - one scenario end to end: partition -> plan -> simulate -> closed form. */
#include "run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autopart.h"
#include "costmodel.h"
#include "diag.h"
#include "limits.h"
#include "partition.h"
#include "scenario.h"
#include "schedule.h"
#include "xalloc.h"

/* Zero Bubble's tables measure ZB-H2, ZB-auto and the V schedules by each
 * device's own span, and 1F1B, 1F1B-I, ZB-H1 from t = 0 (schedules.md §1, §6). */
static int zb_uses_span(enum pp_schedule_kind k)
{
    switch (k) {
    case PP_SCHED_ZB_H2:
    case PP_SCHED_ZB_AUTO:
    case PP_SCHED_ZB_V:
    case PP_SCHED_V_HALF:
    case PP_SCHED_V_MIN:
    case PP_SCHED_INTERLEAVED_ZB:
    case PP_SCHED_DUALPIPE:
    case PP_SCHED_DUALPIPEV:
        return 1;
    default:
        return 0;
    }
}

/* Every bubble convention in use, from the same replay (run.h). */
static void bubble_conventions(struct pp_run *r)
{
    const struct pp_sim_result *res = r->res;
    double makespan = (double)res->makespan_ns, ideal = 0, cost = 0;
    int span = zb_uses_span(r->sc->schedule);
    for (int dv = 0; dv < res->n_devices; dv++) {
        const struct pp_device_result *dr = &res->dev[dv];
        ideal = fmax(ideal, (double)dr->compute_ns);
        double c = (double)dr->last_end_ns - (span ? (double)dr->first_start_ns : 0);
        cost = fmax(cost, c);
    }
    r->ideal_ms = ideal / 1e6;
    r->bubble_megatron = ideal > 0 ? (makespan - ideal) / ideal : 0;
    r->bubble_gpipe = makespan > 0 ? (makespan - ideal) / makespan : 0;
    r->zb_bubble_rate = cost > 0 ? (cost - ideal) / cost : 0;
    r->zb_cost_uses_span = span;
    /* A flushing schedule repeats whole iterations, so its steady state is the
     * iteration's throughput. Schedules without a flush (PipeDream, 2BW,
     * LocalSGD) report the rate between the first and third quarters of the
     * microbatches' completions. */
    int64_t m = res->n_microbatches, k1 = m / 4, k2 = 3 * m / 4;
    int flushes = r->sc->schedule != PP_SCHED_PIPEDREAM && r->sc->schedule != PP_SCHED_PIPEDREAM_2BW &&
                  r->sc->schedule != PP_SCHED_LOCALSGD;
    r->steady_throughput_samples_per_s = flushes ? r->throughput_samples_per_s : 0;
    if (!flushes && m >= 4 && k2 > k1) {
        pp_time t1 = res->mb_done_ns[k1], t2 = res->mb_done_ns[k2];
        if (t2 > t1)
            r->steady_throughput_samples_per_s = (double)(k2 - k1) * r->sc->microbatch_size *
                                                 r->data_parallel / ((double)(t2 - t1) / 1e9);
    }
}

/* Estimate what the plan and the replay will take before building either:
 * the bytes per op measured by `ppsim bench` (docs/performance.md: about 100
 * without spans, 175 with 16-byte spans; spans are 32 bytes now), with a
 * margin, times the ops the scenario asks for. */
static int check_memory(const struct pp_scenario *sc, int record_spans, struct pp_diag *d)
{
    double per_mb = 2.0 * sc->stages * sc->chunks; /* F and B per piece */
    if (pp_schedule_splits_backward(sc->schedule))
        per_mb *= 1.5;                              /* B becomes BI + BW */
    if (sc->schedule == PP_SCHED_DUALPIPE || sc->schedule == PP_SCHED_DUALPIPEV ||
        sc->schedule == PP_SCHED_CHIMERA)
        per_mb *= 2;                                /* two model copies' worth of buffers */
    double ops = per_mb * (double)sc->microbatches + 4.0 * sc->stages;
    double bytes_per_op = record_spans ? 240 : 130;
    double need = ops * bytes_per_op, have = pp_limits_max_memory();
    if (need <= have)
        return 0;
    return pp_diag_set(d, PP_EINFEASIBLE, sc->file, 0, 0,
                       "this run needs an estimated %.3g GB (%.3g ops x %.0f bytes), more than "
                       "the %.3g GB --max-memory allows",
                       need / 1e9, ops, bytes_per_op, have / 1e9);
}

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
    if (rc == 0)
        rc = check_memory(sc, record_spans, d);
    struct pp_sched_params sp;
    pp_scenario_sched_params(sc, &sp);
    sp.costs = r->part;
    if (rc == 0)
        rc = pp_plan_build(sc->schedule, &sp, &r->plan, d);
    if (rc == 0 && sc->data_parallel > 1)
        pp_plan_add_allreduce(r->plan);
    r->cfg.link_bandwidth_bytes_per_s = sc->link_bandwidth_bytes_per_s;
    r->cfg.link_latency_ms = sc->link_latency_ms;
    r->cfg.optimizer_state_bytes_per_parameter_byte = sc->optimizer_state_bytes_per_parameter_byte;
    r->cfg.gradient_bytes_per_parameter_byte = sc->gradient_bytes_per_parameter_byte;
    r->cfg.optimizer_step_ms = sc->optimizer_step_ms;
    r->cfg.device_memory_bytes = sc->device_memory_bytes;
    r->cfg.record_spans = record_spans;
    r->cfg.latency_only = sc->latency_only;
    r->cfg.recompute = sc->recompute;
    r->cfg.fb_cost_max = sc->fb_cost_max;
    r->cfg.optimizer_step_ms_per_device = sc->optimizer_step_ms_per_stage;
    r->cfg.data_parallel = sc->data_parallel;
    r->cfg.dp_bandwidth_bytes_per_s = sc->dp_bandwidth_bytes_per_s;
    r->cfg.dp_latency_ms = sc->dp_latency_ms;
    r->cfg.calib = sc->has_calib ? &sc->calib : NULL;
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
    bubble_conventions(r);
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
