/* wtrace.c - weight reads and writes of a replayed timeline (wtrace.h). */
#include "wtrace.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "schedule.h"
#include "sim.h"
#include "xalloc.h"

struct builder {
    struct pp_wtrace *t;
    size_t cap;
};

static struct pp_wevent *push(struct builder *b)
{
    if (b->t->n_ev == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 1024;
        b->t->ev = pp_xrealloc(b->t->ev, b->cap * sizeof *b->t->ev);
    }
    struct pp_wevent *e = &b->t->ev[b->t->n_ev++];
    memset(e, 0, sizeof *e);
    e->version = -1;
    return e;
}

static void push_op(struct builder *b, enum pp_wev_kind kind, int piece, int64_t mb,
                    const struct pp_span *sp, pp_time offset)
{
    const struct pp_wtrace *t = b->t;
    struct pp_wevent *e = push(b);
    e->kind = kind;
    e->block = piece % t->n_blocks;
    e->mb = mb;
    e->replica = t->replicas > 1 ? (int32_t)(mb % t->replicas) : 0;
    e->start_ns = sp->start_ns + offset;
    e->end_ns = sp->end_ns + offset;
    /* A read happens when its forward starts; an update, under the paper's
     * convention, in its B's step (start), and physically when its B ends. */
    e->key_ns = kind == PP_WEV_GRAD && t->conv == PP_WCONV_PHYSICAL ? e->end_ns : e->start_ns;
}

static void push_sync(struct builder *b, enum pp_wev_kind kind, int block, int64_t mb, pp_time at)
{
    struct pp_wevent *e = push(b);
    e->kind = kind;
    e->block = block;
    e->mb = mb;
    e->key_ns = e->start_ns = e->end_ns = at;
}

static int rank_of(const struct pp_wevent *e, enum pp_wconv conv)
{
    int sync = e->kind == PP_WEV_APPLY || e->kind == PP_WEV_AVERAGE;
    if (conv == PP_WCONV_PAPER)
        return sync ? 0 : 1;
    /* PHYSICAL: an update ending at t, then the apply or average it
     * completes (keyed at that same end), then the reads starting at t */
    return e->kind == PP_WEV_GRAD ? 0 : sync ? 1 : 2;
}

static int cmp_ev(const void *pa, const void *pb)
{
    const struct pp_wevent *a = pa, *b = pb;
    if (a->key_ns != b->key_ns)
        return a->key_ns < b->key_ns ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank - b->rank;
    if (a->block != b->block)
        return a->block < b->block ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    return a->mb < b->mb ? -1 : a->mb > b->mb;
}

/* One iteration's F and B ops, shifted by `offset` and renumbered from mb0. */
static void push_iteration(struct builder *b, const struct pp_plan *plan,
                           const struct pp_sim_result *sim, pp_time offset, int64_t mb0)
{
    for (size_t o = 0; o < plan->n_ops; o++) {
        const struct pp_op *op = &plan->ops[o];
        const struct pp_span *sp = &sim->spans[o];
        switch (op->kind) {
        case PP_OP_F:
            push_op(b, PP_WEV_READ, op->piece, mb0 + op->mb, sp, offset);
            break;
        case PP_OP_B:
        case PP_OP_BW: /* a split backward's weight gradient is its update */
            push_op(b, PP_WEV_GRAD, op->piece, mb0 + op->mb, sp, offset);
            break;
        case PP_OP_FB:
            push_op(b, PP_WEV_READ, op->piece, mb0 + op->mb, sp, offset);
            push_op(b, PP_WEV_GRAD, op->piece2, mb0 + op->mb2, sp, offset);
            break;
        default:
            break;
        }
    }
}

static enum pp_wsem semantics(const struct pp_plan *plan)
{
    if (plan->kind == PP_SCHED_LOCALSGD)
        return PP_WSEM_LOCAL;
    switch (plan->weights) {
    case PP_WEIGHTS_STASH:
        return PP_WSEM_IMMEDIATE;
    case PP_WEIGHTS_DOUBLE:
        return PP_WSEM_DOUBLE;
    default:
        return PP_WSEM_ACCUMULATE;
    }
}

/* LocalSGD averages once every microbatch of a round has finished B on the
 * first stage: at the end of the round's last block-0 update (§4.1). */
static void push_averages(struct builder *b, const struct pp_wtrace *t)
{
    size_t n = t->n_ev;
    for (size_t k = 0; k < n; k++) {
        const struct pp_wevent e = t->ev[k];
        if (e.kind != PP_WEV_GRAD || e.block != 0)
            continue;
        if ((e.mb + 1) % t->average_every == 0 || e.mb + 1 == t->n_microbatches)
            push_sync(b, PP_WEV_AVERAGE, -1, e.mb, e.end_ns);
    }
}

