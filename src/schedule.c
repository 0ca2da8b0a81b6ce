/* schedule.c - the op-list IR: names, building, validation. Generators live
 * in sched_*.c and only push ops; placement and checks are shared here. */
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "xalloc.h"

static const char *const sched_names[] = {"gpipe", "1f1b", NULL};

typedef int (*pp_sched_fn)(const struct pp_sched_params *, struct pp_plan *, struct pp_diag *);
static const pp_sched_fn sched_fns[PP_SCHED_KIND_COUNT] = {pp_sched_gpipe, pp_sched_1f1b};

const char *pp_schedule_name(enum pp_schedule_kind k)
{
    return (unsigned)k < PP_SCHED_KIND_COUNT ? sched_names[k] : "?";
}

int pp_schedule_from_name(const char *name)
{
    for (int i = 0; sched_names[i]; i++)
        if (strcmp(sched_names[i], name) == 0)
            return i;
    return -1;
}

const char *const *pp_schedule_names(void)
{
    return sched_names;
}

const char *pp_op_kind_name(enum pp_op_kind k)
{
    switch (k) {
    case PP_OP_F: return "F";
    case PP_OP_B: return "B";
    case PP_OP_BI: return "BI";
    case PP_OP_BW: return "BW";
    case PP_OP_FB: return "FB";
    case PP_OP_OPTIM: return "OPT";
    case PP_OP_ALLREDUCE: return "AR";
    case PP_OP_KIND_COUNT: break;
    }
    return "?";
}

const char *pp_sched_check(enum pp_schedule_kind k, const struct pp_sched_params *p,
                           const char **key)
{
    *key = NULL;
    switch (k) {
    case PP_SCHED_GPIPE:
    case PP_SCHED_1F1B:
        if (p->chunks != 1) {
            *key = "chunks";
            return "this schedule runs one model chunk per device (chunks: 1); "
                   "multi-chunk schedules are interleaved or V-shaped";
        }
        return NULL;
    case PP_SCHED_KIND_COUNT:
        break;
    }
    *key = "schedule";
    return "unknown schedule";
}

struct pp_plan *pp_plan_alloc(enum pp_schedule_kind kind, const struct pp_sched_params *p,
                              size_t ops_per_device_hint)
{
    struct pp_plan *plan = pp_xcalloc(1, sizeof *plan);
    plan->kind = kind;
    plan->n_devices = p->stages;
    plan->chunks = p->chunks;
    plan->n_pieces = p->stages * p->chunks;
    plan->n_microbatches = p->microbatches;
    plan->piece_device = pp_xmalloc((size_t)plan->n_pieces * sizeof *plan->piece_device);
    /* Looped placement: piece k on rank k mod stages (V-shaped generators override). */
    for (int k = 0; k < plan->n_pieces; k++)
        plan->piece_device[k] = k % p->stages;
    plan->dev_first = pp_xcalloc((size_t)plan->n_devices + 1, sizeof *plan->dev_first);
    size_t cap = ops_per_device_hint * (size_t)plan->n_devices;
    plan->ops = pp_xmalloc_big((cap ? cap : 1) * sizeof *plan->ops);
    /* Until pp_plan_finish, dev_first[0] holds the ops capacity; pushes grow it. */
    plan->n_ops = 0;
    plan->dev_first[0] = cap;
    return plan;
}

/* While building, dev_first[0] holds the capacity and dev_first[d+1] the end of
 * device d; devices are appended in order. */
void pp_plan_push(struct pp_plan *plan, int dev, enum pp_op_kind kind, int piece, int64_t mb)
{
    size_t cap = plan->dev_first[0];
    if (plan->n_ops == cap) {
        plan->ops = pp_xgrow(plan->ops, &cap, plan->n_ops + 1, sizeof *plan->ops);
        plan->dev_first[0] = cap;
    }
    struct pp_op *op = &plan->ops[plan->n_ops++];
    op->kind = kind;
    op->piece = piece;
    op->mb = (int32_t)mb;
    op->piece2 = op->mb2 = -1;
    plan->dev_first[dev + 1] = plan->n_ops;
}

