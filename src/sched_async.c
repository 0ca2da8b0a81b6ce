/* sched_async.c - PLACEHOLDER until its generators land (this session). */
#include "schedule.h"

#include "diag.h"

int pp_sched_pipedream(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)p;
    (void)plan;
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "schedule not implemented yet");
}

const char *pp_sched_pipedream_check(const struct pp_sched_params *p, const char **key)
{
    (void)p;
    *key = "schedule";
    return "not implemented yet";
}

int pp_sched_pipedream_2bw(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)p;
    (void)plan;
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "schedule not implemented yet");
}

const char *pp_sched_pipedream_2bw_check(const struct pp_sched_params *p, const char **key)
{
    (void)p;
    *key = "schedule";
    return "not implemented yet";
}

int pp_sched_localsgd(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)p;
    (void)plan;
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "schedule not implemented yet");
}

const char *pp_sched_localsgd_check(const struct pp_sched_params *p, const char **key)
{
    (void)p;
    *key = "schedule";
    return "not implemented yet";
}

int pp_sched_naive(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)p;
    (void)plan;
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "schedule not implemented yet");
}

const char *pp_sched_naive_check(const struct pp_sched_params *p, const char **key)
{
    (void)p;
    *key = "schedule";
    return "not implemented yet";
}
