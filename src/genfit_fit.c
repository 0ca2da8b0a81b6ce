/* genfit_fit.c - least-squares fit of the generator's efficiency factors to
 * measured layer times (genfit.h).
 *
 * The unknowns are ln(e) for the three efficiencies, so every trial value is
 * a positive fraction and a step means the same relative change whatever the
 * factor's size, and op_overhead_us itself (times are linear in it). The
 * residuals are relative errors, so a 0.1 ms embedding weighs as much as a
 * 3 ms block. */
#include "genfit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lsq.h"
#include "xalloc.h"

/* Central-difference step in the unknowns (ln e, or microseconds): the model
 * is smooth between roofline corners, and exact in double precision. */
#define FD_STEP 1e-6

struct ctx {
    const struct pp_gf_data *g;
    const struct pp_gpu *gpu;
    struct pp_gpu_eff eff0;
    struct pp_diag *d;
};

void pp_gf_opts_init(struct pp_gf_opts *o)
{
    memset(o, 0, sizeof *o);
    o->fit_mask = (1u << PP_GF_N) - 1;
}

static int is_eff(int q)
{
    return q != PP_GF_OVERHEAD;
}

static double get_param(const struct pp_gpu_eff *e, int q)
{
    switch (q) {
    case PP_GF_GEMM: return e->gemm;
    case PP_GF_MEMORY: return e->memory;
    case PP_GF_ATTENTION: return e->attention;
    default: return e->op_overhead_us;
    }
}

/* The factors a value vector stands for; efficiencies kept finite and
 * non-zero, so that a wild trial step gives large residuals, not NaN. */
static void to_eff(const struct ctx *c, const double *v, struct pp_gpu_eff *e)
{
    *e = c->eff0;
    e->gemm = fmin(fmax(v[PP_GF_GEMM], 1e-12), 1e12);
    e->memory = fmin(fmax(v[PP_GF_MEMORY], 1e-12), 1e12);
    e->attention = fmin(fmax(v[PP_GF_ATTENTION], 1e-12), 1e12);
    e->op_overhead_us = v[PP_GF_OVERHEAD];
}

/* Relative errors of the fitted times at factors v (lsq.h's callback). */
static int residuals(const double *v, double *f, void *p)
{
    struct ctx *c = p;
    struct pp_gpu_eff e;
    to_eff(c, v, &e);
    size_t j = 0;
    for (size_t i = 0; i < c->g->n; i++) {
        const struct pp_gf_row *r = &c->g->rows[i];
        if (!r->in_fit)
            continue;
        double pr[PP_GF_NOBS];
        int rc = pp_gf_predict(r, c->gpu, &e, pr, c->d);
        if (rc)
            return rc;
        for (int o = 0; o < PP_GF_NOBS; o++)
            if (pp_gf_obs_used(r, o))
                f[j++] = (pr[o] - r->meas_ms[o]) / r->meas_ms[o];
    }
    return 0;
}

/* Why factor q was not fitted or was pinned, in the report's words. */
static void why(const struct pp_lsq_result *r, size_t n_res, int q, char *buf, size_t size)
{
    switch (r->state[q]) {
    case PP_LSQ_MASKED: snprintf(buf, size, "not asked for (--params)"); break;
    case PP_LSQ_NO_EFFECT:
        snprintf(buf, size, "no effect on the fitted times (no kernel it times, or all of them on "
                            "the other side of the roofline)");
        break;
    case PP_LSQ_DEPENDENT:
        snprintf(buf, size,
                 "not separable: its effect on the fitted times is a combination of %s's%s",
                 r->like[q] >= 0 ? pp_gf_param_names[r->like[q]] : "the others'",
                 r->n_kept[q] > 1 ? " and the other fitted factors'" : "");
        break;
    case PP_LSQ_TOO_MANY:
        snprintf(buf, size,
                 "too few measured times (%zu) to fit it beside the others with a 1-sigma", n_res);
        break;
    case PP_LSQ_PINNED:
        snprintf(buf, size,
                 "the unconstrained fit gave %.4g, outside %s: pinned at %g and the others "
                 "refitted",
                 r->fit_value[q], is_eff(q) ? "(0, 1]" : "[0, inf)", r->value[q]);
        break;
    case PP_LSQ_LOOSE:
        snprintf(buf, size,
                 "not determined by these times: fitted %.3g +- %.2g (1-sigma); the "
                 "catalogue's value kept",
                 r->fit_value[q], r->sigma[q]);
        break;
    default: buf[0] = 0;
    }
}

/* The fit (lsq.h), warm-started after each pin or give-back: efficiencies
 * fitted as ln(e) within (0, 1], the overhead within [0, inf); a factor the
 * data determine no better than its own size (1-sigma >= value) keeps the
 * catalogue's value; a 1-sigma needs one time more than free factors. */
