/* test_sched_sync.c - the synchronous non-V schedules: interleaved 1F1B,
 * looped BFS, ZB-H1, ZB-H2 and zb-auto (schedules.md §2.5-§2.8).
 *
 * Oracles: exact op orders from the reference generators (Megatron
 * get_schedule_table / get_pp_rank_microbatches, PyTorch ScheduleLoopedBFS,
 * ZB efficiency.py get_hand_schedule, ZB auto_schedule.py manual_order, the
 * latter two printed by running the ZB code unmodified), Zero Bubble's
 * Tables 5 and 8 (§7.1, §7.2), Megatron's interleaved bubble (§2.5) and the
 * unit-cost replay of §8. */
#include "testutil.h"

#include "costmodel.h"
#include "diag.h"
#include "partition.h"
#include "sched_zb_auto.h"
#include "schedule.h"
#include "sim.h"
#include "simutil.h"
#include "xalloc.h"

/* "F3 BI0 BW0 ...", or with chunks "F3c1" (microbatch 3 of chunk 1). */
static void render(const struct pp_plan *p, int dv, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t o = p->dev_first[dv]; o < p->dev_first[dv + 1] && used < len; o++) {
        const struct pp_op *op = &p->ops[o];
        const char *sep = used ? " " : "";
        int n;
        if (op->mb < 0)
            n = snprintf(out + used, len - used, "%s%s", sep, pp_op_kind_name(op->kind));
        else if (p->chunks > 1)
            n = snprintf(out + used, len - used, "%s%s%dc%d", sep, pp_op_kind_name(op->kind),
                         op->mb, op->piece / p->n_devices);
        else
            n = snprintf(out + used, len - used, "%s%s%d", sep, pp_op_kind_name(op->kind), op->mb);
        used += (size_t)n;
    }
}


static void check_orders(const struct pp_plan *p, const char *const *want)
{
    char s[768];
    for (int r = 0; want[r]; r++) {
        render(p, r, s, sizeof s);
        CHECK_STR(s, want[r]);
    }
}

/* n pieces of one layer each (tests/simutil.h style), times in ms; act / actw
 * are ZB's M_B and M_W per microbatch. */
static struct pp_partition *pieces(size_t n, double f, double b, double w, double act,
                                   double actw)
{
    struct pp_costmodel cm = {0};
    cm.n_layers = n;
    cm.layers = pp_xcalloc(n, sizeof *cm.layers);
    size_t *counts = pp_xcalloc(n, sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        struct pp_layer *l = &cm.layers[i];
        l->forward_ms = f;
        l->backward_input_ms = b;
        l->backward_weight_ms = w;
        l->split_backward = w > 0;
        l->activation_bytes = act;
        l->bw_activation_bytes = actw;
        l->parameter_bytes = 1000;
        counts[i] = 1;
    }
    struct pp_partition *part = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL(pp_partition_explicit(&cm, counts, n, &part, &d), 0);
    free(counts);
    free(cm.layers);
    return part;
}

/* Plan and replay with ZB's time model: latency-only links (§6). */
static struct pp_sim_result *replay(const struct pp_plan *plan, const struct pp_partition *part,
                                    double lat_ms)
{
    struct pp_sim_config cfg = {0};
    cfg.link_latency_ms = lat_ms;
    struct pp_sim_result *r = NULL;
    struct pp_diag d;
    if (pp_sim_run(plan, part, &cfg, &r, &d) != 0)
        fprintf(stderr, "sim failed: %s\n", d.msg);
    return r;
}

static struct pp_sim_result *simulate(enum pp_schedule_kind k, const struct pp_sched_params *sp,
                                      const struct pp_partition *part, double lat_ms)
{
    struct pp_plan *plan = NULL;
    struct pp_diag d;
    if (pp_plan_build(k, sp, &plan, &d) != 0) {
        fprintf(stderr, "build failed: %s\n", d.msg);
        return NULL;
    }
    struct pp_sim_result *r = replay(plan, part, lat_ms);
    pp_plan_free(plan);
    return r;
}

static pp_time span_of(const struct pp_sim_result *r)
{
    pp_time s = 0;
    for (int dv = 0; dv < r->n_devices; dv++) {
        pp_time x = r->dev[dv].last_end_ns - r->dev[dv].first_start_ns;
        s = x > s ? x : s;
    }
    return s;
}

/* ZB's bubble rate (§1 convention 3) over makespan or own span, with the
 * ideal time m(T_F+T_B+T_W) = device 0's work. */
static double bubble_rate(const struct pp_sim_result *r, int use_span)
{
    double cost = (double)(use_span ? span_of(r) : r->makespan_ns);
    return (cost - (double)r->dev[0].busy_ns) / cost;
}

/* Four-decimal agreement, as the tables print. */
#define CHECK_4DP(got, want) CHECK_INT(llround((got) * 1e4), llround((want) * 1e4))

/* ---------------------------------------------------------------- orders */

/* Megatron's own example (schedules.py comment, §2.5): PP2, M=5 with group
 * size 3 (our default for m % p != 0), VP2: microbatch 0 1 2 0 1 2 3 4 3 4,
 * chunk 0 0 0 1 1 1 0 0 1 1; rank r warms up 2(p-r-1) + (v-1)G. */
