/* test_sched_async.c - the schedules without a flush (pipedream, pipedream-2bw,
 * localsgd, naive) against pipedream-theory.md §1.3, §1.4, §4.1 and
 * schedules.md §2.3, §2.4, replayed by the engine in the paper's unit time
 * model: F = B = 1 ms, no latency, no bandwidth limit, so an op's start time in
 * ms is the paper's step number. */
#include "testutil.h"

#include "simutil.h"

#define MS 1000000 /* ns per unit step */

struct run {
    struct pp_plan *plan;
    struct pp_sim_result *res;
};

/* Build schedule k for sp and replay it with unit costs; 0 on success. */
static int unit_run(enum pp_schedule_kind k, struct pp_sched_params sp, struct run *out)
{
    struct pp_costmodel *cm = uniform_model((size_t)sp.stages, 1, 1, 0, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_diag d;
    struct pp_sim_config cfg = {0};
    cfg.record_spans = 1;
    out->plan = NULL;
    out->res = NULL;
    sp.chunks = 1;
    int rc = pp_partition_balanced(cm, (size_t)sp.stages, &part, &d);
    if (rc == 0)
        rc = pp_plan_build(k, &sp, &out->plan, &d);
    if (rc == 0)
        rc = pp_sim_run(out->plan, part, &cfg, &out->res, &d);
    if (rc)
        fprintf(stderr, "unit_run(%s): %s\n", pp_schedule_name(k), d.msg);
    pp_partition_free(part);
    free_model(cm);
    return rc;
}

static void run_free(struct run *r)
{
    pp_sim_result_free(r->res);
    pp_plan_free(r->plan);
}

static long long step_of(const struct run *r, size_t o)
{
    return (long long)(r->res->spans[o].start_ns / MS);
}

static long long makespan_steps(const struct run *r)
{
    return (long long)(r->res->makespan_ns / MS);
}

/* Op index of (kind, mb) in device dv's list, or (size_t)-1. */
static size_t find_op(const struct pp_plan *p, int dv, int kind, int64_t mb)
{
    for (size_t o = p->dev_first[dv]; o < p->dev_first[dv + 1]; o++)
        if (p->ops[o].kind == kind && p->ops[o].mb == mb)
            return o;
    return (size_t)-1;
}

/* pipedream-theory.md §1.3, the S = 4 table ("matches the paper's figure
 * PipeDream-style 1F1B schedule exactly"): every stage's ops in list order
 * with their start steps, over steps 0..17. Microbatches are 1-indexed there. */
static void test_pd_s4_timeline(void)
{
    static const char *const table[4] = {
        "F1 F2 F3 F4  .  .  . B1 F5 B2 F6 B3 F7 B4 F8 B5 F9 B6",
        " .  F1 F2 F3 F4  . B1  . B2 F5 B3 F6 B4 F7 B5 F8 B6 F9",
        " .  .  F1 F2 F3 B1 F4 B2  . B3 F5 B4 F6 B5 F7 B6 F8 B7",
        " .  .  .  F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7 F8",
    };
    struct run r;
    struct pp_sched_params sp = {.stages = 4, .microbatches = 12};
    CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_PIPEDREAM, sp, &r), 0);
    for (int s = 0; s < 4; s++) {
        char want[512] = "", got[512] = "", tok[8];
        size_t wl = 0, gl = 0;
        int t = 0, used = 0;
        for (const char *c = table[s]; sscanf(c, "%7s%n", tok, &used) == 1; c += used, t++)
            if (tok[0] != '.')
                wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%s@%d", wl ? " " : "", tok, t);
        CHECK_INT(t, 18);
        for (size_t o = r.plan->dev_first[s]; o < r.plan->dev_first[s + 1]; o++) {
            if (step_of(&r, o) >= 18)
                continue;
            const struct pp_op *op = &r.plan->ops[o];
            gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%s%d@%lld", gl ? " " : "",
                                   pp_op_kind_name(op->kind), op->mb + 1, step_of(&r, o));
        }
        CHECK_STR(got, want);
    }
    run_free(&r);
}

