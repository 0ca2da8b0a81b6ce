/* test_sim.c - the event-driven engine against closed forms and published numbers.
 * Sources: ../shared/reference/schedules.md §2.1-2.2 (GPipe/1F1B op orders, closed
 * forms, in-flight activations), §6 (Zero Bubble time model), §7.1 (ZB Table 5/9). */
#include "testutil.h"

#include "diag.h"
#include "simutil.h"

/* §2.1-2.2 / Megatron SC21 §2.2.1: balanced, communication-free GPipe and 1F1B
 * take exactly (m+p-1)(tF+tB); this includes m < p. */
static void test_closed_form_exact(void)
{
    const int ps[] = {1, 2, 3, 4, 8, 16};
    const int64_t ms[] = {1, 2, 3, 4, 7, 8, 16, 33};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
            for (size_t j = 0; j < sizeof ms / sizeof *ms; j++) {
                struct pp_sim_result *r = sim_uniform(k ? PP_SCHED_1F1B : PP_SCHED_GPIPE, ps[i],
                                                      ms[j], 1.25, 2.5, 0, NULL);
                CU_ASSERT_PTR_NOT_NULL_FATAL(r);
                CHECK_INT(r->makespan_ns, (ms[j] + ps[i] - 1) * 3750000);
                pp_sim_result_free(r);
            }
}

/* Hand-worked 1F1B timeline, p = 4, m = 8, tF = 1, tB = 2, no communication.
 * Rank r runs min(p-r-1, m) warm-up forwards, then [F, B] pairs, then the
 * remaining backwards; each op starts at max(device free, input ready).
 * Worked by hand: rank 3 alternates F/B from t = 3; B(2,0) waits for B(3,0)
 * (ends 6), B(1,0) for B(2,0) (ends 8), B(0,0) for B(1,0) (ends 10); from then
 * on B(r,k) starts at 10-2r+3k and rank 3's F(3,k) at 3+3k, so the last
 * backward, B(0,7), ends at 31+2 = 33 = (m+p-1)(tF+tB). Start times in list
 * order per rank (F and B interleaved as the schedule emits them). */
