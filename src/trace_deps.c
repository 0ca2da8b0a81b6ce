/* trace_deps.c - the trace's view of a run (trace_int.h): which ops an
 * iteration range keeps, the data dependencies, and which dependency each
 * recorded transfer carries.
 *
 * The engine does not keep its dependency graph, so it is rebuilt here from
 * the op kinds with schedule.h's rules (the same walk as sim.c's op_deps,
 * Zero Bubble's wrap-around quirk included). The engine records one transfer
 * per cross-device dependency, in the order producers ended; each transfer is
 * matched back to its dependency by the label the engine gives it (link,
 * piece, microbatch, direction: sim.c note_transfer). An overlapped pair
 * feeding another over both halves gives two dependencies between the same
 * two ops, told apart by their direction. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "run.h"
#include "schedule.h"
#include "sim.h"
#include "trace.h"
#include "trace_int.h"
#include "xalloc.h"

#define NONE PP_TRACE_NONE

/* The engine's label of a transfer (sim.c note_transfer). */
struct label {
    int32_t src, dst, backward, piece;
    int64_t mb;
    uint32_t ord; /* dependency or transfer number: the tie-break */
};

int pp_trace_per_microbatch(const struct pp_run *r)
{
    switch (r->plan->kind) {
    case PP_SCHED_PIPEDREAM:
    case PP_SCHED_PIPEDREAM_2BW:
    case PP_SCHED_LOCALSGD:
    case PP_SCHED_NAIVE: return 1;
    case PP_SCHED_CUSTOM: return r->plan->weights != PP_WEIGHTS_FLUSH;
    default: return 0;
    }
}

void pp_trace_select_ops(struct pp_trace_ctx *c, const struct pp_trace_opts *o)
{
    const struct pp_plan *p = c->plan;
    int64_t a = o ? o->iter_first : 0, z = o ? o->iter_last : 0;
    int all = z == 0 && a == 0;
    int per_mb = pp_trace_per_microbatch(c->r);
    for (int dv = 0; dv < p->n_devices; dv++) {
        int64_t last = 0; /* iteration of the op before, for ops without a microbatch */
        for (size_t i = p->dev_first[dv]; i < p->dev_first[dv + 1]; i++) {
            const struct pp_op *op = &p->ops[i];
            int k;
            c->op_dev[i] = dv;
            if (all) {
                k = 1;
            } else if (!per_mb) {
                k = a == 0; /* the whole plan is iteration 0 */
            } else if (op->mb < 0) {
                k = last >= a && last < z;
            } else {
                k = op->mb >= a && op->mb < z;
                last = op->mb;
                if (op->kind == PP_OP_FB) {
                    k = k || (op->mb2 >= a && op->mb2 < z);
                    last = op->mb2 > op->mb ? op->mb2 : op->mb;
                }
            }
            c->keep[i] = (uint8_t)k;
        }
    }
}

/* ---- dependencies (schedule.h) ---- */

static int wrap_binds(const struct pp_plan *p, int to, int64_t mb)
{
    return !p->wrap_dep_every || to % p->n_devices != 0 || mb % p->wrap_dep_every == 0;
}

static void add_dep(struct pp_trace_ctx *c, size_t *cap, uint32_t prod, size_t cons, int piece,
                    int bytes_piece, int64_t mb, int backward)
{
    c->deps = pp_xgrow(c->deps, cap, c->n_deps + 1, sizeof *c->deps);
    struct pp_trace_dep *e = &c->deps[c->n_deps++];
    e->prod = prod;
    e->cons = (uint32_t)cons;
    e->piece = piece;
    e->bytes_piece = bytes_piece;
    e->mb = mb;
    e->backward = (int8_t)backward;
    e->cross = (int8_t)(prod != NONE && c->op_dev[prod] != c->op_dev[cons]);
}

