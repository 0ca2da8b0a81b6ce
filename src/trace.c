/* trace.c - Chrome trace-event JSON writer (trace.h; docs/trace.md): the
 * events. trace_deps.c decides what to keep and rebuilds the dependencies. */
#include "trace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "partition.h"
#include "pp_config.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"
#include "sim.h"
#include "trace_int.h"
#include "xalloc.h"

#define MAX_INDEX ((1 << 20) - 1) /* (pid << 32) + n stays below 2^53: exact in JavaScript */

/* ---- output helpers ---- */

static void put_us(struct pp_buf *b, pp_time ns)
{
    /* Exact: integer microseconds and three decimals, no floating point. */
    if (ns < 0) {
        pp_buf_puts(b, "-");
        ns = -ns;
    }
    pp_buf_printf(b, "%" PRId64 ".%03d", (int64_t)(ns / 1000), (int)(ns % 1000));
}

static void ev_open(struct pp_trace *t)
{
    pp_buf_puts(t->b, t->n_events ? ",\n{" : "\n{");
    t->n_events++;
}

static void ev_meta(struct pp_trace_ctx *c, const char *what, int tid, const char *key,
                    const char *str, int num)
{
    struct pp_buf *b = c->t->b;
    ev_open(c->t);
    pp_buf_printf(
        b, "\"name\":\"%s\",\"ph\":\"M\",\"ts\":0,\"pid\":%d,\"tid\":%d,\"args\":{\"%s\":", what,
        c->pid, tid, key);
    if (str)
        pp_buf_json_str(b, str);
    else
        pp_buf_printf(b, "%d", num);
    pp_buf_puts(b, "}}");
}

static int chunk_of(const struct pp_plan *p, int g)
{
    return g % p->n_pieces / p->n_devices;
}

/* "F mb3", "BW mb3 c1": the kind and the microbatch, the chunk when chunks > 1. */
static void half_name(char *s, size_t n, const struct pp_plan *p, int kind, int g, int64_t mb)
{
    if (p->chunks > 1)
        snprintf(s, n, "%s mb%" PRId64 " c%d", pp_op_kind_name(kind), mb, chunk_of(p, g));
    else
        snprintf(s, n, "%s mb%" PRId64, pp_op_kind_name(kind), mb);
}

static void op_name(char *s, size_t n, const struct pp_plan *p, const struct pp_op *op)
{
    if (op->kind == PP_OP_FB) {
        char f[64], bk[64];
        half_name(f, sizeof f, p, PP_OP_F, op->piece, op->mb);
        half_name(bk, sizeof bk, p, PP_OP_B, op->piece2, op->mb2);
        snprintf(s, n, "%s + %s", f, bk);
    } else if (op->mb < 0) {
        snprintf(s, n, "%s", pp_op_kind_name(op->kind));
    } else {
        half_name(s, n, p, op->kind, op->piece, op->mb);
    }
}

/* ---- events ---- */

static uint64_t flow_id(const struct pp_trace_ctx *c, size_t dep)
{
    return ((uint64_t)c->pid << 32) + (uint64_t)dep + 1;
}

static int dep_kept(const struct pp_trace_ctx *c, size_t i)
{
    return c->keep[c->deps[i].prod] && c->keep[c->deps[i].cons];
}

static void put_flow(struct pp_trace_ctx *c, char ph, size_t dep, int tid, pp_time ts)
{
    struct pp_buf *b = c->t->b;
    ev_open(c->t);
    pp_buf_printf(b,
                  "\"name\":\"dep\",\"cat\":\"flow\",\"ph\":\"%c\",%s\"id\":%" PRIu64
                  ",\"pid\":%d,\"tid\":%d,\"ts\":",
                  ph, ph == 'f' ? "\"bp\":\"e\"," : "", flow_id(c, dep), c->pid, tid);
    put_us(b, ts);
    pp_buf_puts(b, "}");
}

/* A device's memory is a step function: a point replaces one at the same
 * instant (only the last value at an instant is seen) and a point that
 * repeats the value before it is left out. */
