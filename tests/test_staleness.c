/* test_staleness.c - weight delays against pipedream-theory.md §2 (the delay
 * definition §2.1, the exact formulas and table §2.3, the worked matrices
 * §2.4), §1.3 (stash counts, own-stage staleness) and schedules.md §2.4 (2BW). */
#include "simutil.h"
#include "staleness.h"
#include "testutil.h"
#include "wtrace.h"

static struct pp_staleness *unit(enum pp_schedule_kind kind, int S, int64_t N, int64_t M,
                                 enum pp_wconv conv)
{
    struct pp_staleness *st = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_staleness_unit(kind, S, N, M, conv, &st, &d);
    if (rc)
        fprintf(stderr, "S=%d: %s\n", S, d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return st;
}

/* §2.4 worked examples, rows s, columns i, one steady-state microbatch. */
static void test_worked_matrices(void)
{
    static const int64_t s2[] = {3, 1, 2, 0};
    static const int64_t s3[] = {7, 5, 3, 6, 4, 2, 5, 3, 1};
    static const int64_t s4[] = {14, 11, 9, 6, 12, 9, 7, 4, 11, 8, 6, 3, 9, 6, 4, 1};
    static const int64_t s5[] = {22, 19, 16, 13, 10, 20, 17, 14, 11, 8, 18, 15, 12, 9, 6,
                                 16, 13, 10, 7, 4, 14, 11, 8, 5, 2};
    const int64_t *want[] = {s2, s3, s4, s5};
    for (int S = 2; S <= 5; S++) {
        struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM, S, 0, 0, PP_WCONV_PAPER);
        for (int c = 0; c < S * S; c++)
            CHECK_INT(st->delay_matrix[c], want[S - 2][c]);
        pp_staleness_free(st);
    }
}

/* §2.3: tau_max = floor(S(2S-1)/2), steady mean (S^2-1)/2, verified there for
 * S = 2..32; the delta column {3, 14, 60, 248, 1008, 4064, 16320}. */
static void test_max_and_mean(void)
{
    for (int S = 2; S <= 40; S++) {
        struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM, S, 0, 0, PP_WCONV_PAPER);
        CHECK_INT(st->max_delay, S * (2 * S - 1) / 2);
        CHECK_CLOSE(st->mean_delay, (S * S - 1) / 2.0, 1e-12);
        pp_staleness_free(st);
    }
    static const int64_t delta[] = {3, 14, 60, 248, 1008, 4064, 16320};
    for (int e = 0; e < 7; e++) {
        int S = 2 << e;
        struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM, S, 0, 0, PP_WCONV_PAPER);
        CHECK_INT(st->max_delay, delta[e]);
        CHECK_CLOSE(st->mean_delay, (S * S - 1) / 2.0, 1e-12);
        pp_staleness_free(st);
    }
}

/* §2.3 even S: delay(s,i) = (S/2)(2S-s-i) + ceil((S-i)/2) + floor((s-1)/2). */
static void test_even_closed_form(void)
{
    static const int sizes[] = {2, 4, 6, 8, 10, 16, 32};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int S = sizes[k];
        struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM, S, 0, 0, PP_WCONV_PAPER);
        for (int s = 1; s <= S; s++)
            for (int i = 1; i <= S; i++) {
                int64_t want = (int64_t)(S / 2) * (2 * S - s - i) + (S - i + 1) / 2 + (s - 1) / 2;
                CHECK_INT(st->delay_matrix[(s - 1) * S + (i - 1)], want);
            }
        pp_staleness_free(st);
    }
}

/* §2.3 table, p10 column (paper-code convention: N = 10 S, second half of the
 * updates); §2.3 "start-up transient" 16 at S = 4 (issue 6). */
static void test_p10_and_run(void)
{
    static const int S_[] = {2, 3, 4, 5, 6, 8, 10, 16, 32, 64};
    static const double p10[] = {0, 1, 3, 5, 7, 14, 22, 58, 232, 931};
    for (int k = 0; k < 10; k++) {
        struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM, S_[k], 0, 0, PP_WCONV_PAPER);
        CHECK_CLOSE(st->p10_delay, p10[k], 1e-12);
        CU_ASSERT(st->run_max_delay >= st->max_delay);
        if (S_[k] == 4)
            CHECK_INT(st->run_max_delay, 16);
        pp_staleness_free(st);
    }
}

