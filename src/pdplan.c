/* pdplan.c - PipeDream's dynamic program (pipedream-optimizer.md §3-§6).
 *
 * The reference fills A[i][j][r] for every start row i at lower levels: n^2 N
 * entries. Rows are independent, so this solves one row at a time and keeps
 * only what the level above reads, T(i, j) = A[i][j][N] (n^2 doubles); the
 * rows a layout needs are solved again when it is read back. Candidates of a
 * cell are enumerated k-major so that a stage's costs are computed once per
 * (k, j) and not once per (k, j, r). */
#include "pdplan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "antichain.h"
#include "diag.h"
#include "limits.h"
#include "xalloc.h"

#define NO_SPLIT UINT32_MAX

struct cell {
    double t;        /* time per minibatch (or, in MEM mode, bytes needed) */
    uint32_t k;      /* the last stage is states k+1..j; NO_SPLIT = one stage */
    uint16_t rprev;  /* machines of the prefix A[k][rprev] */
    uint16_t rep;    /* replicas of the last (or only) stage */
    uint16_t rtot;   /* machines the cell was computed for (its memory test) */
};

enum mode { TIME, MEM };

/* Work done, for the progress callback and the stop poll: cell j of row i
 * costs j - i + 1 units (at most that many candidate cuts), so a pass costs
 * (levels - 1) n(n+1)(n+2)/6 + n(n+1)/2 units, known before it starts. */
struct meter {
    uint64_t done, total, next, chunk;
    int stopped;
};

struct level {
    size_t N;
    double B, inner;
    const double *Tm; /* NULL at level 0 (prefix sums); else n x n, row-major */
};

struct ctx {
    const struct pp_antichains *a;
    const struct pp_pdplan_opts *o;
    size_t n;
    enum mode mode;
    double *ceil_tab; /* (N+1) x (N+1): ceil((N - r) / r') */
    double *candmin;
    struct cell *cand;
    struct meter *m; /* NULL while a layout is read back (not counted, not stopped) */
};

static double level_T(const struct ctx *c, const struct level *L, size_t i, size_t j)
{
    if (L->Tm)
        return L->Tm[i * c->n + j];
    return c->mode == MEM ? 0 : pp_state_range(c->a->compute_s, i, j);
}

static void fill_ceil(struct ctx *c, size_t N)
{
    for (size_t r = 1; r <= N; r++)
        for (size_t rp = 1; rp <= r; rp++)
            c->ceil_tab[r * (N + 1) + rp] = ceil((double)(N - r) / (double)rp);
}

/* Poll the stop flag and report; 1 = stop. Called every m->chunk units,
 * a few tens of milliseconds of work whatever the machine count. */
static int tick(struct ctx *c)
{
    struct meter *m = c->m;
    m->next = m->done + m->chunk;
    if (pp_limits_stop() != PP_GO_ON) {
        m->stopped = 1;
        return 1;
    }
    if (c->o->progress && m->done < m->total) /* done == total: once, at the end */
        c->o->progress(c->o->progress_ctx, m->done, m->total);
    return 0;
}

static double max2(double x, double y)
{
    return x > y ? x : y;
}

