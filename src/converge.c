/* converge.c - the trace replays (PD, LocalSGD, synchronous, 2BW) and the
 * pieces every method shares (converge.h). */
#include "converge.h"

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
#define DBL_VERSIONS 4 /* 2BW: versions kept per block (2BW needs 2; slack for odd traces) */

/* ---- shared --------------------------------------------------------------- */

int pp_cv_begin(struct pp_cv_ctx *c, const struct pp_objective *o, const struct pp_cv_opts *opts,
                struct pp_cv_result *res, const double *w0, struct pp_diag *d)
{
    memset(c, 0, sizeof *c);
    if (!(isfinite(opts->gamma) && opts->gamma > 0))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "step size %g: must be finite and positive", opts->gamma);
    if (opts->diverge_factor < 0 || !isfinite(opts->diverge_factor))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "diverge factor %g: must be finite and >= 0",
                           opts->diverge_factor);
    c->o = o;
    c->opts = opts;
    c->res = res;
    c->dim = (size_t)pp_objective_dim(o);
    c->blocks = pp_objective_blocks(o);
    c->fstar = pp_objective_fstar(o);
    c->every = opts->log_every > 1 ? opts->log_every : 1;
    double *zero = NULL;
    if (!w0)
        w0 = zero = pp_xcalloc(c->dim, sizeof *zero);
    double v0 = pp_objective_value(o, w0) - c->fstar;
    free(zero);
    if (!isfinite(v0))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "f(w0) - f* is not finite");
    double factor = opts->diverge_factor > 0 ? opts->diverge_factor : 1e6;
    c->threshold = factor * (v0 > 0 ? v0 : 1.0);
    res->initial_value = v0;
    res->final_value = v0;
    res->final_time_ms = NAN;
    return 0;
}

double pp_cv_eval(struct pp_cv_ctx *c, const double *w)
{
    double v = pp_objective_value(c->o, w) - c->fstar;
    if (!isfinite(v) || v > c->threshold)
        c->res->diverged = 1;
    return v;
}

void pp_cv_curve_push(struct pp_cv_curve *cv, int64_t updates, double time_ms, double value)
{
    cv->pt = pp_xgrow(cv->pt, &cv->cap, cv->n + 1, sizeof *cv->pt);
    cv->pt[cv->n++] = (struct pp_cv_point){updates, time_ms, value};
}

void pp_cv_sgd_step(double *w, double gamma, const double *g, size_t n)
{
    for (size_t j = 0; j < n; j++)
        w[j] -= gamma * g[j];
}

void pp_cv_result_free(struct pp_cv_result *r)
{
    if (!r)
        return;
    free(r->by_update.pt);
    free(r->by_step.pt);
    memset(r, 0, sizeof *r);
}

