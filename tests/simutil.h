/* simutil.h - build cost models, partitions and runs by hand for engine tests. */
#ifndef PP_SIMUTIL_H
#define PP_SIMUTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "costmodel.h"
#include "diag.h"
#include "partition.h"
#include "schedule.h"
#include "sim.h"
#include "xalloc.h"

/* n identical layers, times in ms. */
static inline struct pp_costmodel *uniform_model(size_t n, double f_ms, double bi_ms, double bw_ms,
                                                 double act_bytes, double out_bytes)
{
    struct pp_costmodel *cm = pp_xcalloc(1, sizeof *cm);
    cm->n_layers = n;
    cm->layers = pp_xcalloc(n, sizeof *cm->layers);
    for (size_t i = 0; i < n; i++) {
        struct pp_layer *l = &cm->layers[i];
        l->forward_ms = f_ms;
        l->backward_input_ms = bi_ms;
        l->backward_weight_ms = bw_ms;
        l->split_backward = bw_ms > 0;
        l->activation_bytes = act_bytes;
        l->bw_activation_bytes = act_bytes;
        l->output_bytes = out_bytes;
        l->parameter_bytes = 1000;
    }
    return cm;
}

static inline void free_model(struct pp_costmodel *cm)
{
    free(cm->layers);
    free(cm);
}

/* Balanced split of cm into p stages, plan, replay. NULL on any failure.
 * plan_out / part_out (optional) receive the plan and partition. */
static inline struct pp_sim_result *sim_model(const struct pp_costmodel *cm,
                                              enum pp_schedule_kind kind, int p, int64_t m,
                                              const struct pp_sim_config *cfg,
                                              struct pp_plan **plan_out,
                                              struct pp_partition **part_out)
{
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_sim_result *r = NULL;
    struct pp_diag d;
    struct pp_sched_params sp = {.stages = p, .chunks = 1, .microbatches = m};
    if (pp_partition_balanced(cm, (size_t)p, &part, &d) == 0 &&
        pp_plan_build(kind, &sp, &plan, &d) == 0)
        pp_sim_run(plan, part, cfg, &r, &d);
    if (part_out)
        *part_out = part;
    else
        pp_partition_free(part);
    if (plan_out)
        *plan_out = plan;
    else
        pp_plan_free(plan);
    return r;
}

/* Build schedule k through the registry; NULL (and the reason on stderr) on failure. */
static inline struct pp_plan *build_plan(enum pp_schedule_kind k, int stages, int chunks,
                                         int64_t m)
{
    struct pp_sched_params sp = {.stages = stages, .chunks = chunks, .microbatches = m};
    struct pp_plan *p = NULL;
    struct pp_diag d;
    if (pp_plan_build(k, &sp, &p, &d) != 0)
        fprintf(stderr, "build failed: %s\n", d.msg);
    return p;
}

/* Simulate schedule `kind` on p balanced stages of one layer each, spans kept. */
static inline struct pp_sim_result *sim_uniform(enum pp_schedule_kind kind, int p, int64_t m,
                                                double f_ms, double b_ms, double lat_ms,
                                                struct pp_plan **plan_out)
{
    struct pp_costmodel *cm = uniform_model((size_t)p, f_ms, b_ms, 0, 1, 0);
    struct pp_sim_config cfg = {0};
    cfg.link_latency_ms = lat_ms;
    cfg.record_spans = 1;
    struct pp_sim_result *r = sim_model(cm, kind, p, m, &cfg, plan_out, NULL);
    free_model(cm);
    return r;
}

#endif
