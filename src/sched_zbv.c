/* sched_zbv.c - ZB-V (schedules.md §2.9): Zero Bubble's own cost-aware greedy
 * builder, ported from the ZB repository's v_schedule.py / zbv.py
 * (PipelineGraph.try_v_schedule, get_v_schedule). PyTorch's fixed
 * ScheduleZBVZeroBubble order is in sched_v.c.
 *
 * The greedy walks the devices in lock-step rounds, placing one backward per
 * device per round and a forward where one is ready, and fills waits with
 * pending weight gradients (W) when a W fits the gap or when not filling
 * would make this device's bubble the largest. It runs under four fill
 * policies and keeps re-running with the previous run's per-device bubbles
 * "approved" while that lowers the largest bubble; the best order wins.
 *
 * Its vocabulary, kept here so the port can be read against the reference:
 * stage = device, chunk 0/1 of a forward = the first/second leg of the V,
 * chunk 0/1 of a backward or W = the second/first leg (backwards run the V in
 * reverse), count[s][cat*2+chunk] = how many of that kind device s has placed.
 * Times are the engine's integer nanoseconds, so a replay of the order with
 * latency-only links reproduces the greedy's own times. Costs may differ per
 * piece (the reference has one F, B, W for all); with equal costs the port
 * makes the reference's decisions exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "partition.h"
#include "sched_v.h"
#include "schedule.h"
#include "sim.h"
#include "xalloc.h"

enum { CAT_F, CAT_B, CAT_W };

/* One run's output: per-device op lists and bubbles. */
struct zbv_run {
    uint32_t *sched;   /* [p][6m]: (cat*2+chunk) | mb << 3 */
    size_t *n;         /* [p] */
    int64_t *bubble;   /* [p] */
    int64_t max_bubble;
    int ok;
};

struct zbv {
    int p;
    int64_t m;
    int64_t c, max_mem;
    const int64_t *cost[3], *memd[3]; /* [2p] per piece */
    /* state of the current run */
    int64_t *end_time;              /* [6pm] */
    int64_t *cur_time, *mem;        /* [p] */
    int64_t (*count)[6];            /* [p] */
    int64_t *wq;                    /* [p][2m] pending W ring: chunk | mb << 1 */
    size_t *wq_head, *wq_len;       /* [p] */
    const int64_t *approved;        /* [p] or NULL */
    int64_t max_approved, max_bubble_now;
    struct zbv_run *out;
};

static size_t zid(const struct zbv *z, int cat, int chunk, int s, int64_t mb)
{
    return (((size_t)cat * 2 + (size_t)chunk) * (size_t)z->p + (size_t)s) * (size_t)z->m + (size_t)mb;
}

/* Model piece of (cat, chunk) on device s in a V. */
static int zpiece(const struct zbv *z, int cat, int chunk, int s)
{
    return ((cat == CAT_F) == (chunk == 0)) ? s : 2 * z->p - 1 - s;
}

static int64_t zcost(const struct zbv *z, int cat, int chunk, int s)
{
    return z->cost[cat][zpiece(z, cat, chunk, s)];
}

static int64_t zmem(const struct zbv *z, int cat, int chunk, int s)
{
    return z->memd[cat][zpiece(z, cat, chunk, s)];
}

/* The reference reads end_time[fa_id] even when fa_id is -1, i.e. the last
 * entry of its table (W of chunk 1 on the last device, last microbatch). */
static int64_t end_of(const struct zbv *z, long long id)
{
    return z->end_time[id >= 0 ? (size_t)id : zid(z, CAT_W, 1, z->p - 1, z->m - 1)];
}

static int64_t max_stage_bubble(const struct zbv *z, int s)
{
    int64_t b = z->max_bubble_now;
    if (s >= 0 && z->approved && z->max_approved - z->approved[s] > b)
        b = z->max_approved - z->approved[s];
    return b;
}