void pp_plan_finish(struct pp_plan *plan)
{
    plan->dev_first[0] = 0;
    for (int d = 0; d < plan->n_devices; d++)
        if (plan->dev_first[d + 1] < plan->dev_first[d])
            plan->dev_first[d + 1] = plan->dev_first[d];
}

void pp_plan_free(struct pp_plan *plan)
{
    if (!plan)
        return;
    free(plan->piece_device);
    free(plan->dev_first);
    free(plan->ops);
    free(plan);
}

int pp_plan_validate(const struct pp_plan *plan, struct pp_diag *d)
{
    size_t cells = (size_t)plan->n_pieces * (size_t)plan->n_microbatches;
    /* bit 0: F, 1: B, 2: BI, 3: BW */
    unsigned char *seen = pp_xcalloc(cells ? cells : 1, 1);
    int rc = 0;
    for (int dev = 0; dev < plan->n_devices && rc == 0; dev++) {
        for (size_t i = plan->dev_first[dev]; i < plan->dev_first[dev + 1] && rc == 0; i++) {
            const struct pp_op *op = &plan->ops[i];
            int halves = op->kind == PP_OP_FB ? 2 : 1;
            for (int h = 0; h < halves; h++) {
                int kind = op->kind == PP_OP_FB ? (h ? PP_OP_B : PP_OP_F) : op->kind;
                int piece = h ? op->piece2 : op->piece;
                int64_t mb = h ? op->mb2 : op->mb;
                if (kind == PP_OP_OPTIM || kind == PP_OP_ALLREDUCE)
                    continue;
                if (piece < 0 || piece >= plan->n_pieces || mb < 0 || mb >= plan->n_microbatches) {
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "device %d op %zu: piece %d microbatch %lld out of range",
                                     dev, i - plan->dev_first[dev], piece, (long long)mb);
                    break;
                }
                if (plan->piece_device[piece] != dev) {
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "device %d runs %s of piece %d, which is placed on device %d",
                                     dev, pp_op_kind_name(kind), piece, plan->piece_device[piece]);
                    break;
                }
                unsigned bit = kind == PP_OP_F ? 1u : kind == PP_OP_B ? 2u : kind == PP_OP_BI ? 4u : 8u;
                unsigned char *c = &seen[(size_t)piece * (size_t)plan->n_microbatches + (size_t)mb];
                if (*c & bit) {
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "%s of piece %d microbatch %lld is scheduled twice",
                                     pp_op_kind_name(kind), piece, (long long)mb);
                    break;
                }
                *c |= (unsigned char)bit;
            }
        }
    }
    for (size_t c = 0; c < cells && rc == 0; c++) {
        unsigned s = seen[c];
        int full = (s & 2) && !(s & 12), split = !(s & 2) && (s & 12) == 12;
        if (!(s & 1) || !(full || split))
            rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                             "piece %zu microbatch %zu lacks a forward or a complete backward",
                             c / (size_t)plan->n_microbatches, c % (size_t)plan->n_microbatches);
    }
    free(seen);
    return rc;
}

int pp_plan_build(enum pp_schedule_kind kind, const struct pp_sched_params *p,
                  struct pp_plan **out, struct pp_diag *d)
{
    const char *key;
    const char *why = pp_sched_check(kind, p, &key);
    if (why)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "pipeline.%s: %s", key, why);
    struct pp_plan *plan = pp_plan_alloc(kind, p, (size_t)(2 * p->microbatches * p->chunks + 1));
    int rc = sched_fns[kind](p, plan, d);
    pp_plan_finish(plan);
    if (rc == 0)
        rc = pp_plan_validate(plan, d);
    if (rc) {
        pp_plan_free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}
