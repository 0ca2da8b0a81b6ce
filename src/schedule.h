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

enum pp_schedule_kind { PP_SCHED_GPIPE, PP_SCHED_1F1B, PP_SCHED_KIND_COUNT };

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

struct pp_plan {
    enum pp_schedule_kind kind;
    int n_devices;          /* pipeline ranks */
    int n_pieces;           /* stages * chunks */
    int chunks;
    int64_t n_microbatches;
    int *piece_device;      /* [n_pieces]: rank that runs each piece */
    struct pp_op *ops;      /* device-major */
    size_t *dev_first;      /* [n_devices+1]: ops of device d are [dev_first[d], dev_first[d+1]) */
    size_t n_ops;
};

struct pp_sched_params {
    int stages;
    int chunks;
    int64_t microbatches;
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

/* Check that every (piece, microbatch) is run exactly once forward and once
 * backward (B, or BI + BW) on the piece's device. Generators are tested with it. */
int pp_plan_validate(const struct pp_plan *plan, struct pp_diag *d);

/* --- for generators (sched_*.c) --- */
struct pp_plan *pp_plan_alloc(enum pp_schedule_kind kind, const struct pp_sched_params *p,
                              size_t ops_per_device_hint);
/* Append an op to device dev's list; devices must be filled in order 0, 1, ... */
void pp_plan_push(struct pp_plan *plan, int dev, enum pp_op_kind kind, int piece, int64_t mb);
void pp_plan_finish(struct pp_plan *plan);

int pp_sched_gpipe(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d);
int pp_sched_1f1b(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d);

#endif
