/* test_lsq.c - the shared least-squares machinery (lsq.h): a straight line
 * against the closed-form least-squares solution and its standard errors, a
 * nonlinear decay recovered exactly (plain and in ln coordinates), parameters
 * with no effect or not separable, too few residuals, pinning at a bound or
 * at the start value, a parameter given back for its 1-sigma, non-convergence,
 * and the residual callback's error passed through. */
#include <gsl/gsl_errno.h>

#include "diag.h"
#include "lsq.h"
#include "testutil.h"

/* Data y(t) and a model m(x, t); residuals m - y. */
struct fit_data {
    const double *t, *y;
    size_t n;
    double (*m)(const double *x, double t);
    int calls, fail_at; /* fail_at > 0: that call returns -PP_EIO */
    struct pp_diag *d;
};

static int resid(const double *x, double *r, void *ctx)
{
    struct fit_data *fd = ctx;
    if (++fd->calls == fd->fail_at)
        return pp_diag_set(fd->d, PP_EIO, "f.csv", 3, 4, "boom at call %d", fd->calls);
    for (size_t k = 0; k < fd->n; k++)
        r[k] = fd->m(x, fd->t[k]) - fd->y[k];
    return 0;
}

static double line(const double *x, double t)
{
    return x[0] + x[1] * t;
}

/* (a + b) t + 1; x[2] has no effect */
static double sum_line(const double *x, double t)
{
    return (x[0] + x[1]) * t + 1;
}

static double decay(const double *x, double t)
{
    return x[0] * exp(-x[1] * t) + x[2];
}

static const char *const names[3] = {"a", "b", "c"};
static const double steps[3] = {1e-6, 1e-6, 1e-6};
static const double t8[8] = {0, 1, 2, 3, 4, 5, 6, 7};
static const double noise8[8] = {0.1, -0.2, 0.05, 0.15, -0.1, 0, 0.12, -0.12};

static void problem(struct pp_lsq_problem *p, struct fit_data *fd, int n, const double *start)
{
    pp_lsq_init(p);
    p->n = n;
    p->names = names;
    p->start = start;
    p->step = steps;
    p->mask = (1u << n) - 1;
    p->f = resid;
    p->ctx = fd;
    p->n_res = fd->n;
}

/* Ordinary least squares of y on t: intercept, slope, their standard
 * errors, and the RMS residual. */
struct ols {
    double a, b, se_a, se_b, rms;
};

static struct ols ols_fit(const double *t, const double *y, size_t n)
{
    double tb = 0, yb = 0, sxx = 0, sxy = 0, sse = 0;
    for (size_t k = 0; k < n; k++) {
        tb += t[k] / (double)n;
        yb += y[k] / (double)n;
    }
    for (size_t k = 0; k < n; k++) {
        sxx += (t[k] - tb) * (t[k] - tb);
        sxy += (t[k] - tb) * (y[k] - yb);
    }
    struct ols o;
    o.b = sxy / sxx;
    o.a = yb - o.b * tb;
    for (size_t k = 0; k < n; k++)
        sse += (y[k] - o.a - o.b * t[k]) * (y[k] - o.a - o.b * t[k]);
    double s2 = sse / (double)(n - 2);
    o.se_b = sqrt(s2 / sxx);
    o.se_a = sqrt(s2 * (1.0 / (double)n + tb * tb / sxx));
    o.rms = sqrt(sse / (double)n);
    return o;
}