static void test_interleaved_megatron_example(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_INTERLEAVED_1F1B, 2, 2, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const want[] = {
        /* warm-up 5; then F(k+5) B(k); backward chunk = 1 - table chunk */
        "F0c0 F1c0 F2c0 F0c1 F1c1 F2c1 B0c1 F3c0 B1c1 F4c0 B2c1 F3c1 B0c0 F4c1 B1c0 "
        "B2c0 B3c1 B4c1 B3c0 B4c0 OPT",
        "F0c0 F1c0 F2c0 F0c1 B0c1 F1c1 B1c1 F2c1 B2c1 F3c0 B0c0 F4c0 B1c0 F3c1 B2c0 "
        "F4c1 B3c1 B4c1 B3c0 B4c0 OPT",
        NULL};
    check_orders(p, want);
    CHECK_INT(p->piece_device[2], 0); /* chunk 1 of rank 0 is piece p*1 + 0 */
    CHECK_INT(p->wrap_dep_every, 0);
    pp_plan_free(p);
}

/* The classic case G = p = 4, v = 2, m = 8 (schedules.md §2.5). */
static void test_interleaved_p4(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_INTERLEAVED_1F1B, 4, 2, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const want[] = {
        /* warm-up 2(p-1) + (v-1)p = 10 */
        "F0c0 F1c0 F2c0 F3c0 F0c1 F1c1 F2c1 F3c1 F4c0 F5c0 F6c0 B0c1 F7c0 B1c1 F4c1 "
        "B2c1 F5c1 B3c1 F6c1 B0c0 F7c1 B1c0 B2c0 B3c0 B4c1 B5c1 B6c1 B7c1 B4c0 B5c0 "
        "B6c0 B7c0 OPT",
        NULL};
    check_orders(p, want);
    char s[768];
    render(p, 3, s, sizeof s); /* last rank: warm-up (v-1)p = 4 */
    CHECK_STR(s, "F0c0 F1c0 F2c0 F3c0 F0c1 B0c1 F1c1 B1c1 F2c1 B2c1 F3c1 B3c1 F4c0 B0c0 "
                 "F5c0 B1c0 F6c0 B2c0 F7c0 B3c0 F4c1 B4c1 F5c1 B5c1 F6c1 B6c1 F7c1 B7c1 "
                 "B4c0 B5c0 B6c0 B7c0 OPT");
    pp_plan_free(p);
}

/* PyTorch ScheduleLoopedBFS (§2.6): forwards chunk by chunk, then backwards
 * chunk by chunk in reverse with the microbatches reversed. */
