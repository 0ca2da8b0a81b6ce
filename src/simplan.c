/* simplan.c - splits scored by the event simulator (see simplan.h). */
#include "simplan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "antichain.h"
#include "costmodel.h"
#include "diag.h"
#include "limits.h"
#include "partition.h"
#include "pdgraph.h"
#include "pdplan.h"
#include "sim.h"
#include "xalloc.h"

/* Microbatches stage q of p holds at its peak under the schedule. */
static double in_flight(const struct pp_simplan_opts *o, size_t q, size_t p)
{
    size_t m = o->microbatches;
    if (o->schedule == PP_SCHED_1F1B)
        return (double)(p - q < m ? p - q : m);
    return (double)m;
}

/* Straight split into p stages minimising the slowest stage (compute, and
 * transfers at the link bandwidth) among splits whose every stage fits:
 * weights x (1 + gradient + optimizer) + activations x in-flight microbatches.
 * best[q][j]: stages 0..q cover states 0..j. Returns 0 when none fits. */
static int memory_dp(const struct pp_antichains *a, const struct pp_simplan_opts *o, size_t p,
                     size_t *cuts)
{
    size_t n = a->n_states;
    double stat = 1 + o->gradient_factor + o->optimizer_factor, M = o->memory_bytes;
    double *best = pp_xmalloc(p * n * sizeof *best);
    uint32_t *from = pp_xmalloc(p * n * sizeof *from);
    for (size_t q = 0; q < p; q++) {
        double k_q = in_flight(o, q, p);
        for (size_t j = 0; j < n; j++) {
            double *b = &best[q * n + j];
            *b = INFINITY;
            from[q * n + j] = UINT32_MAX;
            if (q == 0) {
                double mem = a->par_bytes[j] * stat + a->act_bytes[j] * k_q;
                if (M <= 0 || mem <= M)
                    *b = a->compute_s[j];
                continue;
            }
            const uint64_t *ancj = a->anc + j * a->words;
            for (size_t w = 0; w < a->words; w++)
                for (uint64_t bits = ancj[w]; bits; bits &= bits - 1) {
                    size_t k = w * 64 + (size_t)__builtin_ctzll(bits);
                    double prev = best[(q - 1) * n + k];
                    if (prev == INFINITY)
                        continue;
                    double mem = pp_state_range(a->par_bytes, k + 1, j) * stat +
                                 pp_state_range(a->act_bytes, k + 1, j) * k_q;
                    if (M > 0 && mem > M)
                        continue;
                    double t = pp_state_range(a->compute_s, k + 1, j);
                    double tr = 2.0 * a->out_bytes[k] / o->bandwidth_bps;
                    double v = fmax(prev, fmax(t, tr));
                    if (v < *b) {
                        *b = v;
                        from[q * n + j] = (uint32_t)k;
                    }
                }
        }
    }
    int ok = best[(p - 1) * n + n - 1] != INFINITY;
    if (ok) {
        size_t j = n - 1;
        for (size_t q = p; q-- > 0;) {
            cuts[q] = j + 1;
            if (q)
                j = from[q * n + j];
        }
    }
    free(best);
    free(from);
    return ok;
}

/* One layer per stage: the simulator then replays exactly this split. */
static void stage_model(const struct pp_pdgraph *g, const struct pp_antichains *a,
                        const size_t *cuts, size_t p, struct pp_costmodel *cm)
{
    size_t wn = a->node_words;
    uint64_t *prev = pp_xcalloc(wn, sizeof *prev), *cur = pp_xcalloc(wn, sizeof *cur);
    memset(cm, 0, sizeof *cm);
    cm->layers = pp_xcalloc(p, sizeof *cm->layers);
    cm->n_layers = p;
    for (size_t q = 0; q < p; q++) {
        memset(cur, 0, wn * sizeof *cur);
        pp_antichains_closure(a, cuts[q] - 1, cur);
        struct pp_layer *L = &cm->layers[q];
        for (size_t w = 0; w < wn; w++)
            for (uint64_t bits = cur[w] & ~prev[w]; bits; bits &= bits - 1) {
                const struct pp_pdnode *nd = &g->nodes[w * 64 + (size_t)__builtin_ctzll(bits)];
                L->forward_ms += nd->fwd_ms;
                L->backward_input_ms += nd->bwd_ms;
                L->activation_bytes += nd->act_bytes;
                L->parameter_bytes += nd->par_bytes;
            }
        L->bw_activation_bytes = L->activation_bytes;
        L->output_bytes = q + 1 < p ? a->out_bytes[cuts[q] - 1] : 0;
        memcpy(prev, cur, wn * sizeof *cur);
    }
    free(prev);
    free(cur);
}

