/* sched_gpipe.c - GPipe fill-drain: every device runs all forwards, then all
 * full backwards in the same microbatch order (schedules.md §2.1, PyTorch
 * ScheduleGPipe._step_microbatches), then its optimizer step. */
#include "schedule.h"

int pp_sched_gpipe(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    for (int r = 0; r < p->stages; r++) {
        for (int64_t m = 0; m < p->microbatches; m++)
            pp_plan_push(plan, r, PP_OP_F, r, m);
        for (int64_t m = 0; m < p->microbatches; m++)
            pp_plan_push(plan, r, PP_OP_B, r, m);
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
    }
    return 0;
}

const char *pp_sched_gpipe_check(const struct pp_sched_params *p, const char **key)
{
    return pp_sched_one_chunk(p, key);
}
