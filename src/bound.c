/* bound.c - the reconstructed convergence bound of Randomized PipeDream
 * (pipedream-theory.md §3.2-§3.3). */
#include "bound.h"

#include <math.h>

#include "diag.h"
#include "staleness.h"
#include "wtrace.h"

/* Whole-number parameters stay exact in a double up to 2^53. */
#define PP_BOUND_MAX_WHOLE 9007199254740992.0

const char *pp_bound_param_name(enum pp_bound_param p)
{
    switch (p) {
    case PP_BOUND_L: return "L";
    case PP_BOUND_G: return "G";
    case PP_BOUND_DELTA0: return "delta0";
    case PP_BOUND_STAGES: return "stages";
    case PP_BOUND_ITERATIONS: return "iterations";
    case PP_BOUND_DELAY: return "delay";
    case PP_BOUND_GAMMA: return "gamma";
    case PP_BOUND_PARAM_COUNT: break;
    }
    return "?";
}

const char *pp_bound_check(enum pp_bound_param p, double v)
{
    if (!isfinite(v))
        return "must be a finite number";
    switch (p) {
    case PP_BOUND_L:
    case PP_BOUND_G:
    case PP_BOUND_GAMMA:
        return v > 0 ? NULL : "must be > 0";
    case PP_BOUND_DELTA0:
    case PP_BOUND_DELAY:
        return v >= 0 ? NULL : "must be >= 0";
    case PP_BOUND_STAGES:
    case PP_BOUND_ITERATIONS:
        if (v < 1)
            return "must be >= 1";
        if (v != floor(v))
            return "must be a whole number";
        if (v > PP_BOUND_MAX_WHOLE)
            return "must be at most 2^53";
        return NULL;
    case PP_BOUND_PARAM_COUNT: break;
    }
    return "is not a bound parameter";
}

double pp_bound_tuned_gamma(double L, double G, double delta0, double iterations,
                            enum pp_bound_branch *branch)
{
    double inv_l = 1.0 / L;
    double root = sqrt(2.0 * delta0 / (L * G * G * iterations));
    /* the code takes min{1/L, root}; a tie is the square-root branch, where the
     * closed form holds */
    if (branch)
        *branch = root <= inv_l ? PP_BOUND_SQRT : PP_BOUND_INV_L;
    return fmin(inv_l, root);
}

static int check_param(enum pp_bound_param p, double v, struct pp_diag *d)
{
    const char *why = pp_bound_check(p, v);
    if (!why)
        return 0;
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "%s: %s, got %.17g", pp_bound_param_name(p),
                       why, v);
}

int pp_bound_eval(const struct pp_bound_params *p, struct pp_bound *out, struct pp_diag *d)
{
    const double vals[PP_BOUND_PARAM_COUNT] = {
        [PP_BOUND_L] = p->L,
        [PP_BOUND_G] = p->G,
        [PP_BOUND_DELTA0] = p->delta0,
        [PP_BOUND_STAGES] = p->stages,
        [PP_BOUND_ITERATIONS] = p->iterations,
        [PP_BOUND_DELAY] = p->delay,
        [PP_BOUND_GAMMA] = p->gamma,
    };
    int rc;
    for (int i = 0; i < PP_BOUND_PARAM_COUNT; i++) {
        /* gamma = 0 asks for the tuned step */
        if (i == PP_BOUND_GAMMA && vals[i] == 0)
            continue;
        if ((rc = check_param((enum pp_bound_param)i, vals[i], d)))
            return rc;
    }
    double L = p->L, G = p->G, D0 = p->delta0, S = p->stages, K = p->iterations;
    double delta = p->delay;
    struct pp_bound r;
    r.gamma_inv_l = 1.0 / L;
    r.gamma_sqrt = sqrt(2.0 * D0 / (L * G * G * K));
    if (p->gamma > 0) {
        r.gamma = p->gamma;
        r.branch = PP_BOUND_GIVEN;
    } else {
        r.gamma = pp_bound_tuned_gamma(L, G, D0, K, &r.branch);
    }
    double g = r.gamma;
    /* D0 = 0 with the tuned step gives gamma = 0: the bound's infimum over
     * gamma, 0, is the limit gamma -> 0 of every term (term 1 is 0 for all
     * gamma > 0). */
    r.term[0] = D0 == 0 ? 0.0 : 2.0 * S * D0 / (g * K);
    r.term[1] = g * S * L * G * G;
    r.term[2] = g * g * L * L * delta * delta * G * G;
    r.total = r.term[0] + r.term[1] + r.term[2];
    r.closed_form = NAN;
    if (r.branch == PP_BOUND_SQRT)
        r.closed_form = 2.0 * S * sqrt(2.0 * L * G * G * D0 / K) + 2.0 * L * D0 * delta * delta / K;
    static const char *const what[4] = {"term 1 (2 S delta0 / (gamma K))",
                                        "term 2 (gamma S L G^2)",
                                        "term 3 (gamma^2 L^2 delta^2 G^2)", "the sum"};
    const double res[4] = {r.term[0], r.term[1], r.term[2], r.total};
    for (int i = 0; i < 4; i++)
        if (!isfinite(res[i]))
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                               "%s is not a finite double (gamma = %.17g); rescale L, G or "
                               "delta0",
                               what[i], g);
    if (r.branch == PP_BOUND_SQRT && !isfinite(r.closed_form))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "the tuned-rate closed form is not a finite double; rescale L, G "
                           "or delta0");
    *out = r;
    return 0;
}

int pp_bound_schedule_delay(enum pp_schedule_kind kind, int stages, int64_t microbatches,
                            double *delay, double *mean, struct pp_diag *d)
{
    struct pp_staleness *st = NULL;
    /* the paper's tie-break (§2.4): delta is its unit-time model's number */
    int rc = pp_staleness_unit(kind, stages, microbatches, 0, PP_WCONV_PAPER, &st, d);
    if (rc)
        return rc;
    *delay = (double)st->max_delay;
    if (mean)
        *mean = st->mean_delay;
    pp_staleness_free(st);
    return 0;
}

const char *pp_bound_branch_name(enum pp_bound_branch b)
{
    switch (b) {
    case PP_BOUND_GIVEN: return "given";
    case PP_BOUND_SQRT: return "sqrt";
    case PP_BOUND_INV_L: return "1/L";
    }
    return "?";
}
