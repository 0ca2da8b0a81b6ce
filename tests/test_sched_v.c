/* test_sched_v.c - the V-shaped and bidirectional schedules: ZB-V, V-Half,
 * V-Min, interleaved zero bubble, DualPipe, DualPipeV, Chimera
 * (schedules.md §2.9-§2.12).
 *
 * Oracles: Zero Bubble's Table 8 ZB-V column (§7.2); op orders printed by
 * running the reference generators unmodified (ZB zbv.py and zbv_greedy.py)
 * or worked by hand from their code (PyTorch ScheduleZBVZeroBubble and
 * ScheduleInterleavedZeroBubble, DualPipe step(), Chimera's unit schedule,
 * §2.11 [RUN]); the controllable-memory [RUN] table (§2.10); the DualPipe
 * and Chimera closed forms (§2.11-2.12, §3, §7.8); the unit-cost replay of §8. */
#include "testutil.h"

#include "sched_v.h"
#include "schedv_util.h"

/* §7.2 Zero Bubble Table 8, ZB-V column: per-chunk profiled µs (f, b, w, c;
 * h, a) from arxiv_bubble_rates(); ZB-V = v_schedule.py get_v_schedule with
 * its default budget 2p M_B, M_B = 34h + 5as and M_W = 32h (s = 1024, ZB
 * Table 1); bubble rate = (span - 2m(f+b+w)) / span with span the largest
 * per-device first-to-last time (§1 convention 3), latency-only links (§6). */
static void test_zbv_table8(void)
{
    static const struct {
        int p, m;
        double f, b, w, c, h, a, rate;
    } rows[] = {
        {16, 48, 14407, 14380, 9676, 1610, 4096, 32, 0.0697},
        {16, 64, 14412, 14393, 9688, 1621, 4096, 32, 0.0533},
        {16, 128, 14316, 14306, 9639, 1619, 4096, 32, 0.0274},
        {24, 72, 6763, 6969, 5251, 755, 5120, 40, 0.0638},
        {24, 96, 6783, 6984, 5259, 758, 5120, 40, 0.0483},
        {24, 192, 6785, 6990, 5260, 770, 5120, 40, 0.0250},
        {32, 96, 9458, 9748, 7288, 879, 6144, 48, 0.0593},
        {32, 128, 9469, 9744, 7306, 892, 6144, 48, 0.0451},
        {32, 256, 9447, 9644, 7193, 887, 6144, 48, 0.0236},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        int p = rows[i].p;
        struct pp_costmodel *cm = uniform_model(2 * (size_t)p, rows[i].f / 1e3, rows[i].b / 1e3,
                                                rows[i].w / 1e3, 0, 0);
        for (int k = 0; k < 2 * p; k++) {
            cm->layers[k].activation_bytes = 34 * rows[i].h + 5 * rows[i].a * 1024;
            cm->layers[k].bw_activation_bytes = 32 * rows[i].h;
        }
        struct pp_partition *part = NULL;
        struct pp_diag d;
        CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 2 * (size_t)p, &part, &d), 0);
        struct pp_sched_params sp = {.stages = p, .chunks = 2, .microbatches = rows[i].m,
                                     .costs = part};
        struct pp_plan *plan = pp_plan_alloc(PP_SCHED_ZB_V, &sp, 1);
        int64_t greedy_span = 0;
        CU_ASSERT_EQUAL_FATAL(pp_zbv_push(&sp, rows[i].c / 1e3, plan, &greedy_span, &d), 0);
        pp_plan_finish(plan);
        CU_ASSERT_EQUAL_FATAL(pp_plan_validate(plan, &d), 0);
        struct pp_sim_config cfg = {0};
        cfg.link_latency_ms = rows[i].c / 1e3;
        struct pp_sim_result *r = NULL;
        CU_ASSERT_EQUAL_FATAL(pp_sim_run(plan, part, &cfg, &r, &d), 0);
        double span = (double)own_span(r);
        double ideal = 2.0 * rows[i].m * (rows[i].f + rows[i].b + rows[i].w) * 1e3;
        char got[16], want[16];
        snprintf(got, sizeof got, "%.4f", (span - ideal) / span);
        snprintf(want, sizeof want, "%.4f", rows[i].rate);
        CHECK_STR(got, want);
        /* The engine replays the greedy's own timeline exactly. */
        CHECK_INT(own_span(r), greedy_span);
        for (int dv = 0; dv < p; dv++) /* within the 2p M_B budget */
            CU_ASSERT_TRUE(r->dev[dv].peak_activation_bytes <=
                           2 * p * (34 * rows[i].h + 5 * rows[i].a * 1024));
        pp_sim_result_free(r);
        pp_plan_free(plan);
        pp_partition_free(part);
        free_model(cm);
    }
}

