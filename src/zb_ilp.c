/* zb_ilp.c - the exact Zero Bubble ILP over per-stage op orders
 * (schedules.md §2.8: ZB paper App. G eqs (3)-(7), the ZB repository's
 * auto_schedule.py build_ilp, which the repository itself leaves disabled).
 *
 * Graph: 3pm nodes F/B/W(j, a) with F(j,a) <- F(j-1,a) + T_comm, F(j,a-1);
 * B(j,a) <- B(j+1,a) + T_comm (last stage: F(j,a)), F(j,a), B(j,a-1);
 * W(j,a) <- B(j,a), W(j,a-1). Variables: a start time per node, one binary
 * per same-stage pair with no precedence (F(j,a)/B(j,b), F(j,a)/W(j,b),
 * B(j,a)/W(j,b), b < a) with a big-M disjunction, Z >= every stage's span.
 * Memory: after each node the sum of the deltas of the nodes before it
 * (F: +M_B, B: M_W - M_B, W: -M_W) stays within the limit.
 *
 * Two departures make the ILP's optimum the engine's replay span:
 * - F(j,0), the first op of stage j, is pinned to its as-soon-as-possible
 *   start, because the engine never delays it and a delayed first op would
 *   shorten the span only on paper;
 * - the order returned is read off the start times and re-timed as soon as
 *   possible (as the engine runs it); that span is what is compared.
 *
 * Determinism: GLPK's branch and bound has no randomness; the only limit is a
 * node count (never a clock), and sizes are capped so that small cases finish
 * (the stats say whether the search proved optimality). */
#include "zb_ilp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "partition.h"
#include "pp_config.h"
#include "sched_zb_auto.h"
#include "schedule.h"
#include "sim.h"
#include "xalloc.h"

#if PP_HAVE_GLPK
#include <glpk.h>
#endif

struct ilp_in {
    int p;
    int64_t m;
    int64_t cost[3 * 64]; /* [3j + type], time units of `unit` ns */
    int64_t mem[3 * 64];  /* [3j + type], bytes */
    int64_t limit[64];
    int64_t comm;
    int64_t unit;
};

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The heuristic's cost and memory model (sched_zb_auto.c stage_costs), with
 * times divided by their common divisor to keep big-M small. */
static int load(const struct pp_sched_params *p, double comm_ms, struct ilp_in *in)
{
    memset(in, 0, sizeof *in);
    in->p = p->stages;
    in->m = p->microbatches;
    int64_t comm = pp_ms_to_ns(comm_ms), g = comm;
    for (int j = 0; j < in->p; j++) {
        int64_t mb = 2, mw = 1, c[3] = {1, 1, 1};
        if (p->costs) {
            const struct pp_piece *pc = &p->costs->pieces[j];
            c[0] = pp_ms_to_ns(pc->forward_ms);
            c[1] = pp_ms_to_ns(pc->backward_input_ms);
            c[2] = pp_ms_to_ns(pc->backward_weight_ms);
            mb = llround(pc->activation_bytes);
            mw = llround(pc->bw_activation_bytes);
        }
        for (int k = 0; k < 3; k++) {
            if (c[k] <= 0)
                return -1;
            in->cost[3 * j + k] = c[k];
            g = gcd64(g, c[k]);
        }
        in->mem[3 * j + 0] = mb;
        in->mem[3 * j + 1] = mw - mb;
        in->mem[3 * j + 2] = -mw;
        in->limit[j] = p->memory_limit_bytes > 0 ? (int64_t)floor(p->memory_limit_bytes)
                                                 : (int64_t)in->p * mb;
    }
    in->unit = g;
    in->comm = comm / g;
    for (int k = 0; k < 3 * in->p; k++)
        in->cost[k] /= g;
    return 0;
}

#define NODE(in, j, k, a) ((((size_t)(j) * 3 + (size_t)(k)) * (size_t)(in)->m) + (size_t)(a))

/* Time seq as soon as possible, as the engine replays it (latency-only
 * links). Returns the largest stage span in units, or -1 when the order
 * deadlocks or breaks a memory limit. start[] (3pm) receives the starts. */
