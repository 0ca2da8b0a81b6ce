/* converge_rpd.c - Randomized PipeDream (pipedream-theory.md §3.1).
 *
 * Iteration k changes one block, so the iterate w^(r) of any r in [k - delta,
 * k] differs from the current one only by the updates r..k-1. An undo log of
 * the last delta updates (the block and the values it overwrote) rebuilds a
 * stale block: w_i^(r) is the value overwritten by the earliest update of block
 * i at or after r, or the current w_i when there is none. Each block keeps the
 * indices of its updates in the log in order, so that lookup is a binary
 * search. Memory: delta * max block length + d doubles, never K iterates. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "converge_int.h"
#include "diag.h"
#include "objective.h"
#include "wtrace.h"
#include "xalloc.h"

#define NS_PER_MS 1e6

/* The update indices of one block still in the log, oldest first (a ring). */
struct bdeque {
    int64_t *u;
    size_t head, n, cap;
};

static void dq_push(struct bdeque *q, int64_t u, size_t first_cap)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : first_cap;
        int64_t *nu = pp_xmalloc(cap * sizeof *nu);
        for (size_t i = 0; i < q->n; i++)
            nu[i] = q->u[(q->head + i) % q->cap];
        free(q->u);
        q->u = nu;
        q->head = 0;
        q->cap = cap;
    }
    q->u[(q->head + q->n) % q->cap] = u;
    q->n++;
}

static int64_t dq_at(const struct bdeque *q, size_t i)
{
    return q->u[(q->head + i) % q->cap];
}

struct rpd {
    struct pp_cv_ctx c;
    double *w;           /* [dim] current iterate */
    int64_t delta;       /* log length */
    int *log_block;      /* [delta] block of update u at u % delta */
    double *log_old;     /* [delta * maxlen] the values update u overwrote */
    size_t maxlen;
    struct bdeque *dq;   /* [blocks] */
    const double **z;    /* [blocks] the read point, block by block */
    double *act, *gout, *g;
};

/* Block i as of iterate r (r <= k, r >= k - delta). */
static const double *stale_block(const struct rpd *p, int i, int64_t r, int64_t k)
{
    const double *cur = p->w + pp_objective_block_first(p->c.o, i);
    if (r >= k)
        return cur;
    const struct bdeque *q = &p->dq[i];
    size_t lo = 0, hi = q->n; /* first entry with update index >= r */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dq_at(q, mid) < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == q->n)
        return cur;
    return p->log_old + (size_t)(dq_at(q, lo) % p->delta) * p->maxlen;
}

/* Iteration k: update block s with the gradient of batch m at the point whose
 * block i is iterate r[i]. Same kernels, same order as the trace replay. */
static void rpd_step(struct rpd *p, int64_t k, int s, int64_t m, const int64_t *r, gsl_rng *noise)
{
    const struct pp_objective *o = p->c.o;
    int S = p->c.blocks;
    size_t rows = (size_t)pp_objective_batch_rows(o);
    memset(p->act, 0, rows * sizeof *p->act);
    for (int i = 0; i < S; i++) {
        p->z[i] = stale_block(p, i, r[i], k);
        pp_objective_forward(o, m, i, p->z[i], p->act);
    }
    pp_objective_output_grad(o, m, p->act, p->gout);
    pp_objective_block_grad(o, m, s, p->z[s], p->gout, p->g, noise);
    size_t first = pp_objective_block_first(o, s), len = pp_objective_block_len(o, s);
    if (p->delta > 0) {
        size_t slot = (size_t)(k % p->delta);
        if (k >= p->delta) { /* update k - delta leaves the log */
            struct bdeque *q = &p->dq[p->log_block[slot]];
            q->head = (q->head + 1) % q->cap;
            q->n--;
        }
        p->log_block[slot] = s;
        memcpy(p->log_old + slot * p->maxlen, p->w + first, len * sizeof *p->w);
        /* a block holds ~delta/S of the log; start at twice that so growth
         * (and state_bytes) rarely depends on the draws */
        size_t want = 2 * (size_t)p->delta / (size_t)p->c.blocks + 16;
        dq_push(&p->dq[s], k, want < (size_t)p->delta ? want : (size_t)p->delta);
    }
    pp_cv_sgd_step(p->w + first, p->c.opts->gamma, p->g, len);
}

/* EXACT mode reads the trace: per in-flight microbatch, j[i] = GRADs before
 * READ(i, m). */
struct feeder {
    const struct pp_wtrace *t;
    pp_time budget_ns;
    size_t next;
    int64_t grads;
    struct pp_cv_slots slots; /* ints: j[S] */
};