struct counter {
    pp_time ts;
    double bytes;
    int pending, written;
    double last_written;
};

static void flush_counter(struct pp_trace_ctx *c, int dv, struct counter *k)
{
    if (!k->pending || (k->written && k->last_written == k->bytes)) {
        k->pending = 0;
        return;
    }
    struct pp_buf *b = c->t->b;
    ev_open(c->t);
    pp_buf_printf(b, "\"name\":\"device %d memory\",\"ph\":\"C\",\"pid\":%d,\"tid\":%d,\"ts\":", dv,
                  c->pid, dv + 1);
    put_us(b, k->ts);
    pp_buf_puts(b, ",\"args\":{\"bytes\":");
    pp_buf_double(b, k->bytes);
    pp_buf_puts(b, "}}");
    k->pending = 0;
    k->written = 1;
    k->last_written = k->bytes;
}

static void put_counter(struct pp_trace_ctx *c, int dv, struct counter *k, pp_time ts,
                        int64_t dyn_bytes)
{
    if (k->pending && k->ts != ts)
        flush_counter(c, dv, k);
    k->ts = ts;
    k->bytes = c->r->res->dev[dv].static_bytes + (double)dyn_bytes;
    k->pending = 1;
}

static void put_piece_args(struct pp_buf *b, const struct pp_plan *p, const char *sfx, int g,
                           int64_t mb)
{
    pp_buf_printf(b, ",\"piece%s\":%d,\"chunk%s\":%d,\"microbatch%s\":%" PRId64, sfx, g, sfx,
                  chunk_of(p, g), sfx, mb);
    if (p->copies > 1)
        pp_buf_printf(b, ",\"copy%s\":%d", sfx, g / p->n_pieces);
}

