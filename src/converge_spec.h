/* converge_spec.h - a scenario's `converge:` section: which objective, which
 * methods, what simulated-time budget (docs/converge.md has the schema).
 *
 *   converge:
 *     objective: {kind: quadratic|nesterov|logistic, dim: D, examples: N,
 *                 batch: B, mu: X, l2: X, noise_std: X, seed: K}
 *     budget_ms: T          every trace method gets the same simulated time:
 *                           its microbatch count is searched so its timeline
 *                           reaches T (pipedream-theory.md §4.2); 0 = use
 *                           pipeline.microbatches as given
 *     select: stable|best   step-size selection (§3.4), default stable
 *     seed: K               RPD draws and gradient noise
 *     step_ms: X            per-time-step log spacing (0 = every event time)
 *     stages: [S, ...]      optional: repeat for each stage count
 *     methods:
 *       - {method: pd|rpd|localsgd|sync, label: TEXT,
 *          gamma: X | gamma_exp: [LO, HI],            (2^LO .. 2^HI grid)
 *          noam: N,                                   (pd)
 *          local_replicas: R, local_steps: H,         (localsgd)
 *          schedule: NAME, batch_microbatches: M,     (sync: a flushing schedule)
 *          delays: uniform|max|zero|exact, delta: D, iterations: K}   (rpd) */
#ifndef PP_CONVERGE_SPEC_H
#define PP_CONVERGE_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "converge.h"
#include "objective.h"
#include "schedule.h"

struct pp_diag;

enum pp_cvm { PP_CVM_PD, PP_CVM_RPD, PP_CVM_LOCALSGD, PP_CVM_SYNC };

struct pp_cv_method_spec {
    char *label;
    enum pp_cvm method;
    double gamma;                  /* > 0: fixed; 0: tune over the grid */
    int exp_lo, exp_hi;
    int noam;                      /* pd */
    int local_replicas, local_steps; /* localsgd; 0 = the schedule's defaults */
    enum pp_schedule_kind schedule;  /* sync: default 1f1b */
    int64_t batch_microbatches;      /* sync: 0 = pipeline.microbatches */
    enum pp_rpd_delays delays;       /* rpd: default uniform */
    int64_t delta;                   /* rpd: -1 = the PD trace's measured maximum */
    int64_t iterations;              /* rpd: 0 = the block updates PD made in the budget */
    unsigned line, col;              /* the method's mapping, for later errors */
    unsigned replicas_line, replicas_col; /* its local_replicas key (0 = absent) */
};

struct pp_cv_spec {
    char *file;                      /* the scenario, for errors after parsing */
    struct pp_objective_spec objective;
    double budget_ms;
    enum pp_cv_select select;
    uint64_t seed;
    double step_ms;
    int64_t *stages;  /* sweep, or NULL */
    size_t n_stages;
    struct pp_cv_method_spec *methods;
    size_t n_methods;
};

/* Read the `converge` section of a scenario file with the same --set
 * overrides the scenario got. Errors name file:line:col and the key. */
int pp_cv_spec_load(const char *path, const char *const *sets, size_t n_sets,
                    struct pp_cv_spec **out, struct pp_diag *d);
/* The same from buf[0..len) (need not be NUL-terminated); `file` names it in
 * messages and in s->file. */
int pp_cv_spec_parse(const char *buf, size_t len, const char *file, const char *const *sets,
                     size_t n_sets, struct pp_cv_spec **out, struct pp_diag *d);
void pp_cv_spec_free(struct pp_cv_spec *s);

const char *pp_cvm_name(enum pp_cvm m);

#endif