static void test_linear(void)
{
    double y[8];
    struct pp_diag d;
    struct pp_lsq_problem p;
    struct pp_lsq_result r;
    /* exact data: recovered to rounding */
    for (int k = 0; k < 8; k++)
        y[k] = 2 - 3 * t8[k];
    struct fit_data fd = {t8, y, 8, line, 0, 0, &d};
    static const double start[2] = {0, 0};
    problem(&p, &fd, 2, start);
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[0], PP_LSQ_FITTED);
    CHECK_INT(r.state[1], PP_LSQ_FITTED);
    CHECK_CLOSE(r.value[0], 2, 1e-9);
    CHECK_CLOSE(r.value[1], -3, 1e-9);
    CHECK_CLOSE(r.rms, 0, 1e-9);
    CHECK_INT(r.solves, 1);
    CHECK_STR(r.why[0], "");
    /* noisy data: the closed-form solution, its standard errors and RMS */
    for (int k = 0; k < 8; k++)
        y[k] = 2 - 3 * t8[k] + noise8[k];
    struct ols o = ols_fit(t8, y, 8);
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_CLOSE(r.value[0], o.a, 1e-8);
    CHECK_CLOSE(r.value[1], o.b, 1e-8);
    CHECK_CLOSE(r.sigma[0], o.se_a, 1e-6);
    CHECK_CLOSE(r.sigma[1], o.se_b, 1e-6);
    CHECK_CLOSE(r.rms, o.rms, 1e-9);
    /* forward differences with other steps: the same line */
    static const double big[2] = {0.5, 2};
    p.step = big;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_CLOSE(r.value[1], o.b, 1e-8);
    CHECK_CLOSE(r.sigma[1], o.se_b, 1e-6);
}

static const double t11[11] = {0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5};

static void decay_data(double *y, int noisy)
{
    static const double truth[3] = {5, 0.7, 1};
    for (int k = 0; k < 11; k++)
        y[k] = decay(truth, t11[k]) + (noisy ? 0.05 * noise8[k % 8] : 0);
}

/* The decay fitted to exact data y from `start`, with central differences. */
static void decay_problem(struct pp_lsq_problem *p, struct fit_data *fd, double *y,
                          struct pp_diag *d, const double *start)
{
    decay_data(y, 0);
    *fd = (struct fit_data){t11, y, 11, decay, 0, 0, d};
    problem(p, fd, 3, start);
    p->central = 1;
}

static void test_nonlinear(void)
{
    double y[11];
    struct pp_diag d;
    struct fit_data fd;
    static const double start[3] = {2, 0.4, 0.5};
    struct pp_lsq_problem p;
    struct pp_lsq_result r;
    decay_problem(&p, &fd, y, &d, start);
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    for (int q = 0; q < 3; q++)
        CHECK_INT(r.state[q], PP_LSQ_FITTED);
    CHECK_CLOSE(r.value[0], 5, 1e-8);
    CHECK_CLOSE(r.value[1], 0.7, 1e-8);
    CHECK_CLOSE(r.value[2], 1, 1e-8);
    CHECK_CLOSE(r.rms, 0, 1e-9);
    pp_check_impl(r.iterations > 1, __LINE__, __FILE__, "more than one iteration from afar");
    /* the rate fitted as ln k: the same optimum */
    p.log_mask = 1u << 1;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_CLOSE(r.value[1], 0.7, 1e-8);
    CHECK_CLOSE(r.value[0], 5, 1e-8);
    /* on noisy data both coordinates give the same optimum, and the ln
     * one's 1-sigma maps back to the plain one's (k * sigma_ln k) */
    decay_data(y, 1);
    p.log_mask = 0;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    double k_lin = r.value[1], s_lin = r.sigma[1];
    pp_check_impl(s_lin > 1e-4 && s_lin < 0.1, __LINE__, __FILE__, "a finite 1-sigma");
    p.log_mask = 1u << 1;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_CLOSE(r.value[1], k_lin, 1e-7);
    CHECK_CLOSE(r.sigma[1], s_lin, 1e-4);
}

