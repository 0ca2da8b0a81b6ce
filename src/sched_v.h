/* sched_v.h - shared by the V-shaped generators (sched_v.c, sched_zbv.c,
 * sched_vmem.c): the V placement and Zero Bubble's cost-aware ZB-V builder,
 * which needs the p2p latency that struct pp_sched_params does not carry. */
#ifndef PP_SCHED_V_H
#define PP_SCHED_V_H

#include <stdint.h>

struct pp_sched_params;
struct pp_plan;
struct pp_diag;

/* V placement (schedules.md §2.9, PyTorch generate_stage_to_rank_mapping
 * style "v"): piece k on device k for k < p, on 2p-1-k for k >= p. */
void pp_v_place(struct pp_plan *plan);

/* V-shaped schedules run exactly two chunks per device. */
const char *pp_v_two_chunks(const struct pp_sched_params *p, const char **key);

/* Push Zero Bubble's ZB-V order (v_schedule.py PipelineGraph.get_v_schedule)
 * for p into plan, placing it in a V. comm_ms is the T_comm the greedy plans
 * with (the latency of a cross-device edge, schedules.md §6); costs come from
 * p->costs (NULL: F = B = W = 1 and M_B = M_W = 1 per chunk); the activation
 * budget is p->memory_limit_bytes (0: the reference's 2p M_B of a chunk).
 * span_ns (optional) receives the greedy's own largest per-device span,
 * first F start to last op end, in engine nanoseconds. */
int pp_zbv_push(const struct pp_sched_params *p, double comm_ms, struct pp_plan *plan,
                int64_t *span_ns, struct pp_diag *d);

/* PyTorch's fixed ScheduleZBVZeroBubble order (schedules.md §2.9). */
void pp_zbv_push_pytorch(const struct pp_sched_params *p, struct pp_plan *plan);

/* V-Half (half = 1) or V-Min (half = 0) of Zero Bubble's zbv_greedy.py
 * (schedules.md §2.10). Returns 0 or a negative PP_E* code. */
int pp_vmem_push(const struct pp_sched_params *p, int half, struct pp_plan *plan,
                 struct pp_diag *d);

#endif