/* Place (cat, chunk) on device s; 0, or -1 where the reference would assert. */
static int put(struct zbv *z, int cat, int chunk, int s)
{
    int k = cat * 2 + chunk;
    int64_t cnt = z->count[s][k];
    if (cnt >= z->m)
        return -1;
    int64_t dur = zcost(z, cat, chunk, s), md = zmem(z, cat, chunk, s);
    int64_t no_bubble = z->cur_time[s] + dur, t = no_bubble;
    if (z->mem[s] + md > z->max_mem)
        return -1;
    if (k > 0) {
        size_t before = cat < CAT_W ? zid(z, (k - 1) / 2, (k - 1) % 2, s, cnt)
                                    : zid(z, CAT_B, chunk, s, cnt);
        if (z->end_time[before] < 0)
            return -1;
    }
    if (cat < CAT_W && ((chunk == 1 && s < z->p - 1) || (chunk == 0 && s > 0))) {
        size_t fa = zid(z, cat, chunk, chunk ? s + 1 : s - 1, cnt);
        if (z->end_time[fa] < 0)
            return -1;
        if (z->end_time[fa] + z->c + dur > t)
            t = z->end_time[fa] + z->c + dur;
    }
    if (z->count[s][0] > 0) {
        z->out->bubble[s] += t - no_bubble;
        if (z->out->bubble[s] > z->max_bubble_now)
            z->max_bubble_now = z->out->bubble[s];
    }
    z->end_time[zid(z, cat, chunk, s, cnt)] = t;
    z->cur_time[s] = t;
    z->mem[s] += md;
    z->out->sched[(size_t)s * 6 * (size_t)z->m + z->out->n[s]++] = (uint32_t)k | (uint32_t)cnt << 3;
    if (cat == CAT_B) {
        size_t cap = 2 * (size_t)z->m;
        z->wq[(size_t)s * cap + (z->wq_head[s] + z->wq_len[s]) % cap] = chunk | cnt << 1;
        z->wq_len[s]++;
    }
    z->count[s][k]++;
    return 0;
}

static int put_w(struct zbv *z, int s)
{
    if (!z->wq_len[s])
        return -1;
    size_t cap = 2 * (size_t)z->m;
    int chunk = (int)(z->wq[(size_t)s * cap + z->wq_head[s]] & 1);
    z->wq_head[s] = (z->wq_head[s] + 1) % cap;
    z->wq_len[s]--;
    return put(z, CAT_W, chunk, s);
}

/* Cost of the W that put_w(s) would place next. */
static int64_t next_w_cost(const struct zbv *z, int s)
{
    size_t cap = 2 * (size_t)z->m;
    return zcost(z, CAT_W, (int)(z->wq[(size_t)s * cap + z->wq_head[s]] & 1), s);
}

/* Before placing an op whose input comes from fa (-1: none), fill the wait
 * with W's that fit it, then one more W if the wait would otherwise be this
 * device's excess over the largest bubble (and `allow`). */
static int fill_wait(struct zbv *z, int s, long long fa, int allow)
{
    while (z->wq_len[s] && fa >= 0 && end_of(z, fa) + z->c >= z->cur_time[s] + next_w_cost(z, s))
        if (put_w(z, s))
            return -1;
    int64_t wait = end_of(z, fa) + z->c - z->cur_time[s];
    if (z->wq_len[s] && wait > max_stage_bubble(z, s) - z->out->bubble[s] && allow)
        return put_w(z, s);
    return 0;
}

