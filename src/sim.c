/* sim.c - the discrete-event engine (stage 4).
 *
 * Setup turns the plan into flat arrays: each op's number of unmet
 * dependencies and a CSR list of the ops it feeds, with the link (if any) and
 * the link occupancy of each transfer; durations and memory come from small
 * per-piece tables. A FIFO link's start and arrival times are known when a
 * transfer is requested, so op ends are the only events. The loop pops them and
 * walks those arrays; everything it touches is allocated up front. Ties at one
 * instant leave FIFO by sequence, so the same input always replays identically. */
#include "sim.h"
#include "calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "limits.h"
#include "partition.h"
#include "schedule.h"
#include "xalloc.h"

enum { EV_END };
#define NONE UINT32_MAX

struct edge {
    uint32_t consumer;
    int32_t link;   /* -1: same device, no transfer */
    pp_time occ_ns; /* link occupancy: bytes / bandwidth */
};

/* What an edge's transfer carries, kept beside the edges only when spans are
 * recorded (a producer's two halves can feed one consumer: DualPipe's F+B). */
struct edge_info {
    int32_t piece, mb;
    int32_t backward;
};

/* A FIFO link. Requests reach it in time order (the event loop is), so a
 * transfer's start is known when it is requested: max(now, busy_until). */
struct link {
    int32_t src, dst;
    pp_time busy_until_ns;
};

struct dev {
    size_t next, end;
    int busy;
    int64_t act_bytes, act_peak_bytes;
    int64_t stash_version_bytes; /* PipeDream: parameters held per extra weight version */
    int64_t dyn_peak_bytes;      /* activations + stashed weights (+ lazy gradients) */
    int64_t grad_bytes;          /* lazy gradients allocated so far */
    int inflight, peak_inflight; /* microbatches between forward start and backward end */
    pp_time busy_ns, first_start_ns, last_end_ns, compute_ns, allreduce_ns;
    int started;
};

/* Per-piece costs, looked up by op kind: cheaper than per-op copies. */
struct piece_cost {
    pp_time f_ns, b_ns, bi_ns, bw_ns;
    int64_t act_bytes, actw_bytes;
    int64_t trans_bytes; /* held only while a backward runs (recomputed layer) */
    int64_t grad_bytes;  /* allocated by its first weight gradient (lazy gradients) */
    int grad_live;
};

struct ctx {
    const struct pp_plan *plan;
    const struct pp_sim_config *cfg;
    size_t n_ops;
    uint16_t *op_dev;     /* PP_MAX_STAGES fits */
    uint8_t *wait;        /* dependencies whose producer has not ended, at most 4 */
    pp_time *ready_ns;    /* latest input arrival among the ended producers */
    uint32_t *out_first;  /* [n_ops+1] CSR into edges */
    struct edge *edges;
    size_t n_edges;
    struct link *links;
    int n_links;
    int32_t *link_hash;   /* open addressing over (src, dst) -> link id */
    size_t link_hash_mask;
    struct piece_cost *pc;
    pp_time *opt_ns;      /* per device */
    pp_time *ar_ns;       /* per device: one all-reduce */
    pp_time *mb_done_ns;
    struct dev *devs;
    pp_evq *q;
    pp_time latency_ns;
    struct pp_span *spans;
    struct pp_transfer *transfers; /* in request order (when the producer ends) */
    struct edge_info *einfo;       /* [n_edges] when spans are recorded */
    size_t n_transfers;
    uint64_t n_events;
};

pp_time pp_ms_to_ns(double ms)
{
    return (pp_time)llround(ms * 1e6);
}

/* (piece, mb) -> op id tables; a FB op appears as both a forward and a backward. */
struct index {
    uint32_t *fwd, *bin, *bw;
    int64_t m;
};

static size_t cell(const struct index *ix, int piece, int64_t mb)
{
    return (size_t)piece * (size_t)ix->m + (size_t)mb;
}

