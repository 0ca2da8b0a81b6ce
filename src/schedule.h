/* schedule.h - the op-list IR a schedule compiles to (stage 3).
 *
 * A plan gives every pipeline device the ordered list of ops it runs. An op
 * names a model piece (0 .. stages*chunks-1, model order) and a microbatch;
 * the engine derives the data dependencies from the op kinds alone:
 *   F(k,m)  needs F(k-1,m);
 *   B(k,m) / BI(k,m) need the backward-input op of (k+1,m), or F(k,m) on the last piece;
 *   BW(k,m) needs BI(k,m);  FB runs F(k,m) and B(k2,m2) as one overlapped op.
 * Optimizer and all-reduce ops are per device and ordered only by their list.
 * New schedules are new generators (sched_*.c); the engine never changes. */
#ifndef PP_SCHEDULE_H
#define PP_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

struct pp_diag;

/* Scenario names in pp_schedule_names() order (schedules.md §2 for each). */
enum pp_schedule_kind {
    PP_SCHED_GPIPE,
    PP_SCHED_1F1B,
    PP_SCHED_INTERLEAVED_1F1B,
    PP_SCHED_LOOPED_BFS,
    PP_SCHED_ZB_H1,
    PP_SCHED_ZB_H2,
    PP_SCHED_ZB_AUTO,
    PP_SCHED_ZB_V,
    PP_SCHED_V_HALF,
    PP_SCHED_V_MIN,
    PP_SCHED_INTERLEAVED_ZB,
    PP_SCHED_DUALPIPE,
    PP_SCHED_DUALPIPEV,
    PP_SCHED_CHIMERA,
    PP_SCHED_PIPEDREAM,
    PP_SCHED_PIPEDREAM_2BW,
    PP_SCHED_LOCALSGD,
    PP_SCHED_NAIVE,
    PP_SCHED_CUSTOM, /* replayed from a schedule file (pipeline.schedule_file) */
    PP_SCHED_KIND_COUNT
};

/* How a device's weights are versioned (memory and staleness). */
enum pp_weight_mode {
    PP_WEIGHTS_FLUSH,   /* synchronous: one version, updated at the flush */
    PP_WEIGHTS_STASH,   /* PipeDream: one stashed version per microbatch in flight */
    PP_WEIGHTS_DOUBLE,  /* PipeDream-2BW: two buffered versions */
};

enum pp_op_kind {
    PP_OP_F,         /* forward */
    PP_OP_B,         /* full backward (input + weight gradients) */
    PP_OP_BI,        /* backward for inputs only (zero-bubble "B") */
    PP_OP_BW,        /* backward for weights only (zero-bubble "W") */
    PP_OP_FB,        /* overlapped forward & backward pair (DualPipe) */
    PP_OP_OPTIM,     /* optimizer step */
    PP_OP_ALLREDUCE, /* data-parallel gradient reduction */
    PP_OP_KIND_COUNT
};

struct pp_op {
    int32_t kind;  /* enum pp_op_kind */
    int32_t piece; /* -1 for per-device ops */
    int32_t mb;    /* -1 for per-device ops */
    int32_t piece2, mb2; /* PP_OP_FB: the backward half */
};

/* Bidirectional schedules (Chimera, DualPipe) hold `copies` = 2 replicas of the
 * model: piece id g = copy * n_pieces + k names piece k of copy `copy`, costs
 * are piece k's, and dependencies stay inside a copy. Each microbatch flows
 * through one copy, mb_copy[mb] (NULL: all through copy 0). */
struct pp_plan {
    enum pp_schedule_kind kind;
    int n_devices;          /* pipeline ranks */
    int n_pieces;           /* stages * chunks, per model copy */
    int chunks;
    int copies;             /* 1, or 2 for bidirectional schedules */
    int64_t n_microbatches;
    int *piece_device;      /* [copies * n_pieces]: rank that runs each piece */
    int8_t *mb_copy;        /* [n_microbatches] or NULL */
    enum pp_weight_mode weights;
    int weight_replicas;    /* model replicas sharing the devices (LocalSGD's R); 0 = 1 */
    int64_t average_every;  /* LocalSGD: microbatches per averaging round (R*H); 0 = none */
    /* Zero Bubble's get_interleave_schedule quirk (schedules.md §2.5, §6): the
     * wrap-around edge (piece k*stages <- k*stages-1) binds only microbatches
     * that are multiples of this; 0 = every microbatch (faithful). */
    int wrap_dep_every;
    struct pp_op *ops;      /* device-major */
    struct pp_op **build_ops; /* while building: per-device lists (pp_plan_finish joins) */
    size_t *build_n, *build_cap;
    size_t *dev_first;      /* [n_devices+1]: ops of device d are [dev_first[d], dev_first[d+1]) */
    size_t n_ops;
};

struct pp_partition;

