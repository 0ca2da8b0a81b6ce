/* genfit_fit.c - least-squares fit of the generator's efficiency factors to
 * measured layer times (genfit.h).
 *
 * The unknowns are ln(e) for the three efficiencies, so every trial value is
 * a positive fraction and a step means the same relative change whatever the
 * factor's size, and op_overhead_us itself (times are linear in it). The
 * residuals are relative errors, so a 0.1 ms embedding weighs as much as a
 * 3 ms block. */
#include "genfit.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "xalloc.h"

/* Central-difference step in the unknowns (ln e, or microseconds): the model
 * is smooth between roofline corners, and exact in double precision. */
#define FD_STEP 1e-6
/* A Jacobian column whose part independent of the columns kept before it is
 * below this share of its length is a combination of them. */
#define DEPENDENT 1e-3

struct ctx {
    const struct pp_gf_data *g;
    const struct pp_gpu *gpu;
    struct pp_gpu_eff eff0;
    double v[PP_GF_N]; /* every factor's current value */
    int idx[PP_GF_N];  /* the free ones */
    int n_free;
    size_t n_res;
    struct pp_diag *d;
    int failed; /* a prediction's error code, kept for the caller */
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

static double to_x(int q, double v)
{
    return is_eff(q) ? log(v) : v;
}

static double from_x(int q, double x)
{
    return is_eff(q) ? exp(x) : x;
}

static int residuals(struct ctx *c, const double *v, double *f)
{
    struct pp_gpu_eff e;
    to_eff(c, v, &e);
    size_t j = 0;
    for (size_t i = 0; i < c->g->n; i++) {
        const struct pp_gf_row *r = &c->g->rows[i];
        if (!r->in_fit)
            continue;
        double p[PP_GF_NOBS];
        int rc = pp_gf_predict(r, c->gpu, &e, p, c->d);
        if (rc)
            return rc;
        for (int o = 0; o < PP_GF_NOBS; o++)
            if (pp_gf_obs_used(r, o))
                f[j++] = (p[o] - r->meas_ms[o]) / r->meas_ms[o];
    }
    return 0;
}

static void unpack(const struct ctx *c, const gsl_vector *x, double *v)
{
    memcpy(v, c->v, sizeof c->v);
    for (int i = 0; i < c->n_free; i++)
        v[c->idx[i]] = from_x(c->idx[i], gsl_vector_get(x, (size_t)i));
}

static int gsl_f(const gsl_vector *x, void *p, gsl_vector *f)
{
    struct ctx *c = p;
    double v[PP_GF_N];
    unpack(c, x, v);
    int rc = residuals(c, v, f->data);
    if (rc) {
        c->failed = rc;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

/* Central differences in the unknowns of the free factors. */
static int jacobian(struct ctx *c, const double *v0, gsl_matrix *J)
{
    double *f0 = pp_xmalloc(c->n_res * sizeof *f0), *f1 = pp_xmalloc(c->n_res * sizeof *f1);
    double v[PP_GF_N];
    memcpy(v, v0, sizeof v);
    int rc = 0;
    for (int i = 0; rc == 0 && i < c->n_free; i++) {
        int q = c->idx[i];
        double x = to_x(q, v0[q]);
        v[q] = from_x(q, x + FD_STEP);
        rc = residuals(c, v, f1);
        v[q] = from_x(q, x - FD_STEP);
        if (rc == 0)
            rc = residuals(c, v, f0);
        v[q] = v0[q];
        for (size_t r = 0; rc == 0 && r < c->n_res; r++)
            gsl_matrix_set(J, r, (size_t)i, (f1[r] - f0[r]) / (2 * FD_STEP));
    }
    free(f0);
    free(f1);
    return rc;
}

static int gsl_df(const gsl_vector *x, void *p, gsl_matrix *J)
{
    struct ctx *c = p;
    double v[PP_GF_N];
    unpack(c, x, v);
    int rc = jacobian(c, v, J);
    if (rc) {
        c->failed = rc;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

/* Keep the candidates whose Jacobian columns (at the current values) are
 * independent, in priority order (modified Gram-Schmidt); the others are
 * marked not fitted with the reason. */
static int select_identifiable(struct ctx *c, const int *cand, int n_cand,
                               struct pp_gf_result *res)
{
    c->n_free = n_cand;
    memcpy(c->idx, cand, (size_t)n_cand * sizeof *cand);
    gsl_matrix *J = gsl_matrix_alloc(c->n_res, (size_t)n_cand);
    gsl_matrix *Q = gsl_matrix_alloc(c->n_res, (size_t)n_cand);
    gsl_vector *u = gsl_vector_alloc(c->n_res);
    int rc = jacobian(c, c->v, J);
    int kept = 0;
    for (int i = 0; rc == 0 && i < n_cand; i++) {
        gsl_vector_view col = gsl_matrix_column(J, (size_t)i);
        double norm0 = gsl_blas_dnrm2(&col.vector);
        gsl_vector_memcpy(u, &col.vector);
        int closest = -1;
        double closest_dot = 0;
        for (int k = 0; k < kept; k++) {
            gsl_vector_view qk = gsl_matrix_column(Q, (size_t)k);
            double dot;
            gsl_blas_ddot(&qk.vector, u, &dot);
            gsl_blas_daxpy(-dot, &qk.vector, u);
            if (fabs(dot) > closest_dot) {
                closest_dot = fabs(dot);
                closest = c->idx[k];
            }
        }
        double norm = gsl_blas_dnrm2(u);
        int q = cand[i];
        if (!(norm0 > 1e-12)) {
            snprintf(res->why[q], sizeof res->why[q],
                     "no effect on the fitted times (no kernel it times, or all of them on the "
                     "other side of the roofline)");
        } else if (norm < DEPENDENT * norm0) {
            snprintf(res->why[q], sizeof res->why[q],
                     "not separable: its effect on the fitted times is a combination of %s's%s",
                     closest >= 0 ? pp_gf_param_names[closest] : "the others'",
                     kept > 1 ? " and the other fitted factors'" : "");
        } else {
            gsl_vector_scale(u, 1.0 / norm);
            gsl_vector_view qk = gsl_matrix_column(Q, (size_t)kept);
            gsl_vector_memcpy(&qk.vector, u);
            c->idx[kept++] = q;
            continue;
        }
        res->status[q] = PP_GF_NOT_FITTED;
    }
    c->n_free = kept;
    gsl_vector_free(u);
    gsl_matrix_free(Q);
    gsl_matrix_free(J);
    return rc;
}

/* One trust-region solve over c->idx: 0, the prediction's error, or
 * -PP_EINFEASIBLE when it does not converge. */
static int solve(struct ctx *c, int max_iter, struct pp_gf_result *res)
{
    size_t p = (size_t)c->n_free;
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, c->n_res, p);
    gsl_multifit_nlinear_fdf fdf = {gsl_f, gsl_df, NULL, c->n_res, p, c, 0, 0, 0};
    gsl_vector *x = gsl_vector_alloc(p);
    for (size_t i = 0; i < p; i++)
        gsl_vector_set(x, i, to_x(c->idx[i], c->v[c->idx[i]]));
    int info = 0;
    c->failed = 0;
    int st = gsl_multifit_nlinear_init(x, &fdf, w);
    if (st == GSL_SUCCESS)
        st = gsl_multifit_nlinear_driver((size_t)max_iter, 1e-10, 1e-10, 0.0, NULL, NULL, &info,
                                         w);
    int rc = 0;
    res->solves++;
    res->iterations = (int)gsl_multifit_nlinear_niter(w);
    if (c->failed) {
        rc = c->failed;
    } else if (st != GSL_SUCCESS) {
        rc = pp_diag_set(c->d, PP_EINFEASIBLE, NULL, 0, 0,
                         "the generator calibration did not converge after %zu iterations (%s); "
                         "nothing written",
                         gsl_multifit_nlinear_niter(w), gsl_strerror(st));
    } else {
        gsl_vector *sol = gsl_multifit_nlinear_position(w);
        gsl_vector *f = gsl_multifit_nlinear_residual(w);
        double chi2;
        gsl_blas_ddot(f, f, &chi2);
        res->rms_rel = sqrt(chi2 / (double)c->n_res);
        for (size_t i = 0; i < p && rc == 0; i++) {
            int q = c->idx[i];
            c->v[q] = from_x(q, gsl_vector_get(sol, i));
            if (!isfinite(c->v[q]) || (is_eff(q) && !(c->v[q] > 0)))
                rc = pp_diag_set(c->d, PP_EINFEASIBLE, NULL, 0, 0,
                                 "the generator calibration diverged (%s = %g); nothing written",
                                 pp_gf_param_names[q], c->v[q]);
        }
        /* 1-sigma from (J'J)^-1 scaled by the residual variance (the
         * measurements' own scatter is not known), mapped back from ln e. */
        gsl_matrix *cov = gsl_matrix_alloc(p, p);
        double dof = (double)c->n_res - (double)p;
        int cs = gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, cov);
        for (size_t i = 0; i < p; i++) {
            int q = c->idx[i];
            double sx = cs == GSL_SUCCESS && dof > 0
                            ? sqrt(fmax(0, gsl_matrix_get(cov, i, i)) * chi2 / dof)
                            : INFINITY;
            res->sigma[q] = is_eff(q) ? c->v[q] * sx : sx;
        }
        gsl_matrix_free(cov);
    }
    gsl_vector_free(x);
    gsl_multifit_nlinear_free(w);
    return rc;
}

/* Drop candidate q from the list. */
static void drop(int *cand, int *n, int q)
{
    for (int i = 0; i < *n; i++)
        if (cand[i] == q) {
            memmove(&cand[i], &cand[i + 1], (size_t)(*n - i - 1) * sizeof *cand);
            (*n)--;
            return;
        }
}

/* Select, solve, then pin one factor outside its bounds or give back one the
 * data leave undetermined, and start again until neither happens. */
static int fit(struct ctx *c, const struct pp_gf_opts *o, struct pp_gf_result *res)
{
    int cand[PP_GF_N], n_cand = 0;
    for (int q = 0; q < PP_GF_N; q++) {
        res->status[q] = PP_GF_NOT_FITTED;
        if (o->fit_mask & (1u << q))
            cand[n_cand++] = q;
        else
            snprintf(res->why[q], sizeof res->why[q], "not asked for (--params)");
    }
    int max_iter = o->max_iterations > 0 ? o->max_iterations : 200;
    for (int round = 0; round <= PP_GF_N && n_cand > 0; round++) {
        int rc = select_identifiable(c, cand, n_cand, res);
        if (rc)
            return rc;
        for (int q = 0; q < PP_GF_N; q++)
            if (res->status[q] == PP_GF_NOT_FITTED && res->why[q][0]) {
                drop(cand, &n_cand, q);
                c->v[q] = get_param(&c->eff0, q);
            }
        while ((size_t)c->n_free >= c->n_res && c->n_free > 0) {
            int q = c->idx[--c->n_free];
            snprintf(res->why[q], sizeof res->why[q],
                     "too few measured times (%zu) to fit it beside the others with a "
                     "1-sigma",
                     c->n_res);
            drop(cand, &n_cand, q);
        }
        if (c->n_free == 0)
            break;
        if ((rc = solve(c, max_iter, res)))
            return rc;
        /* The factor furthest outside its bounds, if any. */
        int out = -1;
        double out_by = 0;
        for (int i = 0; i < c->n_free; i++) {
            int q = c->idx[i];
            double by = is_eff(q) ? log(c->v[q]) : -c->v[q];
            if (by > out_by) {
                out_by = by;
                out = q;
            }
        }
        if (out >= 0) {
            double bound = is_eff(out) ? 1 : 0;
            snprintf(res->why[out], sizeof res->why[out],
                     "the unconstrained fit gave %.4g, outside %s: pinned at %g and the others "
                     "refitted",
                     c->v[out], is_eff(out) ? "(0, 1]" : "[0, inf)", bound);
            res->status[out] = PP_GF_PINNED;
            res->value[out] = c->v[out] = bound;
            res->sigma[out] = 0;
            drop(cand, &n_cand, out);
            continue;
        }
        /* The factor the data determine least, if its 1-sigma reaches its value. */
        int loose = -1;
        double loose_by = 1;
        for (int i = 0; i < c->n_free; i++) {
            int q = c->idx[i];
            double rel = res->sigma[q] / fabs(c->v[q]);
            if (!(rel < loose_by)) {
                loose_by = isfinite(rel) ? rel : INFINITY;
                loose = q;
            }
        }
        if (loose >= 0) {
            snprintf(res->why[loose], sizeof res->why[loose],
                     "not determined by these times: fitted %.3g +- %.2g (1-sigma); the "
                     "catalogue's value kept",
                     c->v[loose], res->sigma[loose]);
            res->sigma[loose] = 0;
            c->v[loose] = get_param(&c->eff0, loose);
            drop(cand, &n_cand, loose);
            continue;
        }
        for (int i = 0; i < c->n_free; i++) {
            res->status[c->idx[i]] = PP_GF_FITTED;
            res->why[c->idx[i]][0] = 0;
        }
        return 0;
    }
    c->n_free = 0;
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
    for (int q = 0; q < PP_GF_N; q++)
        c.v[q] = get_param(&gpu->eff, q);
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
                c.n_res += (size_t)pp_gf_obs_used(&g->rows[i], ob);
    }
    if (rc == 0 && c.n_res == 0)
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "no measured layer to fit (give --layers FILE)");
    if (rc == 0)
        rc = fit(&c, o, res);
    if (rc == 0) {
        for (int q = 0; q < PP_GF_N; q++) {
            res->value[q] = c.v[q];
            if (res->status[q] != PP_GF_FITTED)
                res->sigma[q] = 0;
        }
        to_eff(&c, c.v, &res->eff);
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
        res->n_res = c.n_res;
        res->rms_rel = sqrt(ss / (double)c.n_res);
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