/* Warm-up (forwards only) as the reference fills it. */
static int warm_up(struct zbv *z)
{
    int p = z->p;
    int64_t m = z->m;
    for (int i = 0; i < p; i++)
        if (put(z, CAT_F, 0, i))
            return -1;
    for (int i = p - 1; i >= 0; i--) {
        if (i < p - 1) {
            int64_t tmp = z->end_time[zid(z, CAT_F, 1, i + 1, 0)] + z->c;
            while (z->mem[i] + zmem(z, CAT_F, 0, i) * (2 + 2 * (int64_t)i) <= z->max_mem &&
                   z->cur_time[i] + zcost(z, CAT_F, 0, i) <= tmp && z->count[i][0] < m)
                for (int j = 0; j <= i; j++)
                    if (put(z, CAT_F, 0, j))
                        return -1;
        }
        if (put(z, CAT_F, 1, i))
            return -1;
    }
    /* zbv.py (main) adds the second clause: later devices catch up on chunk 1 too. */
    int chunk = 0;
    for (int i = 1; i < p; i++) {
        int idle = 0;
        for (;;) {
            int64_t *ci = z->count[i], *cp = z->count[i - 1];
            if (!(ci[0] + ci[1] < cp[0] + cp[1] || (ci[1] <= cp[1] && cp[1] < m)))
                break;
            int placed = 0;
            for (int j = p - 1; j >= i; j--)
                if (z->count[j][chunk] < m) {
                    if (put(z, CAT_F, chunk, j))
                        return -1;
                    placed = 1;
                }
            chunk = 1 - chunk;
            idle = placed ? 0 : idle + 1;
            if (idle == 2)
                return -1; /* the reference would spin forever */
        }
    }
    return 0;
}

static int round_b(struct zbv *z, int fill_b, int *order, int *chunk_of)
{
    int p = z->p;
    int64_t m = z->m;
    /* b1 devices (chunk 1 of the backward) go first, last device first. */
    for (int i = 0; i < p; i++) {
        int64_t *ci = z->count[i];
        int ch;
        if (ci[3] >= ci[2])
            ch = 0;
        else if (i == p - 1)
            ch = 1;
        else
            ch = (z->end_time[zid(z, CAT_B, 1, i + 1, ci[3])] >= 0 || ci[2] >= m) ? 1 : 0;
        chunk_of[i] = ch;
    }
    for (int i = 0; i < p; i++)
        while (z->mem[i] + zmem(z, CAT_B, chunk_of[i], i) > z->max_mem)
            if (put_w(z, i))
                return -1;
    int k = 0;
    for (int i = p - 1; i >= 0; i--)
        if (chunk_of[i])
            order[k++] = i;
    for (int i = 0; i < p; i++)
        if (!chunk_of[i])
            order[k++] = i;
    for (k = 0; k < p; k++) {
        int i = order[k], ch = chunk_of[i];
        long long fa = -1;
        if (ch == 1 && i < p - 1)
            fa = (long long)zid(z, CAT_B, 1, i + 1, z->count[i][3]);
        if (ch == 0 && i > 0)
            fa = (long long)zid(z, CAT_B, 0, i - 1, z->count[i][2]);
        if (fill_wait(z, i, fa, ch == 1 || fill_b) || put(z, CAT_B, ch, i))
            return -1;
    }
    return 0;
}

static int round_f(struct zbv *z, int fill_f)
{
    int p = z->p;
    int64_t m = z->m;
    for (int i = 0; i < p; i++) {
        int64_t *ci = z->count[i];
        if (ci[1] >= m)
            continue;
        int item = -1;
        if (ci[1] >= ci[0])
            item = 0;
        else if (i == p - 1)
            item = 1;
        else if (z->end_time[zid(z, CAT_F, 1, i + 1, ci[1])] >= 0)
            item = 1;
        else if (ci[0] < m && (i == 0 || z->end_time[zid(z, CAT_F, 0, i - 1, ci[0])] >= 0))
            item = 0;
        if (item < 0)
            continue;
        while (z->mem[i] + zmem(z, CAT_F, item, i) > z->max_mem)
            if (put_w(z, i))
                return -1;
        long long fa = -1;
        if (item == 0 && i > 0)
            fa = (long long)zid(z, CAT_F, 0, i - 1, ci[0]);
        if (item == 1 && i < p - 1)
            fa = (long long)zid(z, CAT_F, 1, i + 1, ci[1]);
        if (fill_wait(z, i, fa, fill_f) || put(z, CAT_F, item, i))
            return -1;
    }
    return 0;
}

