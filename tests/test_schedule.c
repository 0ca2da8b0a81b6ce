/* test_schedule.c - op orders of GPipe and 1F1B exactly as schedules.md §2.1-2.2
 * gives them (PyTorch ScheduleGPipe; Megatron get_pp_rank_microbatches), and the
 * plan validator. */
#include "testutil.h"

#include "diag.h"
#include "schedule.h"

/* Render a device's list as "F0 F1 B0 ..." for readable comparisons. */
static void render(const struct pp_plan *p, int dv, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t o = p->dev_first[dv]; o < p->dev_first[dv + 1]; o++) {
        const struct pp_op *op = &p->ops[o];
        int n = op->mb >= 0 ? snprintf(out + used, len - used, "%s%s%d", used ? " " : "",
                                       pp_op_kind_name(op->kind), op->mb)
                            : snprintf(out + used, len - used, "%s%s", used ? " " : "",
                                       pp_op_kind_name(op->kind));
        used += (size_t)n;
    }
}

static void test_1f1b_orders(void)
{
    struct pp_sched_params sp = {.stages = 4, .chunks = 1, .microbatches = 8};
    struct pp_plan *p = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_1F1B, &sp, &p, &d), 0);
    char s[512];
    /* rank r: min(p-r-1, m) warm-up F, then [F, B] pairs, then the remaining B. */
    render(p, 0, s, sizeof s);
    CHECK_STR(s, "F0 F1 F2 F3 B0 F4 B1 F5 B2 F6 B3 F7 B4 B5 B6 B7 OPT");
    render(p, 2, s, sizeof s);
    CHECK_STR(s, "F0 F1 B0 F2 B1 F3 B2 F4 B3 F5 B4 F6 B5 F7 B6 B7 OPT");
    render(p, 3, s, sizeof s);
    CHECK_STR(s, "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7 OPT");
    pp_plan_free(p);
    /* m < p: warm-up is capped at m, so rank 0 runs all forwards first. */
    struct pp_sched_params few = {.stages = 4, .chunks = 1, .microbatches = 2};
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_1F1B, &few, &p, &d), 0);
    render(p, 0, s, sizeof s);
    CHECK_STR(s, "F0 F1 B0 B1 OPT");
    pp_plan_free(p);
}

static void test_gpipe_orders(void)
{
    struct pp_sched_params sp = {.stages = 3, .chunks = 1, .microbatches = 4};
    struct pp_plan *p = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_GPIPE, &sp, &p, &d), 0);
    char s[512];
    for (int r = 0; r < 3; r++) {
        render(p, r, s, sizeof s);
        CHECK_STR(s, "F0 F1 F2 F3 B0 B1 B2 B3 OPT");
        CHECK_INT(p->piece_device[r], r);
    }
    pp_plan_free(p);
}

static void test_rejects(void)
{
    struct pp_sched_params sp = {.stages = 4, .chunks = 2, .microbatches = 8};
    struct pp_plan *p = NULL;
    struct pp_diag d;
    CHECK_INT(pp_plan_build(PP_SCHED_1F1B, &sp, &p, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "pipeline.chunks: this schedule runs one model chunk per device");
    CHECK_INT(pp_schedule_from_name("1f1b"), PP_SCHED_1F1B);
    CHECK_INT(pp_schedule_from_name("gpipe"), PP_SCHED_GPIPE);
    CHECK_INT(pp_schedule_from_name("1F1B"), -1);
}

/* The validator catches a missing backward and an op on the wrong device. */
static void test_validate(void)
{
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 1};
    struct pp_diag d;
    struct pp_plan *p = pp_plan_alloc(PP_SCHED_1F1B, &sp, 2);
    pp_plan_push(p, 0, PP_OP_F, 0, 0);
    pp_plan_push(p, 0, PP_OP_B, 0, 0);
    pp_plan_push(p, 1, PP_OP_F, 1, 0);
    pp_plan_finish(p);
    CHECK_INT(pp_plan_validate(p, &d), -PP_EINVAL);
    CHECK_STR(d.msg, "piece 1 microbatch 0 lacks a forward or a complete backward");
    pp_plan_free(p);
    p = pp_plan_alloc(PP_SCHED_1F1B, &sp, 2);
    pp_plan_push(p, 0, PP_OP_F, 1, 0);
    pp_plan_finish(p);
    CHECK_INT(pp_plan_validate(p, &d), -PP_EINVAL);
    CHECK_STR(d.msg, "device 0 runs F of piece 1, which is placed on device 1");
    pp_plan_free(p);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"1F1B op orders", test_1f1b_orders},
        {"GPipe op orders", test_gpipe_orders},
        {"unsupported parameters rejected", test_rejects},
        {"plan validation", test_validate},
        {NULL, NULL},
    };
    return pp_test_main("schedule", tests);
}
