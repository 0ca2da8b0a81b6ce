/* schedcsv_check.c - the checks between a tokenized schedule CSV and its plan
 * (schedcsv.h): PyTorch _validate_schedule's rules, then the engine's
 * dependency order. Each error names the action at fault where there is one.
 *
 * Tables are sized by the stage and microbatch counts only once those are
 * known to be within the number of actions, so a hostile file cannot make the
 * checker allocate more than a small multiple of its own size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "schedcsv.h"
#include "schedcsv_int.h"
#include "schedule.h"
#include "xalloc.h"

struct half {
    int kind; /* A_F, A_I, A_B, A_W */
    int32_t stage, mb;
};

/* The compute halves of an action (none for comm actions). */
static int halves(const struct pp_act *a, struct half h[2])
{
    if (a->kind == A_COMM)
        return 0;
    if (a->kind == A_FB) {
        h[0] = (struct half){A_F, a->stage, a->mb};
        h[1] = (struct half){A_B, a->stage2, a->mb2};
        return 2;
    }
    h[0] = (struct half){a->kind, a->stage, a->mb};
    return 1;
}

static const char *act_text(const struct pp_csvparser *p, const struct pp_act *a, char *out,
                            size_t cap)
{
    return pp_csv_shown(p->buf + a->off, a->len, out, cap);
}

/* "file:line:col: error: action 'TEXT' WHY" */
static int err_at(const struct pp_csvparser *p, const struct pp_act *a, const char *why)
{
    char t[80];
    return pp_diag_set(p->d, PP_EINVAL, p->file, a->line, a->col, "action '%s' %s",
                       act_text(p, a, t, sizeof t), why);
}

/* What the file holds, and what the checks settle on. */
struct shape {
    int ranks, n_st; /* rows; PyTorch stages = pieces */
    int64_t m;
    size_t n_comp;   /* compute halves */
    int32_t max_stage, max_mb;
    size_t at_max_stage;
    int32_t *stage_rank; /* [n_st] */
    size_t *first_act;   /* [n_st]: the stage's first action */
};

static void measure(const struct pp_csvparser *p, struct shape *sh)
{
    sh->ranks = (int)p->rows;
    sh->max_stage = sh->max_mb = -1;
    for (size_t k = 0; k < p->n; k++) {
        struct half h[2];
        int nh = halves(&p->acts[k], h);
        for (int j = 0; j < nh; j++) {
            sh->n_comp++;
            if (h[j].stage > sh->max_stage)
                sh->max_stage = h[j].stage, sh->at_max_stage = k;
            if (h[j].mb > sh->max_mb)
                sh->max_mb = h[j].mb;
        }
    }
}

/* Non-empty, the expected row count, stage and microbatch indices in range. */
static int check_shape(const struct pp_csvparser *p, const struct pp_schedcsv_expect *ex,
                       struct shape *sh)
{
    char why[200];
    if (sh->ranks == 0)
        return pp_diag_set(p->d, PP_EPARSE, p->file, 1, 1,
                           "empty schedule (expected one row of actions per rank)");
    if (sh->n_comp == 0)
        return pp_diag_set(p->d, PP_EINVAL, p->file, 1, 1,
                           "the schedule has no compute actions (F, I, B, W or OVERLAP_F_B)");
    if (ex && ex->ranks > 0 && sh->ranks != ex->ranks)
        return pp_diag_set(p->d, PP_EINVAL, p->file,
                           p->row_line[sh->ranks > ex->ranks ? ex->ranks : sh->ranks - 1], 1,
                           "the schedule has %d ranks (rows), expected %d", sh->ranks, ex->ranks);
    int exp_st = ex && ex->pieces > 0 ? ex->pieces : 0;
    int64_t exp_m = ex && ex->microbatches > 0 ? ex->microbatches : 0;
    for (size_t k = 0; k < p->n && (exp_st || exp_m); k++) {
        const struct pp_act *a = &p->acts[k];
        int32_t st[2] = {a->stage, a->stage2}, mbs[2] = {a->mb, a->mb2};
        for (int j = 0; j < 2; j++) {
            if (exp_st && st[j] >= exp_st) {
                snprintf(why, sizeof why, "names stage %d, but the pipeline has %d (stages x "
                         "chunks)", st[j], exp_st);
                return err_at(p, a, why);
            }
            if (exp_m && mbs[j] >= exp_m) {
                snprintf(why, sizeof why, "names microbatch %d, but there are %lld", mbs[j],
                         (long long)exp_m);
                return err_at(p, a, why);
            }
        }
    }
    sh->n_st = exp_st ? exp_st : sh->max_stage + 1;
    sh->m = exp_m ? exp_m : (int64_t)sh->max_mb + 1;
    return 0;
}