uint64_t pp_cv_seed_mix(uint64_t seed, uint64_t salt)
{
    uint64_t z = seed ^ (salt * 0x9e3779b97f4a7c15ULL) ^ 0xd1b54a32d192ed03ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- in-flight microbatch slots ------------------------------------------ */

static size_t slot_hash(int64_t mb, size_t cap)
{
    return (size_t)(((uint64_t)mb * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

void pp_cv_slots_init(struct pp_cv_slots *s, size_t n_dbl, size_t n_int)
{
    memset(s, 0, sizeof *s);
    s->n_dbl = n_dbl;
    s->n_int = n_int;
    s->cap = 64;
    s->keys = pp_xmalloc(s->cap * sizeof *s->keys);
    s->vals = pp_xcalloc(s->cap, sizeof *s->vals);
    for (size_t i = 0; i < s->cap; i++)
        s->keys[i] = -1;
}

void pp_cv_slots_free(struct pp_cv_slots *s)
{
    for (size_t i = 0; i < s->n_all; i++) {
        free(s->all[i]->dbl);
        free(s->all[i]->ints);
        free(s->all[i]);
    }
    free(s->all);
    free(s->free_list);
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof *s);
}

struct pp_cv_slot *pp_cv_slots_find(const struct pp_cv_slots *s, int64_t mb)
{
    for (size_t i = slot_hash(mb, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->keys[i] == mb)
            return s->vals[i];
        if (s->keys[i] < 0)
            return NULL;
    }
}

static void map_insert(struct pp_cv_slots *s, int64_t mb, struct pp_cv_slot *v)
{
    size_t i = slot_hash(mb, s->cap);
    while (s->keys[i] >= 0)
        i = (i + 1) & (s->cap - 1);
    s->keys[i] = mb;
    s->vals[i] = v;
    s->n++;
}

struct pp_cv_slot *pp_cv_slots_add(struct pp_cv_slots *s, int64_t mb)
{
    if (2 * (s->n + 1) > s->cap) {
        int64_t *ok = s->keys;
        struct pp_cv_slot **ov = s->vals;
        size_t ocap = s->cap;
        s->cap *= 2;
        s->keys = pp_xmalloc(s->cap * sizeof *s->keys);
        s->vals = pp_xcalloc(s->cap, sizeof *s->vals);
        for (size_t i = 0; i < s->cap; i++)
            s->keys[i] = -1;
        s->n = 0;
        for (size_t i = 0; i < ocap; i++)
            if (ok[i] >= 0)
                map_insert(s, ok[i], ov[i]);
        free(ok);
        free(ov);
    }
    struct pp_cv_slot *slot;
    if (s->n_free) {
        slot = s->free_list[--s->n_free];
    } else {
        slot = pp_xcalloc(1, sizeof *slot);
        slot->dbl = pp_xcalloc(s->n_dbl ? s->n_dbl : 1, sizeof *slot->dbl);
        slot->ints = pp_xcalloc(s->n_int ? s->n_int : 1, sizeof *slot->ints);
        s->all = pp_xgrow(s->all, &s->cap_all, s->n_all + 1, sizeof *s->all);
        s->all[s->n_all++] = slot;
        s->free_list = pp_xrealloc(s->free_list, s->n_all * sizeof *s->free_list);
    }
    slot->mb = mb;
    slot->reads = slot->grads = 0;
    memset(slot->dbl, 0, s->n_dbl * sizeof *slot->dbl);
    memset(slot->ints, 0, s->n_int * sizeof *slot->ints);
    map_insert(s, mb, slot);
    return slot;
}

void pp_cv_slots_release(struct pp_cv_slots *s, struct pp_cv_slot *slot)
{
    size_t i = slot_hash(slot->mb, s->cap);
    while (s->keys[i] != slot->mb)
        i = (i + 1) & (s->cap - 1);
    /* backward-shift deletion keeps every probe chain unbroken */
    for (size_t j = (i + 1) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->keys[j] < 0)
            break;
        size_t h = slot_hash(s->keys[j], s->cap);
        /* move j into the hole i unless its home h lies cyclically in (i, j] */
        int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!stays) {
            s->keys[i] = s->keys[j];
            s->vals[i] = s->vals[j];
            i = j;
        }
    }
    s->keys[i] = -1;
    s->vals[i] = NULL;
    s->n--;
    s->free_list[s->n_free++] = slot;
}

size_t pp_cv_slots_bytes(const struct pp_cv_slots *s)
{
    return s->n_all * (sizeof(struct pp_cv_slot) + s->n_dbl * sizeof(double) +
                       s->n_int * sizeof(int64_t) + 2 * sizeof(void *)) +
           s->cap * (sizeof(int64_t) + sizeof(void *));
}

/* ---- trace replay ----------------------------------------------------------- */

struct replay {
    struct pp_cv_ctx c;
    const struct pp_wtrace *t;
    int R;              /* replicas holding weights */
    double *w;          /* [R * dim] */
    double *acc;        /* ACCUMULATE/DOUBLE: [dim] summed gradients */
    int64_t *acc_n;     /* [blocks] GRADs in acc */
    int64_t *applied;   /* DOUBLE: [blocks] batches applied */
    double *versions;   /* DOUBLE: [DBL_VERSIONS * dim], version v of block b in row v % 4 */
    double *mean;       /* LOCAL: [dim] the replicas' mean */
    double *g;          /* [dim] one block gradient */
    size_t rows;
    struct pp_cv_slots slots; /* dbl: act[rows] gout[rows] stash[dim] */
    int64_t done_mbs;   /* microbatches whose every GRAD is done */
    gsl_rng *noise;
    int dirty;          /* weights changed since `value` */
    double value;
};

/* r->mean = the replicas' mean, summed in replica order. */
static void replica_mean(struct replay *r)
{
    size_t dim = r->c.dim;
    memcpy(r->mean, r->w, dim * sizeof *r->mean);
    for (int q = 1; q < r->R; q++)
        for (size_t j = 0; j < dim; j++)
            r->mean[j] += r->w[(size_t)q * dim + j];
    for (size_t j = 0; j < dim; j++)
        r->mean[j] /= r->R;
}

/* f - f* at the current weights (the replicas' mean under LOCAL); cached
 * until the weights change. */
static double current_value(struct replay *r)
{
    if (!r->dirty)
        return r->value;
    const double *w = r->w;
    if (r->R > 1) {
        replica_mean(r);
        w = r->mean;
    }
    r->value = pp_cv_eval(&r->c, w);
    r->dirty = 0;
    return r->value;
}

static int bad_trace(struct pp_diag *d, const char *what, const struct pp_wevent *e)
{
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                       "malformed weight trace: %s (event kind %d, block %d, microbatch %lld)", what,
                       (int)e->kind, (int)e->block, (long long)e->mb);
}

