/* schedule.c - the op-list IR: names, building, validation. Generators live
 * in sched_*.c and only push ops; placement and checks are shared here. */
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "xalloc.h"

struct sched_info {
    const char *name;
    pp_sched_build_fn build;
    pp_sched_check_fn check;
    int split_backward; /* runs BI + BW */
};

#define ENTRY(name, id, split) {name, pp_sched_##id, pp_sched_##id##_check, split}
static const struct sched_info sched_table[PP_SCHED_KIND_COUNT] = {
    ENTRY("gpipe", gpipe, 0),
    ENTRY("1f1b", 1f1b, 0),
    ENTRY("interleaved-1f1b", interleaved, 0),
    ENTRY("looped-bfs", looped_bfs, 0),
    ENTRY("zb-h1", zb_h1, 1),
    ENTRY("zb-h2", zb_h2, 1),
    ENTRY("zb-auto", zb_auto, 1),
    ENTRY("zb-v", zb_v, 1),
    ENTRY("v-half", v_half, 1),
    ENTRY("v-min", v_min, 1),
    ENTRY("interleaved-zb", interleaved_zb, 1),
    ENTRY("dualpipe", dualpipe, 1),
    ENTRY("dualpipev", dualpipev, 1),
    ENTRY("chimera", chimera, 0),
    ENTRY("pipedream", pipedream, 0),
    ENTRY("pipedream-2bw", pipedream_2bw, 0),
    ENTRY("localsgd", localsgd, 0),
    ENTRY("naive", naive, 0),
    ENTRY("custom", custom, 0),
};
#undef ENTRY

static const char *const sched_names[PP_SCHED_KIND_COUNT + 1] = {
    "gpipe",      "1f1b",  "interleaved-1f1b", "looped-bfs", "zb-h1",         "zb-h2",
    "zb-auto",    "zb-v",  "v-half",           "v-min",      "interleaved-zb", "dualpipe",
    "dualpipev",  "chimera", "pipedream",      "pipedream-2bw", "localsgd",   "naive",
    NULL}; /* "custom" is not a name: pipeline.schedule_file selects it */