/* One start row i of a level: A[j][r] for j >= i, r = 1..N (A is n x (N+1)). */
static void solve_row(struct ctx *c, const struct level *L, size_t i, struct cell *A)
{
    const struct pp_antichains *a = c->a;
    const struct pp_pdplan_opts *o = c->o;
    size_t n = c->n, N = L->N, W = N + 1;
    int mem_mode = c->mode == MEM;
    int mem_filter = !mem_mode && o->use_memory_constraint;
    double M = o->memory_bytes, B = L->B, acr = o->compression;
    size_t r_base = o->straight ? 1 : N, rp_max = o->straight ? 1 : N - 1;
    const uint64_t *skip = i > 0 ? a->anc + (i - 1) * a->words : NULL;
    const struct cell none = {INFINITY, NO_SPLIT, 0, 0, 0};

    for (size_t j = i; j < n; j++) {
        if (c->m && (c->m->done += j - i + 1) >= c->m->next && tick(c))
            return;
        struct cell *Aj = A + j * W;
        for (size_t r = 0; r <= N; r++)
            Aj[r] = none;
        double Tij = level_T(c, L, i, j), Pij = pp_state_range(a->par_bytes, i, j);
        double Sij = pp_state_range(a->act_bytes, i, j) + Pij;
        if (Tij != INFINITY)
            for (size_t r = 1; r <= r_base; r++) {
                double stash = c->ceil_tab[r * W + r] * Sij, v;
                if (mem_filter && stash > M)
                    continue;
                if (mem_mode) {
                    v = max2(stash, Tij);
                } else {
                    double dp = (4.0 * (double)(r - 1) * Pij) / (B * (double)r);
                    dp /= L->inner;
                    v = (Tij + dp) / (double)r;
                }
                Aj[r] = (struct cell){v, NO_SPLIT, 0, (uint16_t)r, (uint16_t)r};
            }
        if (j == i)
            continue;
        for (size_t r = 2; r <= N; r++)
            c->candmin[r] = INFINITY;
        /* Cuts k in anc(j), k >= i, and (below the top) k not in anc(i-1). */
        const uint64_t *ancj = a->anc + j * a->words;
        for (size_t w = i >> 6; w <= (j - 1) >> 6; w++) {
            uint64_t bits = ancj[w];
            if (w == i >> 6)
                bits &= ~(uint64_t)0 << (i & 63);
            if (skip)
                bits &= ~skip[w];
            for (; bits; bits &= bits - 1) {
                size_t k = w * 64 + (size_t)__builtin_ctzll(bits);
                double Tk = level_T(c, L, k + 1, j);
                if (Tk == INFINITY)
                    continue;
                double Pk = pp_state_range(a->par_bytes, k + 1, j);
                double Sk = pp_state_range(a->act_bytes, k + 1, j) + Pk;
                double in_b = 2.0 * a->out_bytes[k], out_b = j < n - 1 ? 2.0 * a->out_bytes[j] : -1;
                const struct cell *Ak = A + k * W;
                for (size_t rp = 1; rp <= rp_max; rp++) {
                    double last;
                    if (mem_mode) {
                        last = Tk;
                    } else {
                        last = (Tk + (4.0 * (double)(rp - 1) * Pk) / (B * (double)rp)) / (double)rp;
                        if (acr > 0) {
                            last = max2(last, in_b / (B * (double)rp) / acr);
                            if (out_b >= 0)
                                last = max2(last, out_b / (B * (double)rp) / acr);
                        }
                    }
                    for (size_t r = rp + 1; r <= N; r++) {
                        double p = Ak[r - rp].t;
                        if (p == INFINITY)
                            continue;
                        double stash = Sk * c->ceil_tab[r * W + rp];
                        double v = max2(p, last);
                        if (mem_mode)
                            v = max2(v, stash);
                        else if (mem_filter && stash > M)
                            continue;
                        if (v < c->candmin[r]) {
                            c->candmin[r] = v;
                            c->cand[r] = (struct cell){v, (uint32_t)k, (uint16_t)(r - rp),
                                                       (uint16_t)rp, (uint16_t)r};
                        }
                    }
                }
            }
        }
        /* PipeDream starts from the single stage (or, with fewer machines, the
         * entry for one machine less when strictly better) and takes the first
         * strictly better candidate: the minimum wins, a tie keeps the start. */
        for (size_t r = 2; r <= N; r++) {
            struct cell init = Aj[r];
            if (o->fewer_machines && (init.t == INFINITY || Aj[r - 1].t < init.t))
                init = Aj[r - 1];
            Aj[r] = c->candmin[r] < init.t ? c->cand[r] : init;
        }
    }
}

struct solver {
    struct ctx c;
    struct level lv[PP_PD_MAX_LEVELS];
    double *Tm[PP_PD_MAX_LEVELS]; /* input of level l >= 1 */
    struct cell *row;             /* n x (Nmax+1) scratch */
    struct cell *top;             /* the top level's row 0 */
};

static void setup_level(struct solver *s, size_t l)
{
    const struct pp_pdplan_opts *o = s->c.o;
    s->lv[l].N = o->machines[l];
    s->lv[l].B = o->bandwidth_bps[l];
    s->lv[l].inner = l ? (double)o->machines[l - 1] : 1.0;
    s->lv[l].Tm = l ? s->Tm[l] : NULL;
    fill_ceil(&s->c, o->machines[l]);
    /* a unit is about rp_max x N replica pairs */
    uint64_t pairs = (uint64_t)(o->straight ? 1 : o->machines[l] - 1) * o->machines[l];
    if (s->c.m) {
        s->c.m->chunk = ((uint64_t)1 << 24) / (pairs + 1) + 1;
        s->c.m->next = s->c.m->done + s->c.m->chunk;
    }
}

static uint64_t pass_units(uint64_t n, size_t n_levels)
{
    return (uint64_t)(n_levels - 1) * (n * (n + 1) / 2 * (n + 2) / 3) + n * (n + 1) / 2;
}