static int score(const struct pp_pdgraph *g, const struct pp_antichains *a,
                 const struct pp_simplan_opts *o, struct pp_simplan_cand *c, struct pp_diag *d)
{
    struct pp_costmodel cm;
    stage_model(g, a, c->cuts, c->stages, &cm);
    size_t *counts = pp_xmalloc(c->stages * sizeof *counts);
    for (size_t q = 0; q < c->stages; q++)
        counts[q] = 1;
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_sim_result *res = NULL;
    struct pp_sched_params sp = {.stages = (int)c->stages, .chunks = 1, .microbatches = (int64_t)o->microbatches};
    struct pp_sim_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.link_bandwidth_bytes_per_s = o->bandwidth_bps;
    cfg.gradient_bytes_per_parameter_byte = o->gradient_factor;
    cfg.optimizer_state_bytes_per_parameter_byte = o->optimizer_factor;
    cfg.device_memory_bytes = o->memory_bytes;
    int rc = pp_partition_explicit(&cm, counts, c->stages, &part, d);
    if (rc == 0)
        rc = pp_plan_build(o->schedule, &sp, &plan, d);
    if (rc == 0)
        rc = pp_sim_run(plan, part, &cfg, &res, d);
    if (rc == 0) {
        /* Ring all-reduce of each stage's gradients across the d replicas,
         * after the flush: 2 (d-1)/d of the bytes over the link. */
        double worst_par = 0;
        for (size_t q = 0; q < c->stages; q++)
            worst_par = fmax(worst_par, cm.layers[q].parameter_bytes);
        c->allreduce_s = c->dp > 1 ? 2.0 * (double)(c->dp - 1) / (double)c->dp * worst_par /
                                         o->bandwidth_bps
                                   : 0;
        c->iteration_s = (double)res->makespan_ns / 1e9 + c->allreduce_s;
        c->per_minibatch_s = c->iteration_s / ((double)o->microbatches * (double)c->dp);
        c->fits = 1;
        c->peak_bytes = 0;
        for (int k = 0; k < res->n_devices; k++) {
            c->peak_bytes = fmax(c->peak_bytes, res->dev[k].peak_memory_bytes);
            if (res->dev[k].over_memory)
                c->fits = 0;
        }
    }
    pp_sim_result_free(res);
    pp_plan_free(plan);
    pp_partition_free(part);
    free(counts);
    free(cm.layers);
    return rc;
}

/* PipeDream's own straight split into p stages: 1, or 0 when it has none.
 * A stop inside its DP (-PP_EINTR, -PP_EINFEASIBLE, d saying which) is
 * returned: dropping the candidate would let a stopped search pass for a
 * finished one. */
static int pipedream_split(const struct pp_antichains *a, const struct pp_simplan_opts *o,
                           size_t p, size_t *cuts, struct pp_diag *d)
{
    struct pp_pdplan_opts po;
    memset(&po, 0, sizeof po);
    po.n_levels = 1;
    po.machines[0] = p;
    po.bandwidth_bps[0] = o->bandwidth_bps;
    po.straight = 1;
    po.compression = 1;
    struct pp_pdplan *pl;
    struct pp_diag why;
    int rc = pp_pdplan_solve(a, &po, &pl, &why);
    if (rc == -PP_EINTR || rc == -PP_EINFEASIBLE) {
        *d = why;
        return rc;
    }
    if (rc) /* a stage count its DP does not take: no candidate */
        return 0;
    int ok = pl->feasible && pl->n_leaf == p;
    for (size_t q = 0; ok && q < p; q++)
        cuts[q] = pl->stages[q].end_state;
    pp_pdplan_free(pl);
    return ok;
}

int pp_simplan_run(const struct pp_pdgraph *g, const struct pp_antichains *a,
                   const struct pp_simplan_opts *o, struct pp_simplan **out, struct pp_diag *d)
{
    struct pp_simplan *s = pp_xcalloc(1, sizeof *s);
    size_t cap = 0;
    s->best = SIZE_MAX;
    for (size_t dp = 1; dp <= o->devices; dp++) {
        if (o->devices % dp)
            continue;
        size_t p = o->devices / dp;
        if (p > a->n_states || (o->only_stages && p != o->only_stages))
            continue;
        for (int src = 0; src < 2; src++) {
            size_t *cuts = pp_xmalloc(p * sizeof *cuts);
            int ok = src == 0 ? memory_dp(a, o, p, cuts) : pipedream_split(a, o, p, cuts, d);
            if (ok < 0) {
                free(cuts);
                pp_simplan_free(s);
                return ok;
            }
            /* Same split twice: score it once. */
            if (ok && src == 1 && s->n_cands && s->cands[s->n_cands - 1].stages == p &&
                s->cands[s->n_cands - 1].source == PP_SP_MEMORY_DP &&
                memcmp(s->cands[s->n_cands - 1].cuts, cuts, p * sizeof *cuts) == 0)
                ok = 0;
            if (!ok) {
                free(cuts);
                continue;
            }
            s->cands = pp_xgrow(s->cands, &cap, s->n_cands + 1, sizeof *s->cands);
            struct pp_simplan_cand *c = &s->cands[s->n_cands++];
            memset(c, 0, sizeof *c);
            c->dp = dp;
            c->stages = p;
            c->source = src ? PP_SP_PIPEDREAM : PP_SP_MEMORY_DP;
            c->cuts = cuts;
            int rc = pp_limits_stop() ? pp_limits_stopped(d, "while scoring plans") : 0;
            if (rc == 0)
                rc = score(g, a, o, c, d);
            if (rc) {
                pp_simplan_free(s);
                return rc;
            }
            if (c->fits && (s->best == SIZE_MAX ||
                            c->per_minibatch_s < s->cands[s->best].per_minibatch_s))
                s->best = s->n_cands - 1;
        }
    }
    *out = s;
    return 0;
}

void pp_simplan_free(struct pp_simplan *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_cands; i++)
        free(s->cands[i].cuts);
    free(s->cands);
    free(s);
}
