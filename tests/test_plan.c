/* test_plan.c - PipeDream's partitioner (antichain.c, pdplan.c, planner.c).
 *
 * Oracles: hand-worked small graphs (the §2 antichain rules and §3 recurrence
 * of pipedream-optimizer.md, worked in the comments), the published layouts of
 * pipedream-optimizer.md §8/§10 (vgg16 4 and 8 machines, gnmt 4), §6's Python 3
 * memory case, and properties: the layout read back re-evaluates to the DP's
 * bottleneck, more machines (with --use_fewer_machines), more bandwidth or more
 * memory never make it slower. The full reference comparison (every profile,
 * every flag family, to 1e-9) is tests/plan_oracle_test.py. */
#include "testutil.h"

#include "antichain.h"
#include "buf.h"
#include "diag.h"
#include "pdgraph.h"
#include "pdplan.h"
#include "planner.h"

#define PROFILES "../models/pipedream/profiles"

static struct pp_pdgraph *parse(const char *text)
{
    struct pp_diag d;
    struct pp_pdgraph *g = NULL;
    int rc = pp_pdgraph_parse(text, strlen(text), "t.txt", &g, &d);
    CHECK_INT(rc, 0);
    return g;
}

/* Input (dropped) -> a -> b -> c. States {a}, {b}, {c}: C = 0.03, 0.09, 0.10 s,
 * Par = 2e6, 6e6, 6e6, Act = 1e6, 1.5e6, 1.50001e6, Out = 1e6, 5e5, 10. */
static const char chain[] =
    "in -- Input -- forward_compute_time=5.0, backward_compute_time=0.0, activation_size=100.0, parameter_size=0.0\n"
    "a -- A -- forward_compute_time=10.0, backward_compute_time=20.0, activation_size=1000000.0, parameter_size=2000000.0\n"
    "b -- B -- forward_compute_time=30.0, backward_compute_time=30.0, activation_size=500000.0, parameter_size=4000000.0\n"
    "c -- C -- forward_compute_time=5.0, backward_compute_time=5.0, activation_size=10.0, parameter_size=0.0\n"
    "\tin -- a\n\ta -- b\n\tb -- c\n";

static struct pp_pdplan *solve(const struct pp_antichains *a, struct pp_pdplan_opts o)
{
    struct pp_diag d;
    struct pp_pdplan *p = NULL;
    CHECK_INT(pp_pdplan_solve(a, &o, &p, &d), 0);
    return p;
}

static struct pp_pdplan_opts one_level(size_t n, double bw)
{
    struct pp_pdplan_opts o;
    memset(&o, 0, sizeof o);
    o.n_levels = 1;
    o.machines[0] = n;
    o.bandwidth_bps[0] = bw;
    o.memory_bytes = 16e9;
    return o;
}

static void test_chain_states(void)
{
    struct pp_pdgraph *g = parse(chain);
    struct pp_antichains *a;
    struct pp_diag d;
    CHECK_INT(pp_antichains_build(g, 100, &a, &d), 0);
    CHECK_INT(a->n_states, 3);
    CHECK_CLOSE(a->compute_s[0], 0.03, 1e-15);
    CHECK_CLOSE(a->compute_s[2], 0.10, 1e-15);
    CHECK_CLOSE(a->par_bytes[1], 6e6, 0);
    CHECK_CLOSE(a->out_bytes[1], 5e5, 0);
    CHECK_INT(pp_bit(a->anc + 2 * a->words, 0), 1);
    CHECK_INT(pp_bit(a->anc + 0 * a->words, 2), 0);
    pp_antichains_free(a);
    pp_pdgraph_free(g);
}