static int64_t asap(const struct ilp_in *in, const uint8_t *seq, int64_t *start)
{
    int p = in->p;
    int64_t m = in->m, n = 3 * m;
    size_t cells = (size_t)p * 3 * (size_t)m;
    int64_t *end = pp_xmalloc_big(cells * sizeof *end);
    int64_t pos[64] = {0}, cnt[64 * 3] = {0}, free_at[64] = {0}, mem[64] = {0};
    for (size_t i = 0; i < cells; i++)
        end[i] = -1;
    int64_t left = (int64_t)p * n, span = 0;
    int progress = 1;
    while (left > 0 && progress) {
        progress = 0;
        for (int j = 0; j < p; j++) {
            while (pos[j] < n) {
                int k = seq[(size_t)j * (size_t)n + (size_t)pos[j]];
                int64_t a = cnt[3 * j + k], t = free_at[j];
                if (a >= m)
                    goto fail;
                int64_t dep[2] = {-2, -2}, lat[2] = {0, 0};
                if (k == PP_ZB_OP_F && j > 0) {
                    dep[0] = end[NODE(in, j - 1, 0, a)];
                    lat[0] = in->comm;
                } else if (k == PP_ZB_OP_B) {
                    dep[0] = end[NODE(in, j, 0, a)];
                    if (j + 1 < p) {
                        dep[1] = end[NODE(in, j + 1, 1, a)];
                        lat[1] = in->comm;
                    }
                } else if (k == PP_ZB_OP_W) {
                    dep[0] = end[NODE(in, j, 1, a)];
                }
                if (dep[0] == -1 || dep[1] == -1)
                    break;
                for (int q = 0; q < 2; q++)
                    if (dep[q] >= 0 && dep[q] + lat[q] > t)
                        t = dep[q] + lat[q];
                mem[j] += in->mem[3 * j + k];
                if (mem[j] > in->limit[j])
                    goto fail;
                start[NODE(in, j, k, a)] = t;
                end[NODE(in, j, k, a)] = free_at[j] = t + in->cost[3 * j + k];
                cnt[3 * j + k]++;
                pos[j]++;
                left--;
                progress = 1;
            }
        }
    }
    if (left > 0)
        goto fail;
    for (int j = 0; j < p; j++) {
        int64_t s = free_at[j] - start[NODE(in, j, 0, 0)];
        span = s > span ? s : span;
    }
    free(end);
    return span;
fail:
    free(end);
    return -1;
}

int pp_zb_ilp_available(void)
{
    return PP_HAVE_GLPK;
}

#if PP_HAVE_GLPK

struct pair {
    int x, y; /* node ids; the binary is 1 when x runs before y */
};

struct ilp {
    const struct ilp_in *in;
    glp_prob *lp;
    struct pair *pairs;
    int n_pairs;
    double *warm; /* [1 + n_cols]: the heuristic as a GLPK column vector */
    int warm_given;
    int nodes;
};

static void ilp_cb(glp_tree *tree, void *info)
{
    struct ilp *s = info;
    int a_cnt, n_cnt, t_cnt;
    glp_ios_tree_size(tree, &a_cnt, &n_cnt, &t_cnt);
    s->nodes = t_cnt;
    if (glp_ios_reason(tree) == GLP_IHEUR && !s->warm_given) {
        s->warm_given = 1;
        glp_ios_heur_sol(tree, s->warm);
    }
    if (glp_ios_reason(tree) == GLP_ISELECT && t_cnt >= PP_ZB_ILP_MAX_NODES)
        glp_ios_terminate(tree);
}

/* Add row: sum coef*col (cols 1-based) >= / <= rhs. */
static void add_row(glp_prob *lp, int n, const int *ind, const double *val, int type, double rhs)
{
    /* GLPK's arrays are 1-based */
    int *ind1 = pp_xcalloc((size_t)n + 1, sizeof *ind1);
    double *val1 = pp_xcalloc((size_t)n + 1, sizeof *val1);
    memcpy(ind1 + 1, ind, (size_t)n * sizeof *ind);
    memcpy(val1 + 1, val, (size_t)n * sizeof *val);
    int r = glp_add_rows(lp, 1);
    glp_set_row_bnds(lp, r, type, type == GLP_LO ? rhs : 0, type == GLP_UP ? rhs : 0);
    glp_set_mat_row(lp, r, n, ind1, val1);
    free(ind1);
    free(val1);
}

/* s_to >= s_from + gap */
static void prec(glp_prob *lp, int to, int from, double gap)
{
    int ind[2] = {to, from};
    double val[2] = {1, -1};
    add_row(lp, 2, ind, val, GLP_LO, gap);
}

