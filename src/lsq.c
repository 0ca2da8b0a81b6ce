/* lsq.c - bounded nonlinear least squares with identifiability checks (lsq.h). */
#include "lsq.h"

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

void pp_lsq_init(struct pp_lsq_problem *p)
{
    memset(p, 0, sizeof *p);
    p->max_iterations = 200;
    p->xtol = 1e-10;
    p->gtol = 1e-10;
    p->no_effect = 1e-12;
    p->dependent = 1e-3;
    p->what = "fit";
    p->nothing = "nothing written";
}

struct lsq {
    const struct pp_lsq_problem *p;
    struct pp_lsq_result *r;
    double v[PP_LSQ_MAX]; /* every parameter's current value */
    int idx[PP_LSQ_MAX];  /* the free ones, in priority order */
    int n_free;
    struct pp_diag *d;
    /* The callback's first error inside GSL, for the caller: GSL's driver
     * goes on iterating after a failed evaluation, so later ones are refused
     * without calling back. */
    int failed;
};

static int is_log(const struct lsq *s, int q)
{
    return (s->p->log_mask >> q) & 1u;
}

static double to_x(const struct lsq *s, int q, double v)
{
    return is_log(s, q) ? log(v) : v;
}

static double from_x(const struct lsq *s, int q, double x)
{
    return is_log(s, q) ? exp(x) : x;
}

static void unpack(const struct lsq *s, const gsl_vector *x, double *v)
{
    memcpy(v, s->v, sizeof s->v);
    for (int i = 0; i < s->n_free; i++)
        v[s->idx[i]] = from_x(s, s->idx[i], gsl_vector_get(x, (size_t)i));
}

/* Remove position i from the free list. */
static void unfree(struct lsq *s, int i)
{
    memmove(&s->idx[i], &s->idx[i + 1], (size_t)(s->n_free - i - 1) * sizeof *s->idx);
    s->n_free--;
}