static void test_chain_dp(void)
{
    struct pp_pdgraph *g = parse(chain);
    struct pp_antichains *a;
    struct pp_diag d;
    CHECK_INT(pp_antichains_build(g, 100, &a, &d), 0);
    /* N = 2, B = 1e9: one stage on 2 machines = (0.1 + 4*1*6e6/(1e9*2)) / 2 =
     * 0.056 beats the splits max(0.03, 0.07) and max(0.09, 0.01). */
    struct pp_pdplan *p = solve(a, one_level(2, 1e9));
    CHECK_CLOSE(p->bottleneck_s, 0.056, 1e-15);
    CHECK_INT(p->n_leaf, 1);
    CHECK_INT(p->stages[0].replicas, 2);
    CHECK_CLOSE(p->single_s, 0.10, 1e-15);
    pp_pdplan_free(p);
    /* Straight: the split after {a} gives max(0.03, 0.07) = 0.07. */
    struct pp_pdplan_opts o = one_level(2, 1e9);
    o.straight = 1;
    p = solve(a, o);
    CHECK_CLOSE(p->bottleneck_s, 0.07, 1e-15);
    CHECK_INT(p->n_leaf, 2);
    CHECK_INT(p->stages[1].first_state, 1);
    pp_pdplan_free(p);
    /* Straight with transfers at 1e7 B/s: after {a}, in = 2*1e6/1e7 = 0.2;
     * after {a,b}, in = 2*5e5/1e7 = 0.1 = max(0.09, 0.01, 0.1). */
    o.bandwidth_bps[0] = 1e7;
    o.compression = 1;
    p = solve(a, o);
    CHECK_CLOSE(p->bottleneck_s, 0.1, 1e-15);
    CHECK_INT(p->stages[1].first_state, 2);
    CHECK_CLOSE(p->stages[1].transfer_s, 0.1, 1e-15);
    pp_pdplan_free(p);
    /* Memory: the first stage on 1 of 2 machines stashes ceil(1/1) * (Act + Par):
     * 3e6 for {a}, 7.5e6 for {a,b}; the last stage stashes nothing. With 2e6
     * nothing fits, and the smallest memory that works is 3e6. */
    o = one_level(2, 1e9);
    o.straight = 1;
    o.use_memory_constraint = 1;
    o.memory_bytes = 2e6;
    p = solve(a, o);
    CHECK_INT(p->feasible, 0);
    CHECK_CLOSE(p->memory_needed_bytes, 3e6, 0);
    pp_pdplan_free(p);
    o.memory_bytes = 3e6;
    p = solve(a, o);
    CHECK_INT(p->feasible, 1);
    CHECK_CLOSE(p->bottleneck_s, 0.07, 1e-15);
    pp_pdplan_free(p);
    /* Three straight machines on three states: one each, max(0.03, 0.06, 0.01). */
    o = one_level(3, 1e9);
    o.straight = 1;
    p = solve(a, o);
    CHECK_CLOSE(p->bottleneck_s, 0.06, 1e-15);
    pp_pdplan_free(p);
    /* Four straight machines: PipeDream finds no layout; fewer machines can. */
    o.machines[0] = 4;
    p = solve(a, o);
    CHECK_INT(p->feasible, 0);
    pp_pdplan_free(p);
    o.fewer_machines = 1;
    p = solve(a, o);
    CHECK_CLOSE(p->bottleneck_s, 0.06, 1e-15);
    CHECK_INT(p->machines_used, 3);
    pp_pdplan_free(p);
    pp_antichains_free(a);
    pp_pdgraph_free(g);
}

/* a -> {b, c} -> d. §2 by hand: {a}; {b} and {c} (augmented with a, whose
 * output the other branch still needs); {b, c} (augmented with a); {d}. */
static void test_diamond(void)
{
    struct pp_pdgraph *g = parse(
        "a -- A -- forward_compute_time=1.0, backward_compute_time=1.0, activation_size=10.0, parameter_size=1.0\n"
        "b -- B -- forward_compute_time=2.0, backward_compute_time=2.0, activation_size=20.0, parameter_size=2.0\n"
        "c -- C -- forward_compute_time=3.0, backward_compute_time=3.0, activation_size=40.0, parameter_size=4.0\n"
        "d -- D -- forward_compute_time=4.0, backward_compute_time=4.0, activation_size=80.0, parameter_size=8.0\n"
        "\ta -- b\n\ta -- c\n\tb -- d\n\tc -- d\n");
    struct pp_antichains *a;
    struct pp_diag d;
    CHECK_INT(pp_antichains_build(g, 100, &a, &d), 0);
    CHECK_INT(a->n_states, 5);
    /* DFS reverse post-order from {a}: children {b}, {c} in discovery order;
     * {b}'s children {b,c}, {d}: order {a}, {c}, {b}, {b,c}, {d}. */
    CHECK_CLOSE(a->compute_s[0], 0.002, 1e-15);
    CHECK_CLOSE(a->compute_s[1], 0.008, 1e-15);  /* {c}: a + c */
    CHECK_CLOSE(a->out_bytes[1], 50, 0);         /* a's output is still live */
    CHECK_CLOSE(a->compute_s[2], 0.006, 1e-15);  /* {b}: a + b */
    CHECK_CLOSE(a->compute_s[3], 0.012, 1e-15);  /* {b,c} */
    CHECK_CLOSE(a->out_bytes[3], 70, 0);         /* a, b, c */
    CHECK_CLOSE(a->compute_s[4], 0.020, 1e-15);
    /* {c} and {b} are not ancestors of each other; {b,c} has both. */
    CHECK_INT(pp_bit(a->anc + 2 * a->words, 1), 0);
    CHECK_INT(pp_bit(a->anc + 3 * a->words, 1), 1);
    CHECK_INT(pp_bit(a->anc + 3 * a->words, 2), 1);
    /* Straight on 2: cut after {b,c} (max(0.012, 0.008)) is best; after {c}
     * would leave a + c = 0.008 | b + d = 0.012 (same), after {b} 0.006 | 0.014. */
    struct pp_pdplan_opts o = one_level(2, 1e9);
    o.straight = 1;
    struct pp_pdplan *p = solve(a, o);
    CHECK_CLOSE(p->bottleneck_s, 0.012, 1e-15);
    pp_pdplan_free(p);
    pp_antichains_free(a);
    pp_pdgraph_free(g);
}