/* All levels bottom-up; the top level's row 0 ends in s->top. 1 = stopped. */
static int solve_levels(struct solver *s)
{
    const struct pp_pdplan_opts *o = s->c.o;
    size_t n = s->c.n;
    for (size_t l = 0; l < o->n_levels; l++) {
        setup_level(s, l);
        size_t W = o->machines[l] + 1;
        if (l + 1 == o->n_levels) {
            solve_row(&s->c, &s->lv[l], 0, s->top);
            break;
        }
        double *T = s->Tm[l + 1];
        for (size_t i = 0; i < n && !s->c.m->stopped; i++) {
            solve_row(&s->c, &s->lv[l], i, s->row);
            for (size_t j = 0; j < n; j++)
                T[i * n + j] = j < i ? INFINITY : s->row[j * W + W - 1].t;
        }
        if (s->c.m->stopped)
            break;
    }
    return s->c.m->stopped;
}

struct walk {
    struct pp_pdplan *p;
    size_t cap, next_id;
};

static void push_stage(struct walk *wk, const struct pp_pdstage *st)
{
    struct pp_pdplan *p = wk->p;
    p->stages = pp_xgrow(p->stages, &wk->cap, p->n_stages + 1, sizeof *p->stages);
    p->stages[p->n_stages++] = *st;
}

/* Read back the layout of states [start, end) at level l from that level's row
 * `start` (A), §3's per-stage formula for the stage times, and recurse. */
static void read_back(struct solver *s, struct walk *wk, size_t l, size_t start, size_t end,
                      const struct cell *A, size_t parent, size_t gpus_above)
{
    const struct pp_antichains *a = s->c.a;
    const struct pp_pdplan_opts *o = s->c.o;
    size_t n = s->c.n, N = o->machines[l], W = N + 1;
    /* Stages come out last first; collect them, then emit in order. */
    size_t cnt = 0;
    struct cell *cells = pp_xmalloc((N + 1) * sizeof *cells);
    size_t *firsts = pp_xmalloc((N + 1) * sizeof *firsts);
    struct cell e = A[(end - 1) * W + N];
    while (e.k != NO_SPLIT && cnt < N) { /* every stage has a machine: at most N */
        cells[cnt] = e;
        firsts[cnt++] = e.k + 1;
        e = A[e.k * W + e.rprev];
    }
    cells[cnt] = e;
    firsts[cnt++] = start;
    setup_level(s, l);
    const struct level *L = &s->lv[l];
    size_t stage_end = end;
    struct pp_pdstage *tmp = pp_xmalloc(cnt * sizeof *tmp);
    for (size_t q = 0; q < cnt; q++) {
        /* q = 0 is the last stage of the pipeline. */
        size_t a0 = firsts[q], b0 = stage_end, r = cells[q].rep;
        int first = q + 1 == cnt;
        double T = level_T(&s->c, L, a0, b0 - 1), P = pp_state_range(a->par_bytes, a0, b0 - 1);
        double S = pp_state_range(a->act_bytes, a0, b0 - 1) + P;
        double ar = (4.0 * (double)(r - 1) * P) / (L->B * (double)r);
        if (first)
            ar /= L->inner;
        double tr = 0;
        if (!first && o->compression > 0) {
            tr = (2.0 * a->out_bytes[a0 - 1]) / (L->B * (double)r) / o->compression;
            if (b0 - 1 < n - 1)
                tr = max2(tr, (2.0 * a->out_bytes[b0 - 1]) / (L->B * (double)r) / o->compression);
        }
        struct pp_pdstage *st = &tmp[cnt - 1 - q];
        memset(st, 0, sizeof *st);
        st->level = l;
        st->first_state = a0;
        st->end_state = b0;
        st->replicas = r;
        st->parent = parent;
        st->stage_id = SIZE_MAX;
        st->gpus = r * gpus_above;
        st->compute_s = T / (double)r;
        st->allreduce_s = ar / (double)r;
        st->transfer_s = tr;
        st->time_s = max2((T + ar) / (double)r, tr);
        st->memory_bytes = ceil((double)(N - cells[q].rtot) / (double)r) * S;
        stage_end = a0;
    }
    free(cells);
    free(firsts);
    for (size_t q = 0; q < cnt; q++) {
        size_t idx = wk->p->n_stages;
        if (l == 0) {
            tmp[q].stage_id = wk->next_id++;
            wk->p->n_leaf++;
            wk->p->machines_used += tmp[q].gpus;
        }
        push_stage(wk, &tmp[q]);
        if (l > 0) {
            size_t Nl = o->machines[l - 1];
            struct cell *row = pp_xmalloc(n * (Nl + 1) * sizeof *row);
            setup_level(s, l - 1);
            solve_row(&s->c, &s->lv[l - 1], tmp[q].first_state, row);
            read_back(s, wk, l - 1, tmp[q].first_state, tmp[q].end_state, row, idx,
                      tmp[q].gpus);
            free(row);
        }
    }
    free(tmp);
}