static void build(struct ilp *s, int64_t zub, const int64_t *offset)
{
    const struct ilp_in *in = s->in;
    int p = in->p;
    int64_t m = in->m;
    int nn = (int)(3 * (int64_t)p * m), zc = nn + 1;
    glp_prob *lp = s->lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_cols(lp, nn + 1 + s->n_pairs);
    for (int j = 0; j < p; j++)
        for (int k = 0; k < 3; k++)
            for (int64_t a = 0; a < m; a++) {
                int c = 1 + (int)NODE(in, j, k, a);
                /* every op of stage j runs inside [offset_j, offset_j + Z] */
                double lo = (double)offset[j], hi = (double)(offset[j] + zub - in->cost[3 * j + k]);
                if (k == 0 && a == 0)
                    glp_set_col_bnds(lp, c, GLP_FX, lo, lo);
                else
                    glp_set_col_bnds(lp, c, GLP_DB, lo, hi);
            }
    glp_set_col_bnds(lp, zc, GLP_DB, 0, (double)zub);
    glp_set_obj_coef(lp, zc, 1);
    for (int q = 0; q < s->n_pairs; q++)
        glp_set_col_kind(lp, zc + 1 + q, GLP_BV);
    for (int j = 0; j < p; j++) {
        const int64_t *c = &in->cost[3 * j];
        for (int64_t a = 0; a < m; a++) {
            int f = 1 + (int)NODE(in, j, 0, a), b = 1 + (int)NODE(in, j, 1, a),
                w = 1 + (int)NODE(in, j, 2, a);
            if (j > 0)
                prec(lp, f, 1 + (int)NODE(in, j - 1, 0, a), (double)(in->cost[3 * (j - 1)] + in->comm));
            if (j + 1 < p)
                prec(lp, b, 1 + (int)NODE(in, j + 1, 1, a),
                     (double)(in->cost[3 * (j + 1) + 1] + in->comm));
            prec(lp, b, f, (double)c[0]);
            prec(lp, w, b, (double)c[1]);
            if (a > 0) {
                prec(lp, f, f - 1, (double)c[0]);
                prec(lp, b, b - 1, (double)c[1]);
                prec(lp, w, w - 1, (double)c[2]);
            }
        }
        /* Z >= end of the stage's last W - start of its first F (eq. 3) */
        int ind[2] = {zc, 1 + (int)NODE(in, j, 2, m - 1)};
        double val[2] = {1, -1};
        add_row(lp, 2, ind, val, GLP_LO, (double)(c[2] - offset[j]));
    }
    /* eq. (5)/(6): x before y, or y before x */
    for (int q = 0; q < s->n_pairs; q++) {
        int x = s->pairs[q].x, y = s->pairs[q].y, o = zc + 1 + q;
        int64_t cx = in->cost[x / m], cy = in->cost[y / m];
        int ind[3] = {1 + y, 1 + x, o};
        double val[3] = {1, -1, -(double)zub};
        add_row(lp, 3, ind, val, GLP_LO, (double)(cx - zub)); /* s_y >= s_x + c_x - M(1-o) */
        int ind2[3] = {1 + x, 1 + y, o};
        double val2[3] = {1, -1, (double)zub};
        add_row(lp, 3, ind2, val2, GLP_LO, (double)cy); /* s_x >= s_y + c_y - M o */
    }
    /* eq. (7): memory after each node, over the nodes that run before it */
    size_t cap = (size_t)(3 * m + 1);
    int *ind = pp_xcalloc(cap, sizeof *ind);
    double *val = pp_xcalloc(cap, sizeof *val);
    for (int j = 0; j < p; j++)
        for (int k = 0; k < 3; k++)
            for (int64_t a = 0; a < m; a++) {
                int v = (int)NODE(in, j, k, a), n = 0;
                double rhs = (double)(in->limit[j] - in->mem[3 * j + k]);
                for (int k2 = 0; k2 < 3; k2++)
                    for (int64_t a2 = 0; a2 < m; a2++) {
                        int u = (int)NODE(in, j, k2, a2);
                        double du = (double)in->mem[3 * j + k2];
                        if (u == v)
                            continue;
                        /* precedence: same type earlier, or F->B->W of b >= a */
                        int before = (k2 == k && a2 < a) || (k2 < k && a2 <= a);
                        int after = (k2 == k && a2 > a) || (k2 > k && a2 >= a);
                        if (before)
                            rhs -= du;
                        if (before || after)
                            continue;
                        /* a free pair: find its binary (pairs are listed per stage in order) */
                        for (int q = 0; q < s->n_pairs; q++) {
                            if (s->pairs[q].x == u && s->pairs[q].y == v) {
                                ind[n] = zc + 1 + q; /* u before v when o = 1 */
                                val[n++] = du;
                                break;
                            }
                            if (s->pairs[q].x == v && s->pairs[q].y == u) {
                                ind[n] = zc + 1 + q; /* u before v when o = 0 */
                                val[n++] = -du;
                                rhs -= du;
                                break;
                            }
                        }
                    }
                if (n > 0)
                    add_row(lp, n, ind, val, GLP_UP, rhs);
            }
    free(ind);
    free(val);
}

