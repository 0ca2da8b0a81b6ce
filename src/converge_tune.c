/* converge_tune.c - step-size tuning and the fixed-time budget
 * (pipedream-theory.md §3.4, §4.2; converge.h).
 *
 * The "stable" rule is the authors' (vectozavr/randomized-pipedream,
 * notebooks/minibatch_sgd.ipynb: curve_stability_metrics,
 * select_stable_learning_rate, stable_lr_kwargs), rewritten here: numpy's
 * population std, np.diff, np.polyfit(x, log y, 1) slope. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "converge_int.h"
#include "diag.h"
#include "limits.h"
#include "xalloc.h"

#define CURVE_EPS 1e-16 /* the authors' floor before logs and ratios */

void pp_cv_stable_rule_default(struct pp_cv_stable_rule *r)
{
    r->tail_frac = 0.2;
    r->min_tail = 10;
    r->relative_tol = 0.05;
    r->max_tail_cv = 0.15;
    r->max_up_fraction = 0.45;
    r->max_up_rel = 0.05;
    r->max_tv_ratio = 5.0;
    r->max_tail_log_slope = 1e-4;
}

void pp_cv_curve_metrics(const double *y, size_t n, const struct pp_cv_stable_rule *rule,
                         struct pp_cv_metrics *m)
{
    struct pp_cv_stable_rule def;
    if (!rule) {
        pp_cv_stable_rule_default(&def);
        rule = &def;
    }
    int finite = n >= 3;
    for (size_t i = 0; i < n && finite; i++)
        finite = isfinite(y[i]);
    if (!finite) {
        *m = (struct pp_cv_metrics){0, INFINITY, INFINITY, 1.0, INFINITY, INFINITY, INFINITY};
        return;
    }
    size_t len = (size_t)ceil(rule->tail_frac * (double)n);
    if (rule->min_tail > 0 && len < (size_t)rule->min_tail)
        len = (size_t)rule->min_tail;
    if (len > n)
        len = n;
    if (len < 1)
        len = 1;
    const double *t = y + (n - len);
#define TV(i) fmax(t[i], CURVE_EPS)
    double sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += TV(i);
    double mean = sum / (double)len, ss = 0;
    for (size_t i = 0; i < len; i++)
        ss += (TV(i) - mean) * (TV(i) - mean);
    m->tail_mean = mean;
    m->tail_cv = sqrt(ss / (double)len) / (fabs(mean) + CURVE_EPS);
    double max_up = 0, tv = 0;
    size_t ups = 0;
    for (size_t i = 1; i < len; i++) {
        double dlt = TV(i) - TV(i - 1);
        if (dlt > 0) {
            ups++;
            if (dlt > max_up)
                max_up = dlt;
        }
        tv += fabs(dlt);
    }
    m->max_up_rel = max_up / (fabs(mean) + CURVE_EPS);
    m->up_fraction = len > 1 ? (double)ups / (double)(len - 1) : 0.0;
    m->tv_ratio = len > 1 ? tv / (fabs(TV(0) - TV(len - 1)) + CURVE_EPS) : 0.0;
    /* least-squares slope of log(tail) against 0..len-1 */
    double xm = (double)(len - 1) / 2, lm = 0;
    for (size_t i = 0; i < len; i++)
        lm += log(TV(i));
    lm /= (double)len;
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < len; i++) {
        double dx = (double)i - xm;
        sxy += dx * (log(TV(i)) - lm);
        sxx += dx * dx;
    }
    m->tail_log_slope = sxx > 0 ? sxy / sxx : 0.0;
#undef TV
    m->stable = m->tail_cv <= rule->max_tail_cv && m->up_fraction <= rule->max_up_fraction &&
                m->max_up_rel <= rule->max_up_rel && m->tv_ratio <= rule->max_tv_ratio &&
                m->tail_log_slope <= rule->max_tail_log_slope;
}

int pp_cv_select_run(const struct pp_cv_tune_run *runs, int n, enum pp_cv_select sel,
                     const struct pp_cv_stable_rule *rule)
{
    struct pp_cv_stable_rule def;
    if (!rule) {
        pp_cv_stable_rule_default(&def);
        rule = &def;
    }
    int pick = -1;
    if (sel == PP_CV_SELECT_BEST) {
        /* strict < keeps the first (smaller gamma) of equal finals, like the
         * authors' min() over an increasing grid */
        for (int i = 0; i < n; i++) {
            const struct pp_cv_result *r = &runs[i].res;
            if (r->diverged || !isfinite(r->final_value))
                continue;
            if (pick < 0 || r->final_value < runs[pick].res.final_value)
                pick = i;
        }
        return pick;
    }
    double best = INFINITY;
    int any_stable = 0;
    for (int i = 0; i < n; i++)
        if (!runs[i].res.diverged && runs[i].metrics.stable) {
            any_stable = 1;
            if (runs[i].metrics.tail_mean < best)
                best = runs[i].metrics.tail_mean;
        }
    if (!any_stable) { /* the authors fall back to the lowest tail mean */
        for (int i = 0; i < n; i++) {
            if (runs[i].res.diverged || !isfinite(runs[i].metrics.tail_mean))
                continue;
            if (pick < 0 || runs[i].metrics.tail_mean < runs[pick].metrics.tail_mean)
                pick = i;
        }
        return pick;
    }
    for (int i = 0; i < n; i++) /* smallest gamma within relative_tol of the best */
        if (!runs[i].res.diverged && runs[i].metrics.stable &&
            runs[i].metrics.tail_mean <= best * (1.0 + rule->relative_tol))
            return i;
    return -1;
}