static pp_time op_dur(const struct ctx *c, const struct pp_op *op)
{
    switch ((enum pp_op_kind)op->kind) {
    case PP_OP_F: return c->pc[op->piece].f_ns;
    case PP_OP_B: return c->pc[op->piece].b_ns;
    case PP_OP_BI: return c->pc[op->piece].bi_ns;
    case PP_OP_BW: return c->pc[op->piece].bw_ns;
    case PP_OP_FB: {
        pp_time f = c->pc[op->piece].f_ns, b = c->pc[op->piece2].b_ns;
        return c->cfg->fb_cost_max ? (f > b ? f : b) : f + b;
    }
    case PP_OP_OPTIM: return c->opt_ns[c->op_dev[op - c->plan->ops]];
    case PP_OP_ALLREDUCE: return c->ar_ns[c->op_dev[op - c->plan->ops]];
    case PP_OP_KIND_COUNT: break;
    }
    return 0;
}

/* Activation bytes taken when the op starts (ZB rule: F adds M_B ... W frees M_W). */
static int64_t op_alloc(const struct ctx *c, const struct pp_op *op)
{
    switch ((enum pp_op_kind)op->kind) {
    case PP_OP_F: return c->pc[op->piece].act_bytes;
    case PP_OP_B:
    case PP_OP_BI: return c->pc[op->piece].trans_bytes;
    case PP_OP_FB: return c->pc[op->piece].act_bytes + c->pc[op->piece2].trans_bytes;
    default: return 0;
    }
}

/* Activation bytes released when the op ends. */
static int64_t op_free(const struct ctx *c, const struct pp_op *op)
{
    switch ((enum pp_op_kind)op->kind) {
    case PP_OP_B: return c->pc[op->piece].act_bytes + c->pc[op->piece].trans_bytes;
    case PP_OP_BI:
        return c->pc[op->piece].act_bytes - c->pc[op->piece].actw_bytes +
               c->pc[op->piece].trans_bytes;
    case PP_OP_BW: return c->pc[op->piece].actw_bytes;
    case PP_OP_FB: return c->pc[op->piece2].act_bytes + c->pc[op->piece2].trans_bytes;
    case PP_OP_F:
    case PP_OP_OPTIM:
    case PP_OP_ALLREDUCE:
    case PP_OP_KIND_COUNT: break;
    }
    return 0;
}

struct dep {
    uint32_t prod[4];
    int bytes_piece[4]; /* piece whose output size the transfer carries; -1 same device */
    int backward[4];
    int64_t mb[4];
};

static int add_dep(struct dep *dp, int n, uint32_t prod, int bytes_piece, int backward,
                   int64_t mb)
{
    dp->prod[n] = prod;
    dp->bytes_piece[n] = bytes_piece;
    dp->backward[n] = backward;
    dp->mb[n] = mb;
    return n + 1;
}

/* The producers op o waits for, with what a transfer from each would carry. */
/* Does the wrap-around edge into piece `to` bind microbatch mb? Only Zero
 * Bubble's interleave quirk says no (schedule.h, wrap_dep_every). */
static int wrap_binds(const struct pp_plan *plan, int to, int64_t mb)
{
    int stages = plan->n_devices;
    return !plan->wrap_dep_every || to % stages != 0 || mb % plan->wrap_dep_every == 0;
}

/* The producers op o waits for, with what a transfer from each would carry.
 * Pieces are global ids (copy * n_pieces + k); dependencies stay in a copy. */
