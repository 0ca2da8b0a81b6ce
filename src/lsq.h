/* lsq.h - bounded nonlinear least squares with identifiability checks, the
 * machinery shared by `ppsim calibrate` (calibrate.c) and `ppsim calibrate
 * generator` (genfit_fit.c).
 *
 * A problem is n named parameters and a callback that gives n_res residuals
 * (relative errors, typically) for a full parameter vector. pp_lsq_fit then:
 *   1. takes the parameters in `mask` as candidates, in index order (the
 *      order is the priority: a column dependent on earlier ones is dropped,
 *      not the earlier one);
 *   2. checks identifiability at the current values: forward or central
 *      differences with fixed per-parameter steps give the Jacobian columns,
 *      which are orthogonalised in order (modified Gram-Schmidt); a column of
 *      norm <= no_effect has no effect, one whose part independent of the
 *      columns kept before it is below `dependent` of its norm is not
 *      separable from them; both are held at their start value;
 *   3. gives back the last candidates while fewer than min_dof residuals
 *      would remain per free parameter;
 *   4. solves with GSL's trust-region method (gsl_multifit_nlinear) over the
 *      free parameters, each in its fitted coordinate (ln value for the
 *      parameters in log_mask, so that every trial value stays positive and
 *      a step is a relative change);
 *   5. active set: if a fitted value lies outside [lo, hi], the parameter
 *      furthest outside (measured in its fitted coordinate) is pinned (at the
 *      bound it crossed, or at its start value with pin_at_start) and the
 *      rest refitted from step 2; with max_rel_sigma > 0, likewise a
 *      parameter whose 1-sigma reaches max_rel_sigma times its value is given
 *      back (held at its start value); with `restart` every parameter still
 *      free restarts from its start value, otherwise from where the last
 *      solve left it;
 *   6. otherwise the free parameters are the fitted ones.
 * 1-sigma comes from gsl_multifit_nlinear_covar: (J'J)^-1 scaled by the
 * residual variance chi2 / (n_res - free), mapped back from ln for log
 * parameters (sigma = value * sigma_ln).
 *
 * Pure: nothing printed, nothing global; deterministic. */
#ifndef PP_LSQ_H
#define PP_LSQ_H

#include <stddef.h>

struct pp_diag;

#define PP_LSQ_MAX 16  /* parameters per problem */
#define PP_LSQ_WHY 160 /* bytes of a default reason */

/* Residuals r[0..n_res) at the full parameter vector x[0..n) (values, not
 * fitted coordinates): 0, or an error code (-PP_E*, with the diag the caller
 * gave the callback set) that pp_lsq_fit returns unchanged. */
typedef int (*pp_lsq_fn)(const double *x, double *r, void *ctx);

struct pp_lsq_problem {
    int n;                    /* parameters, 0..PP_LSQ_MAX */
    const char *const *names; /* [n] for messages */
    const double *start;      /* [n] start values; a parameter not fitted keeps its own */
    const double *lo, *hi;    /* [n] bounds of a fitted value; NULL: none on that side */
    const double *step;       /* [n] finite-difference steps, in the fitted coordinate */
    unsigned mask;            /* bit q: parameter q may be fitted */
    unsigned log_mask;        /* bit q: fitted as ln(value) (start values > 0) */
    pp_lsq_fn f;
    void *ctx;                /* passed to f */
    size_t n_res;             /* residuals; 0: nothing is fitted */
    int max_iterations;       /* per trust-region solve */
    double xtol, gtol, ftol;  /* gsl_multifit_nlinear_driver's tests (0: off) */
    int central;              /* central differences (else forward: one call fewer) */
    double no_effect;         /* column norm at or below which a parameter has no effect */
    double dependent;         /* independent share below which a column is dependent */
    int min_dof;              /* residuals beyond the free parameters a solve needs */
    int restart;              /* after a pin or give-back: free ones restart from start */
    int pin_at_start;         /* pin at the start value instead of the crossed bound */
    double max_rel_sigma;     /* give back when 1-sigma >= this * |value|; 0: never */
    /* messages: "the <what> did not converge after N iterations (why); <nothing>" */
    const char *what, *nothing;
};

/* Defaults: no parameters; 200 iterations; xtol = gtol = 1e-10, ftol 0;
 * forward differences; no_effect 1e-12, dependent 1e-3; min_dof 0; warm
 * restarts; pin at the bound; no give-back; "the fit ...; nothing written". */
void pp_lsq_init(struct pp_lsq_problem *p);

/* What became of a parameter, in the order the steps above assign them. */
enum pp_lsq_state {
    PP_LSQ_FITTED,
    PP_LSQ_MASKED,    /* not in mask */
    PP_LSQ_NO_DATA,   /* in mask, but the problem has no residuals */
    PP_LSQ_NO_EFFECT, /* its Jacobian column is (near) zero */
    PP_LSQ_DEPENDENT, /* its column is a combination of earlier kept ones */
    PP_LSQ_TOO_MANY,  /* given back: too few residuals for it beside the others */
    PP_LSQ_PINNED,    /* fitted outside its bounds: held at the pin value */
    PP_LSQ_LOOSE,     /* its 1-sigma reached max_rel_sigma of its value */
};

struct pp_lsq_result {
    double value[PP_LSQ_MAX];     /* fitted, pinned, or the start value */
    enum pp_lsq_state state[PP_LSQ_MAX];
    char why[PP_LSQ_MAX][PP_LSQ_WHY]; /* a default reason ("" when fitted) */
    /* 1-sigma from the last solve in which the parameter was free (kept
     * after it is pinned or given back), INFINITY where that solve had no
     * degrees of freedom, 0 if it never was free. */
    double sigma[PP_LSQ_MAX];
    double fit_value[PP_LSQ_MAX]; /* PINNED, LOOSE: the value the solve gave */
    int like[PP_LSQ_MAX];         /* DEPENDENT: the kept parameter closest to it, or -1 */
    int n_kept[PP_LSQ_MAX];       /* DEPENDENT: how many were kept before it */
    int solves;                   /* trust-region solves run */
    int iterations;               /* of the last solve */
    double rms;                   /* RMS residual at the end of the last solve */
};

/* Fit (steps 1-6 above). 0; the callback's error; -PP_EINFEASIBLE when a
 * solve does not converge in max_iterations or diverges (a value not finite,
 * or a log parameter not > 0), the message naming `what` and `nothing`; or
 * -PP_EINVAL for a malformed problem. On error `r` is unspecified. */
int pp_lsq_fit(const struct pp_lsq_problem *p, struct pp_lsq_result *r, struct pp_diag *d);

#endif
