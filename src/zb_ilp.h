/* zb_ilp.h - the exact Zero Bubble ILP (schedules.md §2.8; ZB paper App. G
 * eqs (3)-(7)) over per-stage F / B / W orders, solved with GLPK where sizes
 * allow, warm-started from the zb-auto heuristic. */
#ifndef PP_ZB_ILP_H
#define PP_ZB_ILP_H

#include <stdint.h>

struct pp_sched_params;
struct pp_plan;
struct pp_diag;

/* Sizes the ILP is tried on: p * m cells and the binary order variables it
 * needs (3 m (m-1) / 2 per stage). Past either, zb-auto stays heuristic. */
#define PP_ZB_ILP_MAX_CELLS 64
#define PP_ZB_ILP_MAX_BINARIES 600
/* Branch-and-bound nodes before the search stops with its best incumbent:
 * a count, not a clock, so the same input always gives the same answer. */
#define PP_ZB_ILP_MAX_NODES 2000

/* Op types of an order sequence: seq holds, stage after stage, 3m entries. */
enum { PP_ZB_OP_F, PP_ZB_OP_B, PP_ZB_OP_W };

struct pp_zb_ilp_stats {
    int improved;       /* 1 when the ILP order is strictly shorter */
    int optimal;        /* 1 when the search finished (the answer is optimal) */
    int64_t heur_span;  /* ns, the warm start's span */
    int64_t span;       /* ns, the span of the order returned */
    double objective;   /* the ILP's objective, ns (the ILP's best, heuristic included) */
    int n_binaries;
    int nodes;          /* branch-and-bound nodes explored */
};

/* 1 when built with GLPK. */
int pp_zb_ilp_available(void);

/* Improve the heuristic orders `heur` (p->stages x 3m op types) with the
 * ILP; `out` receives the better of the two (the heuristic unless the ILP is
 * strictly shorter). Costs and memory as pp_zb_auto_push. Returns 0, or
 * -PP_ENOMEM when GLPK is missing or the size is past the caps (out untouched),
 * -PP_EINVAL on costs it cannot model (a zero duration). */
int pp_zb_ilp_improve(const struct pp_sched_params *p, double comm_ms, const uint8_t *heur,
                      uint8_t *out, struct pp_zb_ilp_stats *st, struct pp_diag *d);

/* zb-auto with the ILP: the heuristic, then the ILP where it applies; pushes
 * the better order into plan like pp_zb_auto_push. */
int pp_zb_auto_ilp_push(const struct pp_sched_params *p, double comm_ms, struct pp_plan *plan,
                        int64_t *span_ns, struct pp_diag *d);

#endif