static int op_deps(const struct pp_plan *plan, const struct index *ix, size_t o, struct dep *dp)
{
    const struct pp_op *op = &plan->ops[o];
    int n = 0, np = plan->n_pieces;
    int halves = op->kind == PP_OP_FB ? 2 : 1;
    for (int h = 0; h < halves; h++) {
        int kind = op->kind == PP_OP_FB ? (h ? PP_OP_B : PP_OP_F) : op->kind;
        int k = h ? op->piece2 : op->piece;
        int64_t mb = h ? op->mb2 : op->mb;
        int local = k % np;
        switch ((enum pp_op_kind)kind) {
        case PP_OP_F:
            if (local > 0 && wrap_binds(plan, local, mb))
                n = add_dep(dp, n, ix->fwd[cell(ix, k - 1, mb)], local - 1, 0, mb);
            break;
        case PP_OP_B:
        case PP_OP_BI:
            if (local < np - 1 && wrap_binds(plan, local + 1, mb)) /* the gradient of k's output */
                n = add_dep(dp, n, ix->bin[cell(ix, k + 1, mb)], local, 1, mb);
            n = add_dep(dp, n, ix->fwd[cell(ix, k, mb)], -1, 1, mb);
            break;
        case PP_OP_BW:
            n = add_dep(dp, n, ix->bin[cell(ix, k, mb)], -1, 1, mb);
            break;
        case PP_OP_FB:
        case PP_OP_OPTIM:
        case PP_OP_ALLREDUCE:
        case PP_OP_KIND_COUNT:
            break;
        }
    }
    return n;
}

static size_t link_slot(const struct ctx *c, int src, int dst)
{
    uint64_t h = ((uint64_t)(uint32_t)src << 32 | (uint32_t)dst) * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 40) & c->link_hash_mask;
    while (c->link_hash[i] >= 0 &&
           (c->links[c->link_hash[i]].src != src || c->links[c->link_hash[i]].dst != dst))
        i = (i + 1) & c->link_hash_mask;
    return i;
}

static int find_link(struct ctx *c, int src, int dst, size_t *links_cap)
{
    size_t i = link_slot(c, src, dst);
    if (c->link_hash[i] >= 0)
        return c->link_hash[i];
    if ((size_t)c->n_links * 2 >= c->link_hash_mask) { /* keep the load under 1/2 */
        size_t cap = (c->link_hash_mask + 1) * 2;
        free(c->link_hash);
        c->link_hash = pp_xmalloc(cap * sizeof *c->link_hash);
        memset(c->link_hash, 0xFF, cap * sizeof *c->link_hash);
        c->link_hash_mask = cap - 1;
        for (int l = 0; l < c->n_links; l++)
            c->link_hash[link_slot(c, c->links[l].src, c->links[l].dst)] = l;
        i = link_slot(c, src, dst);
    }
    c->links = pp_xgrow(c->links, links_cap, (size_t)c->n_links + 1, sizeof *c->links);
    memset(&c->links[c->n_links], 0, sizeof *c->links);
    c->links[c->n_links].src = src;
    c->links[c->n_links].dst = dst;
    c->link_hash[i] = c->n_links;
    return c->n_links++;
}