static void test_1f1b_hand_timeline(void)
{
    static const double want[4][16] = {
        {0, 1, 2, 3, 10, 12, 13, 15, 16, 18, 19, 21, 22, 25, 28, 31},
        {1, 2, 3, 8, 10, 11, 13, 14, 16, 17, 19, 20, 22, 23, 26, 29},
        {2, 3, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24, 27},
        {3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22, 24, 25},
    };
    struct pp_plan *plan = NULL;
    struct pp_sim_result *r = sim_uniform(PP_SCHED_1F1B, 4, 8, 1, 2, 0, &plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    for (int dv = 0; dv < 4; dv++)
        for (int i = 0; i < 16; i++)
            CHECK_CLOSE(r->spans[plan->dev_first[dv] + i].start_ns / 1e6, want[dv][i], 0);
    CHECK_INT(r->makespan_ns, 33000000);
    /* Rank 0's bubble is (p-1)(tF+tB) = 9. */
    CHECK_INT(r->makespan_ns - r->dev[0].busy_ns, 9000000);
    pp_sim_result_free(r);
    pp_plan_free(plan);
}

/* §2.2: rank r holds at most p-r microbatches' activations in 1F1B; GPipe holds all m. */
static void test_inflight_activations(void)
{
    for (int p = 2; p <= 8; p *= 2) {
        int64_t m = 3 * p;
        struct pp_sim_result *f = sim_uniform(PP_SCHED_1F1B, p, m, 1, 2, 0.01, NULL);
        struct pp_sim_result *g = sim_uniform(PP_SCHED_GPIPE, p, m, 1, 2, 0.01, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        for (int r = 0; r < p; r++) {
            CHECK_CLOSE(f->dev[r].peak_activation_bytes, p - r, 0); /* 1 byte per microbatch */
            CHECK_CLOSE(g->dev[r].peak_activation_bytes, m, 0);
        }
        pp_sim_result_free(f);
        pp_sim_result_free(g);
    }
}

/* §2.2 (derived there and checked against the ZB authors' get_hand_schedule):
 * latency-only communication c adds 2(m+p-3-floor((m-2)/p))c to 1F1B for
 * m in [p, 3p+2]; §2.1: GPipe adds 2(p-1)c. */
static void test_comm_closed_forms(void)
{
    const int ps[] = {2, 3, 4, 8};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
        int p = ps[i];
        for (int64_t m = p; m <= 3 * p + 2; m++) {
            struct pp_sim_result *f = sim_uniform(PP_SCHED_1F1B, p, m, 1, 2, 0.1, NULL);
            struct pp_sim_result *g = sim_uniform(PP_SCHED_GPIPE, p, m, 1, 2, 0.1, NULL);
            int64_t base = (m + p - 1) * 3000000;
            CHECK_INT(f->makespan_ns, base + 2 * (m + p - 3 - (m - 2) / p) * 100000);
            CHECK_INT(g->makespan_ns, base + 2 * (p - 1) * 100000);
            pp_sim_result_free(f);
            pp_sim_result_free(g);
        }
    }
}

/* Zero Bubble paper Table 5 (schedules.md §7.1), 1F1B column: profiled T_F, T_B,
 * T_W, T_comm per stage (Table 9); 1F1B runs B := T_B + T_W; bubble rate =
 * (makespan - m(T_F+T_B+T_W)) / makespan, printed to 4 decimals. */
static void test_zero_bubble_table5_1f1b(void)
{
    static const struct {
        int p, m;
        double f, b, w, c, rate;
    } rows[] = {
        {8, 24, 18.522, 18.086, 9.337, 0.601, 0.2431},  {8, 32, 18.513, 18.086, 9.331, 0.626, 0.1985},
        {8, 64, 18.546, 18.097, 9.321, 0.762, 0.1240},  {8, 24, 29.718, 29.444, 19.927, 0.527, 0.2347},
        {8, 32, 29.802, 29.428, 19.530, 0.577, 0.1898}, {8, 64, 29.935, 29.621, 19.388, 0.535, 0.1091},
        {16, 48, 11.347, 11.248, 8.132, 0.377, 0.2552}, {16, 64, 11.307, 11.254, 8.101, 0.379, 0.2082},
        {16, 128, 11.325, 11.308, 8.109, 0.378, 0.1251}, {32, 96, 10.419, 10.207, 7.715, 0.408, 0.2646},
        {32, 128, 10.408, 10.204, 7.703, 0.408, 0.2168}, {32, 256, 10.402, 10.248, 7.698, 0.460, 0.1352},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct pp_sim_result *r = sim_uniform(PP_SCHED_1F1B, rows[i].p, rows[i].m, rows[i].f,
                                              rows[i].b + rows[i].w, rows[i].c, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        double cost = (double)r->makespan_ns / 1e6;
        double rate = (cost - rows[i].m * (rows[i].f + rows[i].b + rows[i].w)) / cost;
        CHECK_CLOSE(rate, rows[i].rate, 0.00005);
        pp_sim_result_free(r);
    }
}

/* A link carries one transfer at a time (alpha-beta): with p = 2, tF = 1 ms and
 * 3 ms of link occupancy per activation, the second stage's forwards start at
 * 1+3 = 4, then 4+3 = 7, then 10 (each waits for the previous transfer), plus
 * the 0.5 ms latency: 4.5, 7.5, 10.5. */
static void test_link_serialises(void)
{
    struct pp_costmodel *cm = uniform_model(2, 1, 1, 0, 1, 3e9);
    struct pp_plan *plan = NULL;
    struct pp_sim_config cfg = {0};
    cfg.link_bandwidth_bytes_per_s = 1e12;
    cfg.link_latency_ms = 0.5;
    cfg.record_spans = 1;
    struct pp_sim_result *r = sim_model(cm, PP_SCHED_GPIPE, 2, 3, &cfg, &plan, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    size_t base = plan->dev_first[1];
    CHECK_CLOSE(r->spans[base + 0].start_ns / 1e6, 4.5, 0);
    CHECK_CLOSE(r->spans[base + 1].start_ns / 1e6, 7.5, 0);
    CHECK_CLOSE(r->spans[base + 2].start_ns / 1e6, 10.5, 0);
    /* 3 forward and 3 backward transfers, each occupying its link 3 ms. */
    CHECK_INT(r->n_transfers, 6);
    CHECK_INT(r->transfers[1].start_ns - r->transfers[0].start_ns, 3000000);
    pp_sim_result_free(r);
    pp_plan_free(plan);
    free_model(cm);
}

/* A plan whose first op waits for its own later op never finishes: the engine
 * must say which op is stuck instead of reporting a number. */
static void test_deadlock_reported(void)
{
    struct pp_costmodel *cm = uniform_model(2, 1, 1, 0, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_diag d;
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 1};
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 2, &part, &d), 0);
    struct pp_plan *plan = pp_plan_alloc(PP_SCHED_1F1B, &sp, 2);
    pp_plan_push(plan, 0, PP_OP_B, 0, 0); /* backward before its forward */
    pp_plan_push(plan, 0, PP_OP_F, 0, 0);
    pp_plan_push(plan, 1, PP_OP_F, 1, 0);
    pp_plan_push(plan, 1, PP_OP_B, 1, 0);
    pp_plan_finish(plan);
    CU_ASSERT_EQUAL(pp_plan_validate(plan, &d), 0);
    struct pp_sim_config cfg = {0};
    struct pp_sim_result *r = NULL;
    CU_ASSERT_EQUAL(pp_sim_run(plan, part, &cfg, &r, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "deadlocks: device 0");
    CU_ASSERT_PTR_NULL(r);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
}

/* Same input, same spans, bit for bit. */
static void test_deterministic(void)
{
    struct pp_plan *p1 = NULL, *p2 = NULL;
    struct pp_sim_result *a = sim_uniform(PP_SCHED_1F1B, 8, 40, 1.1, 2.3, 0.013, &p1);
    struct pp_sim_result *b = sim_uniform(PP_SCHED_1F1B, 8, 40, 1.1, 2.3, 0.013, &p2);
    CU_ASSERT_EQUAL(memcmp(a->spans, b->spans, a->n_ops * sizeof *a->spans), 0);
    CU_ASSERT_EQUAL(memcmp(a->transfers, b->transfers, a->n_transfers * sizeof *a->transfers), 0);
    pp_sim_result_free(a);
    pp_sim_result_free(b);
    pp_plan_free(p1);
    pp_plan_free(p2);
}

/* Static memory = parameters x (1 + gradient + optimizer bytes per parameter byte);
 * the peak adds the activation peak; a device above the limit is flagged. */
static void test_memory_accounting(void)
{
    struct pp_costmodel *cm = uniform_model(4, 1, 2, 0, 1e9, 0);
    struct pp_sim_config cfg = {0};
    cfg.optimizer_state_bytes_per_parameter_byte = 6;
    cfg.gradient_bytes_per_parameter_byte = 1;
    cfg.device_memory_bytes = 3.5e9;
    struct pp_sim_result *r = sim_model(cm, PP_SCHED_1F1B, 2, 4, &cfg, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CHECK_CLOSE(r->dev[0].static_bytes, 2 * 1000 * 8, 0);
    /* 2 layers of 1 GB per microbatch: rank 0 holds 2 microbatches, rank 1 one. */
    CHECK_CLOSE(r->dev[0].peak_activation_bytes, 4e9, 0);
    CHECK_CLOSE(r->dev[1].peak_activation_bytes, 2e9, 0);
    CU_ASSERT_TRUE(r->dev[0].over_memory);
    CU_ASSERT_FALSE(r->dev[1].over_memory);
    pp_sim_result_free(r);
    free_model(cm);
}

/* Zero Bubble's time model (schedules.md §6): with latency_only a transfer
 * costs the latency whatever the bandwidth, so a slow link changes nothing. */
static void test_latency_only(void)
{
    struct pp_costmodel *cm = uniform_model(4, 1, 2, 0, 1, 1e9);
    struct pp_sim_config slow = {0}, free_ = {0};
    slow.link_bandwidth_bytes_per_s = 1e6;
    slow.link_latency_ms = 0.5;
    slow.latency_only = 1;
    free_.link_latency_ms = 0.5;
    struct pp_sim_result *a = sim_model(cm, PP_SCHED_1F1B, 4, 8, &slow, NULL, NULL);
    struct pp_sim_result *b = sim_model(cm, PP_SCHED_1F1B, 4, 8, &free_, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CHECK_INT(a->makespan_ns, b->makespan_ns);
    slow.latency_only = 0;
    struct pp_sim_result *c = sim_model(cm, PP_SCHED_1F1B, 4, 8, &slow, NULL, NULL);
    CU_ASSERT_TRUE(c && c->makespan_ns > b->makespan_ns + 1000000000);
    pp_sim_result_free(a);
    pp_sim_result_free(b);
    pp_sim_result_free(c);
    free_model(cm);
}

/* Ring all-reduce (alpha-beta, Thakur et al.): 2(d-1)/d * bytes / bw + 2(d-1)
 * alpha, after each device's last backward, before its optimizer step. Two
 * stages of 2 layers x 1000 parameter bytes, fp32 gradients (factor 1): each
 * device reduces 2000 bytes; d = 4 at 1000 B/s, alpha 1 ms: 3000 + 6 ms. */
static void test_data_parallel_allreduce(void)
{
    struct pp_costmodel *cm = uniform_model(4, 1, 2, 0, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_diag d;
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 4};
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 2, &part, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_1F1B, &sp, &plan, &d), 0);
    struct pp_sim_result *base = NULL, *r = NULL;
    struct pp_sim_config cfg = {0};
    CU_ASSERT_EQUAL_FATAL(pp_sim_run(plan, part, &cfg, &base, &d), 0);
    pp_plan_add_allreduce(plan);
    CU_ASSERT_EQUAL_FATAL(pp_plan_validate(plan, &d), 0);
    /* AR sits just before OPT on every device. */
    for (int dv = 0; dv < 2; dv++) {
        CHECK_INT(plan->ops[plan->dev_first[dv + 1] - 1].kind, PP_OP_OPTIM);
        CHECK_INT(plan->ops[plan->dev_first[dv + 1] - 2].kind, PP_OP_ALLREDUCE);
    }
    cfg.data_parallel = 4;
    cfg.gradient_bytes_per_parameter_byte = 1;
    cfg.dp_bandwidth_bytes_per_s = 1000;
    cfg.dp_latency_ms = 1;
    CU_ASSERT_EQUAL_FATAL(pp_sim_run(plan, part, &cfg, &r, &d), 0);
    CHECK_INT(r->dev[0].allreduce_ns, 3006000000LL);
    CHECK_INT(r->dev[1].allreduce_ns, 3006000000LL);
    /* Device 0 ends last in 1F1B; its all-reduce extends the iteration by itself. */
    CHECK_INT(r->makespan_ns, base->makespan_ns + 3006000000LL);
    CHECK_INT(r->dev[0].compute_ns, base->dev[0].compute_ns);
    pp_sim_result_free(base);
    pp_sim_result_free(r);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
}

/* Recomputation (schedules.md §2.13, §9.5): full keeps only each stage's input
 * and one layer's activations during backward, and repeats the forward before
 * the backward; balanced, communication-free 1F1B then takes (m+p-1)(2tF+tB). */
static void test_recompute_full(void)
{
    /* 2 stages x 2 layers; activation 1e6 per layer, output 1e3. */
    struct pp_costmodel *cm = uniform_model(4, 1, 2, 0, 1e6, 1e3);
    struct pp_sim_config cfg = {0};
    cfg.recompute = PP_RECOMPUTE_FULL;
    struct pp_sim_result *r = sim_model(cm, PP_SCHED_1F1B, 2, 6, &cfg, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    /* stage time 2 x (1 + 2 + 1) ms */
    CHECK_INT(r->makespan_ns, (6 + 2 - 1) * 8000000LL);
    /* Stage 1 keeps its 1e3-byte input per microbatch (1 in flight) + one layer
     * (1e6) while its backward runs; stage 0 has no input, 2 in flight. */
    CHECK_CLOSE(r->dev[1].peak_activation_bytes, 1e3 + 1e6, 0);
    CHECK_CLOSE(r->dev[0].peak_activation_bytes, 1e6, 0);
    pp_sim_result_free(r);
    free_model(cm);
}

/* A per-device optimizer step costs its own time at the flush. */
static void test_optimizer_per_device(void)
{
    struct pp_costmodel *cm = uniform_model(2, 1, 2, 0, 1, 0);
    const double opt_ms[2] = {5, 0.5};
    struct pp_sim_config cfg = {0};
    cfg.optimizer_step_ms_per_device = opt_ms;
    struct pp_sim_result *r = sim_model(cm, PP_SCHED_GPIPE, 2, 3, &cfg, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    /* (m+p-1)(tF+tB) = 12 ms, then device 0's 5 ms step. */
    CHECK_INT(r->makespan_ns, 17000000);
    CHECK_INT(r->dev[0].busy_ns - r->dev[0].compute_ns, 5000000);
    CHECK_INT(r->dev[1].busy_ns - r->dev[1].compute_ns, 500000);
    pp_sim_result_free(r);
    free_model(cm);
}

/* schedules.md §9.4: an FB pair costs F + B by default, max(F, B) on request. */
static void test_fb_cost(void)
{
    struct pp_costmodel *cm = uniform_model(4, 1, 2, 1, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 4, &part, &d), 0);
    struct pp_plan *plan = build_plan(PP_SCHED_DUALPIPEV, 2, 2, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    struct pp_sim_config cfg = {0};
    cfg.record_spans = 1;
    struct pp_sim_result *sum = NULL, *max = NULL;
    CU_ASSERT_EQUAL_FATAL(pp_sim_run(plan, part, &cfg, &sum, &d), 0);
    cfg.fb_cost_max = 1;
    CU_ASSERT_EQUAL_FATAL(pp_sim_run(plan, part, &cfg, &max, &d), 0);
    int n_fb = 0;
    for (size_t o = 0; o < plan->n_ops; o++) {
        if (plan->ops[o].kind != PP_OP_FB)
            continue;
        n_fb++;
        /* F = 1, B = BI + BW = 3 (a pair's backward is a full B). */
        CHECK_INT(sum->spans[o].end_ns - sum->spans[o].start_ns, 4000000);
        CHECK_INT(max->spans[o].end_ns - max->spans[o].start_ns, 3000000);
    }
    CU_ASSERT_TRUE(n_fb > 0);
    CU_ASSERT_TRUE(max->makespan_ns < sum->makespan_ns);
    pp_sim_result_free(sum);
    pp_sim_result_free(max);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"closed form (m+p-1)(tF+tB) is exact", test_closed_form_exact},
        {"hand-worked 1F1B p=4 m=8 timeline", test_1f1b_hand_timeline},
        {"in-flight activations 1F1B p-r, GPipe m", test_inflight_activations},
        {"communication closed forms (ZB time model)", test_comm_closed_forms},
        {"Zero Bubble Table 5, 1F1B column", test_zero_bubble_table5_1f1b},
        {"links serialise transfers", test_link_serialises},
        {"deadlock is reported", test_deadlock_reported},
        {"deterministic replay", test_deterministic},
        {"memory accounting", test_memory_accounting},
        {"latency-only communication", test_latency_only},
        {"data-parallel ring all-reduce", test_data_parallel_allreduce},
        {"full recomputation time and memory", test_recompute_full},
        {"per-device optimizer step", test_optimizer_per_device},
        {"FB pair cost: sum or max", test_fb_cost},
        {NULL, NULL},
    };
    return pp_test_main("sim", tests);
}