static void put_op(struct pp_trace_ctx *c, size_t o)
{
    const struct pp_plan *p = c->plan;
    const struct pp_op *op = &p->ops[o];
    const struct pp_span *s = &c->r->res->spans[o];
    struct pp_buf *b = c->t->b;
    int dv = c->op_dev[o];
    char name[160];
    op_name(name, sizeof name, p, op);
    ev_open(c->t);
    pp_buf_puts(b, "\"name\":");
    pp_buf_json_str(b, name);
    pp_buf_puts(b, ",\"cat\":");
    pp_buf_json_str(b, pp_op_kind_name(op->kind));
    pp_buf_printf(b, ",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":", c->pid, dv + 1);
    put_us(b, s->start_ns);
    pp_buf_puts(b, ",\"dur\":");
    put_us(b, s->end_ns - s->start_ns);
    pp_buf_printf(b, ",\"args\":{\"device\":%d,\"order\":%zu", dv, o - p->dev_first[dv]);
    if (op->mb >= 0)
        put_piece_args(b, p, "", op->piece, op->mb);
    if (op->kind == PP_OP_FB)
        put_piece_args(b, p, "2", op->piece2, op->mb2);
    pp_buf_puts(b, "}}");
}

static void put_device(struct pp_trace_ctx *c, int dv)
{
    const struct pp_plan *p = c->plan;
    const struct pp_span *spans = c->r->res->spans;
    struct counter k = {0, 0, 0, 0, 0};
    for (size_t o = p->dev_first[dv]; o < p->dev_first[dv + 1]; o++) {
        if (!c->keep[o])
            continue;
        const struct pp_span *s = &spans[o];
        /* Before its first op a device holds only its static bytes. */
        if (o == p->dev_first[dv])
            put_counter(c, dv, &k, 0, 0);
        put_counter(c, dv, &k, s->start_ns, s->mem_start_bytes);
        put_op(c, o);
        /* Flows bind to the slice open on the track when they are read, so
         * they follow their slice in the file and sit strictly inside it
         * (chrome://tracing looks the slice up by time). */
        int inside = s->end_ns - s->start_ns >= 2;
        for (uint32_t i = c->in_first[o]; i < c->in_first[o + 1]; i++)
            if (dep_kept(c, i))
                put_flow(c, 'f', i, dv + 1, s->start_ns + inside);
        for (uint32_t j = c->out_first[o]; j < c->out_first[o + 1]; j++)
            if (dep_kept(c, c->out_deps[j]))
                put_flow(c, 's', c->out_deps[j], dv + 1, inside ? s->end_ns - 1 : s->start_ns);
        put_counter(c, dv, &k, s->end_ns, s->mem_end_bytes);
    }
    flush_counter(c, dv, &k);
}

/* A kept transfer, by link and start for the lanes. */
struct trk {
    int32_t src, dst;
    pp_time start_ns, end_ns;
    uint32_t id;
};

static int trk_cmp(const void *pa, const void *pb)
{
    const struct trk *a = pa, *b = pb;
    if (a->src != b->src)
        return a->src < b->src ? -1 : 1;
    if (a->dst != b->dst)
        return a->dst < b->dst ? -1 : 1;
    if (a->start_ns != b->start_ns)
        return a->start_ns < b->start_ns ? -1 : 1;
    if (a->end_ns != b->end_ns)
        return a->end_ns < b->end_ns ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void put_transfer(struct pp_trace_ctx *c, uint32_t ti, int tid)
{
    const struct pp_transfer *tr = &c->r->res->transfers[ti];
    const struct pp_trace_dep *e = &c->deps[c->tr_dep[ti]];
    const struct pp_plan *p = c->plan;
    struct pp_buf *b = c->t->b;
    char name[96], from[160], to[160];
    const char *what = e->backward ? "grad" : "act";
    if (p->chunks > 1)
        snprintf(name, sizeof name, "%s mb%" PRId64 " c%d", what, e->mb, chunk_of(p, e->piece));
    else
        snprintf(name, sizeof name, "%s mb%" PRId64, what, e->mb);
    op_name(from, sizeof from, p, &p->ops[e->prod]);
    op_name(to, sizeof to, p, &p->ops[e->cons]);
    ev_open(c->t);
    pp_buf_puts(b, "\"name\":");
    pp_buf_json_str(b, name);
    pp_buf_printf(b, ",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":", what, c->pid,
                  tid);
    put_us(b, tr->start_ns);
    pp_buf_puts(b, ",\"dur\":");
    put_us(b, tr->end_ns - tr->start_ns);
    pp_buf_printf(b, ",\"args\":{\"src_device\":%d,\"dst_device\":%d,\"bytes\":", tr->src_dev,
                  tr->dst_dev);
    pp_buf_double(b, c->r->part->pieces[e->bytes_piece].output_bytes);
    pp_buf_puts(b, ",\"from\":");
    pp_buf_json_str(b, from);
    pp_buf_puts(b, ",\"to\":");
    pp_buf_json_str(b, to);
    pp_buf_puts(b, "}}");
}

/* Link tracks: transfers of one direction in start order, each on the first
 * lane whose last transfer has arrived by its start. */
static void put_links(struct pp_trace_ctx *c)
{
    const struct pp_sim_result *res = c->r->res;
    struct trk *ks = pp_xmalloc((res->n_transfers + 1) * sizeof *ks);
    size_t n = 0;
    for (size_t i = 0; i < res->n_transfers; i++) {
        const struct pp_transfer *tr = &res->transfers[i];
        if (dep_kept(c, c->tr_dep[i]))
            ks[n++] = (struct trk){tr->src_dev, tr->dst_dev, tr->start_ns, tr->end_ns, (uint32_t)i};
    }
    qsort(ks, n, sizeof *ks, trk_cmp);
    uint32_t *lane = pp_xmalloc((n + 1) * sizeof *lane);
    pp_time *lane_end = NULL;
    size_t lane_cap = 0;
    int next_tid = c->n_dev + 1;
    for (size_t a = 0; a < n;) {
        const struct trk *t0 = &ks[a];
        size_t z = a;
        size_t n_lanes = 0;
        while (z < n && ks[z].src == t0->src && ks[z].dst == t0->dst) {
            size_t l = 0;
            while (l < n_lanes && lane_end[l] > ks[z].start_ns)
                l++;
            if (l == n_lanes) {
                lane_end = pp_xgrow(lane_end, &lane_cap, n_lanes + 1, sizeof *lane_end);
                n_lanes++;
            }
            lane_end[l] = ks[z].end_ns;
            lane[z] = (uint32_t)l;
            z++;
        }
        for (size_t l = 0; l < n_lanes; l++) {
            char tname[64];
            int tid = next_tid + (int)l;
            if (l == 0)
                snprintf(tname, sizeof tname, "link %d->%d", t0->src, t0->dst);
            else
                snprintf(tname, sizeof tname, "link %d->%d #%zu", t0->src, t0->dst, l + 1);
            ev_meta(c, "thread_name", tid, "name", tname, 0);
            ev_meta(c, "thread_sort_index", tid, "sort_index", NULL, tid);
            for (size_t i = a; i < z; i++)
                if (lane[i] == l)
                    put_transfer(c, ks[i].id, tid);
        }
        next_tid += (int)n_lanes;
        a = z;
    }
    free(lane_end);
    free(lane);
    free(ks);
}

/* ---- API ---- */

void pp_trace_begin(struct pp_trace *t, struct pp_buf *b)
{
    t->b = b;
    t->n_events = 0;
    pp_buf_puts(b, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":\"ppsim " PP_VERSION
                   "\"},\"traceEvents\":[");
}

void pp_trace_end(struct pp_trace *t)
{
    pp_buf_puts(t->b, "\n]}\n");
}

static void ctx_free(struct pp_trace_ctx *c)
{
    free(c->keep);
    free(c->op_dev);
    free(c->deps);
    free(c->in_first);
    free(c->out_first);
    free(c->out_deps);
    free(c->tr_dep);
}

int pp_trace_add_run(struct pp_trace *t, const struct pp_run *r, int index, const char *label,
                     const struct pp_trace_opts *opts, struct pp_diag *d)
{
    if (!r->res->spans || (r->res->n_transfers && !r->res->transfers))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "trace: the run kept no op spans");
    if (index < 0 || index > MAX_INDEX)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "trace: configuration index %d is outside 0..%d", index, MAX_INDEX);
    const struct pp_plan *p = r->plan;
    struct pp_trace_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.plan = p;
    c.t = t;
    c.pid = index + 1;
    c.n_dev = p->n_devices;
    c.keep = pp_xcalloc(p->n_ops + 1, 1);
    c.op_dev = pp_xmalloc((p->n_ops + 1) * sizeof *c.op_dev);
    pp_trace_select_ops(&c, opts);
    int rc = pp_trace_build_deps(&c, d);
    if (rc == 0)
        rc = pp_trace_match_transfers(&c, d);
    if (rc) {
        ctx_free(&c);
        return rc;
    }

    char deflabel[512];
    if (!label) {
        snprintf(deflabel, sizeof deflabel,
                 "%s: %s, %d stages x %d chunk%s, %" PRId64 " microbatches",
                 r->sc->name[0] ? r->sc->name : "ppsim", pp_schedule_name(p->kind), p->n_devices,
                 p->chunks, p->chunks == 1 ? "" : "s", p->n_microbatches);
        label = deflabel;
    }
    ev_meta(&c, "process_name", 0, "name", label, 0);
    ev_meta(&c, "process_sort_index", 0, "sort_index", NULL, index);
    for (int dv = 0; dv < p->n_devices; dv++) {
        char tname[32];
        snprintf(tname, sizeof tname, "device %d", dv);
        ev_meta(&c, "thread_name", dv + 1, "name", tname, 0);
        ev_meta(&c, "thread_sort_index", dv + 1, "sort_index", NULL, dv + 1);
    }
    for (int dv = 0; dv < p->n_devices; dv++)
        put_device(&c, dv);
    put_links(&c);
    ctx_free(&c);
    return 0;
}