static int setup(struct ctx *c, const struct pp_partition *part, struct pp_diag *d)
{
    const struct pp_plan *plan = c->plan;
    const struct pp_sim_config *cfg = c->cfg;
    size_t n = plan->n_ops;
    if (n >= NONE)
        return pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "plan has too many ops (%zu)", n);

    int np = plan->n_pieces * plan->copies;
    c->pc = pp_xmalloc((size_t)np * sizeof *c->pc);
    for (int k = 0; k < np; k++) {
        const struct pp_piece *p = &part->pieces[k % plan->n_pieces];
        /* Recomputation repeats (part of) the forward right before the backward
         * that needs it: the input-gradient op, or the full backward. */
        double redo_ms = cfg->recompute == PP_RECOMPUTE_FULL        ? p->forward_ms
                         : cfg->recompute == PP_RECOMPUTE_SELECTIVE ? p->recompute_forward_ms
                                                                    : 0;
        double act = cfg->recompute == PP_RECOMPUTE_FULL        ? p->input_bytes
                     : cfg->recompute == PP_RECOMPUTE_SELECTIVE ? p->recompute_activation_bytes
                                                                : p->activation_bytes;
        const struct pp_calib *cal = cfg->calib;
        double ks = cal ? cal->compute_scale : 1.0, ka = cal ? cal->activation_scale : 1.0;
        const double *oh = cal ? cal->op_overhead_ms : (const double[PP_CAL_N_OPS]){0};
        double po = cal ? cal->profile_overhead_ms * (double)p->n_layers : 0;
        c->pc[k].f_ns = pp_ms_to_ns(ks * fmax(0, p->forward_ms - po) + oh[PP_CAL_F]);
        c->pc[k].b_ns = pp_ms_to_ns(ks * (fmax(0, p->fused_backward_ms - po) + redo_ms) +
                                    oh[PP_CAL_B]);
        c->pc[k].bi_ns = pp_ms_to_ns(ks * (fmax(0, p->backward_input_ms - po) + redo_ms) +
                                     oh[PP_CAL_BI]);
        c->pc[k].bw_ns = pp_ms_to_ns(ks * fmax(0, p->backward_weight_ms - po) + oh[PP_CAL_BW]);
        c->pc[k].act_bytes = llround(ka * act);
        c->pc[k].actw_bytes = llround(ka * fmin(p->bw_activation_bytes, act));
        /* Full recomputation rebuilds one layer's activations at a time. */
        c->pc[k].trans_bytes = cfg->recompute == PP_RECOMPUTE_FULL
                                   ? llround(ka * p->max_layer_activation_bytes)
                                   : 0;
        c->pc[k].grad_bytes = llround(p->parameter_bytes * cfg->gradient_bytes_per_parameter_byte);
        c->pc[k].grad_live = 0;
    }
    c->opt_ns = pp_xmalloc((size_t)plan->n_devices * sizeof *c->opt_ns);
    c->ar_ns = pp_xcalloc((size_t)plan->n_devices, sizeof *c->ar_ns);
    double *param_gb = pp_xcalloc((size_t)plan->n_devices, sizeof *param_gb);
    for (int k = 0; k < np; k++)
        param_gb[plan->piece_device[k]] += part->pieces[k % plan->n_pieces].parameter_bytes / 1e9;
    for (int dv = 0; dv < plan->n_devices; dv++) {
        double ms = cfg->optimizer_step_ms_per_device ? cfg->optimizer_step_ms_per_device[dv]
                                                      : cfg->optimizer_step_ms;
        /* zero_grad, the loss and the optimizer's streaming update run once
         * per iteration on every device, where the plan's optimizer op is. */
        if (cfg->calib)
            ms += cfg->calib->step_overhead_ms + cfg->calib->optimizer_ms_per_gb * param_gb[dv];
        c->opt_ns[dv] = pp_ms_to_ns(ms);
    }
    free(param_gb);
    if (cfg->data_parallel > 1) {
        double d_ = cfg->data_parallel, g = cfg->gradient_bytes_per_parameter_byte;
        double *grad = pp_xcalloc((size_t)plan->n_devices, sizeof *grad);
        for (int k = 0; k < np; k++)
            grad[plan->piece_device[k]] += part->pieces[k % plan->n_pieces].parameter_bytes *
                                           (g > 0 ? g : 1.0);
        for (int dv = 0; dv < plan->n_devices; dv++) {
            double bw_ = cfg->dp_bandwidth_bytes_per_s;
            double ms = 2.0 * (d_ - 1) * cfg->dp_latency_ms +
                        (bw_ > 0 ? 2.0 * (d_ - 1) / d_ * grad[dv] / bw_ * 1e3 : 0);
            c->ar_ns[dv] = pp_ms_to_ns(ms);
        }
        free(grad);
    }
    c->mb_done_ns = pp_xcalloc((size_t)plan->n_microbatches + 1, sizeof *c->mb_done_ns);
    c->latency_ns = pp_ms_to_ns(cfg->link_latency_ms);

    struct index ix = {NULL, NULL, NULL, plan->n_microbatches};
    size_t cells = (size_t)np * (size_t)plan->n_microbatches + 1;
    ix.fwd = pp_xmalloc_big(cells * sizeof *ix.fwd);
    ix.bin = pp_xmalloc_big(cells * sizeof *ix.bin);
    ix.bw = pp_xmalloc_big(cells * sizeof *ix.bw);
    memset(ix.fwd, 0xFF, cells * sizeof *ix.fwd);
    memset(ix.bin, 0xFF, cells * sizeof *ix.bin);
    memset(ix.bw, 0xFF, cells * sizeof *ix.bw);

    c->n_ops = n;
    c->op_dev = pp_xmalloc_big((n + 1) * sizeof *c->op_dev);
    c->wait = pp_xmalloc_big(n + 1);
    c->ready_ns = pp_xcalloc_big(n + 1, sizeof *c->ready_ns);
    c->out_first = pp_xcalloc_big(n + 2, sizeof *c->out_first);
    for (int dv = 0; dv < plan->n_devices; dv++) {
        for (size_t o = plan->dev_first[dv]; o < plan->dev_first[dv + 1]; o++) {
            const struct pp_op *op = &plan->ops[o];
            c->op_dev[o] = (uint16_t)dv;
            if (op->kind == PP_OP_F || op->kind == PP_OP_FB)
                ix.fwd[cell(&ix, op->piece, op->mb)] = (uint32_t)o;
            if (op->kind == PP_OP_B || op->kind == PP_OP_BI)
                ix.bin[cell(&ix, op->piece, op->mb)] = (uint32_t)o;
            if (op->kind == PP_OP_FB)
                ix.bin[cell(&ix, op->piece2, op->mb2)] = (uint32_t)o;
            if (op->kind == PP_OP_BW)
                ix.bw[cell(&ix, op->piece, op->mb)] = (uint32_t)o;
        }
    }

    /* Pass 1: degrees. Pass 2: CSR fill with link ids and occupancies. */
    struct dep dp;
    size_t n_edges = 0;
    int rc = 0;
    for (size_t o = 0; o < n && rc == 0; o++) {
        int k = op_deps(plan, &ix, o, &dp);
        for (int i = 0; i < k; i++) {
            if (dp.prod[i] == NONE) {
                const struct pp_op *op = &plan->ops[o];
                rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                 "device %d op %zu (%s piece %d microbatch %d) depends on an op "
                                 "the plan never runs", c->op_dev[o],
                                 o - plan->dev_first[c->op_dev[o]], pp_op_kind_name(op->kind),
                                 op->piece, op->mb);
                break;
            }
            c->out_first[dp.prod[i] + 1]++;
        }
        c->wait[o] = (uint8_t)k;
        n_edges += (size_t)k;
    }
    if (rc == 0 && n_edges >= NONE)
        rc = pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "plan has too many dependencies (%zu)", n_edges);
    if (rc) {
        free(ix.fwd);
        free(ix.bin);
        free(ix.bw);
        return rc;
    }
    for (size_t o = 0; o < n; o++)
        c->out_first[o + 1] += c->out_first[o];
    c->edges = pp_xmalloc_big((n_edges + 1) * sizeof *c->edges);
    c->n_edges = n_edges;
    if (cfg->record_spans)
        c->einfo = pp_xmalloc_big((n_edges + 1) * sizeof *c->einfo);
    uint32_t *fill = pp_xmalloc_big((n + 1) * sizeof *fill);
    memcpy(fill, c->out_first, (n + 1) * sizeof *fill);
    size_t links_cap = 0, n_cross = 0;
    c->link_hash_mask = 15;
    c->link_hash = pp_xmalloc(16 * sizeof *c->link_hash);
    memset(c->link_hash, 0xFF, 16 * sizeof *c->link_hash);
    double bw = cfg->latency_only ? 0 : cfg->link_bandwidth_bytes_per_s;
    for (size_t o = 0; o < n; o++) {
        int k = op_deps(plan, &ix, o, &dp);
        for (int i = 0; i < k; i++) {
            size_t at = fill[dp.prod[i]]++;
            struct edge *e = &c->edges[at];
            e->consumer = (uint32_t)o;
            if (c->einfo) {
                const struct pp_op *pr = &plan->ops[dp.prod[i]];
                int from_b = dp.backward[i] && pr->kind == PP_OP_FB;
                c->einfo[at].piece = from_b ? pr->piece2 : pr->piece;
                c->einfo[at].mb = (int32_t)dp.mb[i];
                c->einfo[at].backward = dp.backward[i];
            }
            int src = c->op_dev[dp.prod[i]], dst = c->op_dev[o];
            if (src == dst) {
                e->link = -1;
                e->occ_ns = 0;
                continue;
            }
            e->link = find_link(c, src, dst, &links_cap);
            double bytes = dp.bytes_piece[i] >= 0 ? part->pieces[dp.bytes_piece[i]].output_bytes : 0;
            e->occ_ns = bw > 0 ? pp_ms_to_ns(bytes / bw * 1e3) : 0;
            n_cross++;
        }
    }
    free(fill);
    free(ix.fwd);
    free(ix.bin);
    free(ix.bw);

    c->devs = pp_xcalloc((size_t)plan->n_devices, sizeof *c->devs);
    for (int dv = 0; dv < plan->n_devices; dv++) {
        c->devs[dv].next = plan->dev_first[dv];
        c->devs[dv].end = plan->dev_first[dv + 1];
    }
    if (plan->weights == PP_WEIGHTS_STASH)
        for (int k = 0; k < np; k++)
            c->devs[plan->piece_device[k]].stash_version_bytes +=
                llround(part->pieces[k % plan->n_pieces].parameter_bytes);
    /* Only op ends are events: at most one pending per device. */
    c->q = pp_evq_create((size_t)plan->n_devices + 1);
    if (cfg->record_spans) {
        c->spans = pp_xcalloc_big(n + 1, sizeof *c->spans);
        c->transfers = pp_xcalloc_big(n_cross + 1, sizeof *c->transfers);
    }
    return 0;
}

