/* analytic.h - closed-form iteration time, printed beside every simulated figure.
 *
 * GPipe and 1F1B (schedules.md §2.1-2.2, Megatron SC21 §2.2.1): with per-stage
 * forward f_s and full backward b_s, T = sum_s(f_s+b_s) + (m-1) max_s(f_s+b_s),
 * which is (m+p-1)(t_F+t_B) for balanced stages. Communication adds the Zero
 * Bubble time model's terms (compute >> comm): GPipe 2 sum_k c_k; 1F1B
 * 2 sum_k c_k + 2(m-2-floor((m-2)/p)) max_k c_k for m >= p. */
#ifndef PP_ANALYTIC_H
#define PP_ANALYTIC_H

struct pp_plan;
struct pp_partition;
struct pp_sim_config;

struct pp_analytic {
    double iteration_ms;
    int exact;           /* 1 when the simulator must agree to the nanosecond */
    const char *formula; /* human-readable form of what was used */
};

void pp_analytic_estimate(const struct pp_plan *plan, const struct pp_partition *part,
                          const struct pp_sim_config *cfg, struct pp_analytic *out);

#endif