static int fit(struct ctx *c, const struct pp_gf_opts *o, size_t n_res, double *v,
               struct pp_gf_result *res)
{
    static const double lo[PP_GF_N] = {0, 0, 0, 0};
    static const double hi[PP_GF_N] = {[PP_GF_GEMM] = 1, [PP_GF_MEMORY] = 1,
                                       [PP_GF_OVERHEAD] = INFINITY, [PP_GF_ATTENTION] = 1};
    static const double step[PP_GF_N] = {FD_STEP, FD_STEP, FD_STEP, FD_STEP};
    double start[PP_GF_N];
    struct pp_lsq_problem p;
    pp_lsq_init(&p);
    p.n = PP_GF_N;
    p.names = pp_gf_param_names;
    for (int q = 0; q < PP_GF_N; q++) {
        start[q] = get_param(&c->eff0, q);
        if (is_eff(q))
            p.log_mask |= 1u << q;
    }
    p.start = start;
    p.lo = lo;
    p.hi = hi;
    p.step = step;
    p.mask = o->fit_mask;
    p.f = residuals;
    p.ctx = c;
    p.n_res = n_res;
    p.max_iterations = o->max_iterations > 0 ? o->max_iterations : 200;
    p.ftol = 0.0;
    p.central = 1;
    p.no_effect = 1e-12;
    p.min_dof = 1;
    p.max_rel_sigma = 1;
    p.what = "generator calibration";
    p.nothing = "nothing written";
    struct pp_lsq_result r;
    int rc = pp_lsq_fit(&p, &r, c->d);
    if (rc)
        return rc;
    for (int q = 0; q < PP_GF_N; q++) {
        v[q] = r.value[q];
        res->status[q] = r.state[q] == PP_LSQ_FITTED   ? PP_GF_FITTED
                         : r.state[q] == PP_LSQ_PINNED ? PP_GF_PINNED
                                                       : PP_GF_NOT_FITTED;
        res->sigma[q] = r.sigma[q];
        why(&r, n_res, q, res->why[q], sizeof res->why[q]);
    }
    res->iterations = r.iterations;
    res->solves = r.solves;
    return 0;
}

int pp_gf_fit(const struct pp_gf_data *g, const struct pp_gpu *gpu, const struct pp_gf_opts *o,
              struct pp_gf_result **out, struct pp_diag *d)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.gpu = gpu;
    c.eff0 = gpu->eff;
    c.d = d;
    double v[PP_GF_N];
    size_t n_res = 0;
    struct pp_gf_result *res = pp_xcalloc(1, sizeof *res);
    res->eff0 = gpu->eff;
    res->n_rows = g->n;
    res->uncal = pp_xcalloc(g->n ? g->n : 1, sizeof *res->uncal);
    res->cal = pp_xcalloc(g->n ? g->n : 1, sizeof *res->cal);
    int rc = 0;
    /* Every row once with the catalogue's factors: a shape the generator
     * refuses is reported here, at its row. */
    for (size_t i = 0; rc == 0 && i < g->n; i++) {
        rc = pp_gf_predict(&g->rows[i], gpu, &gpu->eff, res->uncal[i], d);
        if (g->rows[i].in_fit)
            for (int ob = 0; ob < PP_GF_NOBS; ob++)
                n_res += (size_t)pp_gf_obs_used(&g->rows[i], ob);
    }
    if (rc == 0 && n_res == 0)
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "no measured layer to fit (give --layers FILE)");
    if (rc == 0)
        rc = fit(&c, o, n_res, v, res);
    if (rc == 0) {
        for (int q = 0; q < PP_GF_N; q++) {
            res->value[q] = v[q];
            if (res->status[q] != PP_GF_FITTED)
                res->sigma[q] = 0;
        }
        to_eff(&c, v, &res->eff);
        for (size_t i = 0; rc == 0 && i < g->n; i++)
            rc = pp_gf_predict(&g->rows[i], gpu, &res->eff, res->cal[i], d);
        /* The fit's figure of merit at the factors returned (after pinning). */
        double ss = 0;
        for (size_t i = 0; i < g->n; i++)
            for (int ob = 0; g->rows[i].in_fit && ob < PP_GF_NOBS; ob++)
                if (pp_gf_obs_used(&g->rows[i], ob)) {
                    double e = res->cal[i][ob] / g->rows[i].meas_ms[ob] - 1;
                    ss += e * e;
                }
        res->n_res = n_res;
        res->rms_rel = sqrt(ss / (double)n_res);
    }
    if (rc) {
        pp_gf_result_free(res);
        return rc < 0 ? rc : -rc;
    }
    *out = res;
    return 0;
}

void pp_gf_result_free(struct pp_gf_result *r)
{
    if (!r)
        return;
    free(r->uncal);
    free(r->cal);
    free(r);
}
