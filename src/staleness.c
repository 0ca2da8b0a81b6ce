/* staleness.c - delays k - j_k^(i) of every block update (staleness.h). */
#include "staleness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "limits.h"
#include "partition.h"
#include "schedule.h"
#include "sim.h"
#include "xalloc.h"

/* A growable histogram of integer delays: percentiles without keeping every
 * delay (there are updates * S of them). */
struct hist {
    int64_t *n;
    int64_t len;
    int64_t count, max;
    double sum;
};

static void hist_add(struct hist *h, int64_t v)
{
    if (v >= h->len) {
        int64_t len = h->len ? h->len : 256;
        while (len <= v)
            len *= 2;
        h->n = pp_xrealloc(h->n, (size_t)len * sizeof *h->n);
        memset(h->n + h->len, 0, (size_t)(len - h->len) * sizeof *h->n);
        h->len = len;
    }
    h->n[v]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

/* The value of 0-based rank `rank` in the sorted multiset. */
static int64_t hist_value_at(const int64_t *hist, int64_t n_hist, int64_t rank)
{
    int64_t seen = 0;
    for (int64_t v = 0; v < n_hist; v++) {
        seen += hist[v];
        if (seen > rank)
            return v;
    }
    return n_hist - 1;
}

double pp_hist_percentile(const int64_t *hist, int64_t n_hist, double q)
{
    int64_t total = 0;
    for (int64_t v = 0; v < n_hist; v++)
        total += hist[v];
    if (total == 0)
        return 0;
    /* numpy's 'linear': position q/100 * (total - 1) between sorted values */
    double pos = q / 100.0 * (double)(total - 1);
    int64_t lo = (int64_t)floor(pos), hi = lo + 1 < total ? lo + 1 : lo;
    double v_lo = (double)hist_value_at(hist, n_hist, lo);
    double v_hi = (double)hist_value_at(hist, n_hist, hi);
    return v_lo + (pos - (double)lo) * (v_hi - v_lo);
}

/* Per (microbatch, block) what its forward read: the update count it saw. */
struct reads {
    int64_t *seen;   /* [mb * S + i] */
    int64_t *own;    /* [mb * S + i]: block i's own versions seen */
    pp_time *at_ns;  /* [mb * S + i]: when the forward started */
};

/* The group a GRAD belongs to under grouped semantics (staleness.h). */
static int64_t grad_group(const struct pp_wtrace *t, const struct pp_wevent *e)
{
    if (t->sem == PP_WSEM_LOCAL)
        return e->mb / t->replicas; /* the replica's local step */
    return e->mb / t->batch_microbatches;
}

int pp_staleness_compute(const struct pp_wtrace *t, const struct pp_sim_result *sim,
                         struct pp_staleness **out, struct pp_diag *d)
{
    int S = t->n_blocks;
    int64_t N = t->n_microbatches;
    if (S < 1 || N < 1)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "nothing to measure: %d blocks, %lld microbatches",
                           S, (long long)N);
    size_t cells = (size_t)N * (size_t)S;
    struct reads r = {pp_xmalloc(cells * sizeof *r.seen), pp_xmalloc(cells * sizeof *r.own),
                      pp_xmalloc(cells * sizeof *r.at_ns)};
    for (size_t c = 0; c < cells; c++)
        r.seen[c] = -1;
    int64_t total_updates = 0;
    for (size_t k = 0; k < t->n_ev; k++)
        total_updates += t->ev[k].kind == PP_WEV_GRAD;

    struct pp_staleness *st = pp_xcalloc(1, sizeof *st);
    st->n_blocks = S;
    st->sem = t->sem;
    st->n_updates = total_updates;
    st->steady_mb = N / 2;
    st->delay_matrix = pp_xcalloc((size_t)S * (size_t)S, sizeof *st->delay_matrix);
    st->delay_ms_matrix = pp_xcalloc((size_t)S * (size_t)S, sizeof *st->delay_ms_matrix);
    st->own_stage = pp_xcalloc((size_t)S, sizeof *st->own_stage);

    /* Counters: IMMEDIATE counts block updates (globally, and per block for
     * own-stage staleness); grouped semantics count applied groups per block
     * (ACCUMULATE, DOUBLE) or finished local steps per replica (LOCAL). */
    int64_t k_global = 0;
    int64_t *per_block = pp_xcalloc((size_t)S, sizeof *per_block);
    int64_t *per_replica = pp_xcalloc((size_t)t->replicas, sizeof *per_replica);
    struct hist run = {0}, half = {0};
    int64_t half_from = total_updates / 2; /* the paper code keeps updates[K//2:] */
    int rc = 0;
    for (size_t k = 0; k < t->n_ev && rc == 0; k++) {
        const struct pp_wevent *e = &t->ev[k];
        size_t cell = (size_t)e->mb * (size_t)S + (size_t)e->block;
        switch (e->kind) {
        case PP_WEV_APPLY:
            per_block[e->block]++;
            break;
        case PP_WEV_AVERAGE:
            break;
        case PP_WEV_READ:
            r.at_ns[cell] = e->start_ns;
            if (t->sem == PP_WSEM_IMMEDIATE) {
                r.seen[cell] = k_global;
                r.own[cell] = per_block[e->block];
            } else if (t->sem == PP_WSEM_LOCAL) {
                r.seen[cell] = r.own[cell] = per_replica[e->replica];
            } else if (t->sem == PP_WSEM_DOUBLE) {
                r.seen[cell] = r.own[cell] = e->version;
            } else {
                r.seen[cell] = r.own[cell] = per_block[e->block];
            }
            break;
        case PP_WEV_GRAD: {
            int s = e->block;
            int64_t k_upd, own;
            size_t row = (size_t)e->mb * (size_t)S;
            if (t->sem == PP_WSEM_IMMEDIATE) {
                k_upd = k_global;
                own = per_block[s] - r.own[row + (size_t)s];
                per_block[s]++;
            } else {
                int64_t g = grad_group(t, e);
                own = g - r.own[row + (size_t)s];
                k_upd = g;
                if (t->sem == PP_WSEM_LOCAL && s == 0)
                    per_replica[e->replica]++;
            }
            for (int i = 0; i < S && rc == 0; i++) {
                int64_t seen = r.seen[row + (size_t)i];
                if (seen < 0) {
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "block %d of microbatch %lld is updated before its forward "
                                     "on stage %d read the weights",
                                     s + 1, (long long)e->mb, i + 1);
                    break;
                }
                /* grouped semantics count S block updates per group */
                int64_t delay = t->sem == PP_WSEM_IMMEDIATE ? k_upd - seen : (k_upd - seen) * S;
                if (delay < 0)
                    rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                     "microbatch %lld reads stage %d weights from the future",
                                     (long long)e->mb, i + 1);
                if (rc)
                    break;
                hist_add(&run, delay);
                if (k_global >= half_from)
                    hist_add(&half, delay);
                if (e->mb == st->steady_mb) {
                    st->delay_matrix[(size_t)s * (size_t)S + (size_t)i] = delay;
                    st->delay_ms_matrix[(size_t)s * (size_t)S + (size_t)i] =
                        (double)(e->end_ns - r.at_ns[row + (size_t)i]) / 1e6;
                }
            }
            if (e->mb == st->steady_mb)
                st->own_stage[s] = own;
            k_global++;
            break;
        }
        }
    }
    free(r.seen);
    free(r.own);
    free(r.at_ns);
    free(per_block);
    free(per_replica);
    if (rc == 0 && run.count == 0)
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "the timeline has no block updates");
    if (rc) {
        free(run.n);
        free(half.n);
        pp_staleness_free(st);
        return rc;
    }
    double sum = 0, sum_ms = 0;
    for (size_t c = 0; c < (size_t)S * (size_t)S; c++) {
        if (st->delay_matrix[c] > st->max_delay)
            st->max_delay = st->delay_matrix[c];
        st->max_delay_ms = fmax(st->max_delay_ms, st->delay_ms_matrix[c]);
        sum += (double)st->delay_matrix[c];
        sum_ms += st->delay_ms_matrix[c];
    }
    st->mean_delay = sum / ((double)S * S);
    st->mean_delay_ms = sum_ms / ((double)S * S);
    st->p10_delay = pp_hist_percentile(half.n, half.len, 10);
    st->run_max_delay = run.max;
    st->run_mean_delay = run.sum / (double)run.count;
    st->run_p10_delay = pp_hist_percentile(run.n, run.len, 10);
    free(run.n);
    free(half.n);
    if (sim) {
        st->n_devices = sim->n_devices;
        st->stash_versions = pp_xcalloc((size_t)sim->n_devices, sizeof *st->stash_versions);
        for (int dv = 0; dv < sim->n_devices; dv++)
            st->stash_versions[dv] = sim->dev[dv].weight_versions;
    }
    *out = st;
    return 0;
}