/* §1.3: own-stage staleness S - s; peak stashed versions [4,4,3,1] and
 * [8,8,8,8,7,5,3,1] for the greedy schedule. */
static void test_own_stage_and_stash(void)
{
    static const int v4[] = {4, 4, 3, 1}, v8[] = {8, 8, 8, 8, 7, 5, 3, 1};
    struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM, 4, 0, 0, PP_WCONV_PAPER);
    for (int s = 0; s < 4; s++) {
        CHECK_INT(st->own_stage[s], 4 - (s + 1));
        CHECK_INT(st->stash_versions[s], v4[s]);
    }
    pp_staleness_free(st);
    st = unit(PP_SCHED_PIPEDREAM, 8, 0, 0, PP_WCONV_PAPER);
    for (int s = 0; s < 8; s++) {
        CHECK_INT(st->own_stage[s], 8 - (s + 1));
        CHECK_INT(st->stash_versions[s], v8[s]);
    }
    pp_staleness_free(st);
}

/* Issue 6 / §6 item 2: every flushing schedule reads fresh weights (delay 0);
 * LocalSGD has none inside a replica (§4.1). Under both conventions. */
static void test_synchronous_zero(void)
{
    static const enum pp_schedule_kind kinds[] = {PP_SCHED_GPIPE, PP_SCHED_1F1B, PP_SCHED_ZB_H1,
                                                  PP_SCHED_ZB_H2, PP_SCHED_NAIVE, PP_SCHED_LOCALSGD};
    for (int conv = 0; conv < 2; conv++)
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int S = 2; S <= 8; S += 3) {
            struct pp_staleness *st = unit(kinds[k], S, 4 * S, 0, (enum pp_wconv)conv);
            CHECK_INT(st->max_delay, 0);
            CHECK_INT(st->run_max_delay, 0);
            CHECK_INT(st->n_updates, 4 * S * S);
            for (int s = 0; s < S; s++)
                CHECK_INT(st->own_stage[s], 0);
            pp_staleness_free(st);
        }
    /* an interleaved plan over several iterations: still 0 */
    struct pp_costmodel *cm = uniform_model(8, 1, 1, 0, 0, 0);
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_sim_result *res = NULL;
    struct pp_wtrace *t = NULL;
    struct pp_staleness *st = NULL;
    struct pp_diag d;
    struct pp_sched_params sp = {.stages = 2, .chunks = 2, .microbatches = 4};
    struct pp_sim_config cfg = {.record_spans = 1, .latency_only = 1};
    struct pp_wtrace_opts wo = {PP_WCONV_PHYSICAL, 3, 0};
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 4, &part, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_INTERLEAVED_1F1B, &sp, &plan, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_sim_run(plan, part, &cfg, &res, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_wtrace_build(plan, res, &wo, &t, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_staleness_compute(t, res, &st, &d), 0);
    CHECK_INT(st->n_blocks, 4);
    CHECK_INT(st->n_updates, 4 * 4 * 3);
    CHECK_INT(st->run_max_delay, 0);
    pp_staleness_free(st);
    pp_wtrace_free(t);
    pp_sim_result_free(res);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
}

/* schedules.md §2.4: 2BW reads version max(floor((k-1)/m) - 1, 0), so every
 * update after the first batch is one batch (S block updates) stale, on
 * every stage; a batch shorter than the pipeline cannot hold that. */
static void test_2bw_one_batch(void)
{
    for (int S = 2; S <= 8; S *= 2) {
        struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM_2BW, S, 0, 0, PP_WCONV_PAPER);
        CHECK_INT(st->max_delay, S);
        CHECK_CLOSE(st->mean_delay, S, 0);
        for (int s = 0; s < S; s++)
            CHECK_INT(st->own_stage[s], 1);
        CHECK_INT(st->stash_versions[0], 2);
        pp_staleness_free(st);
    }
    struct pp_staleness *st = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    CU_ASSERT(pp_staleness_unit(PP_SCHED_PIPEDREAM_2BW, 4, 40, 2, PP_WCONV_PAPER, &st, &d) != 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "before that version exists"));
}

/* The physical convention, hand-derived for S = 2 from the §2.4 timeline:
 * B(2,m-1) ends when F(2,m) starts, so it counts as before the read. */
