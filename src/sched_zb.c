/* sched_zb.c - Zero Bubble's synchronous one-chunk schedules, which split the
 * backward into BI (input gradient, on the critical path) and BW (weight
 * gradient, free to fill bubbles) (schedules.md §2.7, §2.8).
 *
 * zb-h1 / zb-h2 are the handcrafted orders of the ZB repository's
 * efficiency.py get_hand_schedule(p, n, f, b, w, c, warmup_c), warmup_c = 1
 * for H1 and 2 for H2: rank r runs (p-r-1)*c_w warm-up forwards, then for
 * each microbatch i [F if warm+i < m] B(i) [W if warm+i >= (p-1)*c_w], then
 * its remaining W's. zb-auto is the automatic heuristic (sched_zb_auto.c). */
#include "schedule.h"

#include "partition.h"
#include "sched_zb_auto.h"
#include "zb_ilp.h"

/* get_hand_schedule asserts m >= 2p. For fewer microbatches the same rule
 * still defines a deadlock-free order once the warm-up is capped at m (a rank
 * cannot run forwards it does not have) and the W's that the (p-1)*c_w
 * threshold never released are run at the end, which is what its tail loop
 * does for m >= 2p. */
static void push_hand(const struct pp_sched_params *p, struct pp_plan *plan, int64_t cw)
{
    int64_t m = p->microbatches, lag = (p->stages - 1) * cw;
    for (int r = 0; r < p->stages; r++) {
        int64_t warm = (p->stages - r - 1) * cw, f = 0, w = 0;
        if (warm > m)
            warm = m;
        while (f < warm)
            pp_plan_push(plan, r, PP_OP_F, r, f++);
        for (int64_t i = 0; i < m; i++) {
            if (warm + i < m)
                pp_plan_push(plan, r, PP_OP_F, r, f++);
            pp_plan_push(plan, r, PP_OP_BI, r, i);
            if (warm + i >= lag)
                pp_plan_push(plan, r, PP_OP_BW, r, w++);
        }
        while (w < m)
            pp_plan_push(plan, r, PP_OP_BW, r, w++);
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
    }
}

int pp_sched_zb_h1(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    push_hand(p, plan, 1);
    return 0;
}

const char *pp_sched_zb_h1_check(const struct pp_sched_params *p, const char **key)
{
    return pp_sched_one_chunk(p, key);
}

int pp_sched_zb_h2(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    push_hand(p, plan, 2);
    return 0;
}

const char *pp_sched_zb_h2_check(const struct pp_sched_params *p, const char **key)
{
    return pp_sched_one_chunk(p, key);
}

/* The heuristic, as the Zero Bubble code runs it (its ILP branch is disabled,
 * schedules.md §2.8); with zb_ilp, the exact ILP improves on it where the size
 * allows (zb_ilp.h). Both plan with the link latency as T_comm. */
int pp_sched_zb_auto(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    if (p->zb_ilp)
        return pp_zb_auto_ilp_push(p, p->comm_latency_ms, plan, NULL, d);
    return pp_zb_auto_push(p, p->comm_latency_ms, plan, NULL, d);
}

const char *pp_sched_zb_auto_check(const struct pp_sched_params *p, const char **key)
{
    const char *why = pp_sched_one_chunk(p, key);
    if (why)
        return why;
    if (p->costs && p->costs->n_pieces != (size_t)p->stages) {
        *key = "stages";
        return "zb-auto needs the per-piece costs of exactly one piece per stage";
    }
    if (p->memory_limit_bytes < 0) {
        *key = "activation_memory_bytes";
        return "the activation memory limit must not be negative";
    }
    if (p->memory_limit_bytes > 0 && p->memory_limit_bytes < pp_zb_auto_min_memory(p)) {
        *key = "activation_memory_bytes";
        return "the activation memory limit is below one microbatch's activations (M_B) "
               "on some stage, so no forward can run";
    }
    return NULL;
}