/* pipedream-theory.md §1.3 [DERIVED, checked for S = 2..64]: T = 2N + 2S - 2. */
static void test_pd_makespan(void)
{
    for (int S = 2; S <= 16; S++) {
        const int64_t ns[] = {1, 2, S - 1, S, S + 1, 2 * S, 3 * S + 1, 50};
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
            struct run r;
            struct pp_sched_params sp = {.stages = S, .microbatches = ns[i]};
            CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_PIPEDREAM, sp, &r), 0);
            CHECK_INT(makespan_steps(&r), 2 * ns[i] + 2 * S - 2);
            CHECK_INT(r.res->makespan_ns % MS, 0);
            run_free(&r);
        }
    }
}

/* pipedream-theory.md §1.3: peak microbatches in flight per stage = stashed
 * weight versions, S=4: [4, 4, 3, 1]; S=8: [8, 8, 8, 8, 7, 5, 3, 1]; §1.4 the
 * engine counts one stashed version per microbatch in flight. */
static void test_pd_stash_peaks(void)
{
    static const int s4[] = {4, 4, 3, 1}, s8[] = {8, 8, 8, 8, 7, 5, 3, 1};
    const struct {
        int S;
        const int *want;
    } cases[] = {{4, s4}, {8, s8}};
    for (size_t c = 0; c < 2; c++) {
        int S = cases[c].S;
        const int64_t ns[] = {S, 2 * S, 10 * S + 3};
        for (size_t i = 0; i < 3; i++) {
            struct run r;
            struct pp_sched_params sp = {.stages = S, .microbatches = ns[i]};
            CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_PIPEDREAM, sp, &r), 0);
            CHECK_INT(r.plan->weights, PP_WEIGHTS_STASH);
            for (int s = 0; s < S; s++) {
                CHECK_INT(r.res->dev[s].weight_versions, cases[c].want[s]);
                CHECK_INT(r.res->dev[s].peak_inflight, cases[c].want[s]);
            }
            run_free(&r);
        }
    }
}

/* pipedream-theory.md §1.3: own-stage staleness (updates of w_s between F(s, m)
 * and B(s, m)) is S - s (1-indexed) in steady state; schedules.md §2.3 gives the
 * same n - k count. Every B on stage s is one update of w_s. Also the
 * checkerboard: for even S exactly S/2 stages run a B at every steady step. */
static void test_pd_staleness(void)
{
    const int stages[] = {2, 3, 4, 5, 8, 12};
    for (size_t c = 0; c < sizeof stages / sizeof *stages; c++) {
        int S = stages[c];
        int64_t N = 10 * S, m = 5 * S;
        struct run r;
        struct pp_sched_params sp = {.stages = S, .microbatches = N};
        CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_PIPEDREAM, sp, &r), 0);
        for (int s = 0; s < S; s++) {
            size_t f = find_op(r.plan, s, PP_OP_F, m), b = find_op(r.plan, s, PP_OP_B, m);
            CU_ASSERT_FATAL(f != (size_t)-1 && b != (size_t)-1);
            long long tf = step_of(&r, f), tb = step_of(&r, b), updates = 0;
            for (size_t o = r.plan->dev_first[s]; o < r.plan->dev_first[s + 1]; o++)
                if (r.plan->ops[o].kind == PP_OP_B && step_of(&r, o) > tf && step_of(&r, o) < tb)
                    updates++;
            CHECK_INT(updates, S - (s + 1));
        }
        if (S % 2 == 0) {
            /* Steady state: after stage 1's first B (step 2S-1) until its last F. */
            long long t_end = step_of(&r, find_op(r.plan, 0, PP_OP_F, N - 1));
            for (long long t = 2 * S - 1; t <= t_end; t++) {
                int n_b = 0;
                for (size_t o = 0; o < r.plan->n_ops; o++)
                    n_b += r.plan->ops[o].kind == PP_OP_B && step_of(&r, o) == t;
                CHECK_INT(n_b, S / 2);
            }
        }
        run_free(&r);
    }
}

