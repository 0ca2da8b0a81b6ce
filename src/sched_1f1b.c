/* sched_1f1b.c - 1F1B = PipeDream-Flush = Megatron's non-interleaved schedule
 * (schedules.md §2.2, Megatron forward_backward_pipelining_without_interleaving):
 * rank r runs w = min(p-r-1, m) warm-up forwards, then m-w pairs of
 * [forward of the next microbatch, backward of the oldest], then w backwards,
 * and one flush (optimizer step) per iteration. */
#include "schedule.h"

void pp_push_1f1b_rank(const struct pp_sched_params *p, struct pp_plan *plan, int r)
{
    int64_t m = p->microbatches;
    int64_t warm = p->stages - r - 1;
    if (warm > m)
        warm = m;
    int64_t f = 0, b = 0;
    while (f < warm)
        pp_plan_push(plan, r, PP_OP_F, r, f++);
    while (f < m) {
        pp_plan_push(plan, r, PP_OP_F, r, f++);
        pp_plan_push(plan, r, PP_OP_B, r, b++);
    }
    while (b < m)
        pp_plan_push(plan, r, PP_OP_B, r, b++);
}

int pp_sched_1f1b(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    for (int r = 0; r < p->stages; r++) {
        pp_push_1f1b_rank(p, plan, r);
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
    }
    return 0;
}

const char *pp_sched_1f1b_check(const struct pp_sched_params *p, const char **key)
{
    return pp_sched_one_chunk(p, key);
}
