/* sched_custom.c - PLACEHOLDER until its generators land (this session). */
#include "schedule.h"

#include "diag.h"

int pp_sched_custom(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)p;
    (void)plan;
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "schedule not implemented yet");
}

const char *pp_sched_custom_check(const struct pp_sched_params *p, const char **key)
{
    (void)p;
    *key = "schedule";
    return "not implemented yet";
}
