/* test_simplan_stop.c - a stop inside the simulated search is returned, never
 * a partial result (simplan.h, autopart.h).
 *
 * With one byte of device memory the memory DP has no split, so the search's
 * only candidate is PipeDream's own split, whose DP polls the stop. Without a
 * stop that candidate is there; with one, the search used to drop it and
 * report success with no candidate (`pipeline.partition: auto` then blamed the
 * model). The DP polls every 2^24 / (stages + 1) units of work, n(n+1)/2 of
 * them for n states: inception_v3's 1646 states in 32 stages poll twice.
 *
 * The stops are set before the call: the --time-limit deadline one nanosecond
 * away (passed by the time the DP polls it), then SIGINT, raised at this
 * process with the handlers of limits.h. SIGINT cannot be cleared, so it
 * comes last. */
#include <signal.h>
#include <stdint.h>

#include "diag.h"
#include "limits.h"
#include "planner.h"
#include "scenario.h"
#include "simplan.h"
#include "autopart.h"
#include "testutil.h"

#define PROFILES "../models/pipedream/profiles"
#define STAGES 32

static struct pp_planner *planner;

/* The plan the searches start from, made once, before any stop. */
static void setup_planner(void)
{
    if (planner)
        return;
    struct pp_planner_opts po;
    memset(&po, 0, sizeof po);
    po.dp.n_levels = 1;
    po.dp.machines[0] = STAGES;
    po.dp.bandwidth_bps[0] = 1e10;
    po.dp.straight = 1;
    struct pp_diag d;
    CHECK_INT(pp_planner_run(PROFILES "/inception_v3/graph.txt", &po, &planner, &d), 0);
}

static int search(struct pp_simplan **out, struct pp_diag *d)
{
    struct pp_simplan_opts o;
    memset(&o, 0, sizeof o);
    o.devices = STAGES;
    o.only_stages = STAGES;
    o.bandwidth_bps = 1e10;
    o.memory_bytes = 1; /* the memory DP finds nothing: PipeDream's split is all */
    o.schedule = PP_SCHED_1F1B;
    o.microbatches = 8;
    o.gradient_factor = 1;
    o.optimizer_factor = 1;
    *out = NULL;
    memset(d, 0, sizeof *d);
    setup_planner();
    if (!planner)
        return -PP_EINVAL;
    return pp_simplan_run(planner->collapsed ? planner->collapsed : planner->graph,
                          planner->states, &o, out, d);
}

static void test_no_stop(void)
{
    struct pp_simplan *s;
    struct pp_diag d;
    CHECK_INT(search(&s, &d), 0);
    if (!s)
        return;
    CHECK_INT(s->n_cands, 1);
    if (s->n_cands)
        CHECK_INT(s->cands[0].source, PP_SP_PIPEDREAM);
    CHECK_INT(s->best, SIZE_MAX); /* one byte fits nothing */
    pp_simplan_free(s);
}

static void test_deadline(void)
{
    struct pp_simplan *s;
    struct pp_diag d;
    char msg[512];
    pp_limits_set_deadline(1e-9);
    CHECK_INT(search(&s, &d), -PP_EINFEASIBLE);
    CU_ASSERT_PTR_NULL(s);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "error: time limit of 1e-09 s reached while solving the partition DP; nothing "
              "was written");
    pp_limits_set_deadline(0);
}

static void test_interrupt(void)
{
    struct pp_simplan *s;
    struct pp_diag d;
    char msg[512];
    pp_limits_install_signals();
    raise(SIGINT);
    CHECK_INT(pp_limits_stop(), PP_STOP_SIGNAL);
    CHECK_INT(search(&s, &d), -PP_EINTR);
    CU_ASSERT_PTR_NULL(s);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "error: interrupted while solving the partition DP; nothing was written");

    /* The scenario path, `pipeline.partition: auto`: the stop is returned and
     * no split. (Its planner runs the same DP first and sees a stop set
     * beforehand there; this guards that autopart passes every stop up.) */
    const char *sets[] = {"model.file=../models/pipedream/profiles/vgg16/graph.txt",
                          "pipeline.partition=auto"};
    struct pp_scenario *sc = NULL;
    CHECK_INT(pp_scenario_load("../scenarios/pipedream-vgg16.yaml", sets, 2, &sc, &d), 0);
    if (!sc)
        return;
    struct pp_autopart ap;
    CHECK_INT(pp_autopart_run(sc, &ap, &d), -PP_EINTR);
    CU_ASSERT_PTR_NULL(ap.model);
    CU_ASSERT_PTR_NULL(ap.counts);
    CHECK_CONTAINS(pp_diag_format(&d, msg, sizeof msg), "error: interrupted while ");
    pp_scenario_free(sc);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"no stop: PipeDream's split is the one candidate", test_no_stop},
        {"--time-limit in PipeDream's split: -PP_EINFEASIBLE", test_deadline},
        {"SIGINT in PipeDream's split: -PP_EINTR, autopart too", test_interrupt},
        {NULL, NULL},
    };
    int status = pp_test_main("simplan_stop", tests);
    pp_planner_free(planner);
    return status;
}