/* try_v_schedule: one greedy run into out; out->ok says whether it completed. */
static void try_run(struct zbv *z, int fill_f, int fill_b, const int64_t *approved,
                    struct zbv_run *out, int *scratch)
{
    int p = z->p;
    size_t cells = 6 * (size_t)p * (size_t)z->m;
    for (size_t i = 0; i < cells; i++)
        z->end_time[i] = -1;
    memset(z->cur_time, 0, (size_t)p * sizeof *z->cur_time);
    memset(z->mem, 0, (size_t)p * sizeof *z->mem);
    memset(z->count, 0, (size_t)p * sizeof *z->count);
    memset(z->wq_head, 0, (size_t)p * sizeof *z->wq_head);
    memset(z->wq_len, 0, (size_t)p * sizeof *z->wq_len);
    memset(out->n, 0, (size_t)p * sizeof *out->n);
    memset(out->bubble, 0, (size_t)p * sizeof *out->bubble);
    z->out = out;
    z->approved = approved;
    z->max_approved = -1;
    if (approved)
        for (int i = 0; i < p; i++)
            if (approved[i] > z->max_approved)
                z->max_approved = approved[i];
    z->max_bubble_now = 0;
    out->ok = 0;
    if (warm_up(z))
        return;
    for (int64_t r = 0; r < 2 * z->m; r++)
        if (round_b(z, fill_b, scratch, scratch + p) || round_f(z, fill_f))
            return;
    for (int i = 0; i < p; i++)
        while (z->wq_len[i])
            if (put_w(z, i))
                return;
    out->max_bubble = z->max_bubble_now;
    out->ok = 1;
}

static void run_alloc(struct zbv_run *r, int p, int64_t m)
{
    r->sched = pp_xmalloc_big(6 * (size_t)p * (size_t)m * sizeof *r->sched);
    r->n = pp_xcalloc((size_t)p, sizeof *r->n);
    r->bubble = pp_xcalloc((size_t)p, sizeof *r->bubble);
}

static void run_free(struct zbv_run *r)
{
    free(r->sched);
    free(r->n);
    free(r->bubble);
}

static void run_swap(struct zbv_run *a, struct zbv_run *b)
{
    struct zbv_run t = *a;
    *a = *b;
    *b = t;
}

/* Per-piece costs (ns) and activation deltas (bytes) in the greedy's terms. */
static int load_costs(const struct pp_sched_params *p, int64_t *tab, struct pp_diag *d)
{
    int n = 2 * p->stages;
    if (p->costs && p->costs->n_pieces != (size_t)n)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "zb-v needs costs for %d pieces (2 per device), got %zu", n,
                           p->costs->n_pieces);
    for (int k = 0; k < n; k++) {
        int64_t f = 1000000, b = 1000000, w = 1000000, mb = 1, mw = 1;
        if (p->costs) {
            const struct pp_piece *pc = &p->costs->pieces[k];
            f = pp_ms_to_ns(pc->forward_ms);
            b = pp_ms_to_ns(pc->backward_input_ms);
            w = pp_ms_to_ns(pc->backward_weight_ms);
            mb = llround(pc->activation_bytes);
            mw = llround(pc->bw_activation_bytes);
        }
        tab[0 * n + k] = f;
        tab[1 * n + k] = b;
        tab[2 * n + k] = w;
        tab[3 * n + k] = mb;
        tab[4 * n + k] = mw - mb;
        tab[5 * n + k] = -mw;
    }
    return 0;
}

