/* test_plan_progress.c - the partition DP's progress callback (pdplan.h).
 *
 * The contract `ppsim plan` draws its bar from: done never goes back and
 * never passes total, done == total exactly once and last, and a plan solved
 * with a callback is the plan solved without one. The totals are the DP's
 * work formula, (levels - 1) n(n+1)(n+2)/6 + n(n+1)/2 per pass, worked out
 * from the number of states; an infeasible plan's second (memory) pass
 * doubles it. */
#include <stdint.h>

#include "antichain.h"
#include "diag.h"
#include "pdplan.h"
#include "planner.h"
#include "testutil.h"

#define PROFILES "../models/pipedream/profiles"

struct seen {
    uint64_t calls, finals, last_done, last_total, bad;
};

static void record(void *ctx, uint64_t done, uint64_t total)
{
    struct seen *s = ctx;
    if (s->finals || done > total || done < s->last_done || total < s->last_total)
        s->bad++;
    s->calls++;
    s->finals += done == total;
    s->last_done = done;
    s->last_total = total;
}

static struct pp_planner *plan(const char *model, const struct pp_pdplan_opts *o)
{
    char path[256];
    snprintf(path, sizeof path, PROFILES "/%s/graph.txt", model);
    struct pp_planner_opts po;
    memset(&po, 0, sizeof po);
    po.dp = *o;
    struct pp_planner *p = NULL;
    struct pp_diag d;
    CHECK_INT(pp_planner_run(path, &po, &p, &d), 0);
    return p;
}

static uint64_t pass_units(uint64_t n, uint64_t levels)
{
    return (levels - 1) * (n * (n + 1) * (n + 2) / 6) + n * (n + 1) / 2;
}

static void same_plan(const struct pp_pdplan *a, const struct pp_pdplan *b)
{
    CHECK_INT(a->feasible, b->feasible);
    CHECK_INT(a->n_stages, b->n_stages);
    /* bit for bit (infinity when infeasible) */
    CHECK_INT(memcmp(&a->bottleneck_s, &b->bottleneck_s, sizeof(double)), 0);
    CHECK_INT(memcmp(&a->memory_needed_bytes, &b->memory_needed_bytes, sizeof(double)), 0);
    if (a->n_stages == b->n_stages && a->n_stages)
        CHECK_INT(memcmp(a->stages, b->stages, a->n_stages * sizeof *a->stages), 0);
}

static void run_case(const char *model, struct pp_pdplan_opts o, int feasible, uint64_t passes)
{
    struct pp_planner *quiet = plan(model, &o);
    struct seen s = {0};
    o.progress = record;
    o.progress_ctx = &s;
    struct pp_planner *loud = plan(model, &o);
    if (!quiet || !loud)
        return;
    CHECK_INT(loud->plan->feasible, feasible);
    same_plan(quiet->plan, loud->plan);
    uint64_t n = loud->states->n_states;
    CHECK_INT(s.bad, 0);
    CHECK_INT(s.finals, 1);
    CHECK_INT(s.last_total, passes * pass_units(n, o.n_levels));
    CHECK_INT(s.last_done, s.last_total);
    CU_ASSERT(s.calls >= 3); /* drawn along the way, not only at the end */
    pp_planner_free(quiet);
    pp_planner_free(loud);
}

static void test_feasible(void)
{
    struct pp_pdplan_opts o;
    memset(&o, 0, sizeof o);
    o.n_levels = 2;
    o.machines[0] = 2;
    o.machines[1] = 2;
    o.bandwidth_bps[0] = 1e10;
    o.bandwidth_bps[1] = 1e9;
    o.memory_bytes = 16e9;
    run_case("densenet121", o, 1, 1);
}

static void test_infeasible_two_passes(void)
{
    struct pp_pdplan_opts o;
    memset(&o, 0, sizeof o);
    o.n_levels = 2;
    o.machines[0] = 2;
    o.machines[1] = 2;
    o.bandwidth_bps[0] = 1e10;
    o.bandwidth_bps[1] = 1e9;
    o.straight = 1;
    o.use_memory_constraint = 1;
    o.memory_bytes = 1e5;
    run_case("densenet121", o, 0, 2);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"feasible: one pass, done == total once", test_feasible},
        {"infeasible: the memory pass doubles the total", test_infeasible_two_passes},
        {NULL, NULL},
    };
    return pp_test_main("plan_progress", tests);
}