static int gsl_f(const gsl_vector *x, void *ctx, gsl_vector *f)
{
    struct lsq *s = ctx;
    if (s->failed)
        return GSL_EBADFUNC;
    double v[PP_LSQ_MAX];
    unpack(s, x, v);
    int rc = s->p->f(v, f->data, s->p->ctx);
    if (rc) {
        s->failed = rc;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

/* Finite differences with fixed steps in the fitted coordinates of the free
 * parameters at v0 (GSL's own relative steps can fall below the resolution
 * of what the callback computes: integer nanoseconds, say). */
static int jacobian(struct lsq *s, const double *v0, gsl_matrix *J)
{
    const struct pp_lsq_problem *p = s->p;
    double *f0 = pp_xmalloc(p->n_res * sizeof *f0), *f1 = pp_xmalloc(p->n_res * sizeof *f1);
    double v[PP_LSQ_MAX];
    memcpy(v, v0, sizeof v);
    int rc = p->central ? 0 : p->f(v, f0, p->ctx);
    for (int i = 0; rc == 0 && i < s->n_free; i++) {
        int q = s->idx[i];
        double x = to_x(s, q, v0[q]), h = p->step[q];
        v[q] = from_x(s, q, x + h);
        rc = p->f(v, f1, p->ctx);
        if (p->central) {
            v[q] = from_x(s, q, x - h);
            if (rc == 0)
                rc = p->f(v, f0, p->ctx);
        }
        v[q] = v0[q];
        double den = p->central ? 2 * h : h;
        for (size_t k = 0; rc == 0 && k < p->n_res; k++)
            gsl_matrix_set(J, k, (size_t)i, (f1[k] - f0[k]) / den);
    }
    free(f0);
    free(f1);
    return rc;
}

static int gsl_df(const gsl_vector *x, void *ctx, gsl_matrix *J)
{
    struct lsq *s = ctx;
    if (s->failed)
        return GSL_EBADFUNC;
    double v[PP_LSQ_MAX];
    unpack(s, x, v);
    int rc = jacobian(s, v, J);
    if (rc) {
        s->failed = rc;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

static const char *name(const struct lsq *s, int q)
{
    return q >= 0 ? s->p->names[q] : "the others";
}

/* Hold parameter q, no longer free, at its start value. */
static void hold(struct lsq *s, int q, enum pp_lsq_state st)
{
    s->r->state[q] = st;
    s->v[q] = s->p->start[q];
}

/* Keep the free parameters whose Jacobian columns (at the current values)
 * are independent, in priority order (modified Gram-Schmidt); hold the
 * others with the reason. */
static int select_identifiable(struct lsq *s)
{
    const struct pp_lsq_problem *p = s->p;
    struct pp_lsq_result *r = s->r;
    int n_cand = s->n_free, cand[PP_LSQ_MAX];
    memcpy(cand, s->idx, sizeof cand);
    gsl_matrix *J = gsl_matrix_alloc(p->n_res, (size_t)n_cand);
    gsl_matrix *Q = gsl_matrix_alloc(p->n_res, (size_t)n_cand);
    gsl_vector *u = gsl_vector_alloc(p->n_res);
    int rc = jacobian(s, s->v, J);
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
                closest = s->idx[k];
            }
        }
        double norm = gsl_blas_dnrm2(u);
        int q = cand[i];
        if (!(norm0 > p->no_effect)) {
            hold(s, q, PP_LSQ_NO_EFFECT);
            snprintf(r->why[q], sizeof r->why[q], "no effect on the residuals");
        } else if (norm < p->dependent * norm0) {
            hold(s, q, PP_LSQ_DEPENDENT);
            r->like[q] = closest;
            r->n_kept[q] = kept;
            snprintf(r->why[q], sizeof r->why[q], "not separable from %s", name(s, closest));
        } else {
            gsl_vector_scale(u, 1.0 / norm);
            gsl_vector_view qk = gsl_matrix_column(Q, (size_t)kept);
            gsl_vector_memcpy(&qk.vector, u);
            s->idx[kept++] = q;
        }
    }
    s->n_free = kept;
    gsl_vector_free(u);
    gsl_matrix_free(Q);
    gsl_matrix_free(J);
    return rc;
}

/* One trust-region solve over the free parameters: 0, the callback's error,
 * or -PP_EINFEASIBLE. */
static int solve(struct lsq *s)
{
    const struct pp_lsq_problem *p = s->p;
    struct pp_lsq_result *r = s->r;
    size_t np = (size_t)s->n_free;
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, p->n_res, np);
    gsl_multifit_nlinear_fdf fdf = {gsl_f, gsl_df, NULL, p->n_res, np, s, 0, 0, 0};
    gsl_vector *x = gsl_vector_alloc(np);
    for (size_t i = 0; i < np; i++)
        gsl_vector_set(x, i, to_x(s, s->idx[i], s->v[s->idx[i]]));
    int info = 0;
    s->failed = 0;
    int st = gsl_multifit_nlinear_init(x, &fdf, w);
    if (st == GSL_SUCCESS)
        st = gsl_multifit_nlinear_driver((size_t)p->max_iterations, p->xtol, p->gtol, p->ftol,
                                         NULL, NULL, &info, w);
    int rc = 0;
    r->solves++;
    if (s->failed) {
        rc = s->failed;
    } else if (st != GSL_SUCCESS) {
        rc = pp_diag_set(s->d, PP_EINFEASIBLE, NULL, 0, 0,
                         "the %s did not converge after %zu iterations (%s); %s", p->what,
                         gsl_multifit_nlinear_niter(w), gsl_strerror(st), p->nothing);
    } else {
        gsl_vector *sol = gsl_multifit_nlinear_position(w);
        gsl_vector *f = gsl_multifit_nlinear_residual(w);
        double chi2;
        gsl_blas_ddot(f, f, &chi2);
        r->rms = sqrt(chi2 / (double)p->n_res);
        r->iterations = (int)gsl_multifit_nlinear_niter(w);
        for (size_t i = 0; i < np && rc == 0; i++) {
            int q = s->idx[i];
            s->v[q] = from_x(s, q, gsl_vector_get(sol, i));
            if (!isfinite(s->v[q]) || (is_log(s, q) && !(s->v[q] > 0)))
                rc = pp_diag_set(s->d, PP_EINFEASIBLE, NULL, 0, 0, "the %s diverged (%s = %g); %s",
                                 p->what, p->names[q], s->v[q], p->nothing);
        }
        /* The measurements' own scatter is not known: the residuals' stands in. */
        gsl_matrix *cov = gsl_matrix_alloc(np, np);
        double dof = (double)p->n_res - (double)np;
        int cs = gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, cov);
        for (size_t i = 0; i < np; i++) {
            int q = s->idx[i];
            double sx = cs == GSL_SUCCESS && dof > 0
                            ? sqrt(fmax(0, gsl_matrix_get(cov, i, i)) * chi2 / dof)
                            : INFINITY;
            r->sigma[q] = is_log(s, q) ? s->v[q] * sx : sx;
        }
        gsl_matrix_free(cov);
    }
    gsl_vector_free(x);
    gsl_multifit_nlinear_free(w);
    return rc;
}