static void test_identifiability(void)
{
    double y[8];
    for (int k = 0; k < 8; k++)
        y[k] = 3 * t8[k] + 1;
    struct pp_diag d;
    struct fit_data fd = {t8, y, 8, sum_line, 0, 0, &d};
    static const double start[3] = {0, 0.5, 7};
    struct pp_lsq_problem p;
    struct pp_lsq_result r;
    problem(&p, &fd, 3, start);
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    /* a comes first, so b (the same column) is the one held */
    CHECK_INT(r.state[0], PP_LSQ_FITTED);
    CHECK_INT(r.state[1], PP_LSQ_DEPENDENT);
    CHECK_INT(r.like[1], 0);
    CHECK_INT(r.n_kept[1], 1);
    CHECK_STR(r.why[1], "not separable from a");
    CHECK_INT(r.state[2], PP_LSQ_NO_EFFECT);
    CHECK_STR(r.why[2], "no effect on the residuals");
    CHECK_CLOSE(r.value[1], 0.5, 0);
    CHECK_CLOSE(r.value[2], 7, 0);
    CHECK_CLOSE(r.value[0], 2.5, 1e-9); /* a + b = 3 with b held at 0.5 */
    CHECK_CLOSE(r.sigma[1], 0, 0);
    /* the other priority: b fitted, a held */
    p.mask = 0x6;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[0], PP_LSQ_MASKED);
    CHECK_STR(r.why[0], "not asked for");
    CHECK_INT(r.state[1], PP_LSQ_FITTED);
    CHECK_CLOSE(r.value[1], 3, 1e-9);
    /* too few residuals for a 1-sigma: the last candidate given back */
    fd.n = p.n_res = 2;
    p.mask = 0x3;
    fd.m = line;
    static const double y2[2] = {1, 4};
    fd.y = y2;
    p.min_dof = 1;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[0], PP_LSQ_FITTED);
    CHECK_INT(r.state[1], PP_LSQ_TOO_MANY);
    CHECK_CLOSE(r.value[1], 0.5, 0);
    CHECK_CLOSE(r.value[0], 2.5 - 0.5 * 0.5, 1e-9); /* mean of y - 0.5 t */
    /* without the 1-sigma requirement both fit, with no degrees of freedom */
    p.min_dof = 0;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[1], PP_LSQ_FITTED);
    CHECK_CLOSE(r.value[1], 3, 1e-9);
    pp_check_impl(isinf(r.sigma[1]), __LINE__, __FILE__, "no dof: infinite 1-sigma");
    /* no residuals at all: nothing fitted, nothing called */
    p.n_res = 0;
    fd.calls = 0;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[0], PP_LSQ_NO_DATA);
    CHECK_INT(r.solves, 0);
    CHECK_INT(fd.calls, 0);
}

static void test_pin(void)
{
    double y[8], y0[8];
    for (int k = 0; k < 8; k++)
        y[k] = 1 - 0.5 * t8[k] + noise8[k];
    struct pp_diag d;
    struct fit_data fd = {t8, y, 8, line, 0, 0, &d};
    static const double start[2] = {0, 0.25}, lo[2] = {-INFINITY, 0};
    struct pp_lsq_problem p;
    struct pp_lsq_result r;
    problem(&p, &fd, 2, start);
    p.lo = lo;
    struct ols o = ols_fit(t8, y, 8);
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[1], PP_LSQ_PINNED);
    CHECK_CLOSE(r.fit_value[1], o.b, 1e-8); /* the unconstrained slope */
    CHECK_CLOSE(r.value[1], 0, 0);          /* at the bound */
    CHECK_INT(r.state[0], PP_LSQ_FITTED);
    double mean = 0;
    for (int k = 0; k < 8; k++)
        mean += y[k] / 8;
    CHECK_CLOSE(r.value[0], mean, 1e-9);     /* refitted without the slope */
    CHECK_INT(r.solves, 2);
    CHECK_CONTAINS(r.why[1], "outside its bounds: pinned at 0");
    /* pinned at the start value instead, the rest restarted from theirs */
    p.pin_at_start = 1;
    p.restart = 1;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[1], PP_LSQ_PINNED);
    CHECK_CLOSE(r.value[1], 0.25, 0);
    for (int k = 0; k < 8; k++)
        y0[k] = y[k] - 0.25 * t8[k];
    mean = 0;
    for (int k = 0; k < 8; k++)
        mean += y0[k] / 8;
    CHECK_CLOSE(r.value[0], mean, 1e-9);
    /* an upper bound on a parameter fitted in ln: pinned there, the others
     * refitted (exact data, so the unconstrained value is the truth) */
    double yd[11];
    struct fit_data fe;
    static const double s3[3] = {2, 0.4, 0.5}, hi[3] = {INFINITY, 0.5, INFINITY};
    decay_problem(&p, &fe, yd, &d, s3);
    p.log_mask = 1u << 1;
    p.hi = hi;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[1], PP_LSQ_PINNED);
    CHECK_CLOSE(r.fit_value[1], 0.7, 1e-7);
    CHECK_CLOSE(r.value[1], 0.5, 0);
    CHECK_INT(r.state[0], PP_LSQ_FITTED);
    CHECK_INT(r.state[2], PP_LSQ_FITTED);
    pp_check_impl(r.rms > 1e-3, __LINE__, __FILE__, "the pinned fit is worse than the truth");
}