int pp_zbv_push(const struct pp_sched_params *p, double comm_ms, struct pp_plan *plan,
                int64_t *span_ns, struct pp_diag *d)
{
    int np = p->stages, n = 2 * np;
    int64_t m = p->microbatches;
    int64_t *tab = pp_xmalloc(6 * (size_t)n * sizeof *tab);
    int rc = load_costs(p, tab, d);
    if (rc) {
        free(tab);
        return rc;
    }
    struct zbv z = {.p = np, .m = m, .c = pp_ms_to_ns(comm_ms)};
    for (int cat = 0; cat < 3; cat++) {
        z.cost[cat] = tab + cat * n;
        z.memd[cat] = tab + (3 + cat) * n;
    }
    if (p->memory_limit_bytes > 0) {
        z.max_mem = llround(p->memory_limit_bytes);
    } else {
        for (int k = 0; k < n; k++)
            if (z.memd[CAT_F][k] > z.max_mem)
                z.max_mem = z.memd[CAT_F][k];
        z.max_mem *= 2 * (int64_t)np;
    }
    z.end_time = pp_xmalloc_big(6 * (size_t)np * (size_t)m * sizeof *z.end_time);
    z.cur_time = pp_xcalloc((size_t)np, sizeof *z.cur_time);
    z.mem = pp_xcalloc((size_t)np, sizeof *z.mem);
    z.count = pp_xcalloc((size_t)np, sizeof *z.count);
    z.wq = pp_xmalloc_big(2 * (size_t)np * (size_t)m * sizeof *z.wq);
    z.wq_head = pp_xcalloc((size_t)np, sizeof *z.wq_head);
    z.wq_len = pp_xcalloc((size_t)np, sizeof *z.wq_len);
    int *scratch = pp_xmalloc(2 * (size_t)np * sizeof *scratch);

    /* best: the winner so far; chain: the approved-bubble chain's last two runs. */
    struct zbv_run best, prev, next;
    run_alloc(&best, np, m);
    run_alloc(&prev, np, m);
    run_alloc(&next, np, m);
    best.ok = 0;
    best.max_bubble = 0;
    for (int fb = 1; fb >= 0; fb--)
        for (int ff = 1; ff >= 0; ff--) {
            try_run(&z, ff, fb, NULL, &prev, scratch);
            if (!prev.ok)
                continue;
            /* Re-run with this run's bubbles approved while that strictly helps
             * (the reference's recursion, unrolled). */
            for (;;) {
                try_run(&z, ff, fb, prev.bubble, &next, scratch);
                if (!next.ok || next.max_bubble >= prev.max_bubble)
                    break;
                run_swap(&prev, &next);
            }
            if (!best.ok || prev.max_bubble < best.max_bubble)
                run_swap(&best, &prev);
        }
    if (!best.ok) {
        rc = pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                         "zb-v: the greedy cannot place %d stages x %lld microbatches within the "
                         "activation budget of %lld bytes per device",
                         np, (long long)m, (long long)z.max_mem);
    } else {
        pp_v_place(plan);
        static const enum pp_op_kind kinds[3] = {PP_OP_F, PP_OP_BI, PP_OP_BW};
        int64_t span = 0;
        for (int s = 0; s < np; s++) {
            const uint32_t *ops = best.sched + (size_t)s * 6 * (size_t)m;
            int64_t work = 0;
            for (size_t i = 0; i < best.n[s]; i++) {
                int k = (int)(ops[i] & 7), cat = k / 2, chunk = k % 2;
                pp_plan_push(plan, s, kinds[cat], zpiece(&z, cat, chunk, s), (int64_t)(ops[i] >> 3));
                work += zcost(&z, cat, chunk, s);
            }
            pp_plan_push(plan, s, PP_OP_OPTIM, -1, -1);
            /* Bubbles count from the first forward's start, so this is its span. */
            if (best.bubble[s] + work > span)
                span = best.bubble[s] + work;
        }
        if (span_ns)
            *span_ns = span;
    }
    run_free(&best);
    run_free(&prev);
    run_free(&next);
    free(scratch);
    free(z.end_time);
    free(z.cur_time);
    free(z.mem);
    free(z.count);
    free(z.wq);
    free(z.wq_head);
    free(z.wq_len);
    free(tab);
    return rc;
}