/* How far outside its bounds parameter q's value v lies, in its fitted
 * coordinate; 0 inside. */
static double outside_by(const struct lsq *s, int q, double v)
{
    const struct pp_lsq_problem *p = s->p;
    if (p->hi && v > p->hi[q])
        return to_x(s, q, v) - to_x(s, q, p->hi[q]);
    if (p->lo && v < p->lo[q])
        return to_x(s, q, p->lo[q]) - to_x(s, q, v);
    return 0;
}

/* After a solve: pin the free parameter furthest outside its bounds, or give
 * back the loosest one; 1 when one was, 0 when the fit stands. */
static int drop_one(struct lsq *s)
{
    const struct pp_lsq_problem *p = s->p;
    struct pp_lsq_result *r = s->r;
    int out = -1;
    double out_by = 0;
    for (int i = 0; i < s->n_free; i++) {
        double by = outside_by(s, s->idx[i], s->v[s->idx[i]]);
        if (by > out_by) {
            out_by = by;
            out = i;
        }
    }
    if (out >= 0) {
        int q = s->idx[out];
        double v = s->v[q];
        r->state[q] = PP_LSQ_PINNED;
        r->fit_value[q] = v;
        s->v[q] = p->pin_at_start ? p->start[q] : p->hi && v > p->hi[q] ? p->hi[q] : p->lo[q];
        snprintf(r->why[q], sizeof r->why[q], "fitted %.4g, outside its bounds: pinned at %g", v,
                 s->v[q]);
        unfree(s, out);
        return 1;
    }
    if (!(p->max_rel_sigma > 0))
        return 0;
    /* The loosest, if its 1-sigma reaches the limit (an undetermined one's
     * NaN ratio included). */
    int loose = -1;
    double loose_by = p->max_rel_sigma;
    for (int i = 0; i < s->n_free; i++) {
        int q = s->idx[i];
        double rel = r->sigma[q] / fabs(s->v[q]);
        if (!(rel < loose_by)) {
            loose_by = isfinite(rel) ? rel : INFINITY;
            loose = i;
        }
    }
    if (loose < 0)
        return 0;
    int q = s->idx[loose];
    r->fit_value[q] = s->v[q];
    hold(s, q, PP_LSQ_LOOSE);
    snprintf(r->why[q], sizeof r->why[q],
             "not determined: fitted %.3g +- %.2g (1-sigma); the start value kept", r->fit_value[q],
             r->sigma[q]);
    unfree(s, loose);
    return 1;
}

int pp_lsq_fit(const struct pp_lsq_problem *p, struct pp_lsq_result *r, struct pp_diag *d)
{
    memset(r, 0, sizeof *r);
    if (p->n < 0 || p->n > PP_LSQ_MAX)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "least squares: %d parameters, at most %d",
                           p->n, PP_LSQ_MAX);
    struct lsq s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.r = r;
    s.d = d;
    for (int q = 0; q < p->n; q++) {
        r->value[q] = s.v[q] = p->start[q];
        r->like[q] = -1;
        if (!(p->mask & (1u << q))) {
            r->state[q] = PP_LSQ_MASKED;
            snprintf(r->why[q], sizeof r->why[q], "not asked for");
        } else if (p->n_res == 0) {
            r->state[q] = PP_LSQ_NO_DATA;
            snprintf(r->why[q], sizeof r->why[q], "no residuals to fit it to");
        } else {
            s.idx[s.n_free++] = q;
        }
    }
    /* Every pass that does not return drops one parameter: at most n + 1. */
    while (s.n_free > 0) {
        int rc = select_identifiable(&s);
        if (rc)
            return rc;
        while (s.n_free > 0 && (size_t)s.n_free + (size_t)p->min_dof > p->n_res) {
            int q = s.idx[--s.n_free];
            hold(&s, q, PP_LSQ_TOO_MANY);
            snprintf(r->why[q], sizeof r->why[q],
                     "too few residuals (%zu) to fit it beside the others", p->n_res);
        }
        if (s.n_free == 0)
            break;
        if ((rc = solve(&s)))
            return rc;
        if (!drop_one(&s)) {
            for (int i = 0; i < s.n_free; i++)
                r->state[s.idx[i]] = PP_LSQ_FITTED;
            break;
        }
        if (p->restart)
            for (int i = 0; i < s.n_free; i++)
                s.v[s.idx[i]] = p->start[s.idx[i]];
    }
    memcpy(r->value, s.v, (size_t)p->n * sizeof *r->value);
    return 0;
}