void pp_staleness_free(struct pp_staleness *s)
{
    if (!s)
        return;
    free(s->delay_matrix);
    free(s->delay_ms_matrix);
    free(s->own_stage);
    free(s->stash_versions);
    free(s);
}

int pp_staleness_unit(enum pp_schedule_kind kind, int stages, int64_t microbatches,
                      int64_t batch_microbatches, enum pp_wconv conv,
                      struct pp_staleness **out, struct pp_diag *d)
{
    if (stages < 2)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "stages: %d; staleness needs at least 2 stages", stages);
    int64_t N = microbatches > 0 ? microbatches : 10 * (int64_t)stages;
    int64_t M = batch_microbatches > 0 ? batch_microbatches : stages;
    /* the matrix describes microbatch N/2, which must be past the S-1
     * warm-up forwards and clear of the drain */
    if (N < 2 * (int64_t)stages)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "microbatches: %lld; the steady state needs at least 2 x stages = %lld",
                           (long long)N, 2 * (long long)stages);
    /* the replay keeps spans (240 B per op, as run.c estimates) and the
     * counters 24 B per (microbatch, block) */
    double need = 2.0 * stages * (double)N * 240 + (double)N * stages * 24;
    if (need > pp_limits_max_memory())
        return pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                           "%d stages x %lld microbatches need an estimated %.3g GB, more than "
                           "the %.3g GB --max-memory allows",
                           stages, (long long)N, need / 1e9, pp_limits_max_memory() / 1e9);
    /* F = B = 1 step; split-backward schedules get half a step for each half */
    struct pp_partition part = {pp_xcalloc((size_t)stages, sizeof(struct pp_piece)),
                                (size_t)stages};
    for (int s = 0; s < stages; s++) {
        struct pp_piece *pc = &part.pieces[s];
        pc->first_layer = (size_t)s;
        pc->n_layers = 1;
        pc->forward_ms = 1;
        pc->backward_input_ms = 0.5;
        pc->backward_weight_ms = 0.5;
        pc->fused_backward_ms = 1;
        pc->split_backward = 1;
    }
    struct pp_sched_params p = {0};
    p.stages = stages;
    p.chunks = 1;
    p.microbatches = N;
    p.costs = &part;
    struct pp_plan *plan = NULL;
    struct pp_sim_result *res = NULL;
    struct pp_wtrace *t = NULL;
    struct pp_sim_config cfg = {0};
    cfg.record_spans = 1;
    cfg.latency_only = 1;
    struct pp_wtrace_opts wo = {conv, 1, kind == PP_SCHED_PIPEDREAM_2BW ? M : 0};
    int rc = pp_plan_build(kind, &p, &plan, d);
    if (rc == 0)
        rc = pp_sim_run(plan, &part, &cfg, &res, d);
    if (rc == 0)
        rc = pp_wtrace_build(plan, res, &wo, &t, d);
    if (rc == 0)
        rc = pp_staleness_compute(t, res, out, d);
    pp_wtrace_free(t);
    pp_sim_result_free(res);
    pp_plan_free(plan);
    free(part.pieces);
    return rc;
}