/* Stages are 0..n_st-1 without gaps. More stages than compute actions leaves
 * a gap for sure, so the seen-table is bounded by the file. */
static int check_gaps(const struct pp_csvparser *p, const struct shape *sh)
{
    size_t lim = (size_t)sh->n_st < sh->n_comp + 1 ? (size_t)sh->n_st : sh->n_comp + 1;
    uint8_t *seen = pp_xcalloc(lim, 1);
    for (size_t k = 0; k < p->n; k++) {
        struct half h[2];
        int nh = halves(&p->acts[k], h);
        for (int j = 0; j < nh; j++)
            if ((size_t)h[j].stage < lim)
                seen[h[j].stage] = 1;
    }
    size_t gap = 0;
    while (gap < lim && seen[gap])
        gap++;
    free(seen);
    if (gap >= (size_t)sh->n_st)
        return 0;
    if ((int32_t)gap < sh->max_stage) {
        char why[200];
        snprintf(why, sizeof why, "names stage %d, but no action runs stage %zu (stages are "
                 "numbered 0..N-1 in model order)", sh->max_stage, gap);
        return err_at(p, &p->acts[sh->at_max_stage], why);
    }
    return pp_diag_set(p->d, PP_EINVAL, p->file, 1, 1,
                       "no action runs stage %zu (the pipeline has %d stages x chunks)", gap,
                       sh->n_st);
}

/* One rank per stage (the first row to run it); comm actions sit on their
 * stage's rank; stages split evenly over ranks. */
static int check_placement(const struct pp_csvparser *p, struct shape *sh)
{
    char why[200];
    for (int s = 0; s < sh->n_st; s++)
        sh->stage_rank[s] = -1;
    for (size_t k = 0; k < p->n; k++) {
        const struct pp_act *a = &p->acts[k];
        struct half h[2];
        int nh = halves(a, h);
        for (int j = 0; j < nh; j++) {
            int32_t s = h[j].stage;
            if (sh->stage_rank[s] < 0) {
                sh->stage_rank[s] = a->rank;
                sh->first_act[s] = k;
            } else if (sh->stage_rank[s] != a->rank) {
                const struct pp_act *f = &p->acts[sh->first_act[s]];
                snprintf(why, sizeof why, "on rank %d runs stage %d, which rank %d runs too (at "
                         "%u:%u); a stage belongs to one rank", a->rank, s, sh->stage_rank[s],
                         f->line, f->col);
                return err_at(p, a, why);
            }
        }
    }
    for (size_t k = 0; k < p->n; k++) {
        const struct pp_act *a = &p->acts[k];
        if (a->kind != A_COMM)
            continue;
        if (a->stage >= sh->n_st)
            snprintf(why, sizeof why, "names stage %d, which no compute action runs", a->stage);
        else if (sh->stage_rank[a->stage] != a->rank)
            snprintf(why, sizeof why, "on rank %d names stage %d, which rank %d runs (PyTorch "
                     "places a comm action on its stage's rank)", a->rank, a->stage,
                     sh->stage_rank[a->stage]);
        else
            continue;
        return err_at(p, a, why);
    }
    if (sh->n_st % sh->ranks != 0)
        return pp_diag_set(p->d, PP_EINVAL, p->file, 1, 1,
                           "%d stages do not split evenly over %d ranks (chunks = stages / ranks "
                           "must be a whole number)", sh->n_st, sh->ranks);
    /* The plan has one chunk count for every rank: a rank that runs more or
     * fewer stages (an idle row, found by fuzzing) would be simulated as
     * something else, and written back as another schedule. */
    int per = sh->n_st / sh->ranks, rc = 0;
    int *held = pp_xcalloc((size_t)sh->ranks, sizeof *held);
    for (int s = 0; s < sh->n_st; s++)
        held[sh->stage_rank[s]]++;
    for (int r = 0; r < sh->ranks && rc == 0; r++)
        if (held[r] != per)
            rc = pp_diag_set(p->d, PP_EINVAL, p->file, p->row_line[r], 1,
                             "rank %d runs %d stage%s, expected %d (%d stages over %d ranks)", r,
                             held[r], held[r] == 1 ? "" : "s", per, sh->n_st, sh->ranks);
    free(held);
    return rc;
}