/* pipedream-theory.md §1.3: noam = 1 is naive model parallelism, F1..FS then
 * BS..B1 per microbatch, T = 2S·N. */
static void test_naive(void)
{
    const int stages[] = {1, 2, 3, 4, 8};
    const int64_t ns[] = {1, 3, 7};
    for (size_t c = 0; c < 5; c++)
        for (size_t i = 0; i < 3; i++) {
            int S = stages[c];
            int64_t N = ns[i];
            struct run r;
            struct pp_sched_params sp = {.stages = S, .microbatches = N};
            CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_NAIVE, sp, &r), 0);
            CHECK_INT(makespan_steps(&r), 2 * S * N);
            CHECK_INT(r.plan->weights, PP_WEIGHTS_FLUSH);
            for (int s = 0; s < S; s++) {
                CHECK_INT(r.res->dev[s].peak_inflight, 1);
                for (int64_t m = 0; m < N; m++) {
                    size_t f = r.plan->dev_first[s] + 2 * (size_t)m;
                    CHECK_INT(r.plan->ops[f].kind, PP_OP_F);
                    CHECK_INT(r.plan->ops[f].mb, m);
                    CHECK_INT(r.plan->ops[f + 1].kind, PP_OP_B);
                    CHECK_INT(r.plan->ops[f + 1].mb, m);
                    CHECK_INT(step_of(&r, f), 2 * S * m + s);
                    CHECK_INT(step_of(&r, f + 1), 2 * S * m + 2 * S - 1 - s);
                }
            }
            run_free(&r);
        }
    /* The same as pipedream with noam 1, op for op. */
    struct pp_sched_params sp = {.stages = 5, .chunks = 1, .microbatches = 9}, one = sp;
    one.noam = 1;
    struct pp_plan *a = NULL, *b = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_NAIVE, &sp, &a, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_PIPEDREAM, &one, &b, &d), 0);
    CHECK_INT(a->n_ops, b->n_ops);
    CU_ASSERT_EQUAL(memcmp(a->ops, b->ops, a->n_ops * sizeof *a->ops), 0);
    pp_plan_free(a);
    pp_plan_free(b);
}

/* pipedream-theory.md §4.1 "For N = 600 microbatches at S = 16": PD 1230,
 * LocalSGD H = 2 / 5 / 30: 1770 / 1440 / 1260 (R = S; the last round is partial). */
static void test_localsgd_published(void)
{
    struct run r;
    struct pp_sched_params pd = {.stages = 16, .microbatches = 600};
    CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_PIPEDREAM, pd, &r), 0);
    CHECK_INT(makespan_steps(&r), 1230);
    run_free(&r);
    const struct {
        int H;
        long long want;
    } cases[] = {{2, 1770}, {5, 1440}, {30, 1260}};
    for (size_t c = 0; c < 3; c++) {
        struct pp_sched_params sp = {.stages = 16, .microbatches = 600,
                                     .local_replicas = 16, .local_steps = cases[c].H};
        CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_LOCALSGD, sp, &r), 0);
        CHECK_INT(makespan_steps(&r), cases[c].want);
        CHECK_INT(r.plan->weights, PP_WEIGHTS_FLUSH);
        run_free(&r);
        /* R defaults to the stage count. */
        sp.local_replicas = 0;
        CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_LOCALSGD, sp, &r), 0);
        CHECK_INT(makespan_steps(&r), cases[c].want);
        run_free(&r);
    }
}

/* pipedream-theory.md §4.1: with R = S a round takes T_round = 2SH + 2(S-1)
 * steps, each machine busy 2SH of them; the examples table gives S = 4: 14, 22,
 * 46, 246 and S = 16: 62, 94, 190, 990 for H = 1, 2, 5, 30. */