const char *pp_schedule_name(enum pp_schedule_kind k)
{
    return (unsigned)k < PP_SCHED_KIND_COUNT ? sched_table[k].name : "?";
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

int pp_schedule_splits_backward(enum pp_schedule_kind k)
{
    return (unsigned)k < PP_SCHED_KIND_COUNT && sched_table[k].split_backward;
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
    if ((unsigned)k >= PP_SCHED_KIND_COUNT) {
        *key = "schedule";
        return "unknown schedule";
    }
    return sched_table[k].check(p, key);
}

const char *pp_sched_one_chunk(const struct pp_sched_params *p, const char **key)
{
    if (p->chunks != 1) {
        *key = "chunks";
        return "this schedule runs one model chunk per device (chunks: 1); "
               "multi-chunk schedules are interleaved or V-shaped";
    }
    return NULL;
}

struct pp_plan *pp_plan_alloc(enum pp_schedule_kind kind, const struct pp_sched_params *p,
                              size_t ops_per_device_hint)
{
    struct pp_plan *plan = pp_xcalloc(1, sizeof *plan);
    plan->kind = kind;
    plan->n_devices = p->stages;
    plan->chunks = p->chunks;
    plan->copies = 1;
    plan->n_pieces = p->stages * p->chunks;
    plan->n_microbatches = p->microbatches;
    plan->piece_device = pp_xmalloc((size_t)plan->n_pieces * sizeof *plan->piece_device);
    /* Looped placement: piece k on rank k mod stages (V-shaped generators override). */
    for (int k = 0; k < plan->n_pieces; k++)
        plan->piece_device[k] = k % p->stages;
    plan->dev_first = pp_xcalloc((size_t)plan->n_devices + 1, sizeof *plan->dev_first);
    size_t nd = (size_t)plan->n_devices;
    plan->build_ops = pp_xcalloc(nd, sizeof *plan->build_ops);
    plan->build_n = pp_xcalloc(nd, sizeof *plan->build_n);
    plan->build_cap = pp_xcalloc(nd, sizeof *plan->build_cap);
    for (size_t dv = 0; dv < nd; dv++) {
        plan->build_cap[dv] = ops_per_device_hint ? ops_per_device_hint : 1;
        plan->build_ops[dv] = pp_xmalloc(plan->build_cap[dv] * sizeof **plan->build_ops);
    }
    return plan;
}

void pp_plan_set_copies(struct pp_plan *plan)
{
    int np = plan->n_pieces;
    plan->copies = 2;
    plan->piece_device = pp_xrealloc(plan->piece_device, 2 * (size_t)np * sizeof *plan->piece_device);
    for (int k = 0; k < np; k++)
        plan->piece_device[np + k] = plan->piece_device[np - 1 - k];
    free(plan->mb_copy);
    plan->mb_copy = pp_xcalloc((size_t)plan->n_microbatches + 1, sizeof *plan->mb_copy);
}

static struct pp_op *push_slot(struct pp_plan *plan, int dev)
{
    size_t *n = &plan->build_n[dev];
    if (*n == plan->build_cap[dev])
        plan->build_ops[dev] = pp_xgrow(plan->build_ops[dev], &plan->build_cap[dev], *n + 1,
                                        sizeof **plan->build_ops);
    return &plan->build_ops[dev][(*n)++];
}

void pp_plan_push(struct pp_plan *plan, int dev, enum pp_op_kind kind, int piece, int64_t mb)
{
    struct pp_op *op = push_slot(plan, dev);
    op->kind = kind;
    op->piece = piece;
    op->mb = (int32_t)mb;
    op->piece2 = op->mb2 = -1;
}

void pp_plan_push_fb(struct pp_plan *plan, int dev, int piece, int64_t mb, int piece2,
                     int64_t mb2)
{
    struct pp_op *op = push_slot(plan, dev);
    op->kind = PP_OP_FB;
    op->piece = piece;
    op->mb = (int32_t)mb;
    op->piece2 = piece2;
    op->mb2 = (int32_t)mb2;
}

void pp_plan_finish(struct pp_plan *plan)
{
    if (!plan->build_ops)
        return;
    size_t total = 0;
    for (int d = 0; d < plan->n_devices; d++)
        total += plan->build_n[d];
    free(plan->ops);
    plan->ops = pp_xmalloc_big((total ? total : 1) * sizeof *plan->ops);
    plan->n_ops = 0;
    for (int d = 0; d < plan->n_devices; d++) {
        plan->dev_first[d] = plan->n_ops;
        if (plan->build_n[d])
            memcpy(plan->ops + plan->n_ops, plan->build_ops[d],
                   plan->build_n[d] * sizeof *plan->ops);
        plan->n_ops += plan->build_n[d];
        free(plan->build_ops[d]);
    }
    plan->dev_first[plan->n_devices] = plan->n_ops;
    free(plan->build_ops);
    free(plan->build_n);
    free(plan->build_cap);
    plan->build_ops = NULL;
    plan->build_n = plan->build_cap = NULL;
}

void pp_plan_free(struct pp_plan *plan)
{
    if (!plan)
        return;
    if (plan->build_ops) {
        for (int d = 0; d < plan->n_devices; d++)
            free(plan->build_ops[d]);
    }
    free(plan->build_ops);
    free(plan->build_n);
    free(plan->build_cap);
    free(plan->piece_device);
    free(plan->mb_copy);
    free(plan->dev_first);
    free(plan->ops);
    free(plan);
}

static int copy_of(const struct pp_plan *plan, int64_t mb)
{
    return plan->mb_copy ? plan->mb_copy[mb] : 0;
}

int pp_plan_validate(const struct pp_plan *plan, struct pp_diag *d)
{
    int np = plan->n_pieces, all = np * plan->copies;
    size_t m = (size_t)plan->n_microbatches;
    size_t cells = (size_t)all * m;
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
                if (piece < 0 || piece >= all || mb < 0 || mb >= plan->n_microbatches) {
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "device %d op %zu: piece %d microbatch %lld out of range",
                                     dev, i - plan->dev_first[dev], piece, (long long)mb);
                    break;
                }
                if (piece / np != copy_of(plan, mb)) {
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "device %d runs microbatch %lld on model copy %d, but it "
                                     "flows through copy %d", dev, (long long)mb, piece / np,
                                     copy_of(plan, mb));
                    break;
                }
                if (plan->piece_device[piece] != dev) {
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "device %d runs %s of piece %d, which is placed on device %d",
                                     dev, pp_op_kind_name(kind), piece, plan->piece_device[piece]);
                    break;
                }
                unsigned bit = kind == PP_OP_F ? 1u : kind == PP_OP_B ? 2u : kind == PP_OP_BI ? 4u : 8u;
                unsigned char *c = &seen[(size_t)piece * m + (size_t)mb];
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
        size_t piece = c / (m ? m : 1), mb = c % (m ? m : 1);
        if ((int)(piece / (size_t)np) != copy_of(plan, (int64_t)mb))
            continue;
        unsigned s = seen[c];
        int full = (s & 2) && !(s & 12), split = !(s & 2) && (s & 12) == 12;
        if (!(s & 1) || !(full || split))
            rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                             "piece %zu microbatch %zu lacks a forward or a complete backward",
                             piece, mb);
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
    struct pp_plan *plan = pp_plan_alloc(kind, p, (size_t)(3 * p->microbatches * p->chunks + 2));
    int rc = sched_table[kind].build(p, plan, d);
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

void pp_plan_add_allreduce(struct pp_plan *plan)
{
    size_t n = plan->n_ops + (size_t)plan->n_devices;
    struct pp_op *ops = pp_xmalloc_big((n ? n : 1) * sizeof *ops);
    size_t w = 0;
    for (int dv = 0; dv < plan->n_devices; dv++) {
        size_t a = plan->dev_first[dv], e = plan->dev_first[dv + 1];
        /* After the device's last backward: before its flush if it has one. */
        size_t at = e > a && plan->ops[e - 1].kind == PP_OP_OPTIM ? e - 1 : e;
        plan->dev_first[dv] = w;
        for (size_t i = a; i < e; i++) {
            if (i == at)
                ops[w++] = (struct pp_op){PP_OP_ALLREDUCE, -1, -1, -1, -1};
            ops[w++] = plan->ops[i];
        }
        if (at == e)
            ops[w++] = (struct pp_op){PP_OP_ALLREDUCE, -1, -1, -1, -1};
    }
    plan->dev_first[plan->n_devices] = w;
    free(plan->ops);
    plan->ops = ops;
    plan->n_ops = w;
}