/* Advance to the next GRAD within the budget; 0 when there is none, -1 on a
 * malformed trace. */
static int feed_next(struct feeder *f, const struct pp_wevent **grad, struct pp_cv_slot **slot)
{
    const struct pp_wtrace *t = f->t;
    for (; f->next < t->n_ev; f->next++) {
        const struct pp_wevent *e = &t->ev[f->next];
        if (e->key_ns > f->budget_ns)
            return 0;
        if (e->end_ns > f->budget_ns) /* ends after the budget (converge.c) */
            continue;
        if (e->block < 0 || e->block >= t->n_blocks)
            return -1;
        struct pp_cv_slot *s = pp_cv_slots_find(&f->slots, e->mb);
        if (e->kind == PP_WEV_READ) {
            if (!s)
                s = pp_cv_slots_add(&f->slots, e->mb);
            if (s->reads >= t->n_blocks)
                return -1;
            s->ints[e->block] = f->grads;
            s->reads++;
        } else if (e->kind == PP_WEV_GRAD) {
            if (!s || s->reads < t->n_blocks)
                return -1;
            *grad = e;
            *slot = s;
            f->next++;
            return 1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* After the caller used the GRAD: count it, free a finished microbatch. */
static void feed_done(struct feeder *f, struct pp_cv_slot *s)
{
    f->grads++;
    if (++s->grads == f->t->n_blocks)
        pp_cv_slots_release(&f->slots, s);
}

static void feeder_init(struct feeder *f, const struct pp_wtrace *t, double budget_ms)
{
    memset(f, 0, sizeof *f);
    f->t = t;
    f->budget_ns = budget_ms > 0 && isfinite(budget_ms) ? (pp_time)llround(budget_ms * NS_PER_MS)
                                                       : INT64_MAX;
    pp_cv_slots_init(&f->slots, 0, (size_t)t->n_blocks);
}

int64_t pp_cv_trace_max_delay(const struct pp_wtrace *t, double budget_ms)
{
    struct feeder f;
    feeder_init(&f, t, budget_ms);
    int64_t best = 0;
    const struct pp_wevent *e;
    struct pp_cv_slot *s;
    while (feed_next(&f, &e, &s) > 0) {
        for (int i = 0; i < t->n_blocks; i++)
            if (f.grads - s->ints[i] > best)
                best = f.grads - s->ints[i];
        feed_done(&f, s);
    }
    pp_cv_slots_free(&f.slots);
    return best;
}

static void rpd_free(struct rpd *p)
{
    free(p->w);
    free(p->log_block);
    free(p->log_old);
    if (p->dq)
        for (int i = 0; i < p->c.blocks; i++)
            free(p->dq[i].u);
    free(p->dq);
    free(p->z);
    free(p->act);
    free(p->gout);
    free(p->g);
}

static size_t rpd_bytes(const struct rpd *p)
{
    size_t b = 2 * p->c.dim * sizeof(double) + (size_t)p->c.blocks * (sizeof(struct bdeque) + sizeof(void *));
    b += (size_t)p->delta * (sizeof(int) + p->maxlen * sizeof(double));
    b += 2 * (size_t)pp_objective_batch_rows(p->c.o) * sizeof(double);
    for (int i = 0; i < p->c.blocks; i++)
        b += p->dq[i].cap * sizeof(int64_t);
    return b;
}

int pp_cv_run_rpd(const struct pp_objective *o, const struct pp_cv_method *m,
                  const struct pp_cv_opts *opts, struct pp_cv_result *res, struct pp_diag *d)
{
    struct rpd p;
    memset(&p, 0, sizeof p);
    int rc = pp_cv_begin(&p.c, o, opts, res, opts->w0, d);
    if (rc)
        return rc;
    int S = p.c.blocks, exact = m->delays == PP_RPD_EXACT;
    int64_t nb = pp_objective_batches(o);
    if (exact) {
        if (!m->trace || m->trace->sem != PP_WSEM_IMMEDIATE)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                               "RPD with exact delays needs a pipedream (immediate-update) trace");
        if (m->trace->n_blocks != S)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                               "the trace has %d model pieces but the objective %d blocks",
                               m->trace->n_blocks, S);
        if (m->iterations < 0)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "RPD iterations %lld: must be >= 0",
                               (long long)m->iterations);
    } else {
        if (m->delays != PP_RPD_ZERO && m->delta < 0)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "RPD delay bound %lld: must be >= 0",
                               (long long)m->delta);
        if (m->iterations < 0)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "RPD iterations %lld: must be >= 0",
                               (long long)m->iterations);
        if (nb < 1)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "the objective has no data batches");
    }
    int64_t K = m->iterations;
    p.delta = exact ? pp_cv_trace_max_delay(m->trace, opts->budget_ms)
              : m->delays == PP_RPD_ZERO ? 0
                                         : m->delta;
    if (!exact && K > 0 && p.delta > K)
        p.delta = K; /* delays never exceed k < K */
    size_t dim = p.c.dim, rows = (size_t)pp_objective_batch_rows(o);
    for (int i = 0; i < S; i++)
        if (pp_objective_block_len(o, i) > p.maxlen)
            p.maxlen = pp_objective_block_len(o, i);
    p.w = pp_xmalloc(dim * sizeof *p.w);
    if (opts->w0)
        memcpy(p.w, opts->w0, dim * sizeof *p.w);
    else
        memset(p.w, 0, dim * sizeof *p.w);
    if (p.delta > 0) {
        p.log_block = pp_xcalloc((size_t)p.delta, sizeof *p.log_block);
        p.log_old = pp_xmalloc((size_t)p.delta * p.maxlen * sizeof *p.log_old);
    }
    p.dq = pp_xcalloc((size_t)S, sizeof *p.dq);
    p.z = pp_xcalloc((size_t)S, sizeof *p.z);
    p.act = pp_xcalloc(rows, sizeof *p.act);
    p.gout = pp_xcalloc(rows, sizeof *p.gout);
    p.g = pp_xcalloc(p.maxlen, sizeof *p.g);
    int64_t *r = pp_xcalloc((size_t)S, sizeof *r);
    gsl_rng *draw = gsl_rng_alloc(gsl_rng_mt19937), *noise = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(draw, (unsigned long)m->seed);
    gsl_rng_set(noise, (unsigned long)opts->noise_seed);
    struct feeder f;
    if (exact)
        feeder_init(&f, m->trace, opts->budget_ms);

    double value = res->initial_value, time_ms = NAN, last_time = NAN;
    int dirty = 0;
    if (opts->log_updates)
        pp_cv_curve_push(&res->by_update, 0, exact ? 0.0 : NAN, value);
    for (int64_t k = 0; (K == 0 && exact) || k < K; k++) {
        int s;
        int64_t mb;
        struct pp_cv_slot *slot = NULL;
        if (exact) {
            const struct pp_wevent *e;
            int got = feed_next(&f, &e, &slot);
            if (got < 0) {
                rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                 "malformed weight trace for exact RPD at event %zu", f.next);
                break;
            }
            if (got == 0)
                break;
            s = e->block;
            mb = e->mb;
            for (int i = 0; i < S; i++)
                r[i] = slot->ints[i];
            time_ms = (double)e->key_ns / NS_PER_MS;
        } else {
            s = (int)gsl_rng_uniform_int(draw, (unsigned long)S);
            mb = (int64_t)gsl_rng_uniform_int(draw, (unsigned long)nb);
            int64_t cap = k < p.delta ? k : p.delta;
            for (int i = 0; i < S; i++) {
                int64_t di = m->delays == PP_RPD_UNIFORM
                                 ? (int64_t)gsl_rng_uniform_int(draw, (unsigned long)cap + 1)
                             : m->delays == PP_RPD_MAX ? cap
                                                       : 0;
                r[i] = k - di;
            }
        }
        for (int i = 0; i < S; i++)
            if (k - r[i] > res->max_delay)
                res->max_delay = k - r[i];
        rpd_step(&p, k, s, mb, r, noise);
        if (exact)
            feed_done(&f, slot);
        res->n_updates = k + 1;
        last_time = time_ms;
        dirty = 1;
        if (opts->log_updates && res->n_updates % p.c.every == 0) {
            value = pp_cv_eval(&p.c, p.w);
            dirty = 0;
            pp_cv_curve_push(&res->by_update, res->n_updates, time_ms, value);
            if (res->diverged)
                break;
        }
    }
    if (rc == 0) {
        if (dirty)
            value = pp_cv_eval(&p.c, p.w);
        struct pp_cv_curve *u = &res->by_update;
        if (opts->log_updates && u->pt[u->n - 1].updates != res->n_updates)
            pp_cv_curve_push(u, res->n_updates, last_time, value);
        res->final_value = value;
        if (opts->w_final)
            memcpy(opts->w_final, p.w, dim * sizeof *p.w);
        res->final_time_ms = exact ? (res->n_updates ? last_time : 0.0) : NAN;
        res->state_bytes = rpd_bytes(&p) + (exact ? pp_cv_slots_bytes(&f.slots) : 0);
    }
    if (exact)
        pp_cv_slots_free(&f.slots);
    gsl_rng_free(draw);
    gsl_rng_free(noise);
    free(r);
    rpd_free(&p);
    return rc;
}