static void test_localsgd_rounds(void)
{
    static const long long tab4[] = {14, 22, 46, 246}, tab16[] = {62, 94, 190, 990};
    const int hs[] = {1, 2, 5, 30};
    for (int c = 0; c < 2; c++) {
        int S = c ? 16 : 4;
        for (int h = 0; h < 4; h++) {
            int H = hs[h];
            long long t_round = 2LL * S * H + 2 * (S - 1);
            CHECK_INT(t_round, c ? tab16[h] : tab4[h]);
            for (int64_t rounds = 1; rounds <= 3; rounds++) {
                struct run r;
                struct pp_sched_params sp = {.stages = S, .microbatches = rounds * S * H,
                                             .local_steps = H};
                CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_LOCALSGD, sp, &r), 0);
                CHECK_INT(makespan_steps(&r), rounds * t_round);
                for (int s = 0; s < S; s++)
                    CHECK_INT(r.res->dev[s].busy_ns / MS, rounds * 2 * S * H);
                run_free(&r);
            }
        }
    }
}

/* pipedream-theory.md §4.1: "F(s, i) of replica r's next local step waits until
 * B(s, i - R) has finished on that stage" and "No F of round q+1 starts until
 * the last microbatch of round q has finished B on stage 1", for R below, at
 * and above S and a partial last round. */
static void test_localsgd_barrier_and_replicas(void)
{
    const int rs[] = {1, 2, 4, 6}, hs[] = {1, 3};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 2; b++) {
            int S = 4, R = rs[a], H = hs[b];
            int64_t N = 25, round = (int64_t)R * H;
            struct run r;
            struct pp_sched_params sp = {.stages = S, .microbatches = N, .local_replicas = R,
                                         .local_steps = H};
            CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_LOCALSGD, sp, &r), 0);
            for (int s = 0; s < S; s++)
                for (int64_t i = 0; i < N; i++) {
                    if (i % round < R)
                        continue;
                    size_t f = find_op(r.plan, s, PP_OP_F, i), bk = find_op(r.plan, s, PP_OP_B, i - R);
                    CU_ASSERT(r.res->spans[f].start_ns >= r.res->spans[bk].end_ns);
                }
            /* Stage 1 runs every op of round q before any F of round q+1. */
            int64_t max_seen = -1;
            for (size_t o = r.plan->dev_first[0]; o < r.plan->dev_first[1]; o++) {
                const struct pp_op *op = &r.plan->ops[o];
                if (op->kind == PP_OP_F && op->mb % round == 0 && op->mb > 0) {
                    CHECK_INT(max_seen, op->mb - 1);
                    size_t last = find_op(r.plan, 0, PP_OP_B, op->mb - 1);
                    CU_ASSERT(r.res->spans[o].start_ns >= r.res->spans[last].end_ns);
                }
                if (op->kind == PP_OP_B && op->mb > max_seen)
                    max_seen = op->mb;
            }
            run_free(&r);
        }
}

/* schedules.md §2.4: 2BW runs warm-up min(p-r-1, m) forwards once, 1F1B across
 * batch boundaries, cooldown once, no flush; 2 weight versions on every stage
 * (§3 table) and at most p-r microbatches in flight (≤ d stashes). */