/* Bits of a (stage, microbatch) cell. */
enum { C_F = 1, C_B = 2, C_I = 4, C_W = 8 };

/* The per-action rules of PyTorch's _validate_schedule, in file order (a
 * stage is on one rank, so file order is its rank's order). */
static int check_order(const struct pp_csvparser *p, uint8_t *cells, int64_t m)
{
    for (size_t k = 0; k < p->n; k++) {
        struct half h[2];
        int nh = halves(&p->acts[k], h);
        for (int j = 0; j < nh; j++) {
            uint8_t *c = &cells[(size_t)h[j].stage * (size_t)m + (size_t)h[j].mb];
            const char *bad = NULL;
            switch (h[j].kind) {
            case A_F:
                if (*c & C_F)
                    bad = "repeats the forward";
                *c |= C_F;
                break;
            case A_B:
            case A_I:
                if (!(*c & C_F))
                    bad = "runs before the forward";
                else if (*c & (h[j].kind == A_B ? C_B : C_I))
                    bad = "repeats the backward";
                else if (*c & (C_B | C_I | C_W))
                    bad = "mixes a full backward (B) with split I/W backwards";
                *c |= h[j].kind == A_B ? C_B : C_I;
                break;
            default: /* A_W */
                if (*c & C_W)
                    bad = "repeats the weight-gradient backward";
                else if (*c & C_B)
                    bad = "mixes a full backward (B) with split I/W backwards";
                else if (!(*c & C_I))
                    bad = "runs before the input-gradient backward (I)";
                *c |= C_W;
                break;
            }
            if (bad) {
                char why[160];
                snprintf(why, sizeof why, "%s of stage %d microbatch %d", bad, h[j].stage,
                         h[j].mb);
                return err_at(p, &p->acts[k], why);
            }
        }
    }
    return 0;
}

/* The first action running kind of (stage, mb), to locate what is missing. */
static const struct pp_act *find_half(const struct pp_csvparser *p, int kind, int32_t stage,
                                      int64_t mb)
{
    for (size_t k = 0; k < p->n; k++) {
        struct half h[2];
        int nh = halves(&p->acts[k], h);
        for (int j = 0; j < nh; j++)
            if (h[j].kind == kind && h[j].stage == stage && h[j].mb == mb)
                return &p->acts[k];
    }
    return &p->acts[0]; /* unreachable: the cell records that it ran */
}

static int missing_forward(const struct pp_csvparser *p, const struct shape *sh, int32_t s,
                           int64_t mb)
{
    char t[80];
    const struct pp_act *first = &p->acts[sh->first_act[s]];
    return pp_diag_set(p->d, PP_EINVAL, p->file, first->line, first->col,
                       "stage %d never runs the forward of microbatch %lld (every stage runs "
                       "microbatches 0..%lld; stage %d starts at '%s')",
                       s, (long long)mb, (long long)(sh->m - 1), s,
                       act_text(p, first, t, sizeof t));
}