/* Activations plus the weight versions stashed beyond the live one
 * (PipeDream keeps one per microbatch in flight). */
static int64_t dyn_bytes(const struct dev *dev)
{
    int64_t dyn = dev->act_bytes + dev->grad_bytes;
    if (dev->inflight > 1)
        dyn += dev->stash_version_bytes * (dev->inflight - 1);
    return dyn;
}

static void try_start(struct ctx *c, int dv, pp_time t)
{
    struct dev *dev = &c->devs[dv];
    if (dev->busy || dev->next == dev->end)
        return;
    size_t o = dev->next;
    if (c->wait[o])
        return;
    /* Every input's arrival is already known: start when the last one lands. Nothing
     * else can happen on this device meanwhile, so taking its memory now is exact. */
    if (c->ready_ns[o] > t)
        t = c->ready_ns[o];
    const struct pp_op *op = &c->plan->ops[o];
    dev->busy = 1;
    if (!dev->started) {
        dev->started = 1;
        dev->first_start_ns = t;
    }
    dev->act_bytes += op_alloc(c, op);
    if (dev->act_bytes > dev->act_peak_bytes)
        dev->act_peak_bytes = dev->act_bytes;
    if (op->kind == PP_OP_F || op->kind == PP_OP_FB) {
        dev->inflight++;
        if (dev->inflight > dev->peak_inflight)
            dev->peak_inflight = dev->inflight;
    }
    int64_t dyn = dyn_bytes(dev);
    if (dyn > dev->dyn_peak_bytes)
        dev->dyn_peak_bytes = dyn;
    if (c->spans) {
        c->spans[o].start_ns = t;
        c->spans[o].mem_start_bytes = dyn;
    }
    pp_evq_push(c->q, t + op_dur(c, op), 1, EV_END, (uint32_t)o);
}