static void test_2bw(void)
{
    struct run r;
    struct pp_sched_params sp = {.stages = 4, .microbatches = 8};
    CU_ASSERT_EQUAL_FATAL(unit_run(PP_SCHED_PIPEDREAM_2BW, sp, &r), 0);
    static const char *const want[4] = {
        "F0 F1 F2 F3 B0 F4 B1 F5 B2 F6 B3 F7 B4 B5 B6 B7",
        "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 F6 B4 F7 B5 B6 B7",
        "F0 F1 B0 F2 B1 F3 B2 F4 B3 F5 B4 F6 B5 F7 B6 B7",
        "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7",
    };
    CHECK_INT(r.plan->weights, PP_WEIGHTS_DOUBLE);
    for (int s = 0; s < 4; s++) {
        char got[256] = "";
        size_t gl = 0;
        for (size_t o = r.plan->dev_first[s]; o < r.plan->dev_first[s + 1]; o++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%s%d", gl ? " " : "",
                                   pp_op_kind_name(r.plan->ops[o].kind), r.plan->ops[o].mb);
        CHECK_STR(got, want[s]);
        CHECK_INT(r.res->dev[s].weight_versions, 2);
        CHECK_INT(r.res->dev[s].peak_inflight, 4 - s);
    }
    /* No flush: the unit-time length is one fill and drain, 2(N + S - 1). */
    CHECK_INT(makespan_steps(&r), 2 * (8 + 4 - 1));
    run_free(&r);
}

/* Every plan passes pp_plan_validate, has 2·S·N compute ops and no optimizer
 * step (no flush), and replays without deadlock under non-unit costs too. */
static void test_all_valid(void)
{
    const enum pp_schedule_kind kinds[] = {PP_SCHED_PIPEDREAM, PP_SCHED_PIPEDREAM_2BW,
                                           PP_SCHED_LOCALSGD, PP_SCHED_NAIVE};
    const int stages[] = {1, 2, 3, 5, 8};
    const int64_t ns[] = {1, 2, 7, 16};
    struct pp_costmodel *cm = uniform_model(8, 1.0, 2.3, 0, 100, 10);
    for (size_t k = 0; k < 4; k++)
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 4; b++)
                for (int v = 0; v < 3; v++) {
                    struct pp_sched_params sp = {.stages = stages[a], .chunks = 1,
                                                 .microbatches = ns[b]};
                    if (kinds[k] == PP_SCHED_PIPEDREAM)
                        sp.noam = v; /* default, 1, 2 */
                    if (kinds[k] == PP_SCHED_LOCALSGD) {
                        sp.local_replicas = v + 1;
                        sp.local_steps = 2 - v + 1;
                    }
                    if ((kinds[k] == PP_SCHED_PIPEDREAM_2BW || kinds[k] == PP_SCHED_NAIVE) && v)
                        continue;
                    struct pp_plan *p = NULL;
                    struct pp_partition *part = NULL;
                    struct pp_sim_result *res = NULL;
                    struct pp_diag d;
                    CU_ASSERT_EQUAL_FATAL(pp_plan_build(kinds[k], &sp, &p, &d), 0);
                    CHECK_INT(pp_plan_validate(p, &d), 0);
                    CHECK_INT(p->n_ops, 2 * (int64_t)sp.stages * sp.microbatches);
                    for (size_t o = 0; o < p->n_ops; o++)
                        CU_ASSERT(p->ops[o].kind == PP_OP_F || p->ops[o].kind == PP_OP_B);
                    struct pp_sim_config cfg = {0};
                    cfg.link_latency_ms = 0.3;
                    cfg.link_bandwidth_bytes_per_s = 1e3;
                    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, (size_t)sp.stages, &part, &d), 0);
                    CHECK_INT(pp_sim_run(p, part, &cfg, &res, &d), 0);
                    pp_sim_result_free(res);
                    pp_partition_free(part);
                    pp_plan_free(p);
                }
    free_model(cm);
}