static int on_read(struct replay *r, const struct pp_wevent *e, struct pp_diag *d)
{
    const struct pp_objective *o = r->c.o;
    struct pp_cv_slot *s = pp_cv_slots_find(&r->slots, e->mb);
    if (!s)
        s = pp_cv_slots_add(&r->slots, e->mb);
    if (s->reads >= r->c.blocks)
        return bad_trace(d, "a block read twice by one microbatch", e);
    size_t first = pp_objective_block_first(o, e->block), len = pp_objective_block_len(o, e->block);
    const double *src;
    if (r->t->sem == PP_WSEM_DOUBLE) {
        int64_t have = r->applied[e->block], v = e->version < 0 ? have : e->version;
        if (v > have || v < have - (DBL_VERSIONS - 1))
            return bad_trace(d, "a 2BW read of a weight version not kept", e);
        src = r->versions + (size_t)(v % DBL_VERSIONS) * r->c.dim + first;
    } else {
        int q = r->R > 1 ? e->replica : 0;
        if (q < 0 || q >= r->R)
            return bad_trace(d, "a replica out of range", e);
        src = r->w + (size_t)q * r->c.dim + first;
    }
    double *act = s->dbl, *gout = s->dbl + r->rows, *stash = s->dbl + 2 * r->rows + first;
    memcpy(stash, src, len * sizeof *stash);
    pp_objective_forward(o, e->mb, e->block, stash, act);
    if (++s->reads == r->c.blocks)
        pp_objective_output_grad(o, e->mb, act, gout);
    return 0;
}

/* Log one update; 1 when the run diverged. */
static int logged_update(struct replay *r, const struct pp_wevent *e)
{
    struct pp_cv_result *res = r->c.res;
    res->n_updates++;
    r->dirty = 1;
    if (r->c.opts->log_updates && res->n_updates % r->c.every == 0)
        pp_cv_curve_push(&res->by_update, res->n_updates, (double)e->key_ns / NS_PER_MS,
                         current_value(r));
    return res->diverged;
}

static int on_grad(struct replay *r, const struct pp_wevent *e, int *stop, struct pp_diag *d)
{
    const struct pp_objective *o = r->c.o;
    struct pp_cv_slot *s = pp_cv_slots_find(&r->slots, e->mb);
    if (!s || s->reads < r->c.blocks)
        return bad_trace(d, "a gradient before the microbatch's forwards", e);
    size_t first = pp_objective_block_first(o, e->block), len = pp_objective_block_len(o, e->block);
    double *gout = s->dbl + r->rows, *stash = s->dbl + 2 * r->rows + first;
    pp_objective_block_grad(o, e->mb, e->block, stash, gout, r->g, r->noise);
    switch (r->t->sem) {
    case PP_WSEM_IMMEDIATE:
    case PP_WSEM_LOCAL: {
        int q = r->R > 1 ? e->replica : 0;
        pp_cv_sgd_step(r->w + (size_t)q * r->c.dim + first, r->c.opts->gamma, r->g, len);
        *stop = logged_update(r, e);
        break;
    }
    default:
        for (size_t j = 0; j < len; j++)
            r->acc[first + j] += r->g[j];
        r->acc_n[e->block]++;
    }
    if (++s->grads == r->c.blocks) {
        pp_cv_slots_release(&r->slots, s);
        r->done_mbs++;
    }
    return 0;
}

/* Expected GRADs in the batch an APPLY closes (ACCUMULATE: every batch is
 * full; DOUBLE: the last one may be short). */
static int64_t batch_size(const struct replay *r, const struct pp_wevent *e)
{
    int64_t M = r->t->batch_microbatches;
    if (r->t->sem == PP_WSEM_DOUBLE) {
        int64_t left = r->t->n_microbatches - e->mb * M;
        return left < M ? left : M;
    }
    return M;
}