/* 2BW (schedules.md §2.4): batch b's summed gradient is applied to block s when
 * its last B on s ends; microbatches of batch b read version max(b-1, 0). */
static int push_double(struct builder *b, struct pp_wtrace *t, struct pp_diag *d)
{
    int64_t M = t->batch_microbatches, N = t->n_microbatches;
    size_t n = t->n_ev;
    pp_time *applied = pp_xmalloc((size_t)t->n_blocks * (size_t)((N + M - 1) / M) * sizeof *applied);
    for (size_t k = 0; k < n; k++) {
        struct pp_wevent *e = &t->ev[k];
        if (e->kind == PP_WEV_READ) {
            int64_t batch = e->mb / M;
            e->version = (int32_t)(batch > 0 ? batch - 1 : 0);
        } else if (e->kind == PP_WEV_GRAD && ((e->mb + 1) % M == 0 || e->mb + 1 == N)) {
            applied[(size_t)(e->mb / M) * (size_t)t->n_blocks + (size_t)e->block] = e->end_ns;
        }
    }
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const struct pp_wevent *e = &t->ev[k];
        if (e->kind == PP_WEV_READ && e->version > 0) {
            /* the version read must exist: batch version-1 applied on this block */
            pp_time ready = applied[(size_t)(e->version - 1) * (size_t)t->n_blocks + (size_t)e->block];
            if (ready > e->start_ns)
                rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                 "pipedream-2bw: microbatch %lld reads weight version %d on stage "
                                 "%d before that version exists; a batch needs at least as many "
                                 "microbatches as the pipeline is deep (batch %lld)",
                                 (long long)e->mb, e->version, e->block + 1, (long long)M);
        }
    }
    for (size_t k = 0; k < n && rc == 0; k++) {
        const struct pp_wevent e = t->ev[k];
        if (e.kind == PP_WEV_GRAD && ((e.mb + 1) % M == 0 || e.mb + 1 == N))
            push_sync(b, PP_WEV_APPLY, e.block, e.mb / M, e.end_ns);
    }
    free(applied);
    return rc;
}

int pp_wtrace_build(const struct pp_plan *plan, const struct pp_sim_result *sim,
                    const struct pp_wtrace_opts *opts, struct pp_wtrace **out, struct pp_diag *d)
{
    if (!sim->spans)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "the replay kept no op spans to trace");
    struct pp_wtrace *t = pp_xcalloc(1, sizeof *t);
    struct builder b = {t, 0};
    t->sem = semantics(plan);
    t->conv = opts->conv;
    t->n_blocks = plan->n_pieces;
    t->replicas = t->sem == PP_WSEM_LOCAL && plan->weight_replicas > 1 ? plan->weight_replicas : 1;
    int iters = t->sem == PP_WSEM_ACCUMULATE && opts->iterations > 1 ? opts->iterations : 1;
    t->n_microbatches = plan->n_microbatches * iters;
    t->batch_microbatches = plan->n_microbatches;
    if (t->sem == PP_WSEM_DOUBLE && opts->batch_microbatches > 0)
        t->batch_microbatches = opts->batch_microbatches;
    t->average_every = plan->average_every > 0 ? plan->average_every : plan->n_microbatches;
    t->makespan_ns = sim->makespan_ns * iters;
    for (int q = 0; q < iters; q++)
        push_iteration(&b, plan, sim, sim->makespan_ns * q, plan->n_microbatches * q);
    int rc = 0;
    if (t->sem == PP_WSEM_ACCUMULATE)
        for (int q = 0; q < iters; q++)
            for (int blk = 0; blk < t->n_blocks; blk++)
                push_sync(&b, PP_WEV_APPLY, blk, q, sim->makespan_ns * (q + 1));
    if (t->sem == PP_WSEM_LOCAL)
        push_averages(&b, t);
    if (t->sem == PP_WSEM_DOUBLE)
        rc = push_double(&b, t, d);
    if (rc) {
        pp_wtrace_free(t);
        return rc;
    }
    for (size_t k = 0; k < t->n_ev; k++)
        t->ev[k].rank = rank_of(&t->ev[k], t->conv);
    qsort(t->ev, t->n_ev, sizeof *t->ev, cmp_ev);
    *out = t;
    return 0;
}

void pp_wtrace_free(struct pp_wtrace *t)
{
    if (!t)
        return;
    free(t->ev);
    free(t);
}