/* Record a transfer (only when spans are kept). */
static void note_transfer(struct ctx *c, const struct edge *ed, pp_time start, pp_time arrive)
{
    const struct edge_info *ei = &c->einfo[ed - c->edges];
    struct pp_transfer *tr = &c->transfers[c->n_transfers++];
    tr->start_ns = start;
    tr->end_ns = arrive;
    tr->src_dev = c->links[ed->link].src;
    tr->dst_dev = c->links[ed->link].dst;
    tr->backward = ei->backward;
    tr->piece = ei->piece;
    tr->mb = ei->mb;
}

/* zero_grad(set_to_none=True) frees the gradients every iteration; a piece's
 * come back when its first weight gradient is written, by the end of that
 * op, when its activations are already freed (measured on one H200:
 * docs/validation.md). */
static void add_lazy_gradients(struct ctx *c, struct dev *dev, const struct pp_op *op)
{
    int k = op->kind == PP_OP_B || op->kind == PP_OP_BW ? op->piece
            : op->kind == PP_OP_FB                     ? op->piece2
                                                       : -1;
    if (k < 0 || c->pc[k].grad_live)
        return;
    c->pc[k].grad_live = 1;
    dev->grad_bytes += c->pc[k].grad_bytes;
    int64_t dyn = dyn_bytes(dev);
    if (dyn > dev->dyn_peak_bytes)
        dev->dyn_peak_bytes = dyn;
}