static void test_physical_s2(void)
{
    static const int64_t want[] = {3, 2, 2, 1};
    struct pp_staleness *st = unit(PP_SCHED_PIPEDREAM, 2, 0, 0, PP_WCONV_PHYSICAL);
    for (int c = 0; c < 4; c++)
        CHECK_INT(st->delay_matrix[c], want[c]);
    /* delay in time: F(1,m) at t to B(1,m) end at t+4 */
    CHECK_CLOSE(st->delay_ms_matrix[0], 4, 1e-12);
    pp_staleness_free(st);
}

/* Real costs: with B = 2 F every op takes longer but the updates per unit
 * time scale down with them, so the delay in updates stays near S^2 - S/2
 * while the delay in ms grows with the costs (§6 item 10). */
static void test_real_costs(void)
{
    struct pp_costmodel *cm = uniform_model(4, 1, 2, 0, 0, 0);
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_sim_result *res = NULL;
    struct pp_wtrace *t = NULL;
    struct pp_staleness *st = NULL;
    struct pp_diag d;
    struct pp_sched_params sp = {.stages = 4, .chunks = 1, .microbatches = 40};
    struct pp_sim_config cfg = {.record_spans = 1, .latency_only = 1};
    struct pp_wtrace_opts wo = {PP_WCONV_PAPER, 1, 0};
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 4, &part, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_PIPEDREAM, &sp, &plan, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_sim_run(plan, part, &cfg, &res, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_wtrace_build(plan, res, &wo, &t, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_staleness_compute(t, res, &st, &d), 0);
    CHECK_INT(st->n_updates, 160);
    CU_ASSERT(st->max_delay >= 12 && st->max_delay <= 16);
    CU_ASSERT(st->max_delay_ms > 8); /* 8 ms in the unit model */
    pp_staleness_free(st);
    pp_wtrace_free(t);
    pp_sim_result_free(res);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
}

/* numpy.percentile's default (linear) on small multisets. */
static void test_percentile(void)
{
    int64_t h1[] = {0, 1, 1, 1, 1}; /* {1,2,3,4} */
    CHECK_CLOSE(pp_hist_percentile(h1, 5, 10), 1.3, 1e-12);
    CHECK_CLOSE(pp_hist_percentile(h1, 5, 50), 2.5, 1e-12);
    CHECK_CLOSE(pp_hist_percentile(h1, 5, 100), 4, 1e-12);
    int64_t h2[] = {3, 0, 0, 0, 0, 0, 0, 0, 0, 1}; /* {0,0,0,9} */
    CHECK_CLOSE(pp_hist_percentile(h2, 10, 90), 6.3, 1e-12);
    CHECK_CLOSE(pp_hist_percentile(h2, 0, 10), 0, 0);
}

static void test_rejects(void)
{
    struct pp_staleness *st = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    CU_ASSERT(pp_staleness_unit(PP_SCHED_PIPEDREAM, 1, 0, 0, PP_WCONV_PAPER, &st, &d) != 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "at least 2 stages"));
    CU_ASSERT(pp_staleness_unit(PP_SCHED_PIPEDREAM, 4, 7, 0, PP_WCONV_PAPER, &st, &d) != 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "at least 2 x stages = 8"));
    CU_ASSERT(pp_staleness_unit(PP_SCHED_INTERLEAVED_1F1B, 4, 0, 0, PP_WCONV_PAPER, &st, &d) != 0);
    CU_ASSERT_PTR_NULL(st);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"worked matrices S=2..5 (theory §2.4)", test_worked_matrices},
        {"tau_max and steady mean, S=2..40 and 2..128 (theory §2.3)", test_max_and_mean},
        {"even-S closed form (theory §2.3)", test_even_closed_form},
        {"p10 table and start-up transient (theory §2.3)", test_p10_and_run},
        {"own-stage S-s and stash counts (theory §1.3)", test_own_stage_and_stash},
        {"synchronous schedules and LocalSGD: 0", test_synchronous_zero},
        {"pipedream-2bw: one batch (schedules §2.4)", test_2bw_one_batch},
        {"physical convention, S=2 by hand", test_physical_s2},
        {"real costs: updates and ms", test_real_costs},
        {"percentile = numpy linear", test_percentile},
        {"bad input rejected", test_rejects},
        {NULL, NULL},
    };
    return pp_test_main("staleness", tests);
}