/* Parameters a schedule cannot run are rejected, naming the key. */
static void test_rejects(void)
{
    const struct {
        enum pp_schedule_kind k;
        struct pp_sched_params sp;
        const char *key;
    } bad[] = {
        {PP_SCHED_PIPEDREAM, {.stages = 4, .chunks = 2, .microbatches = 8}, "chunks"},
        {PP_SCHED_PIPEDREAM_2BW, {.stages = 4, .chunks = 2, .microbatches = 8}, "chunks"},
        {PP_SCHED_LOCALSGD, {.stages = 4, .chunks = 2, .microbatches = 8}, "chunks"},
        {PP_SCHED_NAIVE, {.stages = 4, .chunks = 2, .microbatches = 8}, "chunks"},
        {PP_SCHED_PIPEDREAM, {.stages = 4, .chunks = 1, .microbatches = 8, .noam = -1}, "noam"},
        {PP_SCHED_LOCALSGD, {.stages = 4, .chunks = 1, .microbatches = 8, .noam = -2}, "noam"},
        {PP_SCHED_NAIVE, {.stages = 4, .chunks = 1, .microbatches = 8, .noam = 2}, "noam"},
        {PP_SCHED_PIPEDREAM_2BW, {.stages = 4, .chunks = 1, .microbatches = 8, .noam = 2}, "noam"},
        {PP_SCHED_LOCALSGD, {.stages = 4, .chunks = 1, .microbatches = 8, .local_replicas = -1},
         "local_replicas"},
        {PP_SCHED_LOCALSGD, {.stages = 4, .chunks = 1, .microbatches = 8, .local_steps = -3},
         "local_steps"},
        {PP_SCHED_PIPEDREAM, {.stages = 4, .chunks = 1, .microbatches = 8, .local_steps = 2},
         "local_steps"},
        {PP_SCHED_NAIVE, {.stages = 4, .chunks = 1, .microbatches = 8, .local_replicas = 2},
         "local_replicas"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *key = NULL;
        const char *why = pp_sched_check(bad[i].k, &bad[i].sp, &key);
        CU_ASSERT_PTR_NOT_NULL(why);
        CHECK_STR(key, bad[i].key);
        struct pp_plan *p = NULL;
        struct pp_diag d;
        CHECK_INT(pp_plan_build(bad[i].k, &bad[i].sp, &p, &d), -PP_EINVAL);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "pipeline.%s: ", bad[i].key);
        CHECK_CONTAINS(d.msg, prefix);
        CU_ASSERT_PTR_NULL(p);
    }
    /* naive accepts its own noam; any m >= 1, including fewer than the stages. */
    const char *key = NULL;
    struct pp_sched_params ok = {.stages = 8, .chunks = 1, .microbatches = 1, .noam = 1};
    CU_ASSERT_PTR_NULL(pp_sched_check(PP_SCHED_NAIVE, &ok, &key));
    ok.noam = 0;
    CU_ASSERT_PTR_NULL(pp_sched_check(PP_SCHED_PIPEDREAM_2BW, &ok, &key));
    CHECK_INT(pp_schedule_from_name("pipedream"), PP_SCHED_PIPEDREAM);
    CHECK_INT(pp_schedule_from_name("pipedream-2bw"), PP_SCHED_PIPEDREAM_2BW);
    CHECK_INT(pp_schedule_from_name("localsgd"), PP_SCHED_LOCALSGD);
    CHECK_INT(pp_schedule_from_name("naive"), PP_SCHED_NAIVE);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"pipedream S=4 timeline (theory §1.3)", test_pd_s4_timeline},
        {"pipedream makespan 2N+2S-2 (theory §1.3)", test_pd_makespan},
        {"pipedream stash peaks [4,4,3,1], [8,..,1] (theory §1.3)", test_pd_stash_peaks},
        {"pipedream own-stage staleness S-s (theory §1.3)", test_pd_staleness},
        {"naive = noam 1, T = 2SN (theory §1.3)", test_naive},
        {"localsgd 1770/1440/1260 vs PD 1230 (theory §4.1)", test_localsgd_published},
        {"localsgd round length 2SH+2(S-1) (theory §4.1)", test_localsgd_rounds},
        {"localsgd barrier and replica order (theory §4.1)", test_localsgd_barrier_and_replicas},
        {"pipedream-2bw order and 2 versions (schedules §2.4)", test_2bw},
        {"every plan validates, no flush", test_all_valid},
        {"bad parameters rejected", test_rejects},
        {NULL, NULL},
    };
    return pp_test_main("sched_async", tests);
}