static void on_end(struct ctx *c, uint32_t o, pp_time t)
{
    int dv = c->op_dev[o];
    struct dev *dev = &c->devs[dv];
    const struct pp_op *op = &c->plan->ops[o];
    dev->busy = 0;
    dev->next++;
    pp_time dur = op_dur(c, op);
    dev->busy_ns += dur;
    if (op->kind == PP_OP_ALLREDUCE)
        dev->allreduce_ns += dur;
    else if (op->kind != PP_OP_OPTIM)
        dev->compute_ns += dur;
    /* A microbatch is done when the backward of its first piece ends. */
    int np = c->plan->n_pieces;
    if ((op->kind == PP_OP_B || op->kind == PP_OP_BI) && op->piece % np == 0)
        c->mb_done_ns[op->mb] = t;
    else if (op->kind == PP_OP_FB && op->piece2 % np == 0)
        c->mb_done_ns[op->mb2] = t;
    dev->last_end_ns = t;
    dev->act_bytes -= op_free(c, op);
    if (op->kind == PP_OP_B || op->kind == PP_OP_BI || op->kind == PP_OP_FB)
        dev->inflight--;
    if (c->cfg->calib && c->cfg->calib->lazy_gradients)
        add_lazy_gradients(c, dev, op);
    if (c->spans) {
        c->spans[o].end_ns = t;
        c->spans[o].mem_end_bytes = dyn_bytes(dev);
    }
    for (uint32_t i = c->out_first[o]; i < c->out_first[o + 1]; i++) {
        const struct edge *e = &c->edges[i];
        pp_time arrive = t;
        if (e->link >= 0) {
            struct link *l = &c->links[e->link];
            pp_time start = l->busy_until_ns > t ? l->busy_until_ns : t;
            l->busy_until_ns = start + e->occ_ns;
            arrive = l->busy_until_ns + c->latency_ns;
            if (c->transfers)
                note_transfer(c, e, start, arrive);
        }
        if (arrive > c->ready_ns[e->consumer])
            c->ready_ns[e->consumer] = arrive;
        if (--c->wait[e->consumer] == 0)
            try_start(c, c->op_dev[e->consumer], t);
    }
    try_start(c, dv, t);
}

static int loop(struct ctx *c, struct pp_diag *d)
{
    for (int dv = 0; dv < c->plan->n_devices; dv++)
        try_start(c, dv, 0);
    struct pp_event ev;
    while (pp_evq_pop(c->q, &ev)) {
        /* a long replay can be stopped: look every million events */
        if ((++c->n_events & 0xFFFFF) == 0 && pp_limits_stop())
            return pp_limits_stopped(d, "during a simulation");
        on_end(c, ev.arg, ev.t_ns);
    }
    for (int dv = 0; dv < c->plan->n_devices; dv++) {
        const struct dev *dev = &c->devs[dv];
        if (dev->next != dev->end) {
            const struct pp_op *op = &c->plan->ops[dev->next];
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                               "schedule deadlocks: device %d waits forever at its op %zu "
                               "(%s piece %d microbatch %d)", dv,
                               dev->next - c->plan->dev_first[dv], pp_op_kind_name(op->kind),
                               op->piece, op->mb);
        }
    }
    return 0;
}

static void ctx_free(struct ctx *c)
{
    free(c->pc);
    free(c->opt_ns);
    free(c->ar_ns);
    free(c->mb_done_ns);
    free(c->op_dev);
    free(c->wait);
    free(c->ready_ns);
    free(c->out_first);
    free(c->edges);
    free(c->links);
    free(c->link_hash);
    free(c->devs);
    pp_evq_free(c->q);
    free(c->spans);
    free(c->transfers);
    free(c->einfo);
}