int pp_trace_build_deps(struct pp_trace_ctx *c, struct pp_diag *d)
{
    const struct pp_plan *p = c->plan;
    int np = p->n_pieces;
    size_t m = (size_t)p->n_microbatches;
    size_t cells = (size_t)np * (size_t)p->copies * m + 1;
    uint32_t *fwd = pp_xmalloc_big(cells * sizeof *fwd), *bin = pp_xmalloc_big(cells * sizeof *bin);
    memset(fwd, 0xFF, cells * sizeof *fwd);
    memset(bin, 0xFF, cells * sizeof *bin);
    for (size_t o = 0; o < p->n_ops; o++) {
        const struct pp_op *op = &p->ops[o];
        if (op->kind == PP_OP_F || op->kind == PP_OP_FB)
            fwd[(size_t)op->piece * m + (size_t)op->mb] = (uint32_t)o;
        if (op->kind == PP_OP_B || op->kind == PP_OP_BI)
            bin[(size_t)op->piece * m + (size_t)op->mb] = (uint32_t)o;
        if (op->kind == PP_OP_FB)
            bin[(size_t)op->piece2 * m + (size_t)op->mb2] = (uint32_t)o;
    }
    size_t cap = 0;
    c->in_first = pp_xcalloc(p->n_ops + 1, sizeof *c->in_first);
    for (size_t o = 0; o < p->n_ops; o++) {
        const struct pp_op *op = &p->ops[o];
        c->in_first[o] = (uint32_t)c->n_deps;
        int halves = op->kind == PP_OP_FB ? 2 : 1;
        for (int h = 0; h < halves; h++) {
            int kind = op->kind == PP_OP_FB ? (h ? PP_OP_B : PP_OP_F) : op->kind;
            int g = h ? op->piece2 : op->piece;
            int64_t mb = h ? op->mb2 : op->mb;
            int local = g % np;
            switch (kind) {
            case PP_OP_F:
                if (local > 0 && wrap_binds(p, local, mb))
                    add_dep(c, &cap, fwd[(size_t)(g - 1) * m + (size_t)mb], o, g - 1, local - 1, mb,
                            0);
                break;
            case PP_OP_B:
            case PP_OP_BI:
                if (local < np - 1 && wrap_binds(p, local + 1, mb))
                    add_dep(c, &cap, bin[(size_t)(g + 1) * m + (size_t)mb], o, g + 1, local, mb, 1);
                add_dep(c, &cap, fwd[(size_t)g * m + (size_t)mb], o, g, -1, mb, 1);
                break;
            case PP_OP_BW:
                add_dep(c, &cap, bin[(size_t)g * m + (size_t)mb], o, g, -1, mb, 1);
                break;
            default: break;
            }
        }
    }
    c->in_first[p->n_ops] = (uint32_t)c->n_deps;
    free(fwd);
    free(bin);
    for (size_t i = 0; i < c->n_deps; i++)
        if (c->deps[i].prod == NONE)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                               "trace: op %" PRIu32 " depends on an op the plan never runs",
                               c->deps[i].cons);
    /* Producer-major view for the flow starts. */
    c->out_first = pp_xcalloc(p->n_ops + 1, sizeof *c->out_first);
    c->out_deps = pp_xmalloc((c->n_deps + 1) * sizeof *c->out_deps);
    for (size_t i = 0; i < c->n_deps; i++)
        c->out_first[c->deps[i].prod + 1]++;
    for (size_t o = 0; o < p->n_ops; o++)
        c->out_first[o + 1] += c->out_first[o];
    uint32_t *fill = pp_xmalloc((p->n_ops + 1) * sizeof *fill);
    memcpy(fill, c->out_first, (p->n_ops + 1) * sizeof *fill);
    for (size_t i = 0; i < c->n_deps; i++)
        c->out_deps[fill[c->deps[i].prod]++] = (uint32_t)i;
    free(fill);
    return 0;
}

/* ---- transfers <-> dependencies ---- */

static int label_cmp(const void *pa, const void *pb)
{
    const struct label *a = pa, *b = pb;
    if (a->src != b->src)
        return a->src < b->src ? -1 : 1;
    if (a->dst != b->dst)
        return a->dst < b->dst ? -1 : 1;
    if (a->backward != b->backward)
        return a->backward < b->backward ? -1 : 1;
    if (a->piece != b->piece)
        return a->piece < b->piece ? -1 : 1;
    if (a->mb != b->mb)
        return a->mb < b->mb ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

int pp_trace_match_transfers(struct pp_trace_ctx *c, struct pp_diag *d)
{
    const struct pp_sim_result *res = c->r->res;
    size_t n_cross = 0;
    for (size_t i = 0; i < c->n_deps; i++)
        n_cross += (size_t)c->deps[i].cross;
    if (n_cross != res->n_transfers)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "trace: the run has %zu transfers for %zu cross-device dependencies",
                           res->n_transfers, n_cross);
    struct label *le = pp_xmalloc((n_cross + 1) * sizeof *le);
    struct label *lt = pp_xmalloc((n_cross + 1) * sizeof *lt);
    size_t k = 0;
    for (size_t i = 0; i < c->n_deps; i++) {
        const struct pp_trace_dep *e = &c->deps[i];
        if (!e->cross)
            continue;
        /* the engine labels each transfer with the producing half's piece,
         * the microbatch and the direction of its own dependency */
        le[k] = (struct label){c->op_dev[e->prod], c->op_dev[e->cons], e->backward != 0,
                               e->piece,           e->mb,              (uint32_t)i};
        k++;
    }
    for (size_t i = 0; i < n_cross; i++) {
        const struct pp_transfer *tr = &res->transfers[i];
        lt[i] = (struct label){tr->src_dev, tr->dst_dev, tr->backward != 0,
                               tr->piece,   tr->mb,      (uint32_t)i};
    }
    qsort(le, n_cross, sizeof *le, label_cmp);
    qsort(lt, n_cross, sizeof *lt, label_cmp);
    c->tr_dep = pp_xmalloc((n_cross + 1) * sizeof *c->tr_dep);
    int rc = 0;
    for (size_t i = 0; i < n_cross && rc == 0; i++) {
        struct label a = le[i], b = lt[i];
        a.ord = b.ord = 0;
        if (label_cmp(&a, &b) != 0)
            rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                             "trace: transfer %u (device %d -> %d, piece %d microbatch %" PRId64
                             ") matches no dependency",
                             lt[i].ord, b.src, b.dst, b.piece, b.mb);
        else
            c->tr_dep[lt[i].ord] = le[i].ord;
    }
    free(le);
    free(lt);
    return rc;
}

int pp_trace_parse_iterations(const char *s, struct pp_trace_opts *o, struct pp_diag *d)
{
    int64_t v[2];
    const char *q = s;
    for (int i = 0; i < 2; i++) {
        if (*q < '0' || *q > '9')
            goto bad;
        char *end;
        errno = 0;
        long long x = strtoll(q, &end, 10);
        if (errno || (i == 0 ? *end != ':' : *end != '\0'))
            goto bad;
        v[i] = x;
        q = end + 1;
    }
    if (v[0] >= v[1])
        goto bad;
    o->iter_first = v[0];
    o->iter_last = v[1];
    return 0;
bad:
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                       "--trace-iterations: expected A:B with whole numbers 0 <= A < B, got '%s'",
                       s);
}