static int on_apply(struct replay *r, const struct pp_wevent *e, int *stop, struct pp_diag *d)
{
    if (r->t->sem != PP_WSEM_ACCUMULATE && r->t->sem != PP_WSEM_DOUBLE)
        return bad_trace(d, "an APPLY outside a synchronous or 2BW trace", e);
    int b = e->block;
    int64_t n = r->acc_n[b];
    /* An APPLY that does not close a whole batch means the trace put it before
     * some of the batch's gradients: refuse rather than average the wrong set. */
    if (n != batch_size(r, e))
        return bad_trace(d, "an APPLY that does not follow all of its batch's gradients", e);
    const struct pp_objective *o = r->c.o;
    size_t first = pp_objective_block_first(o, b), len = pp_objective_block_len(o, b);
    for (size_t j = 0; j < len; j++) {
        r->g[j] = r->acc[first + j] / (double)n;
        r->acc[first + j] = 0;
    }
    r->acc_n[b] = 0;
    pp_cv_sgd_step(r->w + first, r->c.opts->gamma, r->g, len);
    if (r->t->sem == PP_WSEM_DOUBLE) {
        int64_t v = ++r->applied[b];
        memcpy(r->versions + (size_t)(v % DBL_VERSIONS) * r->c.dim + first, r->w + first,
               len * sizeof *r->w);
    }
    *stop = logged_update(r, e);
    return 0;
}

static int on_average(struct replay *r, const struct pp_wevent *e, struct pp_diag *d)
{
    if (r->t->sem != PP_WSEM_LOCAL)
        return bad_trace(d, "an AVERAGE outside a LocalSGD trace", e);
    /* averaging happens once the round's microbatches are all done (§4.1) */
    if (e->mb >= 0 && r->done_mbs != e->mb + 1)
        return bad_trace(d, "an AVERAGE before its round's gradients", e);
    if (r->R == 1)
        return 0;
    replica_mean(r);
    size_t dim = r->c.dim;
    for (int q = 0; q < r->R; q++)
        memcpy(r->w + (size_t)q * dim, r->mean, dim * sizeof *r->w);
    r->dirty = 1;
    return 0;
}

static void replay_free(struct replay *r)
{
    free(r->w);
    free(r->acc);
    free(r->acc_n);
    free(r->applied);
    free(r->versions);
    free(r->mean);
    free(r->g);
    pp_cv_slots_free(&r->slots);
    if (r->noise)
        gsl_rng_free(r->noise);
}