/* Host wall-clock time, for the benchmark only; never part of a report. */
static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int pp_sim_run(const struct pp_plan *plan, const struct pp_partition *part,
               const struct pp_sim_config *cfg, struct pp_sim_result **out, struct pp_diag *d)
{
    if ((size_t)plan->n_pieces != part->n_pieces)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "plan has %d pieces, partition has %zu",
                           plan->n_pieces, part->n_pieces);
    if (plan->n_devices > UINT16_MAX)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "too many devices (%d)", plan->n_devices);
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.plan = plan;
    c.cfg = cfg;
    double t0 = wall_s();
    int rc = setup(&c, part, d);
    double t1 = wall_s();
    if (rc == 0)
        rc = loop(&c, d);
    double t2 = wall_s();
    if (rc) {
        ctx_free(&c);
        return rc;
    }
    struct pp_sim_result *r = pp_xcalloc(1, sizeof *r);
    r->n_devices = plan->n_devices;
    r->n_ops = plan->n_ops;
    r->n_events = c.n_events;
    r->setup_s = t1 - t0;
    r->loop_s = t2 - t1;
    r->dev = pp_xcalloc((size_t)plan->n_devices, sizeof *r->dev);
    int lazy = cfg->calib && cfg->calib->lazy_gradients;
    double per_param = 1.0 + (lazy ? 0.0 : cfg->gradient_bytes_per_parameter_byte) +
                       cfg->optimizer_state_bytes_per_parameter_byte;
    /* 2BW double-buffers the weights: one more version, always. */
    if (plan->weights == PP_WEIGHTS_DOUBLE)
        per_param += 1.0;
    /* LocalSGD's R replicas each keep their own weights and optimizer state. */
    if (plan->weight_replicas > 1)
        per_param *= plan->weight_replicas;
    for (int k = 0; k < plan->n_pieces * plan->copies; k++)
        r->dev[plan->piece_device[k]].static_bytes +=
            part->pieces[k % plan->n_pieces].parameter_bytes * per_param;
    for (int dv = 0; dv < plan->n_devices; dv++) {
        struct pp_device_result *dr = &r->dev[dv];
        const struct dev *dev = &c.devs[dv];
        dr->busy_ns = dev->busy_ns;
        dr->compute_ns = dev->compute_ns;
        dr->allreduce_ns = dev->allreduce_ns;
        dr->first_start_ns = dev->first_start_ns;
        dr->last_end_ns = dev->last_end_ns;
        dr->peak_activation_bytes = (double)dev->act_peak_bytes;
        dr->peak_inflight = dev->peak_inflight;
        dr->weight_versions = plan->weights == PP_WEIGHTS_STASH    ? (dev->peak_inflight > 1 ? dev->peak_inflight : 1)
                              : plan->weights == PP_WEIGHTS_DOUBLE ? 2
                                                                   : 1;
        if (cfg->calib)
            dr->static_bytes += cfg->calib->memory_overhead_bytes;
        dr->peak_memory_bytes = dr->static_bytes + (double)dev->dyn_peak_bytes;
        dr->over_memory = cfg->device_memory_bytes > 0 &&
                          dr->peak_memory_bytes > cfg->device_memory_bytes;
        if (dev->last_end_ns > r->makespan_ns)
            r->makespan_ns = dev->last_end_ns;
    }
    r->spans = c.spans;
    r->mb_done_ns = c.mb_done_ns;
    r->n_microbatches = plan->n_microbatches;
    c.mb_done_ns = NULL;
    r->transfers = c.transfers;
    r->n_transfers = c.n_transfers;
    c.spans = NULL;
    c.transfers = NULL;
    ctx_free(&c);
    *out = r;
    return 0;
}

void pp_sim_result_free(struct pp_sim_result *r)
{
    if (!r)
        return;
    free(r->dev);
    free(r->mb_done_ns);
    free(r->spans);
    free(r->transfers);
    free(r);
}