struct pp_sched_params {
    int stages;
    int chunks;
    int64_t microbatches;
    /* Optional knobs; zero means the schedule's default. */
    const struct pp_partition *costs; /* per-piece costs, for cost-aware generators (zb-auto) */
    double memory_limit_bytes;        /* zb-auto / v-shape activation budget per device */
    double comm_latency_ms;           /* zb-auto plans with Zero Bubble's T_comm */
    int noam;                         /* pipedream/localsgd: admission limit (default stages) */
    int local_replicas;               /* localsgd: R (default stages) */
    int local_steps;                  /* localsgd: H (default 1) */
    int zb_wrap_quirk;                /* interleaved-1f1b: copy ZB's wrap-around quirk */
    int pytorch_order;                /* zb-v: PyTorch's fixed ScheduleZBVZeroBubble order */
    int zb_ilp;                       /* zb-auto: improve the heuristic with the exact ILP */
    const struct pp_plan *custom;     /* PP_SCHED_CUSTOM: the imported plan to copy */
};

const char *pp_schedule_name(enum pp_schedule_kind k);
/* Look a schedule up by its scenario name; -1 when unknown. */
int pp_schedule_from_name(const char *name);
/* The names, NULL-terminated, for "did you mean" and --help. */
const char *const *pp_schedule_names(void);
const char *pp_op_kind_name(enum pp_op_kind k); /* "F", "B", "BI", "BW", ... */

/* Can schedule k run these parameters? NULL when it can, else the reason, and
 * *key names the offending key under `pipeline` ("chunks", "microbatches", ...). */
const char *pp_sched_check(enum pp_schedule_kind k, const struct pp_sched_params *p,
                           const char **key);

/* Build the plan for a schedule; rejects what it cannot run and says why.
 * On success *out is owned (pp_plan_free). */
int pp_plan_build(enum pp_schedule_kind kind, const struct pp_sched_params *p,
                  struct pp_plan **out, struct pp_diag *d);
void pp_plan_free(struct pp_plan *plan);

/* Data parallelism: give every device one PP_OP_ALLREDUCE after its last
 * backward (before its optimizer step when it has one). */
void pp_plan_add_allreduce(struct pp_plan *plan);

/* Check that every (piece, microbatch) is run exactly once forward and once
 * backward (B, or BI + BW) on the piece's device. Generators are tested with it. */
int pp_plan_validate(const struct pp_plan *plan, struct pp_diag *d);

/* --- for generators (sched_*.c) --- */
struct pp_plan *pp_plan_alloc(enum pp_schedule_kind kind, const struct pp_sched_params *p,
                              size_t ops_per_device_hint);
/* Append an op to device dev's list (devices in any order). */
void pp_plan_push(struct pp_plan *plan, int dev, enum pp_op_kind kind, int piece, int64_t mb);
/* Append an overlapped pair: F(piece, mb) with B(piece2, mb2) as one op. */
void pp_plan_push_fb(struct pp_plan *plan, int dev, int piece, int64_t mb, int piece2,
                     int64_t mb2);
void pp_plan_finish(struct pp_plan *plan);

/* Does schedule k split backward into BI + BW (needs backward_weight_ms)? */
int pp_schedule_splits_backward(enum pp_schedule_kind k);

/* One generator per schedule: `check` returns NULL or why the parameters
 * cannot run (setting *key), `build` pushes the ops. */
typedef int (*pp_sched_build_fn)(const struct pp_sched_params *, struct pp_plan *,
                                 struct pp_diag *);
typedef const char *(*pp_sched_check_fn)(const struct pp_sched_params *, const char **key);

#define PP_SCHED_DECLARE(id)                                                                  \
    int pp_sched_##id(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d); \
    const char *pp_sched_##id##_check(const struct pp_sched_params *p, const char **key)
PP_SCHED_DECLARE(gpipe);
PP_SCHED_DECLARE(1f1b);
PP_SCHED_DECLARE(interleaved);
PP_SCHED_DECLARE(looped_bfs);
PP_SCHED_DECLARE(zb_h1);
PP_SCHED_DECLARE(zb_h2);
PP_SCHED_DECLARE(zb_auto);
PP_SCHED_DECLARE(zb_v);
PP_SCHED_DECLARE(v_half);
PP_SCHED_DECLARE(v_min);
PP_SCHED_DECLARE(interleaved_zb);
PP_SCHED_DECLARE(dualpipe);
PP_SCHED_DECLARE(dualpipev);
PP_SCHED_DECLARE(chimera);
PP_SCHED_DECLARE(pipedream);
PP_SCHED_DECLARE(pipedream_2bw);
PP_SCHED_DECLARE(localsgd);
PP_SCHED_DECLARE(naive);
PP_SCHED_DECLARE(custom);

/* 1F1B's op order on rank r (warm-up, F/B pairs, cool-down), no flush:
 * shared by 1f1b and pipedream-2bw. */
void pp_push_1f1b_rank(const struct pp_sched_params *p, struct pp_plan *plan, int r);

/* Shared by one-chunk schedules: chunks must be 1. */
const char *pp_sched_one_chunk(const struct pp_sched_params *p, const char **key);
/* Place two copies for a bidirectional schedule (copy 1 mirrored: piece k of
 * copy 1 on the device that holds piece n_pieces-1-k of copy 0) and allocate
 * mb_copy (all 0). Call before pushing ops. */
void pp_plan_set_copies(struct pp_plan *plan);

#endif