/* §2.9 [CODE] ZB zbv.py PipelineGraph (the main branch's warm-up), F = B = W
 * = 1, T_comm = 0, M_B = M_W = 1: the orders its get_v_schedule picks, printed
 * by running the reference; the V placement puts pieces k and 2p-1-k on device k. */
static void test_zbv_reference_order(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_ZB_V, 2, 2, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const two[] = {
        "F0.0 F0.1 F0.2 F3.0 BI3.0 BW3.0 F3.1 BI3.1 BW3.1 BI0.0 BW0.0 F3.2 BI3.2 BI0.1 BW3.2 "
        "BI0.2 BW0.1 BW0.2 OPT",
        "F1.0 F2.0 F1.1 F2.1 BI2.0 BW2.0 F1.2 BI1.0 BW1.0 F2.2 BI2.1 BI1.1 BI2.2 BI1.2 BW2.1 "
        "BW1.1 BW2.2 BW1.2 OPT",
        NULL};
    check_orders(p, two);
    const int place[] = {0, 1, 1, 0};
    for (int k = 0; k < 4; k++)
        CHECK_INT(p->piece_device[k], place[k]);
    pp_plan_free(p);
    p = build_plan(PP_SCHED_ZB_V, 3, 2, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const three[] = {
        "F0.0 F0.1 F0.2 F0.3 F5.0 BI5.0 F5.1 BI5.1 BW5.0 F5.2 BI5.2 BW5.1 BI0.0 BW5.2 F5.3 BI5.3 "
        "BI0.1 BW0.0 BI0.2 BW5.3 BI0.3 BW0.1 BW0.2 BW0.3 OPT",
        "F1.0 F1.1 F1.2 F4.0 F1.3 F4.1 BI4.0 BW4.0 F4.2 BI4.1 BW4.1 BI1.0 BW1.0 F4.3 BI4.2 BI1.1 "
        "BI4.3 BI1.2 BW4.2 BI1.3 BW1.1 BW4.3 BW1.2 BW1.3 OPT",
        "F2.0 F3.0 F2.1 F3.1 F2.2 F3.2 BI3.0 BW3.0 F2.3 BI2.0 BW2.0 F3.3 BI3.1 BI2.1 BI3.2 BI2.2 "
        "BI3.3 BI2.3 BW3.1 BW2.1 BW3.2 BW2.2 BW3.3 BW2.3 OPT",
        NULL};
    check_orders(p, three);
    pp_plan_free(p);
}

/* §2.9: the greedy never holds more than its activation budget
 * (memory_limit_bytes; default 2p M_B of a chunk = p M_B of a stage, at which
 * F = B = W runs bubble-free: own span = 2m(F+B+W) on every device), and
 * says so when even its warm-up cannot fit (the reference asserts). */
static void test_zbv_memory_limit(void)
{
    for (int limit = 0; limit <= 12; limit += 3) {
        struct pp_sched_params sp = {.stages = 4, .chunks = 2, .microbatches = 12,
                                     .memory_limit_bytes = limit};
        struct pp_plan *p = NULL;
        struct pp_diag d;
        int fits = limit == 0 || limit >= 8;
        CHECK_INT(pp_plan_build(PP_SCHED_ZB_V, &sp, &p, &d), fits ? 0 : -PP_EINFEASIBLE);
        if (!fits) {
            CHECK_CONTAINS(d.msg, "within the activation budget of");
            continue;
        }
        struct pp_sim_result *r = replay(p, 1, 1, 1, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_TRUE(max_peak(r) <= (limit ? limit : 8));
        CHECK_INT(own_span(r), 6 * 12 * 1000000);
        pp_sim_result_free(r);
        pp_plan_free(p);
    }
}

/* §2.9 [CODE] PyTorch ScheduleZBVZeroBubble._calculate_single_rank_operations,
 * worked by hand for p = 2, m = 4 (n = max(2p-1, m) = 4): rank 0 runs 3 F of
 * chunk 0, then 2 [F, I, W] of chunk 1, the steady loop, then 2 [I, W] of
 * chunk 0; rank 1 interleaves one [F c1, F c0] pair and cools down with
 * [I c0, I c1] first. §8 [SIM]: chunk F = I = W = 1/2 gives makespan 25.5 /
 * 37.5 / 75.5 with own span 24 / 36 / 72 (= ideal) for (p, m) = (4, 8),
 * (4, 12), (8, 24), and 2p chunk activations on every rank. */
static void test_zbv_pytorch_order(void)
{
    struct pp_sched_params sp = {.stages = 2, .chunks = 2, .microbatches = 4, .pytorch_order = 1};
    struct pp_plan *p = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_ZB_V, &sp, &p, &d), 0);
    static const char *const want[] = {
        "F0.0 F0.1 F0.2 F3.0 BI3.0 BW3.0 F3.1 BI3.1 BW3.1 F0.3 BI0.0 BW0.0 F3.2 BI3.2 BW3.2 BI0.1 "
        "BW0.1 F3.3 BI3.3 BW3.3 BI0.2 BW0.2 BI0.3 BW0.3 OPT",
        "F1.0 F2.0 F1.1 F2.1 BI2.0 BW2.0 F1.2 BI1.0 BW1.0 F2.2 BI2.1 BW2.1 F1.3 BI1.1 BW1.1 F2.3 "
        "BI2.2 BW2.2 BI1.2 BI2.3 BI1.3 BW1.2 BW2.3 BW1.3 OPT",
        NULL};
    check_orders(p, want);
    pp_plan_free(p);
    static const struct {
        int p, m;
        double makespan, span;
    } rows[] = {{4, 8, 25.5, 24}, {4, 12, 37.5, 36}, {8, 24, 75.5, 72}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct pp_sched_params q = {.stages = rows[i].p, .chunks = 2, .microbatches = rows[i].m,
                                    .pytorch_order = 1};
        CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_ZB_V, &q, &p, &d), 0);
        struct pp_sim_result *r = replay(p, 0.5, 0.5, 0.5, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CHECK_CLOSE(r->makespan_ns / 1e6, rows[i].makespan, 0);
        CHECK_CLOSE(own_span(r) / 1e6, rows[i].span, 0);
        for (int dv = 0; dv < rows[i].p; dv++)
            CHECK_CLOSE(r->dev[dv].peak_activation_bytes, 2 * rows[i].p, 0);
        pp_sim_result_free(r);
        pp_plan_free(p);
    }
}

