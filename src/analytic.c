/* analytic.c - closed forms beside the simulation (see analytic.h for the
 * formulas and their sources). Times are summed in nanoseconds, as the
 * simulator does, so "exact" cases agree to the last digit. */
#include "analytic.h"

#include <stdint.h>

#include "partition.h"
#include "schedule.h"
#include "sim.h"

void pp_analytic_estimate(const struct pp_plan *plan, const struct pp_partition *part,
                          const struct pp_sim_config *cfg, struct pp_analytic *out)
{
    int p = plan->n_devices;
    int64_t m = plan->n_microbatches;
    pp_time sum_ns = 0, max_ns = 0;
    pp_time comm_sum_ns = 0, comm_max_ns = 0;
    pp_time lat_ns = pp_ms_to_ns(cfg->link_latency_ms);
    pp_time min_ns = INT64_MAX;
    for (int s = 0; s < plan->n_pieces; s++) {
        const struct pp_piece *pc = &part->pieces[s];
        pp_time t = pp_ms_to_ns(pc->forward_ms) + pp_ms_to_ns(pc->fused_backward_ms);
        sum_ns += t;
        if (t > max_ns)
            max_ns = t;
        if (t < min_ns)
            min_ns = t;
        if (s + 1 < plan->n_pieces) {
            double bw = cfg->link_bandwidth_bytes_per_s;
            pp_time c = lat_ns + (bw > 0 ? pp_ms_to_ns(pc->output_bytes / bw * 1e3) : 0);
            comm_sum_ns += c;
            if (c > comm_max_ns)
                comm_max_ns = c;
        }
    }
    int balanced = min_ns == max_ns;
    pp_time t_ns = sum_ns + (pp_time)(m - 1) * max_ns + pp_ms_to_ns(cfg->optimizer_step_ms);
    out->exact = balanced && comm_sum_ns == 0;
    switch (plan->kind) {
    case PP_SCHED_GPIPE:
    case PP_SCHED_PIPEDREAM:
    case PP_SCHED_PIPEDREAM_2BW:
        /* PipeDream's makespan for N microbatches is one fill and drain:
         * 2N + 2S - 2 unit steps (pipedream-theory.md §1.3). */
        t_ns += 2 * comm_sum_ns;
        out->formula = balanced ? "(m+p-1)(tF+tB) + 2(p-1)c"
                                : "sum_s(tF+tB) + (m-1)max_s(tF+tB) + 2 sum_k c_k";
        break;
    case PP_SCHED_1F1B:
        if (m >= p)
            t_ns += 2 * comm_sum_ns + 2 * (m - 2 - (m - 2) / p) * comm_max_ns;
        else
            t_ns += 2 * comm_sum_ns;
        out->formula = balanced ? "(m+p-1)(tF+tB) + 2(m+p-3-floor((m-2)/p))c"
                                : "sum_s(tF+tB) + (m-1)max_s(tF+tB) + comm (ZB model)";
        break;
    case PP_SCHED_NAIVE:
        /* One microbatch at a time through every stage and back. */
        t_ns = m * (sum_ns + 2 * comm_sum_ns) + pp_ms_to_ns(cfg->optimizer_step_ms);
        out->formula = "m (sum_s(tF+tB) + 2 sum_k c_k)";
        break;
    case PP_SCHED_INTERLEAVED_1F1B:
        /* Megatron SC21 §2.2.2: bubble (p-1)(tF+tB)/v per device, balanced,
         * no communication (schedules.md §2.5). */
        out->exact = balanced && comm_sum_ns == 0 && m % p == 0;
        t_ns = m * (sum_ns / p) + (pp_time)(p - 1) * (sum_ns / p) / plan->chunks +
               pp_ms_to_ns(cfg->optimizer_step_ms);
        out->formula = "m tD + (p-1) tD / v, tD = a device's tF+tB (no comm)";
        break;
    default:
        out->exact = 0;
        out->formula = "none";
        out->iteration_ms = 0;
        return;
    }
    out->iteration_ms = (double)t_ns / 1e6;
}