static struct pp_planner *plan(const char *model, struct pp_pdplan_opts o)
{
    char path[256];
    snprintf(path, sizeof path, PROFILES "/%s/graph.txt", model);
    struct pp_planner_opts po;
    memset(&po, 0, sizeof po);
    po.dp = o;
    struct pp_planner *p = NULL;
    struct pp_diag d;
    int rc = pp_planner_run(path, &po, &p, &d);
    CHECK_INT(rc, 0);
    return p;
}

/* pipedream-optimizer.md §8 and §10: layouts PipeDream printed and shipped. */
static void test_published_layouts(void)
{
    struct pp_pdplan_opts o = one_level(4, 1e9);
    o.compression = 1;
    struct pp_planner *p = plan("vgg16", o);
    CHECK_CLOSE(p->plan->bottleneck_s, 0.205520896, 1e-12);
    CHECK_CLOSE(p->plan->single_s, 0.672535, 1e-12);
    CHECK_INT(p->plan->n_leaf, 2);
    CHECK_INT(p->plan->stages[0].end_state, 17);
    CHECK_INT(p->plan->stages[0].replicas, 3);
    CHECK_INT(p->plan->stages[1].replicas, 1);
    /* "Throughput increase (compared to (4)-machine DP): 2.84" */
    CHECK_CLOSE(p->plan->data_parallel_s / p->plan->bottleneck_s, 2.84, 0.005);
    pp_planner_free(p);
    o.machines[0] = 8;
    p = plan("vgg16", o);
    CHECK_INT(p->plan->n_leaf, 2);
    CHECK_INT(p->plan->stages[0].end_state, 24);
    CHECK_INT(p->plan->stages[0].replicas, 7);
    pp_planner_free(p);
    o.machines[0] = 4;
    p = plan("gnmt", o);
    CHECK_INT(p->plan->n_leaf, 4);
    for (size_t i = 0; i < p->plan->n_stages; i++)
        CHECK_INT(p->plan->stages[i].replicas, 1);
    pp_planner_free(p);
    /* §6: vgg16 -n 4 acr 1 -s 8e9 with the memory constraint is plain data
     * parallelism under Python 3 (0.5832 s). */
    o.use_memory_constraint = 1;
    o.memory_bytes = 8e9;
    p = plan("vgg16", o);
    CHECK_INT(p->plan->n_leaf, 1);
    CHECK_INT(p->plan->stages[0].replicas, 4);
    CHECK_CLOSE(p->plan->bottleneck_s, 0.5832, 1e-4);
    CHECK_CLOSE(p->plan->bottleneck_s, p->plan->data_parallel_s, 1e-15);
    pp_planner_free(p);
}

/* The read-back layout: top-level stage times reproduce the DP's optimum
 * exactly, leaves fit the memory, every kept node has a stage. */
static void check_layout(const struct pp_planner *p, const struct pp_pdplan_opts *o)
{
    const struct pp_pdplan *pl = p->plan;
    size_t top = o->n_levels - 1, gpus = 0;
    double worst = 0;
    for (size_t i = 0; i < pl->n_stages; i++) {
        const struct pp_pdstage *st = &pl->stages[i];
        if (st->level == top && st->time_s > worst)
            worst = st->time_s;
        if (o->use_memory_constraint)
            CHECK_INT(st->memory_bytes <= o->memory_bytes, 1);
        if (st->level == 0)
            gpus += st->gpus;
        if (o->straight)
            CHECK_INT(st->replicas, 1);
    }
    CHECK_CLOSE(worst, pl->bottleneck_s, 0);
    CHECK_INT(gpus, pl->machines_used);
    CHECK_INT(gpus <= pl->machines_total, 1);
    if (!o->fewer_machines)
        CHECK_INT(gpus, pl->machines_total);
    for (size_t k = 0; k < p->graph->n_kept; k++)
        CHECK_INT(p->node_stage[p->graph->topo[k]] < pl->n_leaf, 1);
}

