/* scenario.h - a what-if: model, cluster, pipeline, training (YAML front door).
 *
 * Schema (all keys; see docs/scenario.md):
 *   name: text                                   optional label
 *   model: {file: PATH} | {layers: [...]} | {uniform: {...}} | {layers:..., uniform:...}
 *   cluster: {devices: N, device_memory_bytes: B,
 *             link: {bandwidth_bytes_per_s: B, latency_ms: T}}
 *   pipeline: {schedule: gpipe|1f1b, stages: S, chunks: V, microbatches: M,
 *              microbatch_size: N,
 *              partition: balanced | pipedream | auto | [counts...]}
 *             (+ data_parallel: D, recompute: none|full|selective, noam: N,
 *              local_replicas: R, local_steps: H, interleave_wrap_quirk: BOOL,
 *              zbv_order: zero-bubble|pytorch, activation_memory_bytes: B,
 *              schedule_file: PATH)
 *   cluster.link.mode: alpha-beta | latency-only; cluster.data_parallel_link: {...}
 *   cluster.calibration: PATH (a `ppsim calibrate` file, calib.h)
 *   training: {optimizer_state_bytes_per_parameter_byte: K,
 *              gradient_bytes_per_parameter_byte: G, optimizer_step_ms: T | [T per stage]}
 * A relative model.file is resolved against the scenario's directory. */
#ifndef PP_SCENARIO_H
#define PP_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "calib.h"
#include "schedule.h"
#include "sim.h"

struct pp_diag;
struct pp_costmodel;
struct pp_ydoc;

/* Hard caps that keep a typo from asking for terabytes (10^12 microbatches). */
#define PP_MAX_STAGES 4096
#define PP_MAX_CHUNKS 64
#define PP_MAX_MICROBATCHES 1000000
#define PP_MAX_OPS 200000000ull /* compute ops in one simulated iteration */

enum pp_partition_mode {
    PP_PARTITION_BALANCED, /* compute-balanced contiguous split (partition.h) */
    PP_PARTITION_EXPLICIT, /* partition_counts */
    PP_PARTITION_PIPEDREAM, /* PipeDream's straight DP (autopart.h); graph models */
    PP_PARTITION_AUTO,     /* the simulated objective's best split (autopart.h) */
};

struct pp_scenario {
    char *name;                 /* "" when not given */
    char *file;                 /* the scenario file */
    struct pp_costmodel *model; /* owned */

    int devices;
    double device_memory_bytes;   /* 0 = unlimited */
    double link_bandwidth_bytes_per_s; /* 0 = infinite: transfers cost latency only */
    double link_latency_ms;

    enum pp_schedule_kind schedule;
    int stages;
    int chunks;
    int64_t microbatches;
    double microbatch_size;
    enum pp_partition_mode partition_mode;
    int partition_balanced;    /* partition_mode == PP_PARTITION_BALANCED */
    size_t *partition_counts;  /* stages*chunks layer counts in model order */
    size_t n_partition_counts;

    double optimizer_state_bytes_per_parameter_byte; /* default 0 */
    double gradient_bytes_per_parameter_byte;        /* default 0 */
    double optimizer_step_ms;                        /* default 0 */
    double *optimizer_step_ms_per_stage;             /* [stages] when given as a list */

    int data_parallel;                 /* pipeline.data_parallel, default devices / stages */
    double global_batch_size;          /* pipeline.global_batch_size (0 = not given) */
    double dp_bandwidth_bytes_per_s;   /* cluster.data_parallel_link, default cluster.link */
    double dp_latency_ms;
    int latency_only;                  /* cluster.link.mode: latency-only */
    enum pp_recompute recompute;       /* pipeline.recompute */
    int fb_cost_max;                   /* pipeline.fb_cost: sum (0) | max (1) */
    /* Schedule knobs (0 = the schedule's default; schedule.h pp_sched_params). */
    int noam, local_replicas, local_steps, zb_wrap_quirk, pytorch_order, zb_ilp;
    double activation_memory_bytes;    /* pipeline.activation_memory_bytes (zb-auto, V) */
    char *schedule_file;               /* pipeline.schedule_file, resolved path */
    char *model_path;                  /* model.file, resolved path (NULL: inline model) */
    char *effective_json;              /* the document after --set overrides, as JSON */
    struct pp_plan *custom_plan;       /* imported from schedule_file */
    /* cluster.calibration: FILE (calib.h); its link applies unless the
     * scenario gives cluster.link itself. */
    int has_calib;
    struct pp_calib calib;
    char *calib_path;                  /* resolved */
};

/* Parse a scenario buffer. `sets` are --set KEY.PATH=VALUE overrides applied
 * before validation (n_sets of them). On success *out is owned. */
int pp_scenario_parse(const char *buf, size_t len, const char *file, const char *const *sets,
                      size_t n_sets, struct pp_scenario **out, struct pp_diag *d);
int pp_scenario_load(const char *path, const char *const *sets, size_t n_sets,
                     struct pp_scenario **out, struct pp_diag *d);
void pp_scenario_free(struct pp_scenario *sc);

/* Is the dotted key one the scenario schema knows? 0 when it is (or lies
 * below the levels the schema tables cover), else -1 with why = "unknown key
 * 'pipeline.microbatch' (did you mean 'pipeline.microbatches'?)". */
int pp_scenario_key_check(const char *dotted, char *why, size_t why_len);

/* The schedule parameters the scenario asks for (costs not set). */
void pp_scenario_sched_params(const struct pp_scenario *sc, struct pp_sched_params *p);

#endif