/* Run the ILP; out receives its order when it finds a feasible one. */
static int solve(const struct ilp_in *in, const uint8_t *heur, int64_t heur_span,
                 uint8_t *out, struct pp_zb_ilp_stats *st)
{
    int p = in->p;
    int64_t m = in->m, nn = 3 * (int64_t)p * m;
    struct ilp s = {.in = in};
    s.pairs = pp_xcalloc((size_t)(3 * m * m * p + 1), sizeof *s.pairs);
    for (int j = 0; j < p; j++)
        for (int64_t a = 0; a < m; a++)
            for (int64_t b = 0; b < a; b++)
                for (int k = 0; k < 3; k++) {
                    int kx = k == 2 ? 1 : 0, ky = k == 0 ? 1 : 2; /* F/B, F/W, B/W */
                    s.pairs[s.n_pairs++] = (struct pair){(int)NODE(in, j, kx, a), (int)NODE(in, j, ky, b)};
                }
    int64_t offset[64], *start = pp_xmalloc_big((size_t)nn * sizeof *start);
    for (int j = 0; j < p; j++)
        offset[j] = j == 0 ? 0 : offset[j - 1] + in->cost[3 * (j - 1)] + in->comm;
    build(&s, heur_span, offset);
    /* warm start: the heuristic's as-soon-as-possible times and its order */
    asap(in, heur, start);
    size_t n_cols = (size_t)(nn + 1 + s.n_pairs);
    s.warm = pp_xcalloc(n_cols + 1, sizeof *s.warm);
    for (int64_t v = 0; v < nn; v++)
        s.warm[1 + v] = (double)start[v];
    s.warm[nn + 1] = (double)heur_span;
    for (int q = 0; q < s.n_pairs; q++)
        s.warm[nn + 2 + q] = start[s.pairs[q].x] < start[s.pairs[q].y];
    glp_term_out(GLP_OFF);
    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_OFF; /* the warm start is given in the original columns */
    parm.cb_func = ilp_cb;
    parm.cb_info = &s;
    parm.msg_lev = GLP_MSG_OFF;
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    int found = 0;
    if (glp_simplex(s.lp, &sp) == 0 && glp_get_status(s.lp) == GLP_OPT) {
        int rc = glp_intopt(s.lp, &parm);
        int ms = glp_mip_status(s.lp);
        st->optimal = rc == 0 && ms == GLP_OPT;
        if (ms == GLP_OPT || ms == GLP_FEAS) {
            found = 1;
            st->objective = glp_mip_obj_val(s.lp) * (double)in->unit;
            for (int64_t v = 0; v < nn; v++)
                start[v] = llround(glp_mip_col_val(s.lp, 1 + (int)v));
        }
    }
    if (found) {
        /* read each stage's order off the start times (ties: F before B before W) */
        for (int j = 0; j < p; j++) {
            uint8_t *o = out + (size_t)j * 3 * (size_t)m;
            int64_t next[3] = {0, 0, 0};
            for (int64_t q = 0; q < 3 * m; q++) {
                int bk = -1;
                for (int k = 0; k < 3; k++)
                    if (next[k] < m &&
                        (bk < 0 || start[NODE(in, j, k, next[k])] < start[NODE(in, j, bk, next[bk])]))
                        bk = k;
                o[q] = (uint8_t)bk;
                next[bk]++;
            }
        }
    }
    st->nodes = s.nodes;
    st->n_binaries = s.n_pairs;
    glp_delete_prob(s.lp);
    free(s.warm);
    free(start);
    free(s.pairs);
    return found;
}

