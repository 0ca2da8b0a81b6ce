/* sched_zb_auto.h - Zero Bubble's automatic scheduler (ZB-1p / ZB-2p),
 * schedules.md §2.8: the heuristic of the ZB repository's auto_schedule.py
 * (Graph.manual_order under all 8 flag combinations, best kept). */
#ifndef PP_SCHED_ZB_AUTO_H
#define PP_SCHED_ZB_AUTO_H

#include <stdint.h>

struct pp_sched_params;
struct pp_plan;
struct pp_diag;

/* Push the zb-auto order for p into plan. comm_ms is the T_comm the
 * heuristic plans with (the latency a cross-stage edge adds, schedules.md §6);
 * the costs come from p->costs (NULL: F = B = W = 1, M_B = 2, M_W = 1, the
 * reference's GraphConfig defaults). If span_ns is not NULL it receives the
 * heuristic's own figure of merit, the largest per-stage span (first F start
 * to last W end), in the engine's nanoseconds. */
int pp_zb_auto_push(const struct pp_sched_params *p, double comm_ms, struct pp_plan *plan,
                    int64_t *span_ns, struct pp_diag *d);

/* The smallest activation memory limit the heuristic can run with: one
 * microbatch's M_B (or M_W, if larger) on the neediest stage. */
double pp_zb_auto_min_memory(const struct pp_sched_params *p);

#endif