static int run_trace(const struct pp_objective *o, const struct pp_wtrace *t,
                     const struct pp_cv_opts *opts, struct pp_cv_result *res, struct pp_diag *d)
{
    struct replay r;
    memset(&r, 0, sizeof r);
    int rc = pp_cv_begin(&r.c, o, opts, res, opts->w0, d);
    if (rc)
        return rc;
    if (t->n_blocks != r.c.blocks)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "the trace has %d model pieces but the objective %d blocks", t->n_blocks,
                           r.c.blocks);
    if ((t->sem == PP_WSEM_ACCUMULATE || t->sem == PP_WSEM_DOUBLE) && t->batch_microbatches < 1)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "the trace has no batch size");
    size_t dim = r.c.dim;
    r.t = t;
    r.R = t->sem == PP_WSEM_LOCAL && t->replicas > 1 ? t->replicas : 1;
    r.rows = (size_t)pp_objective_batch_rows(o);
    r.w = pp_xmalloc((size_t)r.R * dim * sizeof *r.w);
    for (int q = 0; q < r.R; q++) {
        if (opts->w0)
            memcpy(r.w + (size_t)q * dim, opts->w0, dim * sizeof *r.w);
        else
            memset(r.w + (size_t)q * dim, 0, dim * sizeof *r.w);
    }
    size_t bytes = (size_t)r.R * dim * sizeof(double);
    r.g = pp_xcalloc(dim, sizeof *r.g);
    bytes += dim * sizeof(double);
    if (r.R > 1) {
        r.mean = pp_xcalloc(dim, sizeof *r.mean);
        bytes += dim * sizeof(double);
    }
    if (t->sem == PP_WSEM_ACCUMULATE || t->sem == PP_WSEM_DOUBLE) {
        r.acc = pp_xcalloc(dim, sizeof *r.acc);
        r.acc_n = pp_xcalloc((size_t)r.c.blocks, sizeof *r.acc_n);
        bytes += dim * sizeof(double) + (size_t)r.c.blocks * sizeof(int64_t);
    }
    if (t->sem == PP_WSEM_DOUBLE) {
        r.applied = pp_xcalloc((size_t)r.c.blocks, sizeof *r.applied);
        r.versions = pp_xmalloc(DBL_VERSIONS * dim * sizeof *r.versions);
        memcpy(r.versions, r.w, dim * sizeof *r.w);
        bytes += DBL_VERSIONS * dim * sizeof(double) + (size_t)r.c.blocks * sizeof(int64_t);
    }
    pp_cv_slots_init(&r.slots, 2 * r.rows + dim, 0);
    r.noise = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r.noise, (unsigned long)opts->noise_seed);
    r.value = res->initial_value;

    pp_time budget_ns = opts->budget_ms > 0 && isfinite(opts->budget_ms)
                            ? (pp_time)llround(opts->budget_ms * NS_PER_MS)
                            : INT64_MAX;
    int steps = opts->log_steps, grid = steps && opts->step_ms > 0;
    double step_ns = grid ? opts->step_ms * NS_PER_MS : 0;
    int64_t j = 0; /* grid: the next point */
    if (steps && !grid)
        pp_cv_curve_push(&res->by_step, 0, 0.0, r.value);
    if (opts->log_updates)
        pp_cv_curve_push(&res->by_update, 0, 0.0, r.value);
    pp_time last_key = 0;
    int any = 0, stop = 0;
    for (size_t k = 0; k < t->n_ev && rc == 0 && !stop; k++) {
        const struct pp_wevent *e = &t->ev[k];
        /* an op counts when it ends within the budget: keys are start times
         * under the paper's convention, so an op keyed at the budget itself
         * runs in the step after it */
        if (e->key_ns > budget_ns)
            break;
        if (e->end_ns > budget_ns)
            continue;
        if (e->mb < 0 && e->kind != PP_WEV_AVERAGE) {
            rc = bad_trace(d, "a negative microbatch", e);
            break;
        }
        if (e->kind != PP_WEV_AVERAGE && (e->block < 0 || e->block >= r.c.blocks)) {
            rc = bad_trace(d, "a block out of range", e);
            break;
        }
        /* point j (time t) holds every event with key < t and the APPLY /
         * AVERAGE at t itself: a sync at a step boundary ends that step */
        int sync = e->kind == PP_WEV_APPLY || e->kind == PP_WEV_AVERAGE;
        for (; grid && ((double)j * step_ns < (double)e->key_ns ||
                        ((double)j * step_ns == (double)e->key_ns && !sync));
             j++) {
            pp_cv_curve_push(&res->by_step, res->n_updates, (double)j * opts->step_ms,
                             current_value(&r));
            if (res->diverged)
                break;
        }
        if (res->diverged)
            break;
        switch (e->kind) {
        case PP_WEV_READ:
            rc = on_read(&r, e, d);
            break;
        case PP_WEV_GRAD:
            rc = on_grad(&r, e, &stop, d);
            break;
        case PP_WEV_APPLY:
            rc = on_apply(&r, e, &stop, d);
            break;
        case PP_WEV_AVERAGE:
            rc = on_average(&r, e, d);
            break;
        default:
            rc = bad_trace(d, "an unknown event kind", e);
        }
        any = 1;
        last_key = e->key_ns;
        if (rc || stop)
            break;
        if (steps && !grid &&
            (k + 1 == t->n_ev || t->ev[k + 1].key_ns != e->key_ns)) {
            pp_cv_curve_push(&res->by_step, res->n_updates, (double)e->key_ns / NS_PER_MS,
                             current_value(&r));
            stop = res->diverged;
        }
    }
    if (rc == 0 && !res->diverged) {
        /* grid: every point before the last event is out; the next one (at or
         * past the last key) holds them all */
        if (grid)
            pp_cv_curve_push(&res->by_step, res->n_updates, (double)j * opts->step_ms,
                             current_value(&r));
        struct pp_cv_curve *u = &res->by_update;
        if (!res->diverged && opts->log_updates && u->pt[u->n - 1].updates != res->n_updates)
            pp_cv_curve_push(u, res->n_updates, (double)last_key / NS_PER_MS, current_value(&r));
    }
    if (rc == 0) {
        res->final_value = current_value(&r);
        if (opts->w_final) {
            if (r.R > 1)
                replica_mean(&r);
            memcpy(opts->w_final, r.R > 1 ? r.mean : r.w, dim * sizeof *r.w);
        }
        res->final_time_ms = any ? (double)last_key / NS_PER_MS : 0.0;
        res->state_bytes = bytes + pp_cv_slots_bytes(&r.slots);
    }
    replay_free(&r);
    return rc;
}

int pp_cv_run(const struct pp_objective *o, const struct pp_cv_method *m,
              const struct pp_cv_opts *opts, struct pp_cv_result *out, struct pp_diag *d)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (m->kind == PP_CV_RPD) {
        rc = pp_cv_run_rpd(o, m, opts, out, d);
    } else if (!m->trace) {
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "a trace method needs a trace");
    } else {
        rc = run_trace(o, m->trace, opts, out, d);
    }
    if (rc)
        pp_cv_result_free(out);
    return rc;
}