#endif

int pp_zb_ilp_improve(const struct pp_sched_params *p, double comm_ms, const uint8_t *heur,
                      uint8_t *out, struct pp_zb_ilp_stats *st, struct pp_diag *d)
{
    struct pp_zb_ilp_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    int64_t m = p->microbatches;
    int64_t bins = 3 * m * (m - 1) / 2 * p->stages;
    if (!PP_HAVE_GLPK)
        return pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "zb-auto: built without GLPK, no ILP");
    if (p->stages < 1 || m < 1 || p->stages * m > PP_ZB_ILP_MAX_CELLS ||
        bins > PP_ZB_ILP_MAX_BINARIES)
        return pp_diag_set(d, PP_ENOMEM, NULL, 0, 0,
                           "zb-auto: the ILP takes p*m <= %d and <= %d order variables",
                           PP_ZB_ILP_MAX_CELLS, PP_ZB_ILP_MAX_BINARIES);
    struct ilp_in in;
    if (load(p, comm_ms, &in) != 0)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "zb-auto: the ILP needs positive F, B and W times");
    size_t len = (size_t)p->stages * 3 * (size_t)m;
    int64_t *start = pp_xmalloc_big(len * sizeof *start);
    int64_t hs = asap(&in, heur, start);
    if (hs < 0) {
        free(start);
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "zb-auto: the warm start does not run");
    }
    st->heur_span = st->span = hs * in.unit;
    st->objective = (double)st->heur_span;
    memcpy(out, heur, len);
#if PP_HAVE_GLPK
    uint8_t *cand = pp_xmalloc_big(len);
    if (solve(&in, heur, hs, cand, st)) {
        int64_t cs = asap(&in, cand, start);
        if (cs >= 0 && cs < hs) {
            memcpy(out, cand, len);
            st->span = cs * in.unit;
            st->improved = 1;
        }
    }
    free(cand);
#endif
    free(start);
    return 0;
}

int pp_zb_auto_ilp_push(const struct pp_sched_params *p, double comm_ms, struct pp_plan *plan,
                        int64_t *span_ns, struct pp_diag *d)
{
    int64_t m = p->microbatches;
    struct pp_plan *h = pp_plan_alloc(PP_SCHED_ZB_AUTO, p, (size_t)(3 * m + 1));
    int64_t hspan = 0;
    int rc = pp_zb_auto_push(p, comm_ms, h, &hspan, d);
    pp_plan_finish(h);
    if (rc != 0) {
        pp_plan_free(h);
        return rc;
    }
    size_t len = (size_t)p->stages * 3 * (size_t)m;
    uint8_t *seq = pp_xmalloc_big(len), *best = pp_xmalloc_big(len);
    for (int j = 0; j < p->stages; j++) {
        size_t q = (size_t)j * 3 * (size_t)m;
        for (size_t o = h->dev_first[j]; o < h->dev_first[j + 1]; o++) {
            enum pp_op_kind k = h->ops[o].kind;
            if (k != PP_OP_OPTIM)
                seq[q++] = k == PP_OP_F ? PP_ZB_OP_F : k == PP_OP_BI ? PP_ZB_OP_B : PP_ZB_OP_W;
        }
    }
    pp_plan_free(h);
    struct pp_zb_ilp_stats st;
    struct pp_diag ignored;
    if (pp_zb_ilp_improve(p, comm_ms, seq, best, &st, &ignored) != 0 || !st.improved)
        memcpy(best, seq, len);
    else
        hspan = st.span;
    static const enum pp_op_kind kinds[3] = {PP_OP_F, PP_OP_BI, PP_OP_BW};
    for (int j = 0; j < p->stages; j++) {
        int64_t next[3] = {0, 0, 0};
        const uint8_t *s = best + (size_t)j * 3 * (size_t)m;
        for (size_t q = 0; q < 3 * (size_t)m; q++)
            pp_plan_push(plan, j, kinds[s[q]], j, next[s[q]]++);
        pp_plan_push(plan, j, PP_OP_OPTIM, -1, -1);
    }
    if (span_ns)
        *span_ns = hspan;
    free(seq);
    free(best);
    return 0;
}