static void solver_init(struct solver *s, const struct pp_antichains *a,
                        const struct pp_pdplan_opts *o, enum mode mode, struct meter *m)
{
    memset(s, 0, sizeof *s);
    size_t n = a->n_states, Nmax = 1;
    for (size_t l = 0; l < o->n_levels; l++)
        if (o->machines[l] > Nmax)
            Nmax = o->machines[l];
    s->c.a = a;
    s->c.o = o;
    s->c.n = n;
    s->c.mode = mode;
    s->c.m = m;
    s->c.ceil_tab = pp_xcalloc((Nmax + 1) * (Nmax + 1), sizeof(double));
    s->c.candmin = pp_xmalloc((Nmax + 1) * sizeof(double));
    s->c.cand = pp_xmalloc((Nmax + 1) * sizeof(struct cell));
    s->row = pp_xmalloc(n * (Nmax + 1) * sizeof *s->row);
    s->top = pp_xmalloc(n * (o->machines[o->n_levels - 1] + 1) * sizeof *s->top);
    for (size_t l = 1; l < o->n_levels; l++)
        s->Tm[l] = pp_xmalloc_big(n * n * sizeof(double));
}

static void solver_free(struct solver *s)
{
    free(s->c.ceil_tab);
    free(s->c.candmin);
    free(s->c.cand);
    free(s->row);
    free(s->top);
    for (size_t l = 0; l < PP_PD_MAX_LEVELS; l++)
        free(s->Tm[l]);
}

int pp_pdplan_solve(const struct pp_antichains *a, const struct pp_pdplan_opts *o,
                    struct pp_pdplan **out, struct pp_diag *d)
{
    if (o->n_levels == 0 || o->n_levels > PP_PD_MAX_LEVELS)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "between 1 and %d levels", PP_PD_MAX_LEVELS);
    for (size_t l = 0; l < o->n_levels; l++)
        if (o->machines[l] < 1 || o->machines[l] > 4096 || !(o->bandwidth_bps[l] > 0))
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "level %zu: bad machines or bandwidth",
                               l + 1);
    size_t n = a->n_states, top_N = o->machines[o->n_levels - 1];
    struct pp_pdplan *p = pp_xcalloc(1, sizeof *p);
    p->single_s = a->compute_s[n - 1];
    p->machines_total = 1;
    double dp = p->single_s, total_par = a->par_bytes[n - 1], inner = 1;
    for (size_t l = 0; l < o->n_levels; l++) {
        double N = (double)o->machines[l];
        double c = ((4.0 * (N - 1) * total_par) / (o->bandwidth_bps[l] * N)) / inner;
        dp = (dp + c) / N;
        inner = N;
        p->machines_total *= o->machines[l];
    }
    p->data_parallel_s = dp;

    struct solver s;
    struct meter m = {0, pass_units(n, o->n_levels), 0, 0, 0};
    solver_init(&s, a, o, TIME, &m);
    if (solve_levels(&s)) {
        solver_free(&s);
        pp_pdplan_free(p);
        return pp_limits_stopped(d, "while solving the partition DP");
    }
    const struct cell *ans = &s.top[(n - 1) * (top_N + 1) + top_N];
    p->bottleneck_s = ans->t;
    p->feasible = ans->t != INFINITY;
    p->memory_needed_bytes = 0;
    if (p->feasible) {
        struct walk wk = {p, 0, 0};
        s.c.m = NULL;
        read_back(&s, &wk, o->n_levels - 1, 0, n, s.top, SIZE_MAX, 1);
    }
    solver_free(&s);
    if (!p->feasible) {
        m.total += pass_units(n, o->n_levels);
        solver_init(&s, a, o, MEM, &m);
        int stopped = solve_levels(&s);
        p->memory_needed_bytes = s.top[(n - 1) * (top_N + 1) + top_N].t;
        solver_free(&s);
        if (stopped) {
            pp_pdplan_free(p);
            return pp_limits_stopped(d, "while solving the partition DP");
        }
    }
    if (o->progress)
        o->progress(o->progress_ctx, m.total, m.total);
    *out = p;
    return 0;
}

void pp_pdplan_free(struct pp_pdplan *p)
{
    if (!p)
        return;
    free(p->stages);
    free(p);
}