static const char *const models[] = {"alexnet", "vgg16", "resnet18", "resnet50", "squeezenet1_0",
                                     "gnmt", "densenet121", "inception_v3", "nasnetamobile", NULL};

static void test_layouts_reevaluate(void)
{
    for (const char *const *m = models; *m; m++) {
        struct pp_pdplan_opts o = one_level(8, 1e9);
        o.compression = 1;
        struct pp_planner *p = plan(*m, o);
        check_layout(p, &o);
        pp_planner_free(p);
        o.straight = 1;
        o.fewer_machines = 1;
        p = plan(*m, o);
        check_layout(p, &o);
        pp_planner_free(p);
        o = one_level(4, 1e10);
        o.n_levels = 2;
        o.machines[1] = 2;
        o.bandwidth_bps[1] = 1e9;
        o.compression = 2.5;
        o.use_memory_constraint = 1;
        o.memory_bytes = 8e9;
        p = plan(*m, o);
        if (p->plan->feasible)
            check_layout(p, &o);
        pp_planner_free(p);
    }
}

static void test_monotone(void)
{
    for (const char *const *m = models; *m && strcmp(*m, "inception_v3") != 0; m++) {
        double prev = INFINITY;
        for (size_t n = 1; n <= 16; n++) {
            struct pp_pdplan_opts o = one_level(n, 1e9);
            o.compression = 1;
            o.fewer_machines = 1;
            struct pp_planner *p = plan(*m, o);
            CHECK_INT(p->plan->bottleneck_s <= prev, 1);
            prev = p->plan->bottleneck_s;
            pp_planner_free(p);
        }
        prev = INFINITY;
        for (double bw = 1e8; bw <= 1e11; bw *= 10) {
            struct pp_pdplan_opts o = one_level(8, bw);
            o.compression = 1;
            struct pp_planner *p = plan(*m, o);
            CHECK_INT(p->plan->bottleneck_s <= prev, 1);
            prev = p->plan->bottleneck_s;
            pp_planner_free(p);
        }
        prev = INFINITY;
        for (double mem = 1e9; mem <= 64e9; mem *= 2) {
            struct pp_pdplan_opts o = one_level(8, 1e9);
            o.use_memory_constraint = 1;
            o.memory_bytes = mem;
            struct pp_planner *p = plan(*m, o);
            double t = p->plan->feasible ? p->plan->bottleneck_s : INFINITY;
            CHECK_INT(t <= prev, 1);
            prev = t;
            pp_planner_free(p);
        }
    }
}

/* The optimizer's -o output reads back with the same stage per node. */
static void test_write_roundtrip(void)
{
    struct pp_pdplan_opts o = one_level(4, 1e9);
    o.compression = 1;
    struct pp_planner *p = plan("alexnet", o);
    struct pp_buf b;
    pp_buf_init(&b);
    pp_pdgraph_write(&b, p->graph, p->node_stage);
    CHECK_CONTAINS(b.data, "node1 -- Input -- forward_compute_time=0.000, backward_compute_time=0.000, "
                           "activation_size=0.0, parameter_size=0.000 -- stage_id=0\n");
    CHECK_CONTAINS(b.data, "activation_size=198246400.0, parameter_size=93184.000 -- stage_id=0\n");
    struct pp_pdgraph *g2;
    struct pp_diag d;
    CHECK_INT(pp_pdgraph_parse(b.data, b.len, "gpus=4.txt", &g2, &d), 0);
    CHECK_INT(g2->n_kept, p->graph->n_kept);
    CHECK_INT(g2->n_edges, p->graph->n_edges);
    pp_pdgraph_free(g2);
    pp_buf_free(&b);
    pp_planner_free(p);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"chain states", test_chain_states},
        {"chain DP by hand", test_chain_dp},
        {"diamond by hand", test_diamond},
        {"published layouts", test_published_layouts},
        {"layouts re-evaluate to the optimum", test_layouts_reevaluate},
        {"monotone in machines, bandwidth, memory", test_monotone},
        {"gpus=N.txt round trip", test_write_roundtrip},
        {NULL, NULL},
    };
    return pp_test_main("plan", tests);
}