static void test_looped_bfs(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_LOOPED_BFS, 2, 2, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const want[] = {
        "F0c0 F1c0 F2c0 F0c1 F1c1 F2c1 B2c1 B1c1 B0c1 B2c0 B1c0 B0c0 OPT",
        "F0c0 F1c0 F2c0 F0c1 F1c1 F2c1 B2c1 B1c1 B0c1 B2c0 B1c0 B0c0 OPT", NULL};
    check_orders(p, want);
    CHECK_INT(p->piece_device[3], 1);
    pp_plan_free(p);
    p = build_plan(PP_SCHED_LOOPED_BFS, 3, 1, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const one[] = {"F0 F1 B1 B0 OPT", "F0 F1 B1 B0 OPT", NULL};
    check_orders(p, one);
    pp_plan_free(p);
}

/* ZB efficiency.py get_hand_schedule(4, 8, ..., warmup_c), printed by the
 * reference code itself (§2.7). */
static void test_zb_hand_orders(void)
{
    struct pp_plan *p = build_plan(PP_SCHED_ZB_H1, 4, 1, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const h1[] = {
        "F0 F1 F2 F3 BI0 BW0 F4 BI1 BW1 F5 BI2 BW2 F6 BI3 BW3 F7 BI4 BW4 BI5 BW5 BI6 BW6 BI7 BW7 OPT",
        "F0 F1 F2 BI0 F3 BI1 BW0 F4 BI2 BW1 F5 BI3 BW2 F6 BI4 BW3 F7 BI5 BW4 BI6 BW5 BI7 BW6 BW7 OPT",
        "F0 F1 BI0 F2 BI1 F3 BI2 BW0 F4 BI3 BW1 F5 BI4 BW2 F6 BI5 BW3 F7 BI6 BW4 BI7 BW5 BW6 BW7 OPT",
        "F0 BI0 F1 BI1 F2 BI2 F3 BI3 BW0 F4 BI4 BW1 F5 BI5 BW2 F6 BI6 BW3 F7 BI7 BW4 BW5 BW6 BW7 OPT",
        NULL};
    check_orders(p, h1);
    pp_plan_free(p);
    p = build_plan(PP_SCHED_ZB_H2, 4, 1, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const h2[] = {
        "F0 F1 F2 F3 F4 F5 F6 BI0 BW0 F7 BI1 BW1 BI2 BW2 BI3 BW3 BI4 BW4 BI5 BW5 BI6 BW6 BI7 BW7 OPT",
        "F0 F1 F2 F3 F4 BI0 F5 BI1 F6 BI2 BW0 F7 BI3 BW1 BI4 BW2 BI5 BW3 BI6 BW4 BI7 BW5 BW6 BW7 OPT",
        "F0 F1 F2 BI0 F3 BI1 F4 BI2 F5 BI3 F6 BI4 BW0 F7 BI5 BW1 BI6 BW2 BI7 BW3 BW4 BW5 BW6 BW7 OPT",
        "F0 BI0 F1 BI1 F2 BI2 F3 BI3 F4 BI4 F5 BI5 F6 BI6 BW0 F7 BI7 BW1 BW2 BW3 BW4 BW5 BW6 BW7 OPT",
        NULL};
    check_orders(p, h2);
    pp_plan_free(p);
    /* m < 2p (outside get_hand_schedule's assert): warm-up capped at m. */
    p = build_plan(PP_SCHED_ZB_H2, 4, 1, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const few[] = {"F0 F1 F2 BI0 BI1 BI2 BW0 BW1 BW2 OPT", NULL};
    check_orders(p, few);
    pp_plan_free(p);
}


/* zb-auto through pp_zb_auto_push, which takes the T_comm the heuristic plans with. */
static struct pp_plan *auto_plan(int p, int64_t m, const struct pp_partition *part, double limit,
                                 double comm_ms, int64_t *span)
{
    struct pp_sched_params sp = {.stages = p, .chunks = 1, .microbatches = m, .costs = part,
                                 .memory_limit_bytes = limit};
    const char *key;
    if (pp_sched_check(PP_SCHED_ZB_AUTO, &sp, &key))
        return NULL;
    struct pp_plan *plan = pp_plan_alloc(PP_SCHED_ZB_AUTO, &sp, (size_t)(3 * m + 1));
    struct pp_diag d;
    int rc = pp_zb_auto_push(&sp, comm_ms, plan, span, &d);
    pp_plan_finish(plan);
    if (rc == 0)
        rc = pp_plan_validate(plan, &d);
    if (rc) {
        fprintf(stderr, "zb-auto failed: %s\n", d.msg);
        pp_plan_free(plan);
        return NULL;
    }
    return plan;
}

/* Orders and spans printed by the ZB repository's own auto_schedule.py
 * (initial_solution over the 8 manual_order flag sets, §2.8), for its default
 * GraphConfig memory (mem_f 2, mem_b -1, mem_w -1) and the cost sets of its
 * __main__ block. Costs are scaled to ms; the heuristic is scale-free. */
static void test_zb_auto_orders(void)
{
    /* Unit costs, ZB-1p limit p*M_B = 8: the heuristic finds ZB-H1's order. */
    struct pp_plan *p = build_plan(PP_SCHED_ZB_AUTO, 4, 1, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const one_p[] = {
        "F0 F1 F2 F3 BI0 BW0 F4 BI1 BW1 F5 BI2 BW2 F6 BI3 BW3 F7 BI4 BW4 BI5 BW5 BI6 BW6 BI7 BW7 OPT",
        "F0 F1 F2 BI0 F3 BI1 BW0 F4 BI2 BW1 F5 BI3 BW2 F6 BI4 BW3 F7 BI5 BW4 BI6 BW5 BI7 BW6 BW7 OPT",
        "F0 F1 BI0 F2 BI1 F3 BI2 BW0 F4 BI3 BW1 F5 BI4 BW2 F6 BI5 BW3 F7 BI6 BW4 BI7 BW5 BW6 BW7 OPT",
        "F0 BI0 F1 BI1 F2 BI2 F3 BI3 BW0 F4 BI4 BW1 F5 BI5 BW2 F6 BI6 BW3 F7 BI7 BW4 BW5 BW6 BW7 OPT",
        NULL};
    check_orders(p, one_p);
    pp_plan_free(p);
    /* ZB-2p limit 2p*M_B = 16: span 24 = 3m, no bubble (README table: ZB2P 0). */
    int64_t span = 0;
    p = auto_plan(4, 8, NULL, 16, 0, &span);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(span, 24);
    static const char *const two_p[] = {
        "F0 F1 F2 F3 F4 F5 F6 BI0 F7 BW0 BI1 BW1 BI2 BW2 BI3 BW3 BI4 BW4 BI5 BW5 BI6 BW6 BI7 BW7 OPT",
        "F0 F1 F2 F3 F4 BI0 F5 BI1 F6 BI2 F7 BI3 BW0 BI4 BW1 BI5 BW2 BI6 BW3 BI7 BW4 BW5 BW6 BW7 OPT",
        "F0 F1 F2 BI0 F3 BI1 F4 BI2 F5 BI3 F6 BI4 F7 BI5 BW0 BI6 BW1 BI7 BW2 BW3 BW4 BW5 BW6 BW7 OPT",
        "F0 BI0 F1 BI1 F2 BI2 F3 BI3 F4 BI4 F5 BI5 F6 BI6 F7 BI7 BW0 BW1 BW2 BW3 BW4 BW5 BW6 BW7 OPT",
        NULL};
    check_orders(p, two_p);
    pp_plan_free(p);

    struct pp_partition *c564 = pieces(4, 5, 6, 4, 2, 1);
    p = auto_plan(4, 12, c564, 10, 0, &span);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(span, 193000000);
    static const char *const m10[] = {
        "F0 F1 F2 F3 F4 BI0 BW0 F5 BI1 BW1 F6 BI2 BW2 F7 BI3 BI4 F8 BI5 BW3 F9 BI6 BW4 F10 BI7 "
        "BW5 F11 BW6 BW7 BI8 BW8 BI9 BW9 BI10 BW10 BI11 BW11 OPT",
        "F0 F1 F2 F3 BI0 F4 BI1 BW0 F5 BI2 BW1 F6 BI3 BI4 F7 BI5 BW2 F8 BI6 BW3 F9 BI7 BW4 F10 "
        "BI8 BW5 F11 BI9 BW6 BI10 BW7 BI11 BW8 BW9 BW10 BW11 OPT",
        "F0 F1 F2 BI0 F3 BI1 F4 BI2 BW0 F5 BI3 BI4 F6 BI5 F7 BI6 BW1 F8 BI7 BW2 F9 BI8 BW3 F10 "
        "BI9 BW4 F11 BI10 BW5 BI11 BW6 BW7 BW8 BW9 BW10 BW11 OPT",
        "F0 BI0 F1 BI1 F2 BI2 F3 BI3 F4 BI4 F5 BI5 F6 BI6 F7 BI7 BW0 F8 BI8 BW1 F9 BI9 BW2 F10 "
        "BI10 BW3 F11 BI11 BW4 BW5 BW6 BW7 BW8 BW9 BW10 BW11 OPT",
        NULL};
    check_orders(p, m10);
    pp_plan_free(p);
    p = auto_plan(4, 12, c564, 14, 0, &span);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(span, 183000000);
    static const char *const m14[] = {
        "F0 F1 F2 F3 F4 F5 F6 BI0 BW0 F7 BI1 BW1 F8 BI2 BI3 F9 BI4 BW2 F10 BI5 BW3 BI6 F11 BW4 "
        "BW5 BW6 BI7 BW7 BI8 BW8 BI9 BW9 BI10 BW10 BI11 BW11 OPT",
        NULL};
    check_orders(p, m14);
    pp_plan_free(p);
    pp_partition_free(c564);

    /* With communication: T_comm = 200 against F 5478, B 5806, W 3534. */
    struct pp_partition *prof = pieces(4, 5.478, 5.806, 3.534, 2, 1);
    p = auto_plan(4, 12, prof, 32, 0.2, &span);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(span, 178898000);
    static const char *const comm[] = {
        "F0 F1 F2 F3 F4 F5 F6 F7 F8 F9 BI0 F10 BI1 F11 BW0 BW1 BI2 BW2 BI3 BW3 BI4 BW4 BI5 BW5 "
        "BI6 BW6 BI7 BW7 BI8 BW8 BI9 BW9 BI10 BW10 BI11 BW11 OPT",
        "F0 F1 F2 F3 F4 F5 F6 BI0 F7 BI1 F8 BI2 F9 BI3 F10 BI4 F11 BI5 BW0 BI6 BW1 BI7 BW2 BW3 "
        "BI8 BW4 BI9 BW5 BI10 BW6 BW7 BI11 BW8 BW9 BW10 BW11 OPT",
        NULL};
    check_orders(p, comm);
    /* The engine replays the heuristic's own times. */
    struct pp_sim_result *r = replay(p, prof, 0.2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CHECK_INT(span_of(r), span);
    pp_sim_result_free(r);
    pp_plan_free(p);
    pp_partition_free(prof);

    struct pp_partition *c342 = pieces(3, 3, 4, 2, 2, 1);
    p = auto_plan(3, 7, c342, 9, 1, &span);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(span, 73000000);
    static const char *const c1[] = {
        "F0 F1 F2 F3 BI0 F4 BI1 BW0 F5 BI2 BW1 F6 BW2 BI3 BW3 BI4 BW4 BI5 BW5 BI6 BW6 OPT",
        "F0 F1 F2 BI0 F3 BI1 BW0 F4 BI2 BW1 F5 BI3 BW2 F6 BI4 BI5 BW3 BI6 BW4 BW5 BW6 OPT",
        "F0 BI0 F1 BI1 F2 BI2 F3 BI3 F4 BI4 F5 BI5 BW0 F6 BI6 BW1 BW2 BW3 BW4 BW5 BW6 OPT", NULL};
    check_orders(p, c1);
    pp_plan_free(p);
    pp_partition_free(c342);
}

/* ------------------------------------------------------ Zero Bubble tables */

/* Table 9 inputs (ms) and Table 5 bubble rates (schedules.md §7.1); h, a and
 * the layer count l are the bubble-rate script's (§6: v = l/p, mem_f =
 * 34h + 5a*1024, mem_w = 32h). */
struct zb_row {
    int p;
    int64_t m;
    double f, b, w, c;
    int h, a, l;
    double r1f1b, r1f1bi, rh1, rh2, r1p, r2p;
};

static const struct zb_row table5[] = {
    {8, 24, 18.522, 18.086, 9.337, 0.601, 2304, 24, 24, 0.2431, 0.1055, 0.1585, 0.1083, 0.1585, 0.0433},
    {8, 32, 18.513, 18.086, 9.331, 0.626, 2304, 24, 24, 0.1985, 0.0818, 0.1242, 0.0837, 0.1242, 0.0039},
    {8, 64, 18.546, 18.097, 9.321, 0.762, 2304, 24, 24, 0.1240, 0.0443, 0.0674, 0.0444, 0.0674, 0.0026},
    {8, 24, 29.718, 29.444, 19.927, 0.527, 4096, 32, 32, 0.2347, 0.0808, 0.1323, 0.0698, 0.1323, 0.0029},
    {8, 32, 29.802, 29.428, 19.530, 0.577, 4096, 32, 32, 0.1898, 0.0628, 0.1045, 0.0559, 0.1045, 0.0022},
    {8, 64, 29.935, 29.621, 19.388, 0.535, 4096, 32, 32, 0.1091, 0.0320, 0.0554, 0.0294, 0.0554, 0.0010},
    {16, 48, 11.347, 11.248, 8.132, 0.377, 5120, 40, 48, 0.2552, 0.1104, 0.1397, 0.0672, 0.1397, 0.0066},
    {16, 64, 11.307, 11.254, 8.101, 0.379, 5120, 40, 48, 0.2082, 0.0852, 0.1088, 0.0516, 0.1088, 0.0054},
    {16, 128, 11.325, 11.308, 8.109, 0.378, 5120, 40, 48, 0.1251, 0.0445, 0.0576, 0.0266, 0.0576, 0.0028},
    {32, 96, 10.419, 10.207, 7.715, 0.408, 6144, 48, 64, 0.2646, 0.1493, 0.1421, 0.0641, 0.1421, 0.0038},
    {32, 128, 10.408, 10.204, 7.703, 0.408, 6144, 48, 64, 0.2168, 0.1164, 0.1106, 0.0490, 0.1106, 0.0029},
    {32, 256, 10.402, 10.248, 7.698, 0.460, 6144, 48, 64, 0.1352, 0.0624, 0.0594, 0.0257, 0.0594, 0.0018},
};

/* 1F1B (B := b+w, makespan), ZB-H1 (makespan), ZB-H2 (own span) of one row. */
static void zb_hand_rates(const struct zb_row *z, double out[3])
{
    struct pp_sched_params sp = {.stages = z->p, .chunks = 1, .microbatches = z->m};
    struct pp_partition *full = pieces((size_t)z->p, z->f, z->b + z->w, 0, 1, 0);
    struct pp_partition *split = pieces((size_t)z->p, z->f, z->b, z->w, 1, 1);
    struct pp_sim_result *r = simulate(PP_SCHED_1F1B, &sp, full, z->c);
    out[0] = r ? bubble_rate(r, 0) : -1;
    pp_sim_result_free(r);
    r = simulate(PP_SCHED_ZB_H1, &sp, split, z->c);
    out[1] = r ? bubble_rate(r, 0) : -1;
    pp_sim_result_free(r);
    r = simulate(PP_SCHED_ZB_H2, &sp, split, z->c);
    out[2] = r ? bubble_rate(r, 1) : -1;
    pp_sim_result_free(r);
    pp_partition_free(full);
    pp_partition_free(split);
}

/* 1F1B-I: get_interleave_schedule(p, n, v, f/v, (b+w)/v, 0, c), makespan. */
static double interleaved_rate(int p, int64_t m, int v, double f, double bw, double c, int quirk,
                               pp_time *makespan)
{
    struct pp_sched_params sp = {.stages = p, .chunks = v, .microbatches = m, .zb_wrap_quirk = quirk};
    struct pp_partition *part = pieces((size_t)(p * v), f / v, bw / v, 0, 1, 0);
    struct pp_sim_result *r = simulate(PP_SCHED_INTERLEAVED_1F1B, &sp, part, c);
    double rate = r ? bubble_rate(r, 0) : -1;
    if (makespan)
        *makespan = r ? r->makespan_ns : -1;
    pp_sim_result_free(r);
    pp_partition_free(part);
    return rate;
}

/* Table 5, columns 1F1B, ZB-H1, ZB-H2, to four decimals for all 12 rows; and
 * 1F1B-I with Zero Bubble's wrap-around quirk (§2.5, §6). */
static void test_zb_table5_hand(void)
{
    for (size_t i = 0; i < sizeof table5 / sizeof table5[0]; i++) {
        const struct zb_row *z = &table5[i];
        double got[3];
        zb_hand_rates(z, got);
        CHECK_4DP(got[0], z->r1f1b);
        CHECK_4DP(got[1], z->rh1);
        CHECK_4DP(got[2], z->rh2);
        double inter = interleaved_rate(z->p, z->m, z->l / z->p, z->f, z->b + z->w, z->c, 1, NULL);
        CHECK_4DP(inter, z->r1f1bi);
    }
}

/* 1F1B-I with the faithful wrap-around edge is slower: §6 quotes 0.1090 (vs
 * the paper's 0.1055) at 1.5B m=24 and 0.1528 (vs 0.1493) at 28.3B m=96, and
 * §2.5 derives the extra time: (2vp-2) T_comm against ((2v-1)p-2) T_comm,
 * i.e. p * T_comm more makespan. */
static void test_zb_table5_interleaved_faithful(void)
{
    CHECK_4DP(interleaved_rate(8, 24, 3, 18.522, 18.086 + 9.337, 0.601, 0, NULL), 0.1090);
    CHECK_4DP(interleaved_rate(32, 96, 2, 10.419, 10.207 + 7.715, 0.408, 0, NULL), 0.1528);
    for (size_t i = 0; i < sizeof table5 / sizeof table5[0]; i++) {
        const struct zb_row *z = &table5[i];
        pp_time quirk = 0, faithful = 0;
        interleaved_rate(z->p, z->m, z->l / z->p, z->f, z->b + z->w, z->c, 1, &quirk);
        interleaved_rate(z->p, z->m, z->l / z->p, z->f, z->b + z->w, z->c, 0, &faithful);
        CHECK_INT(faithful - quirk, z->p * pp_ms_to_ns(z->c));
    }
}

/* Table 5, ZB-1p and ZB-2p: the heuristic with max_mem = p*mem_f and
 * 2p*mem_f, T_comm from Table 9, own span. */
static void test_zb_table5_auto(void)
{
    for (size_t i = 0; i < sizeof table5 / sizeof table5[0]; i++) {
        const struct zb_row *z = &table5[i];
        double mem_f = 34.0 * z->h + 5.0 * z->a * 1024, mem_w = 32.0 * z->h;
        struct pp_partition *part = pieces((size_t)z->p, z->f, z->b, z->w, mem_f, mem_w);
        for (int k = 1; k <= 2; k++) {
            int64_t span = 0;
            struct pp_plan *plan = auto_plan(z->p, z->m, part, k * z->p * mem_f, z->c, &span);
            CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
            struct pp_sim_result *r = replay(plan, part, z->c);
            CU_ASSERT_PTR_NOT_NULL_FATAL(r);
            CHECK_INT(span_of(r), span);
            CHECK_4DP(bubble_rate(r, 1), k == 1 ? z->r1p : z->r2p);
            for (int dv = 0; dv < z->p; dv++) /* the limit holds in the replay */
                CU_ASSERT(r->dev[dv].peak_activation_bytes <= k * z->p * mem_f);
            pp_sim_result_free(r);
            pp_plan_free(plan);
        }
        pp_partition_free(part);
    }
}

/* Table 8 (§7.2): per-chunk µs inputs, non-V schedules at twice the chunk
 * cost, 1F1B-I with v = l/p = 2 on the chunk costs; columns 1F1B, 1F1B-I,
 * ZB-H1, ZB-H2 to four decimals. */
static void test_zb_table8(void)
{
    static const struct {
        int p;
        int64_t m;
        double f, b, w, c; /* per chunk, µs */
        int l;
        double r1f1b, r1f1bi, rh1, rh2;
    } t8[] = {
        {16, 48, 14407, 14380, 9676, 1610, 32, 0.2668, 0.1499, 0.1536, 0.0823},
        {16, 64, 14412, 14393, 9688, 1621, 32, 0.2206, 0.1169, 0.1198, 0.0630},
        {16, 128, 14316, 14306, 9639, 1619, 32, 0.1390, 0.0621, 0.0637, 0.0325},
        {24, 72, 6763, 6969, 5251, 755, 48, 0.2699, 0.1519, 0.1439, 0.0628},
        {24, 96, 6783, 6984, 5259, 758, 48, 0.2229, 0.1184, 0.1121, 0.0480},
        {24, 192, 6785, 6990, 5260, 770, 48, 0.1403, 0.0630, 0.0595, 0.0247},
        {32, 96, 9458, 9748, 7288, 879, 64, 0.2676, 0.1509, 0.1429, 0.0629},
        {32, 128, 9469, 9744, 7306, 892, 64, 0.2204, 0.1177, 0.1111, 0.0478},
        {32, 256, 9447, 9644, 7193, 887, 64, 0.1362, 0.0626, 0.0593, 0.0251},
    };
    for (size_t i = 0; i < sizeof t8 / sizeof t8[0]; i++) {
        struct zb_row z = {t8[i].p, t8[i].m, 2 * t8[i].f / 1e3, 2 * t8[i].b / 1e3,
                           2 * t8[i].w / 1e3, t8[i].c / 1e3, 0, 0, t8[i].l, 0, 0, 0, 0, 0, 0};
        double got[3];
        zb_hand_rates(&z, got);
        CHECK_4DP(got[0], t8[i].r1f1b);
        CHECK_4DP(got[1], t8[i].rh1);
        CHECK_4DP(got[2], t8[i].rh2);
        int v = t8[i].l / t8[i].p;
        double inter = interleaved_rate(z.p, z.m, v, z.f, z.b + z.w, z.c, 1, NULL);
        CHECK_4DP(inter, t8[i].r1f1bi);
    }
}

/* ------------------------------------------------- closed forms, §8 replay */

/* Megatron SC21 §2.2.2 (schedules.md §2.5): with no communication the
 * interleaved bubble is (p-1)(t_f+t_b)/v, a fraction (p-1)/(v m) of the ideal. */
static void test_interleaved_megatron_bubble(void)
{
    static const int cases[][3] = {{2, 2, 4}, {4, 2, 8}, {4, 4, 16}, {8, 2, 16},
                                   {8, 3, 24}, {4, 3, 12}, {16, 2, 32}, {4, 2, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int p = cases[i][0], v = cases[i][1], m = cases[i][2];
        struct pp_sched_params sp = {.stages = p, .chunks = v, .microbatches = m};
        struct pp_partition *part = pieces((size_t)(p * v), 1, 2, 0, 1, 0); /* per chunk */
        struct pp_sim_result *r = simulate(PP_SCHED_INTERLEAVED_1F1B, &sp, part, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        double ideal = (double)r->dev[0].busy_ns;
        CHECK_CLOSE(((double)r->makespan_ns - ideal) / ideal, (double)(p - 1) / (v * m), 1e-12);
        pp_sim_result_free(r);
        pp_partition_free(part);
    }
}

/* schedules.md §8: F = I = W = 1 per stage, no communication; chunks of
 * v = 2 cost half. Makespans, idle of the worst rank, ZB-H2's own span, and
 * peak in-flight microbatches (F started, W or B not done) for p=4, m=8. */
static void test_unit_replay(void)
{
    static const struct {
        int p;
        int64_t m;
        double h1, h2, h2span, inter;
    } rows[] = {{4, 8, 27, 27, 24, 28.5}, {4, 12, 39, 39, 36, 40.5}, {8, 24, 79, 79, 72, 82.5}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int p = rows[i].p;
        int64_t m = rows[i].m;
        struct pp_sched_params sp = {.stages = p, .chunks = 1, .microbatches = m};
        /* M_W = M_B so that activation bytes count microbatches until their W. */
        struct pp_partition *split = pieces((size_t)p, 1, 1, 1, 1, 1);
        struct pp_sim_result *r = simulate(PP_SCHED_ZB_H1, &sp, split, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CHECK_INT(r->makespan_ns, pp_ms_to_ns(rows[i].h1));
        CHECK_INT(r->makespan_ns - r->dev[0].busy_ns, pp_ms_to_ns((double)(p - 1))); /* idle 3, 7 */
        if (p == 4 && m == 8)
            for (int dv = 0; dv < p; dv++) /* 4,4,4,4 = (p-i+1) + (i-1) */
                CHECK_INT(llround(r->dev[dv].peak_activation_bytes), 4);
        pp_sim_result_free(r);
        r = simulate(PP_SCHED_ZB_H2, &sp, split, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CHECK_INT(r->makespan_ns, pp_ms_to_ns(rows[i].h2));
        CHECK_INT(span_of(r), pp_ms_to_ns(rows[i].h2span));
        if (p == 4 && m == 8)
            for (int dv = 0; dv < p; dv++) /* 2p - 1 */
                CHECK_INT(llround(r->dev[dv].peak_activation_bytes), 7);
        pp_sim_result_free(r);
        pp_partition_free(split);

        struct pp_sched_params si = {.stages = p, .chunks = 2, .microbatches = m};
        struct pp_partition *chunks = pieces((size_t)(2 * p), 0.5, 1, 0, 1, 0);
        r = simulate(PP_SCHED_INTERLEAVED_1F1B, &si, chunks, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CHECK_INT(r->makespan_ns, pp_ms_to_ns(rows[i].inter));
        if (p == 4 && m == 8) {
            CHECK_INT(r->makespan_ns - r->dev[0].busy_ns, pp_ms_to_ns(4.5));
            for (int dv = 0; dv < p; dv++) /* chunks 11, 9, 7, 5 = 2(p-r-1) + (v-1)p + 1 */
                CHECK_INT(r->dev[dv].peak_inflight, 11 - 2 * dv);
        }
        pp_sim_result_free(r);
        pp_partition_free(chunks);
    }
}

/* ----------------------------------------------------- parameters, sweeps */

static void expect_reject(enum pp_schedule_kind k, const struct pp_sched_params *sp,
                          const char *key, const char *msg_part)
{
    const char *got_key = NULL;
    const char *why = pp_sched_check(k, sp, &got_key);
    CU_ASSERT_PTR_NOT_NULL(why);
    CHECK_STR(got_key, key);
    struct pp_plan *p = NULL;
    struct pp_diag d;
    CHECK_INT(pp_plan_build(k, sp, &p, &d), -PP_EINVAL);
    char want[128];
    snprintf(want, sizeof want, "pipeline.%s: ", key);
    CHECK_CONTAINS(d.msg, want);
    CHECK_CONTAINS(d.msg, msg_part);
}

static void test_rejects(void)
{
    struct pp_sched_params sp = {.stages = 4, .chunks = 1, .microbatches = 8};
    expect_reject(PP_SCHED_INTERLEAVED_1F1B, &sp, "chunks", "at least 2 model chunks");
    sp.chunks = 2;
    sp.microbatches = 3;
    expect_reject(PP_SCHED_INTERLEAVED_1F1B, &sp, "microbatches", "at least as many microbatches");
    sp.microbatches = 10;
    sp.zb_wrap_quirk = 1;
    expect_reject(PP_SCHED_INTERLEAVED_1F1B, &sp, "microbatches", "multiple of stages");
    sp.zb_wrap_quirk = 0;
    sp.chunks = 0;
    expect_reject(PP_SCHED_LOOPED_BFS, &sp, "chunks", "at least one model chunk");
    sp.chunks = 2;
    expect_reject(PP_SCHED_ZB_H1, &sp, "chunks", "one model chunk per device");
    expect_reject(PP_SCHED_ZB_H2, &sp, "chunks", "one model chunk per device");
    expect_reject(PP_SCHED_ZB_AUTO, &sp, "chunks", "one model chunk per device");
    sp.chunks = 1;
    struct pp_partition *part = pieces(4, 1, 1, 1, 100, 50);
    sp.costs = part;
    sp.memory_limit_bytes = 99;
    expect_reject(PP_SCHED_ZB_AUTO, &sp, "activation_memory_bytes", "below one microbatch");
    sp.memory_limit_bytes = -1;
    expect_reject(PP_SCHED_ZB_AUTO, &sp, "activation_memory_bytes", "must not be negative");
    sp.memory_limit_bytes = 0;
    sp.stages = 3;
    expect_reject(PP_SCHED_ZB_AUTO, &sp, "stages", "one piece per stage");
    pp_partition_free(part);
    /* The quirk lands in the plan as the engine's wrap_dep_every. */
    struct pp_sched_params q = {.stages = 4, .chunks = 2, .microbatches = 8, .zb_wrap_quirk = 1};
    struct pp_plan *p = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_INTERLEAVED_1F1B, &q, &p, &d), 0);
    CHECK_INT(p->wrap_dep_every, 4);
    pp_plan_free(p);
    CHECK_INT(pp_schedule_from_name("interleaved-1f1b"), PP_SCHED_INTERLEAVED_1F1B);
    CHECK_INT(pp_schedule_from_name("looped-bfs"), PP_SCHED_LOOPED_BFS);
    CHECK_INT(pp_schedule_from_name("zb-auto"), PP_SCHED_ZB_AUTO);
}

/* Every accepted (p, v, m), m not a multiple of p included, builds a plan that
 * pp_plan_validate accepts and that replays without deadlock; interleaved
 * accepts every m >= p. */
static void test_sweep(void)
{
    static const enum pp_schedule_kind kinds[] = {PP_SCHED_INTERLEAVED_1F1B, PP_SCHED_LOOPED_BFS,
                                                  PP_SCHED_ZB_H1, PP_SCHED_ZB_H2,
                                                  PP_SCHED_ZB_AUTO};
    static const int ps[] = {1, 2, 3, 4, 5, 8};
    int built = 0;
    for (size_t pi = 0; pi < sizeof ps / sizeof ps[0]; pi++) {
        int p = ps[pi];
        for (int v = 1; v <= 4; v++) {
            struct pp_partition *part = pieces((size_t)(p * v), 1, 1.5, 0.5, 1, 0.5);
            for (int64_t m = 1; m <= 3 * p + 2; m++) {
                for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
                    struct pp_sched_params sp = {.stages = p, .chunks = v, .microbatches = m};
                    const char *key;
                    const char *why = pp_sched_check(kinds[k], &sp, &key);
                    if (kinds[k] == PP_SCHED_INTERLEAVED_1F1B && v >= 2 && m >= p)
                        CU_ASSERT_PTR_NULL(why);
                    if (why)
                        continue;
                    struct pp_plan *plan = NULL;
                    struct pp_diag d;
                    int rc = pp_plan_build(kinds[k], &sp, &plan, &d);
                    CHECK_INT(rc, 0);
                    if (rc)
                        continue;
                    CHECK_INT(pp_plan_validate(plan, &d), 0);
                    struct pp_sim_result *r = replay(plan, part, 0.1);
                    CU_ASSERT_PTR_NOT_NULL(r);
                    pp_sim_result_free(r);
                    pp_plan_free(plan);
                    built++;
                }
            }
            pp_partition_free(part);
        }
    }
    CU_ASSERT(built > 400);
}

/* zb-auto with uneven per-stage costs and memory (deterministic LCG): the
 * engine replays the heuristic's own span, and the limit holds. */
static void test_zb_auto_uneven(void)
{
    uint64_t s = 42;
    for (int trial = 0; trial < 60; trial++) {
        int p = 2 + trial % 6;
        int64_t m = 1 + (int64_t)(trial * 7 % (3 * p + 2));
        struct pp_costmodel cm = {0};
        cm.n_layers = (size_t)p;
        cm.layers = pp_xcalloc((size_t)p, sizeof *cm.layers);
        size_t *counts = pp_xcalloc((size_t)p, sizeof *counts);
        double need = 0;
        for (int j = 0; j < p; j++) {
            struct pp_layer *l = &cm.layers[j];
            double x[5];
            for (int q = 0; q < 5; q++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                x[q] = (double)(s >> 40) / (double)(1ull << 24);
            }
            l->forward_ms = 0.5 + 2 * x[0];
            l->backward_input_ms = 0.5 + 2 * x[1];
            l->backward_weight_ms = 0.2 + 2 * x[2];
            l->split_backward = 1;
            l->activation_bytes = 1000 + floor(4000 * x[3]);
            l->bw_activation_bytes = floor(l->activation_bytes * x[4]);
            need = fmax(need, l->activation_bytes);
            counts[j] = 1;
        }
        struct pp_partition *part = NULL;
        struct pp_diag d;
        CU_ASSERT_EQUAL_FATAL(pp_partition_explicit(&cm, counts, (size_t)p, &part, &d), 0);
        double limit = (trial % 3 == 0) ? 0 : need * (1 + trial % 4 * p / 2.0);
        double comm = 0.05 * (trial % 4);
        int64_t span = 0;
        struct pp_plan *plan = auto_plan(p, m, part, limit, comm, &span);
        CU_ASSERT_PTR_NOT_NULL(plan);
        if (plan) {
            struct pp_sim_result *r = replay(plan, part, comm);
            CU_ASSERT_PTR_NOT_NULL_FATAL(r);
            CHECK_INT(span_of(r), span);
            for (int dv = 0; dv < p; dv++) {
                double lim = limit > 0 ? limit : p * part->pieces[dv].activation_bytes;
                CU_ASSERT(r->dev[dv].peak_activation_bytes <= lim);
            }
            pp_sim_result_free(r);
            pp_plan_free(plan);
        }
        pp_partition_free(part);
        free(counts);
        free(cm.layers);
    }
}

/* 64 stages x 4096 microbatches (the engine's target size) build and validate. */
static void test_large(void)
{
    static const struct {
        enum pp_schedule_kind k;
        int v;
    } big[] = {{PP_SCHED_INTERLEAVED_1F1B, 2}, {PP_SCHED_LOOPED_BFS, 2}, {PP_SCHED_ZB_H1, 1},
               {PP_SCHED_ZB_H2, 1}, {PP_SCHED_ZB_AUTO, 1}};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        struct pp_plan *p = build_plan(big[i].k, 64, big[i].v, 4096);
        CU_ASSERT_PTR_NOT_NULL(p);
        if (p)
            CHECK_INT(p->n_ops, 64 * (int64_t)(big[i].v == 1 ? 3 : 4) * 4096 + 64);
        pp_plan_free(p);
    }
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"interleaved: Megatron's PP2 M5 example", test_interleaved_megatron_example},
        {"interleaved: p=4 v=2 m=8 orders", test_interleaved_p4},
        {"looped BFS orders", test_looped_bfs},
        {"ZB-H1 / ZB-H2 orders", test_zb_hand_orders},
        {"zb-auto orders = auto_schedule.py", test_zb_auto_orders},
        {"ZB Table 5: 1F1B, 1F1B-I (quirk), ZB-H1, ZB-H2", test_zb_table5_hand},
        {"ZB Table 5: faithful 1F1B-I", test_zb_table5_interleaved_faithful},
        {"ZB Table 5: ZB-1p, ZB-2p", test_zb_table5_auto},
        {"ZB Table 8: 1F1B, 1F1B-I, ZB-H1, ZB-H2", test_zb_table8},
        {"Megatron interleaved bubble (p-1)/(vm)", test_interleaved_megatron_bubble},
        {"unit-cost replay (schedules.md §8)", test_unit_replay},
        {"bad parameters rejected", test_rejects},
        {"(p, v, m) sweep validates and replays", test_sweep},
        {"zb-auto on uneven stages", test_zb_auto_uneven},
        {"64 stages x 4096 microbatches", test_large},
        {NULL, NULL},
    };
    return pp_test_main("sched_sync", tests);
}