/* Too many cells for the actions: some stage has fewer than m forwards (the
 * count rule of _validate_schedule). Name it without the full table. */
static int short_of_forwards(const struct pp_csvparser *p, const struct shape *sh)
{
    int64_t *fcount = pp_xcalloc((size_t)sh->n_st, sizeof *fcount);
    for (size_t k = 0; k < p->n; k++) {
        struct half h[2];
        int nh = halves(&p->acts[k], h);
        for (int j = 0; j < nh; j++)
            fcount[h[j].stage] += h[j].kind == A_F;
    }
    int s = 0;
    while (s < sh->n_st - 1 && fcount[s] >= sh->m)
        s++;
    free(fcount);
    uint8_t *has = pp_xcalloc((size_t)sh->m, 1);
    for (size_t k = 0; k < p->n; k++) {
        struct half h[2];
        int nh = halves(&p->acts[k], h);
        for (int j = 0; j < nh; j++)
            if (h[j].kind == A_F && h[j].stage == s)
                has[h[j].mb] = 1;
    }
    int64_t mb = 0;
    while (mb < sh->m - 1 && has[mb])
        mb++;
    free(has);
    return missing_forward(p, sh, s, mb);
}

/* Every cell complete: F, then B or I and W. */
static int check_complete(const struct pp_csvparser *p, const uint8_t *cells,
                          const struct shape *sh)
{
    char why[160];
    for (int s = 0; s < sh->n_st; s++) {
        for (int64_t mb = 0; mb < sh->m; mb++) {
            uint8_t c = cells[(size_t)s * (size_t)sh->m + (size_t)mb];
            if (!(c & C_F))
                return missing_forward(p, sh, s, mb);
            if (!(c & (C_B | C_I))) {
                snprintf(why, sizeof why, "is never followed by a backward (B, or I then W) of "
                         "stage %d microbatch %lld", s, (long long)mb);
                return err_at(p, find_half(p, A_F, s, mb), why);
            }
            if ((c & C_I) && !(c & C_W)) {
                snprintf(why, sizeof why, "has no weight-gradient backward (W) after it for "
                         "stage %d microbatch %lld", s, (long long)mb);
                return err_at(p, find_half(p, A_I, s, mb), why);
            }
        }
    }
    return 0;
}

static int check_counts(const struct pp_csvparser *p, const struct shape *sh)
{
    /* A complete cell takes two compute halves, so more cells than halves
     * means missing forwards. */
    if ((uint64_t)sh->n_st * (uint64_t)sh->m > sh->n_comp)
        return short_of_forwards(p, sh);
    uint8_t *cells = pp_xcalloc((size_t)sh->n_st * (size_t)sh->m, 1);
    int rc = check_order(p, cells, sh->m);
    if (rc == 0)
        rc = check_complete(p, cells, sh);
    free(cells);
    return rc;
}

/* The plan; op j of rank r is r's j-th compute action (op_act[op] = action
 * index, SIZE_MAX for the optimizer step each rank ends with). */
