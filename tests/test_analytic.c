/* test_analytic.c - the closed-form column. For balanced, communication-free
 * GPipe/1F1B it must equal the simulation exactly (Megatron SC21 §2.2.1,
 * schedules.md §2.1-2.2); with latency-only communication it must equal the ZB
 * time model's closed forms (schedules.md §3), which the simulator also meets. */
#include "testutil.h"

#include "analytic.h"
#include "diag.h"
#include "simutil.h"

static void check(enum pp_schedule_kind kind, int p, int64_t m, double lat_ms, int want_exact)
{
    struct pp_costmodel *cm = uniform_model((size_t)p, 1.5, 2.25, 0, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_sim_config cfg = {0};
    cfg.link_latency_ms = lat_ms;
    struct pp_sim_result *r = sim_model(cm, kind, p, m, &cfg, &plan, &part);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    struct pp_analytic a;
    pp_analytic_estimate(plan, part, &cfg, &a);
    CHECK_INT(a.exact, want_exact);
    CHECK_CLOSE(a.iteration_ms, (double)r->makespan_ns / 1e6, 1e-12);
    if (lat_ms == 0)
        CHECK_CLOSE(a.iteration_ms, (m + p - 1) * 3.75, 1e-12);
    pp_sim_result_free(r);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
}

static void test_exact_without_comm(void)
{
    for (int p = 1; p <= 8; p++)
        for (int64_t m = 1; m <= 20; m += 3) {
            check(PP_SCHED_GPIPE, p, m, 0, 1);
            check(PP_SCHED_1F1B, p, m, 0, 1);
        }
}

static void test_comm_forms(void)
{
    for (int p = 2; p <= 8; p *= 2)
        for (int64_t m = p; m <= 3 * p + 2; m++) {
            check(PP_SCHED_GPIPE, p, m, 0.05, 0);
            check(PP_SCHED_1F1B, p, m, 0.05, 0);
        }
}

/* Unbalanced stages: sum_s(tF+tB) + (m-1) max_s(tF+tB) is exact for GPipe
 * without communication (each phase streams behind the slowest stage). */
static void test_unbalanced_gpipe(void)
{
    struct pp_costmodel *cm = uniform_model(3, 1, 1, 0, 0, 0);
    cm->layers[1].forward_ms = 2;
    cm->layers[1].backward_input_ms = 2;
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_sim_config cfg = {0};
    struct pp_sim_result *r = sim_model(cm, PP_SCHED_GPIPE, 3, 5, &cfg, &plan, &part);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    struct pp_analytic a;
    pp_analytic_estimate(plan, part, &cfg, &a);
    CHECK_CLOSE(a.iteration_ms, (2 + 4 + 2) + 4 * 4.0, 0);
    CHECK_CLOSE(a.iteration_ms, (double)r->makespan_ns / 1e6, 0);
    pp_sim_result_free(r);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"exact without communication", test_exact_without_comm},
        {"ZB-model communication terms", test_comm_forms},
        {"unbalanced GPipe", test_unbalanced_gpipe},
        {NULL, NULL},
    };
    return pp_test_main("analytic", tests);
}