/* §2.10 [RUN] the repository's own zbv_greedy (F = B = W = 1000, c = 0):
 * bubble rate (own span) and peak chunk activations (+1 per F, -1 per W; 1F1B
 * holds 2p): V-Half peaks at p+2 (about 1/2 of 1F1B), V-Min at about 1/3. */
static void test_vmem_run_table(void)
{
    static const struct {
        int half, p, m;
        double rate, peak;
    } rows[] = {
        {1, 4, 8, 0.0943, 6},   {1, 4, 12, 0.0649, 6},  {1, 8, 24, 0.1056, 10},
        {1, 8, 32, 0.0813, 10}, {1, 16, 48, 0.1246, 18}, {0, 4, 8, 0.1864, 4},
        {0, 4, 12, 0.1325, 4},  {0, 8, 24, 0.1579, 8},  {0, 8, 32, 0.1233, 8},
        {0, 16, 48, 0.1700, 12},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct pp_plan *p = build_plan(rows[i].half ? PP_SCHED_V_HALF : PP_SCHED_V_MIN, rows[i].p, 2,
                                  rows[i].m);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        struct pp_sim_result *r = replay(p, 1, 1, 1, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        double span = (double)own_span(r) / 1e6, ideal = 6.0 * rows[i].m;
        char got[16], want[16];
        snprintf(got, sizeof got, "%.4f", (span - ideal) / span);
        snprintf(want, sizeof want, "%.4f", rows[i].rate);
        CHECK_STR(got, want);
        CHECK_CLOSE(max_peak(r), rows[i].peak, 0);
        /* The README's ratios, against 1F1B's 2p chunks, within one chunk per stage. */
        double ratio = max_peak(r) / (2.0 * rows[i].p);
        if (rows[i].p == 16)
            CU_ASSERT_TRUE(ratio <= (rows[i].half ? 0.5 : 1.0 / 3) + 1.0 / rows[i].p);
        pp_sim_result_free(r);
        pp_plan_free(p);
    }
}

/* §2.10 [CODE] zbv_greedy.py schedule_from_pattern (pattern, W fill,
 * two reorder passes, split W), printed by running the reference. */
static void test_vmem_reference_orders(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_V_HALF, 2, 2, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const half[] = {
        "F0.0 F0.1 F0.2 F3.0 BI3.0 BW3.0 F3.1 BI0.0 BI3.1 BW3.1 F3.2 BI3.2 BI0.1 BW3.2 BI0.2 "
        "BW0.0 BW0.1 BW0.2 OPT",
        "F1.0 F2.0 F1.1 F2.1 BI2.0 BW2.0 BI1.0 BW1.0 F1.2 F2.2 BI2.1 BI1.1 BI2.2 BI1.2 BW2.1 "
        "BW2.2 BW1.1 BW1.2 OPT",
        NULL};
    check_orders(p, half);
    pp_plan_free(p);
    p = build_plan(PP_SCHED_V_MIN, 3, 2, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const vmin[] = {
        "F0.0 F0.1 F0.2 F5.0 BI5.0 BW5.0 F5.1 BI0.0 BI5.1 BW5.1 BW0.0 F5.2 F0.3 BI0.1 BI5.2 "
        "BW5.2 BW0.1 F5.3 BI5.3 BI0.2 BW5.3 BW0.2 BI0.3 BW0.3 OPT",
        "F1.0 F1.1 F4.0 F4.1 BI4.0 BW4.0 BI1.0 F1.2 BW1.0 BI4.1 F4.2 BW4.1 BI1.1 F1.3 BW1.1 "
        "BI4.2 F4.3 BW4.2 BI1.2 BI4.3 BW4.3 BW1.2 BI1.3 BW1.3 OPT",
        "F2.0 F3.0 F2.1 F3.1 BI3.0 BI2.0 BW3.0 BW2.0 F2.2 F3.2 BI3.1 BI2.1 BW3.1 BW2.1 F2.3 "
        "F3.3 BI3.2 BI2.2 BW3.2 BW2.2 BI3.3 BI2.3 BW3.3 BW2.3 OPT",
        NULL};
    check_orders(p, vmin);
    pp_plan_free(p);
}

/* §4 [CODE] PyTorch ScheduleInterleavedZeroBubble, worked by hand for p = 2,
 * v = 2, m = 4 (rounds 2, 2 microbatches per round): rank r warms up with
 * (v-1)*2 + (p-1-r) forwards, then [F, I] pairs; after r pairs each I is
 * followed by the oldest W. Looped placement: piece k on rank k mod p. */
static void test_interleaved_zb_order(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_INTERLEAVED_ZB, 2, 2, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const want[] = {
        "F0.0 F0.1 F2.0 F2.1 BI2.0 BW2.0 F0.2 BI2.1 BW2.1 F0.3 BI0.0 BW0.0 F2.2 BI0.1 BW0.1 F2.3 "
        "BI2.2 BW2.2 BI2.3 BW2.3 BI0.2 BW0.2 BI0.3 BW0.3 OPT",
        "F1.0 F1.1 F3.0 BI3.0 F3.1 BI3.1 BW3.0 F1.2 BI1.0 BW3.1 F1.3 BI1.1 BW1.0 F3.2 BI3.2 BW1.1 "
        "F3.3 BI3.3 BW3.2 BI1.2 BW3.3 BI1.3 BW1.2 BW1.3 OPT",
        NULL};
    check_orders(p, want);
    for (int k = 0; k < 4; k++)
        CHECK_INT(p->piece_device[k], k % 2);
    pp_plan_free(p);
}

/* §2.12 [CODE] DualPipe.step worked by hand for P = 2, N = 4 (both ranks are
 * middle ranks: the first main-step pair runs F and B apart): copy 0 takes
 * microbatches 0-1 from rank 0, copy 1 (stage k on rank P-1-k, pieces 2-3)
 * takes 2-3 from rank 1; step 6's second B is split (zero bubble). And
 * DualPipeV.step for R = 2, N = 4: rank 0 runs 2 F0, [F0 F1], [I1 W F1], one
 * main pair of overlaps, [B1, F1&B0], then B1 B0(split), [W I0], W. */
static void test_dualpipe_orders(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_DUALPIPE, 2, 1, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const dp[] = {"F0.0 F3.2 F0.1 B3.2 FB3.3/0.0 B3.3 BI0.1 BW0.1 OPT",
                                     "F2.2 F1.0 F2.3 B1.0 FB1.1/2.2 B1.1 BI2.3 BW2.3 OPT", NULL};
    check_orders(p, dp);
    CHECK_INT(p->copies, 2);
    CHECK_INT(p->piece_device[2], 1); /* copy 1, stage 0 */
    CHECK_INT(p->mb_copy[1], 0);
    CHECK_INT(p->mb_copy[2], 1);
    pp_plan_free(p);
    p = build_plan(PP_SCHED_DUALPIPEV, 2, 2, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const dpv[] = {
        "F0.0 F0.1 F0.2 F3.0 BI3.0 BW3.0 F3.1 FB0.3/3.1 FB3.2/0.0 B3.2 FB3.3/0.1 B3.3 BI0.2 "
        "BW0.2 BI0.3 BW0.3 OPT",
        "F1.0 F2.0 F1.1 F2.1 F1.2 B2.0 FB2.2/1.0 FB1.3/2.1 FB2.3/1.1 B2.2 B1.2 BI2.3 BI1.3 "
        "BW2.3 BW1.3 OPT",
        NULL};
    check_orders(p, dpv);
    CHECK_INT(p->piece_device[3], 0);
    pp_plan_free(p);
}

/* §2.12 / §7.8 DualPipe table (README = DeepSeek-V3 Table 2), F = I = W = t
 * per stage, F&B charged as F + B (serial; §2.12 [SIM]): bubble
 * (PP/2-1)(F&B + B - 3W) on every device vs 1F1B's (PP-1)(F+B), parameters
 * 2x, activations PP+1 chunks vs 1F1B's PP, neither growing with N. */
static void test_dualpipe_table(void)
{
    const double t = 0.5, fb = 3 * t, b = 2 * t;
    for (int pp = 2; pp <= 8; pp += 2)
        for (int64_t n = 2 * pp; n <= 4 * pp; n += pp) {
            struct pp_plan *p = build_plan(PP_SCHED_DUALPIPE, pp, 1, n);
            struct pp_plan *q = build_plan(PP_SCHED_1F1B, pp, 1, n);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            CU_ASSERT_PTR_NOT_NULL_FATAL(q);
            struct pp_sim_result *r = replay(p, t, t, t, 0), *s = replay(q, t, t, t, 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(r);
            CU_ASSERT_PTR_NOT_NULL_FATAL(s);
            for (int dv = 0; dv < pp; dv++) {
                CHECK_CLOSE(idle_of(r, dv) / 1e6, (pp / 2 - 1) * (fb + b - 3 * t), 0);
                CHECK_CLOSE(r->dev[dv].static_bytes, 2 * s->dev[dv].static_bytes, 0);
            }
            CHECK_CLOSE(idle_of(s, 0) / 1e6, (pp - 1) * (t + b), 0);
            CHECK_CLOSE(max_peak(r), pp + 1, 0);
            CHECK_CLOSE(max_peak(s), pp, 0);
            pp_sim_result_free(r);
            pp_sim_result_free(s);
            pp_plan_free(p);
            pp_plan_free(q);
        }
}

/* §2.12 DualPipeV row, PP = 2R stages on R devices: the same bubble with
 * PP/2 - 1 = R - 1, parameters 2x of 1F1B on PP devices, activations PP+1;
 * §8 [SIM] chunk F = I = W = 1/2: makespan 27 (idle 3), 39, 79 (idle 7) for
 * (R, N) = (4, 8), (4, 12), (8, 24), peak 9 chunks for R = 4. */
static void test_dualpipev_table(void)
{
    const double t = 0.5, fb = 3 * t, b = 2 * t;
    for (int rr = 2; rr <= 8; rr *= 2)
        for (int64_t n = 2 * rr; n <= 4 * rr; n += rr) {
            struct pp_plan *p = build_plan(PP_SCHED_DUALPIPEV, rr, 2, n);
            struct pp_plan *q = build_plan(PP_SCHED_1F1B, 2 * rr, 1, n);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            CU_ASSERT_PTR_NOT_NULL_FATAL(q);
            struct pp_sim_result *r = replay(p, t, t, t, 0), *s = replay(q, t, t, t, 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(r);
            CU_ASSERT_PTR_NOT_NULL_FATAL(s);
            for (int dv = 0; dv < rr; dv++) {
                CHECK_CLOSE(idle_of(r, dv) / 1e6, (rr - 1) * (fb + b - 3 * t), 0);
                CHECK_CLOSE(r->dev[dv].static_bytes, 2 * s->dev[0].static_bytes, 0);
                CHECK_CLOSE(r->dev[dv].peak_activation_bytes, 2 * rr + 1, 0);
            }
            /* Each device works 2 chunks x N x (F + I + W); the rest is the bubble. */
            CHECK_CLOSE(r->makespan_ns / 1e6, 6 * t * n + (rr - 1) * (fb + b - 3 * t), 0);
            pp_sim_result_free(r);
            pp_sim_result_free(s);
            pp_plan_free(p);
            pp_plan_free(q);
        }
    static const struct {
        int r;
        int64_t n;
        double makespan, idle;
    } sim8[] = {{4, 8, 27, 3}, {4, 12, 39, 3}, {8, 24, 79, 7}};
    for (size_t i = 0; i < sizeof sim8 / sizeof *sim8; i++) {
        struct pp_plan *p = build_plan(PP_SCHED_DUALPIPEV, sim8[i].r, 2, sim8[i].n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        struct pp_sim_result *r = replay(p, t, t, t, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CHECK_CLOSE(r->makespan_ns / 1e6, sim8[i].makespan, 0);
        CHECK_CLOSE(idle_of(r, 0) / 1e6, sim8[i].idle, 0);
        CHECK_CLOSE(max_peak(r), 2 * sim8[i].r + 1, 0);
        pp_sim_result_free(r);
        pp_plan_free(p);
    }
}

/* §2.11 Chimera: [RUN] D = 4, N = 4, device 0 runs
 * "0↓f . 0↓f 1↑f 1↑b 1↑f 1↑b 0↓b 1↑s 0↓b" (F = B = one slot; the gradient
 * sync s is not an op here); with F = B: bubble ratio (D-2)/(2N+D-2), i.e.
 * D-2 idle slots per device, for N a multiple of D with units directly
 * concatenated; weights 2x; activations between D/2+1 and D stage units. */
static void test_chimera(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_CHIMERA, 4, 1, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const want[] = {"F0.0 F0.1 F7.2 B7.2 F7.3 B7.3 B0.0 B0.1 OPT", NULL};
    check_orders(p, want);
    pp_plan_free(p);
    for (int dd = 2; dd <= 16; dd *= 2)
        for (int64_t n = dd; n <= 3 * dd; n += dd) {
            struct pp_plan *c = build_plan(PP_SCHED_CHIMERA, dd, 1, n);
            struct pp_plan *q = build_plan(PP_SCHED_1F1B, dd, 1, n);
            CU_ASSERT_PTR_NOT_NULL_FATAL(c);
            CU_ASSERT_PTR_NOT_NULL_FATAL(q);
            struct pp_sim_result *r = replay(c, 1, 1, 0, 0), *s = replay(q, 1, 1, 0, 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(r);
            CU_ASSERT_PTR_NOT_NULL_FATAL(s);
            CHECK_CLOSE(r->makespan_ns / 1e6, 2 * n + dd - 2, 0);
            CHECK_CLOSE((double)idle_of(r, 0) / (double)r->makespan_ns,
                        (dd - 2.0) / (2.0 * n + dd - 2), 1e-12);
            double lo = 1e9;
            for (int dv = 0; dv < dd; dv++) {
                CHECK_INT(idle_of(r, dv), (dd - 2) * 1000000);
                CHECK_CLOSE(r->dev[dv].static_bytes, 2 * s->dev[dv].static_bytes, 0);
                lo = fmin(lo, r->dev[dv].peak_activation_bytes);
            }
            CHECK_CLOSE(max_peak(r), dd, 0);
            CHECK_CLOSE(lo, dd / 2 + 1, 0);
            pp_sim_result_free(r);
            pp_sim_result_free(s);
            pp_plan_free(c);
            pp_plan_free(q);
        }
}

/* ZB-V's latency-aware builder with uneven per-piece costs (piece k: F =
 * 1 + k/10 ms, BI = 1.2, BW = 0.5 + k/20) plans against latency c; its plan
 * validates and the engine replays it at exactly the greedy's own span. */
static int zbv_uneven_ok(int p, int64_t m, double c)
{
    struct pp_costmodel *cm = uniform_model(2 * (size_t)p, 1, 1.2, 0.5, 2, 0);
    for (int k = 0; k < 2 * p; k++) {
        cm->layers[k].forward_ms += k / 10.0;
        cm->layers[k].backward_weight_ms += k / 20.0;
        cm->layers[k].bw_activation_bytes = 1;
    }
    struct pp_partition *part = NULL;
    struct pp_diag d;
    int ok = pp_partition_balanced(cm, 2 * (size_t)p, &part, &d) == 0;
    struct pp_sched_params sp = {.stages = p, .chunks = 2, .microbatches = m, .costs = part};
    struct pp_plan *plan = pp_plan_alloc(PP_SCHED_ZB_V, &sp, 1);
    int64_t span = -1;
    ok = ok && pp_zbv_push(&sp, c, plan, &span, &d) == 0;
    pp_plan_finish(plan);
    ok = ok && pp_plan_validate(plan, &d) == 0;
    struct pp_sim_config cfg = {0};
    cfg.link_latency_ms = c;
    struct pp_sim_result *r = NULL;
    ok = ok && pp_sim_run(plan, part, &cfg, &r, &d) == 0 && own_span(r) == span;
    pp_sim_result_free(r);
    pp_plan_free(plan);
    pp_partition_free(part);
    free_model(cm);
    return ok;
}

/* Every accepted (p, m) yields a plan that runs each piece's F and backward
 * once on its device (pp_plan_validate) and replays without deadlock, with
 * uneven F / BI / BW and latency. Variant 1: ZB-V in PyTorch's order,
 * interleaved-zb with 3 chunks. */
static void test_sweep_valid(void)
{
    static const enum pp_schedule_kind kinds[] = {
        PP_SCHED_ZB_V, PP_SCHED_V_HALF, PP_SCHED_V_MIN, PP_SCHED_INTERLEAVED_ZB,
        PP_SCHED_DUALPIPE, PP_SCHED_DUALPIPEV, PP_SCHED_CHIMERA};
    int accepted = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (int variant = 0; variant < 2; variant++)
            for (int p = 1; p <= 8; p++)
                for (int64_t m = 1; m <= 3 * p + 2; m++) {
                    enum pp_schedule_kind kind = kinds[k];
                    int one = kind == PP_SCHED_DUALPIPE || kind == PP_SCHED_CHIMERA;
                    struct pp_sched_params sp = {.stages = p, .chunks = one ? 1 : 2,
                                                 .microbatches = m};
                    if (variant && kind == PP_SCHED_ZB_V)
                        sp.pytorch_order = 1;
                    else if (variant && kind == PP_SCHED_INTERLEAVED_ZB)
                        sp.chunks = 3;
                    else if (variant)
                        continue;
                    const char *key;
                    if (pp_sched_check(kind, &sp, &key))
                        continue;
                    struct pp_plan *plan = NULL;
                    struct pp_diag d;
                    CU_ASSERT_EQUAL_FATAL(pp_plan_build(kind, &sp, &plan, &d), 0);
                    struct pp_sim_result *r = replay(plan, 1.3, 1.1, 0.6, 0.07);
                    CU_ASSERT_PTR_NOT_NULL(r);
                    pp_sim_result_free(r);
                    pp_plan_free(plan);
                    if (kind == PP_SCHED_ZB_V && !variant)
                        CU_ASSERT_TRUE(zbv_uneven_ok(p, m, 0.07));
                    accepted++;
                }
    CU_ASSERT_TRUE(accepted > 500);
}

/* Parameters a schedule cannot run are refused with the key to fix. */
static void test_rejects(void)
{
    static const struct {
        enum pp_schedule_kind kind;
        int stages, chunks;
        int64_t m;
        const char *key;
    } bad[] = {
        {PP_SCHED_ZB_V, 4, 1, 8, "chunks"},          {PP_SCHED_ZB_V, 4, 3, 8, "chunks"},
        {PP_SCHED_V_HALF, 4, 1, 8, "chunks"},        {PP_SCHED_V_MIN, 4, 4, 8, "chunks"},
        {PP_SCHED_INTERLEAVED_ZB, 4, 1, 8, "chunks"},
        {PP_SCHED_INTERLEAVED_ZB, 4, 2, 9, "microbatches"},
        {PP_SCHED_DUALPIPE, 3, 1, 12, "stages"},     {PP_SCHED_DUALPIPE, 4, 1, 7, "microbatches"},
        {PP_SCHED_DUALPIPE, 4, 1, 4, "microbatches"}, {PP_SCHED_DUALPIPE, 4, 2, 8, "chunks"},
        {PP_SCHED_DUALPIPEV, 4, 1, 8, "chunks"},     {PP_SCHED_DUALPIPEV, 4, 2, 6, "microbatches"},
        {PP_SCHED_CHIMERA, 5, 1, 10, "stages"},      {PP_SCHED_CHIMERA, 4, 2, 8, "chunks"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct pp_sched_params sp = {.stages = bad[i].stages, .chunks = bad[i].chunks,
                                     .microbatches = bad[i].m};
        const char *key = NULL;
        CU_ASSERT_PTR_NOT_NULL(pp_sched_check(bad[i].kind, &sp, &key));
        CHECK_STR(key, bad[i].key);
        struct pp_plan *p = NULL;
        struct pp_diag d;
        char want[64];
        snprintf(want, sizeof want, "pipeline.%s: ", bad[i].key);
        CHECK_INT(pp_plan_build(bad[i].kind, &sp, &p, &d), -PP_EINVAL);
        CHECK_CONTAINS(d.msg, want);
    }
    /* The smallest accepted microbatch counts: DualPipe N/2 = P-1, DualPipeV N = 2R-1. */
    struct pp_plan *p = build_plan(PP_SCHED_DUALPIPE, 4, 1, 6);
    CU_ASSERT_PTR_NOT_NULL(p);
    pp_plan_free(p);
    p = build_plan(PP_SCHED_DUALPIPEV, 4, 2, 7);
    CU_ASSERT_PTR_NOT_NULL(p);
    pp_plan_free(p);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"ZB Table 8 ZB-V column (greedy, latency-only)", test_zbv_table8},
        {"ZB-V orders of the reference greedy", test_zbv_reference_order},
        {"ZB-V activation budget", test_zbv_memory_limit},
        {"ZB-V PyTorch order and unit-cost replay", test_zbv_pytorch_order},
        {"V-Half / V-Min [RUN] bubble and memory", test_vmem_run_table},
        {"V-Half / V-Min orders of the reference", test_vmem_reference_orders},
        {"interleaved zero bubble order", test_interleaved_zb_order},
        {"DualPipe / DualPipeV orders", test_dualpipe_orders},
        {"DualPipe bubble and memory table", test_dualpipe_table},
        {"DualPipeV bubble and memory table", test_dualpipev_table},
        {"Chimera order, bubble and memory", test_chimera},
        {"every accepted plan validates and replays", test_sweep_valid},
        {"unsupported parameters rejected", test_rejects},
        {NULL, NULL},
    };
    return pp_test_main("sched_v", tests);
}