static void test_loose(void)
{
    /* a slope far below its standard error */
    double y[8];
    for (int k = 0; k < 8; k++)
        y[k] = 1 + 0.001 * t8[k] + 10 * noise8[k];
    struct ols o = ols_fit(t8, y, 8);
    pp_check_impl(o.se_b > fabs(o.b), __LINE__, __FILE__, "the data leave the slope open");
    struct pp_diag d;
    struct fit_data fd = {t8, y, 8, line, 0, 0, &d};
    static const double start[2] = {0, 0.125};
    struct pp_lsq_problem p;
    struct pp_lsq_result r;
    problem(&p, &fd, 2, start);
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[1], PP_LSQ_FITTED); /* no give-back asked for */
    p.max_rel_sigma = 1;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), 0);
    CHECK_INT(r.state[1], PP_LSQ_LOOSE);
    CHECK_CLOSE(r.fit_value[1], o.b, 1e-8);
    CHECK_CLOSE(r.sigma[1], o.se_b, 1e-6);
    CHECK_CLOSE(r.value[1], 0.125, 0);
    CHECK_INT(r.state[0], PP_LSQ_FITTED);
    double mean = 0;
    for (int k = 0; k < 8; k++)
        mean += (y[k] - 0.125 * t8[k]) / 8;
    CHECK_CLOSE(r.value[0], mean, 1e-9);
    CHECK_CONTAINS(r.why[1], "not determined");
}

static void test_errors(void)
{
    char msg[700];
    double y[11];
    struct pp_diag d;
    struct fit_data fd;
    static const double start[3] = {1, 0.2, 0};
    struct pp_lsq_problem p;
    struct pp_lsq_result r;
    decay_problem(&p, &fd, y, &d, start);
    /* no convergence in the iterations allowed */
    p.max_iterations = 1;
    p.what = "test fit";
    p.nothing = "no answer";
    CHECK_INT(pp_lsq_fit(&p, &r, &d), -PP_EINFEASIBLE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "error: the test fit did not converge after 1 iterations (exceeded max number of "
              "iterations); no answer");
    /* the callback's error, unchanged: in the identifiability check (the
     * first call) and inside GSL's solve (call 20: 6 per Jacobian) */
    p.max_iterations = 200;
    for (int at = 1; at <= 20; at += 19) {
        fd.calls = 0;
        fd.fail_at = at;
        d.msg[0] = 0;
        CHECK_INT(pp_lsq_fit(&p, &r, &d), -PP_EIO);
        CHECK_INT(fd.calls, at);
        CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
                  at == 1 ? "f.csv:3:4: error: boom at call 1" : "f.csv:3:4: error: boom at call 20");
    }
    /* too many parameters for the fixed-size result */
    p.n = PP_LSQ_MAX + 1;
    CHECK_INT(pp_lsq_fit(&p, &r, &d), -PP_EINVAL);
}

int main(void)
{
    gsl_set_error_handler_off();
    static const struct pp_test tests[] = {
        {"linear", test_linear},
        {"nonlinear", test_nonlinear},
        {"identifiability", test_identifiability},
        {"pin", test_pin},
        {"loose", test_loose},
        {"errors", test_errors},
        {NULL, NULL},
    };
    return pp_test_main("lsq", tests);
}