int pp_cv_tune(const struct pp_objective *o, const struct pp_cv_method *m,
               const struct pp_cv_opts *opts, int exp_lo, int exp_hi,
               const struct pp_cv_stable_rule *rule, struct pp_cv_tuning *out, struct pp_diag *d)
{
    memset(out, 0, sizeof *out);
    if (exp_lo > exp_hi || exp_hi - exp_lo >= 64 || exp_lo < -1000 || exp_hi > 1000)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "step-size grid 2^%d..2^%d: need lo <= hi and at most 64 values", exp_lo,
                           exp_hi);
    int n = exp_hi - exp_lo + 1;
    out->runs = pp_xcalloc((size_t)n, sizeof *out->runs);
    out->n_runs = n;
    out->best = out->stable = -1;
    int by_step = m->kind == PP_CV_TRACE;
    double *y = NULL;
    size_t ycap = 0;
    for (int i = 0; i < n; i++) {
        struct pp_cv_tune_run *tr = &out->runs[i];
        tr->exponent = exp_lo + i;
        tr->gamma = ldexp(1.0, tr->exponent);
        struct pp_cv_opts ro = *opts;
        struct pp_cv_method rm = *m;
        ro.gamma = tr->gamma;
        ro.noise_seed = pp_cv_seed_mix(opts->noise_seed, (uint64_t)(int64_t)tr->exponent);
        rm.seed = pp_cv_seed_mix(m->seed, (uint64_t)(int64_t)tr->exponent);
        if (by_step)
            ro.log_steps = 1;
        else
            ro.log_updates = 1;
        int rc = pp_limits_stop() ? pp_limits_stopped(d, "while tuning step sizes") : 0;
        if (rc == 0)
            rc = pp_cv_run(o, &rm, &ro, &tr->res, d);
        if (rc) {
            free(y);
            pp_cv_tuning_free(out);
            return rc;
        }
        const struct pp_cv_curve *c = by_step ? &tr->res.by_step : &tr->res.by_update;
        y = pp_xgrow(y, &ycap, c->n ? c->n : 1, sizeof *y);
        for (size_t k = 0; k < c->n; k++)
            y[k] = c->pt[k].value;
        pp_cv_curve_metrics(y, c->n, rule, &tr->metrics);
        if (tr->res.diverged)
            tr->metrics.stable = 0;
    }
    free(y);
    out->best = pp_cv_select_run(out->runs, n, PP_CV_SELECT_BEST, rule);
    out->stable = pp_cv_select_run(out->runs, n, PP_CV_SELECT_STABLE, rule);
    return 0;
}

void pp_cv_tuning_free(struct pp_cv_tuning *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_runs; i++)
        pp_cv_result_free(&t->runs[i].res);
    free(t->runs);
    memset(t, 0, sizeof *t);
}

int pp_cv_microbatches_for_time(pp_cv_makespan_fn makespan, void *ctx, pp_time target_ns,
                                int64_t n_step, int64_t n_max, int64_t *n_out, struct pp_diag *d)
{
    if (n_step <= 0)
        n_step = 1;
    if (n_max <= 0)
        n_max = (int64_t)1 << 30;
    int64_t q_max = n_max / n_step; /* N = n_step * q, 1 <= q <= q_max */
    if (q_max < 1)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "microbatch cap %lld is below the step %lld", (long long)n_max,
                           (long long)n_step);
    /* invariant: makespan(lo) < target (q = 0 has no ops) and, once found,
     * makespan(hi) >= target */
    int64_t lo = 0, hi = 1;
    pp_time t;
    for (;;) {
        int rc = makespan(ctx, hi * n_step, &t, d);
        if (rc)
            return rc;
        if (t >= target_ns)
            break;
        if (hi == q_max)
            return pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                               "even %lld microbatches take %.6g ms, short of the %.6g ms budget",
                               (long long)(hi * n_step), (double)t / 1e6, (double)target_ns / 1e6);
        lo = hi;
        hi = hi > q_max / 2 ? q_max : 2 * hi;
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        int rc = makespan(ctx, mid * n_step, &t, d);
        if (rc)
            return rc;
        if (t >= target_ns)
            hi = mid;
        else
            lo = mid;
    }
    *n_out = hi * n_step;
    return 0;
}