static struct pp_plan *build_plan(const struct pp_csvparser *p, const struct shape *sh,
                                  size_t *op_act)
{
    static const int op_kind[] = {[A_F] = PP_OP_F, [A_I] = PP_OP_BI, [A_B] = PP_OP_B,
                                  [A_W] = PP_OP_BW};
    struct pp_sched_params sp = {
        .stages = sh->ranks, .chunks = sh->n_st / sh->ranks, .microbatches = sh->m};
    struct pp_plan *plan = pp_plan_alloc(PP_SCHED_CUSTOM, &sp, sh->n_comp / (size_t)sh->ranks + 2);
    for (int s = 0; s < sh->n_st; s++)
        plan->piece_device[s] = sh->stage_rank[s];
    size_t k = 0, o = 0;
    for (int r = 0; r < sh->ranks; r++) {
        for (; k < p->n && p->acts[k].rank == r; k++) {
            const struct pp_act *a = &p->acts[k];
            if (a->kind == A_COMM)
                continue;
            if (a->kind == A_FB)
                pp_plan_push_fb(plan, r, a->stage, a->mb, a->stage2, a->mb2);
            else
                pp_plan_push(plan, r, (enum pp_op_kind)op_kind[a->kind], a->stage, a->mb);
            op_act[o++] = k;
        }
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
        op_act[o++] = SIZE_MAX;
    }
    pp_plan_finish(plan);
    return plan;
}

/* At the lowest blocked rank's action, listing each blocked rank's first op. */
static int check_deadlock(const struct pp_csvparser *p, const struct pp_plan *plan,
                          const size_t *op_act)
{
    struct pp_blocked *b = pp_xmalloc((size_t)plan->n_devices * sizeof *b);
    int total = pp_plan_blocked(plan, b);
    if (total <= 0) {
        free(b);
        return 0;
    }
    char msg[sizeof p->d->msg], t[80], need[96];
    size_t used = (size_t)snprintf(msg, sizeof msg, "deadlock: the schedule can never finish;");
    const struct pp_act *where = NULL;
    int listed = 0;
    for (int dv = 0; dv < plan->n_devices; dv++) {
        if (b[dv].op == SIZE_MAX)
            continue;
        const struct pp_act *a = &p->acts[op_act[b[dv].op]];
        if (!where)
            where = a;
        if (listed == 6 || used >= sizeof msg)
            continue;
        pp_plan_blocked_need(plan, &b[dv], need, sizeof need);
        used += (size_t)snprintf(msg + used, sizeof msg - used, "%s rank %d blocks at '%s' "
                                 "(waits for %s)", listed ? "," : "", dv,
                                 act_text(p, a, t, sizeof t), need);
        listed++;
    }
    if (total > listed && used < sizeof msg)
        snprintf(msg + used, sizeof msg - used, " and %d more ranks", total - listed);
    free(b);
    return pp_diag_set(p->d, PP_EINVAL, p->file, where->line, where->col, "%s", msg);
}

int pp_csv_check_build(struct pp_csvparser *p, const struct pp_schedcsv_expect *ex,
                       struct pp_plan **out)
{
    struct shape sh;
    memset(&sh, 0, sizeof sh);
    measure(p, &sh);
    int rc = check_shape(p, ex, &sh);
    if (rc == 0)
        rc = check_gaps(p, &sh);
    if (rc)
        return rc;
    sh.stage_rank = pp_xmalloc((size_t)sh.n_st * sizeof *sh.stage_rank);
    sh.first_act = pp_xmalloc((size_t)sh.n_st * sizeof *sh.first_act);
    rc = check_placement(p, &sh);
    if (rc == 0)
        rc = check_counts(p, &sh);
    struct pp_plan *plan = NULL;
    size_t *op_act = NULL;
    if (rc == 0) {
        op_act = pp_xmalloc((sh.n_comp + (size_t)sh.ranks) * sizeof *op_act);
        plan = build_plan(p, &sh, op_act);
        rc = pp_plan_validate(plan, p->d);
        if (rc) { /* the checks above make this unreachable; keep a location anyway */
            char msg[sizeof p->d->msg];
            snprintf(msg, sizeof msg, "%s", p->d->msg);
            rc = pp_diag_set(p->d, rc, p->file, 1, 1, "%s", msg);
        }
    }
    if (rc == 0)
        rc = check_deadlock(p, plan, op_act);
    free(sh.stage_rank);
    free(sh.first_act);
    free(op_act);
    if (rc) {
        pp_plan_free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}
