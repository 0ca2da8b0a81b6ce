/* bound.h - the convergence bound of Randomized PipeDream (stale block SGD),
 * as reconstructed in pipedream-theory.md §3.2-§3.3.
 *
 * RECONSTRUCTED: the paper's theorem text could not be read. The statement
 * below matches the authors' code (compute_theory_bound,
 * gpd_theoretical_stepsize) and a one-line smoothness argument (§3.3); its
 * exact constants are unconfirmed. Under (A1) L-smooth f bounded below by f*,
 * (A2) unbiased block gradients at the read point, (A3) block gradients
 * bounded by G, (A4) delays bounded by delta, and a uniform block choice:
 *
 *   (1/K) sum_{k<K} E|grad f(w^k)|^2
 *       <= 2 S D0 / (gamma K) + gamma S L G^2 + gamma^2 L^2 delta^2 G^2
 *
 * with D0 = f(w^0) - f*. The code's step is
 * gamma = min{1/L, sqrt(2 D0 / (L G^2 K))}; on the square-root branch the
 * first two terms are equal and the bound is
 * 2 S sqrt(2 L G^2 D0 / K) + 2 L D0 delta^2 / K. */
#ifndef PP_BOUND_H
#define PP_BOUND_H

#include <stdint.h>

#include "schedule.h"

struct pp_diag;

/* The source every report cites. */
#define PP_BOUND_SOURCE "pipedream-theory.md §3.2 (reconstructed), §3.3"

enum pp_bound_param {
    PP_BOUND_L,          /* smoothness constant, > 0 */
    PP_BOUND_G,          /* block stochastic-gradient norm bound, > 0 */
    PP_BOUND_DELTA0,     /* f(w^0) - f*, >= 0 */
    PP_BOUND_STAGES,     /* S, a whole number >= 1 */
    PP_BOUND_ITERATIONS, /* K (block updates), a whole number >= 1 */
    PP_BOUND_DELAY,      /* delta, in global block updates, >= 0 */
    PP_BOUND_GAMMA,      /* the step size, > 0; 0 in pp_bound_params = tuned */
    PP_BOUND_PARAM_COUNT
};

struct pp_bound_params {
    double L, G, delta0;
    double stages, iterations; /* whole numbers, as doubles: K may exceed int range */
    double delay;
    double gamma;              /* 0 = the tuned step */
};

enum pp_bound_branch {
    PP_BOUND_GIVEN, /* gamma was given */
    PP_BOUND_SQRT,  /* tuned: sqrt(2 D0 / (L G^2 K)) <= 1/L */
    PP_BOUND_INV_L, /* tuned: capped at 1/L */
};

struct pp_bound {
    double gamma;
    enum pp_bound_branch branch;
    double gamma_inv_l, gamma_sqrt; /* the tuned step's two candidates */
    double term[3];                 /* optimisation, variance, stale-read */
    double total;
    /* the tuned-rate closed form; NaN unless branch == PP_BOUND_SQRT */
    double closed_form;
};

/* "L", "G", "delta0", "stages", "iterations", "delay", "gamma". */
const char *pp_bound_param_name(enum pp_bound_param p);
/* NULL when v is a valid value of p, else why not ("must be > 0", ...).
 * For PP_BOUND_GAMMA this is the value of a given step: 0 is refused. */
const char *pp_bound_check(enum pp_bound_param p, double v);

/* The tuned step min{1/L, sqrt(2 D0 / (L G^2 K))}; sets *branch. No checks. */
double pp_bound_tuned_gamma(double L, double G, double delta0, double iterations,
                            enum pp_bound_branch *branch);

/* Validate p and evaluate the bound. Fails with -PP_EINVAL naming the first bad
 * parameter and its value, or when a result overflows a double. */
int pp_bound_eval(const struct pp_bound_params *p, struct pp_bound *out, struct pp_diag *d);

/* delta for a schedule in the paper's unit-time model: the steady-state
 * maximum delay pp_staleness_unit() measures for `stages` stages and
 * `microbatches` microbatches (0 = its default, 10 S). *mean (may be NULL)
 * gets the steady-state mean. */
int pp_bound_schedule_delay(enum pp_schedule_kind kind, int stages, int64_t microbatches,
                            double *delay, double *mean, struct pp_diag *d);

const char *pp_bound_branch_name(enum pp_bound_branch b); /* "given", "sqrt", "1/L" */

#endif
