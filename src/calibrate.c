/* calibrate.c - least-squares fit of a calibration to measured runs. */
#include "calibrate.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "costmodel.h"
#include "diag.h"
#include "meas.h"
#include "run.h"
#include "scenario.h"
#include "xalloc.h"

const char *const pp_cal_param_names[PP_CP_N] = {
    "compute_scale",         "profile_overhead_ms",           "op_overhead_ms.forward",        "op_overhead_ms.backward",
    "op_overhead_ms.backward_input", "op_overhead_ms.backward_weight", "step_overhead_ms",
    "optimizer_ms_per_gb",   "link.latency_ms",               "link.ms_per_gb",
    "activation_scale",      "memory_overhead_gb",
};

/* Finite-difference steps: large enough to move integer-nanosecond times and
 * byte counts by many units, small against the values they perturb. */
static const double fd_step[PP_CP_N] = {1e-2, 0.005, 0.02, 0.02, 0.02, 0.02, 0.2, 0.2, 0.02, 0.5, 1e-2, 0.05};
static const double neutral[PP_CP_N] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};

void pp_cal_opts_init(struct pp_cal_opts *o)
{
    memset(o, 0, sizeof *o);
    o->fit_mask = (1u << PP_CP_N) - 1;
    o->lazy_gradients = 1;
}

/* The calibration that a parameter vector stands for. */
static void to_calib(const double *v, int lazy, struct pp_calib *c)
{
    pp_calib_init(c);
    c->compute_scale = v[PP_CP_COMPUTE_SCALE];
    c->profile_overhead_ms = v[PP_CP_PROFILE_OVERHEAD];
    c->op_overhead_ms[PP_CAL_F] = v[PP_CP_OP_F];
    c->op_overhead_ms[PP_CAL_B] = v[PP_CP_OP_B];
    c->op_overhead_ms[PP_CAL_BI] = v[PP_CP_OP_BI];
    c->op_overhead_ms[PP_CAL_BW] = v[PP_CP_OP_BW];
    c->step_overhead_ms = v[PP_CP_STEP];
    c->optimizer_ms_per_gb = v[PP_CP_OPT_PER_GB];
    c->activation_scale = v[PP_CP_ACT_SCALE];
    c->memory_overhead_bytes = v[PP_CP_MEM_OVERHEAD] * 1e9;
    c->lazy_gradients = lazy;
}

/* Layer counts per stage of the harness (tools/gpu/common.py split_blocks and
 * ppsim_partition): blocks as even as possible, the extra ones last, the
 * embedding on the first stage and the head on the last. */
static void harness_partition(long blocks, long stages, struct pp_buf *b)
{
    long base = blocks / stages, extra = blocks % stages;
    pp_buf_puts(b, "[");
    for (long s = 0; s < stages; s++) {
        long n = base + (s >= stages - extra) + (s == 0) + (s == stages - 1);
        pp_buf_printf(b, "%s%ld", s ? ", " : "", n);
    }
    pp_buf_puts(b, "]");
}

static void yaml_quoted(struct pp_buf *b, const char *s)
{
    pp_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            pp_buf_printf(b, "\\%c", *s);
        else
            pp_buf_printf(b, "%c", *s);
    }
    pp_buf_puts(b, "\"");
}

/* The scenario that replays one measured run. */
static int run_scenario(const struct pp_cal_data *dt, size_t i, struct pp_scenario **out,
                        struct pp_diag *d)
{
    const struct pp_meas_run *r = &dt->meas->runs[i];
    long stages = (long)r->ranks * r->stages_per_rank;
    if (r->layers < stages)
        return pp_diag_set(d, PP_EINVAL, dt->meas->file, r->line, 0,
                           "%ld blocks cannot fill %ld stages", r->layers, stages);
    struct pp_buf b;
    pp_buf_init(&b);
    pp_buf_puts(&b, "model: {file: ");
    yaml_quoted(&b, dt->profile_path);
    pp_buf_printf(&b, "}\ncluster: {devices: %d, link: {latency_ms: %.17g", r->ranks,
                  dt->link_latency_ms);
    if (dt->link_bandwidth_bytes_per_s > 0)
        pp_buf_printf(&b, ", bandwidth_bytes_per_s: %.17g", dt->link_bandwidth_bytes_per_s);
    pp_buf_puts(&b, "}}\n");
    pp_buf_printf(&b, "pipeline: {schedule: %s, stages: %d, chunks: %d, microbatches: %ld, "
                      "microbatch_size: %ld, partition: ",
                  r->schedule, r->ranks, r->stages_per_rank, r->microbatches, r->microbatch_size);
    harness_partition(r->layers, stages, &b);
    /* PyTorch's ZBV runs its own fixed order (schedules.md, ZB-V). */
    if (strcmp(r->schedule, "zb-v") == 0)
        pp_buf_puts(&b, ", zbv_order: pytorch");
    /* bf16 or fp32 alike: gradients in the parameters' dtype; plain SGD keeps no state. */
    pp_buf_puts(&b, "}\ntraining: {gradient_bytes_per_parameter_byte: 1}\n");
    int rc = pp_scenario_parse(b.data, b.len, "<calibrate>", NULL, 0, out, d);
    pp_buf_free(&b);
    if (rc == 0 && (*out)->model->n_layers != (size_t)r->layers + 2) {
        size_t n = (*out)->model->n_layers;
        pp_scenario_free(*out);
        *out = NULL;
        return pp_diag_set(d, PP_EINVAL, dt->meas->file, r->line, 0,
                           "the profile '%s' has %zu layers, but the measured model has %ld "
                           "blocks + embedding + head = %ld",
                           dt->profile_path, n, r->layers, r->layers + 2);
    }
    if (rc && d && (!d->file[0] || strcmp(d->file, "<calibrate>") == 0)) {
        char why[sizeof d->msg];
        snprintf(why, sizeof why, "%s", d->msg);
        pp_diag_set(d, -rc, dt->meas->file, r->line, 0, "cannot replay this run: %s", why);
    }
    return rc;
}

struct ctx {
    const struct pp_cal_data *data;
    size_t n_data;
    struct pp_scenario **sc; /* per flattened run */
    size_t *di, *ri;         /* flattened run -> (data, run) */
    size_t n;
    int *in_fit;
    int lazy;
    int part;                /* 0 time, 1 memory */
    double v[PP_CP_N];       /* every parameter's current value */
    int idx[PP_CP_N];        /* the free parameters of this part */
    int n_free;
    size_t n_res;
    struct pp_diag *d;
    int failed;              /* the simulator's error code, kept for the caller */
};

static int simulate(struct ctx *c, size_t k, const double *v, double *step_ms, double *mem)
{
    struct pp_scenario *sc = c->sc[k];
    to_calib(v, c->lazy, &sc->calib);
    sc->has_calib = 1;
    double lat = sc->link_latency_ms, bw = sc->link_bandwidth_bytes_per_s;
    if (v[PP_CP_LINK_LATENCY] > 0 || v[PP_CP_LINK_MS_PER_GB] > 0) {
        sc->link_latency_ms = v[PP_CP_LINK_LATENCY];
        sc->link_bandwidth_bytes_per_s = v[PP_CP_LINK_MS_PER_GB] > 0
                                             ? 1e9 / (v[PP_CP_LINK_MS_PER_GB] * 1e-3)
                                             : 0;
    }
    struct pp_run *run = NULL;
    int rc = pp_run_scenario(sc, 0, &run, c->d);
    sc->link_latency_ms = lat;
    sc->link_bandwidth_bytes_per_s = bw;
    if (rc)
        return rc;
    *step_ms = run->iteration_time_ms;
    for (int dv = 0; mem && dv < run->res->n_devices; dv++)
        mem[dv] = run->res->dev[dv].peak_memory_bytes;
    pp_run_free(run);
    return 0;
}

/* Relative residuals of the fitted runs (time) or ranks (memory) at v. */
static int residuals(struct ctx *c, const double *v, double *f)
{
    size_t j = 0;
    double mem[PP_MAX_STAGES];
    for (size_t k = 0; k < c->n; k++) {
        if (!c->in_fit[k])
            continue;
        const struct pp_meas_run *r = &c->data[c->di[k]].meas->runs[c->ri[k]];
        double step;
        int rc = simulate(c, k, v, &step, mem);
        if (rc)
            return rc;
        if (c->part == 0) {
            f[j++] = (step - r->step_ms_median) / r->step_ms_median;
        } else {
            for (int q = 0; q < r->ranks; q++)
                if (r->peak_memory_bytes[q] > 0)
                    f[j++] = (mem[q] - r->peak_memory_bytes[q]) / r->peak_memory_bytes[q];
        }
    }
    return 0;
}

static void unpack(const struct ctx *c, const gsl_vector *x, double *v)
{
    memcpy(v, c->v, sizeof c->v);
    for (int i = 0; i < c->n_free; i++)
        v[c->idx[i]] = gsl_vector_get(x, (size_t)i);
}

static int gsl_f(const gsl_vector *x, void *p, gsl_vector *f)
{
    struct ctx *c = p;
    double v[PP_CP_N];
    unpack(c, x, v);
    int rc = residuals(c, v, f->data);
    if (rc) {
        c->failed = rc;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

/* Forward differences with fixed steps (GSL's relative ones would be smaller
 * than the simulator's nanosecond resolution). */
static int gsl_df(const gsl_vector *x, void *p, gsl_matrix *J)
{
    struct ctx *c = p;
    double v[PP_CP_N];
    unpack(c, x, v);
    double *f0 = pp_xmalloc(c->n_res * sizeof *f0), *f1 = pp_xmalloc(c->n_res * sizeof *f1);
    int rc = residuals(c, v, f0);
    for (int i = 0; rc == 0 && i < c->n_free; i++) {
        int q = c->idx[i];
        double save = v[q];
        v[q] += fd_step[q];
        rc = residuals(c, v, f1);
        v[q] = save;
        for (size_t r = 0; rc == 0 && r < c->n_res; r++)
            gsl_matrix_set(J, r, (size_t)i, (f1[r] - f0[r]) / fd_step[q]);
    }
    free(f0);
    free(f1);
    if (rc) {
        c->failed = rc;
        return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

/* Keep the candidates whose Jacobian columns are independent, in priority
 * order (modified Gram-Schmidt); say why each dropped one was dropped. */
static int select_identifiable(struct ctx *c, const int *cand, int n_cand,
                               struct pp_cal_result *res)
{
    c->n_free = n_cand;
    memcpy(c->idx, cand, (size_t)n_cand * sizeof *cand);
    gsl_matrix *J = gsl_matrix_alloc(c->n_res, (size_t)n_cand);
    gsl_vector *x = gsl_vector_alloc((size_t)n_cand);
    for (int i = 0; i < n_cand; i++)
        gsl_vector_set(x, (size_t)i, c->v[cand[i]]);
    int rc = gsl_df(x, c, J);
    int kept = 0;
    gsl_matrix *Q = gsl_matrix_alloc(c->n_res, (size_t)(n_cand ? n_cand : 1));
    for (int i = 0; rc == GSL_SUCCESS && i < n_cand; i++) {
        gsl_vector_view col = gsl_matrix_column(J, (size_t)i);
        double norm0 = gsl_blas_dnrm2(&col.vector);
        gsl_vector *u = gsl_vector_alloc(c->n_res);
        gsl_vector_memcpy(u, &col.vector);
        int worst = -1;
        double worst_dot = 0;
        for (int k = 0; k < kept; k++) {
            gsl_vector_view qk = gsl_matrix_column(Q, (size_t)k);
            double dot;
            gsl_blas_ddot(&qk.vector, u, &dot);
            gsl_blas_daxpy(-dot, &qk.vector, u);
            if (fabs(dot) > worst_dot) {
                worst_dot = fabs(dot);
                worst = c->idx[k];
            }
        }
        double norm = gsl_blas_dnrm2(u);
        int q = cand[i];
        if (norm0 < 1e-9) {
            snprintf(res->why[q], sizeof res->why[q], "no effect on the fitted runs");
        } else if (norm < 1e-3 * norm0) {
            snprintf(res->why[q], sizeof res->why[q], "not separable from %s in the fitted runs",
                     worst >= 0 ? pp_cal_param_names[worst] : "the others");
        } else {
            gsl_vector_scale(u, 1.0 / norm);
            gsl_vector_view qk = gsl_matrix_column(Q, (size_t)kept);
            gsl_vector_memcpy(&qk.vector, u);
            c->idx[kept++] = q;
        }
        gsl_vector_free(u);
    }
    c->n_free = kept;
    gsl_matrix_free(Q);
    gsl_matrix_free(J);
    gsl_vector_free(x);
    return rc == GSL_SUCCESS ? 0 : c->failed;
}

/* One trust-region solve over c->idx; 0, or -PP_EINFEASIBLE (no convergence). */
static int solve(struct ctx *c, int max_iter, struct pp_cal_result *res)
{
    size_t p = (size_t)c->n_free;
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, c->n_res, p);
    gsl_multifit_nlinear_fdf fdf = {gsl_f, gsl_df, NULL, c->n_res, p, c, 0, 0, 0};
    gsl_vector *x = gsl_vector_alloc(p);
    for (size_t i = 0; i < p; i++)
        gsl_vector_set(x, i, c->v[c->idx[i]]);
    int info = 0;
    int st = gsl_multifit_nlinear_init(x, &fdf, w);
    if (st == GSL_SUCCESS)
        st = gsl_multifit_nlinear_driver((size_t)max_iter, 1e-10, 1e-10, 1e-12, NULL, NULL, &info,
                                         w);
    int rc = 0;
    if (c->failed) {
        rc = c->failed;
    } else if (st != GSL_SUCCESS) {
        rc = pp_diag_set(c->d, PP_EINFEASIBLE, NULL, 0, 0,
                         "the %s calibration did not converge after %zu iterations (%s); no "
                         "parameters written",
                         c->part ? "memory" : "time", gsl_multifit_nlinear_niter(w),
                         gsl_strerror(st));
    } else {
        gsl_vector *sol = gsl_multifit_nlinear_position(w);
        gsl_vector *f = gsl_multifit_nlinear_residual(w);
        for (size_t i = 0; i < p; i++)
            c->v[c->idx[i]] = gsl_vector_get(sol, i);
        double chi2;
        gsl_blas_ddot(f, f, &chi2);
        res->rms_rel[c->part] = sqrt(chi2 / (double)c->n_res);
        res->iterations[c->part] = (int)gsl_multifit_nlinear_niter(w);
        gsl_matrix *cov = gsl_matrix_alloc(p, p);
        gsl_matrix *J = gsl_multifit_nlinear_jac(w);
        double dof = (double)c->n_res - (double)p;
        if (gsl_multifit_nlinear_covar(J, 0.0, cov) == GSL_SUCCESS && dof > 0)
            for (size_t i = 0; i < p; i++)
                res->sigma[c->idx[i]] = sqrt(gsl_matrix_get(cov, i, i) * chi2 / dof);
        gsl_matrix_free(cov);
        for (size_t i = 0; i < p; i++)
            if (!isfinite(c->v[c->idx[i]]))
                rc = pp_diag_set(c->d, PP_EINFEASIBLE, NULL, 0, 0,
                                 "the %s calibration diverged (%s is not finite); no parameters "
                                 "written",
                                 c->part ? "memory" : "time", pp_cal_param_names[c->idx[i]]);
    }
    gsl_vector_free(x);
    gsl_multifit_nlinear_free(w);
    return rc;
}

/* Fit one part with an active set: a parameter whose fitted value falls
 * below its physical floor is pinned at the floor and the rest refitted. */
static int fit_part(struct ctx *c, int part, unsigned mask, int max_iter,
                    struct pp_cal_result *res)
{
    c->part = part;
    int lo = part ? PP_CP_N_TIME : 0, hi = part ? PP_CP_N : PP_CP_N_TIME;
    c->n_res = 0;
    for (size_t k = 0; k < c->n; k++)
        if (c->in_fit[k]) {
            const struct pp_meas_run *r = &c->data[c->di[k]].meas->runs[c->ri[k]];
            if (part == 0)
                c->n_res++;
            else
                for (int q = 0; q < r->ranks; q++)
                    c->n_res += r->peak_memory_bytes[q] > 0;
        }
    int cand[PP_CP_N], n_cand = 0;
    for (int q = lo; q < hi; q++) {
        if (mask & (1u << q))
            cand[n_cand++] = q;
        else
            snprintf(res->why[q], sizeof res->why[q], "not asked for");
    }
    if (n_cand == 0 || c->n_res == 0)
        return 0;
    int src = select_identifiable(c, cand, n_cand, res);
    if (src)
        return src;
    for (int round = 0; round < PP_CP_N && c->n_free > 0; round++) {
        if ((size_t)c->n_free > c->n_res) {
            for (int i = c->n_free - 1; i >= 0 && (size_t)i >= c->n_res; i--)
                snprintf(res->why[c->idx[i]], sizeof res->why[c->idx[i]],
                         "more parameters than fitted measurements");
            c->n_free = (int)c->n_res;
        }
        int rc = solve(c, max_iter, res);
        if (rc)
            return rc;
        int worst = -1;
        for (int i = 0; i < c->n_free; i++) {
            int q = c->idx[i];
            double floor_ = (q == PP_CP_COMPUTE_SCALE || q == PP_CP_ACT_SCALE) ? 1e-3 : 0;
            if (c->v[q] < floor_ && (worst < 0 || c->v[q] < c->v[c->idx[worst]]))
                worst = i;
        }
        if (worst < 0)
            break;
        int q = c->idx[worst];
        snprintf(res->why[q], sizeof res->why[q], "fitted below its physical floor (%.3g): pinned",
                 c->v[q]);
        c->v[q] = neutral[q] > 0 ? neutral[q] : 0;
        memmove(&c->idx[worst], &c->idx[worst + 1],
                (size_t)(c->n_free - worst - 1) * sizeof *c->idx);
        c->n_free--;
        memcpy(c->v + lo, neutral + lo, (size_t)(hi - lo) * sizeof *c->v);
    }
    for (int i = 0; i < c->n_free; i++) {
        res->fitted[c->idx[i]] = 1;
        res->why[c->idx[i]][0] = 0;
    }
    return 0;
}

static int name_in(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static void ctx_free(struct ctx *c)
{
    for (size_t k = 0; k < c->n; k++)
        pp_scenario_free(c->sc[k]);
    free(c->sc);
    free(c->di);
    free(c->ri);
    free(c->in_fit);
}

static int predict_all(struct ctx *c, struct pp_cal_result *res)
{
    double uncal[PP_CP_N];
    memcpy(uncal, neutral, sizeof uncal);
    res->preds = pp_xcalloc(c->n, sizeof *res->preds);
    res->n_preds = c->n;
    for (size_t k = 0; k < c->n; k++) {
        struct pp_cal_pred *p = &res->preds[k];
        const struct pp_meas_run *r = &c->data[c->di[k]].meas->runs[c->ri[k]];
        p->data = c->di[k];
        p->run = c->ri[k];
        p->in_fit = c->in_fit[k];
        p->mem_uncal = pp_xcalloc((size_t)r->ranks, sizeof *p->mem_uncal);
        p->mem_cal = pp_xcalloc((size_t)r->ranks, sizeof *p->mem_cal);
        int rc = simulate(c, k, uncal, &p->step_ms_uncal, p->mem_uncal);
        if (rc == 0)
            rc = simulate(c, k, c->v, &p->step_ms_cal, p->mem_cal);
        if (rc)
            return rc;
    }
    return 0;
}

int pp_calibrate(const struct pp_cal_data *data, size_t n_data, const struct pp_cal_opts *o,
                 struct pp_cal_result **out, struct pp_diag *d)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.data = data;
    c.n_data = n_data;
    c.lazy = o->lazy_gradients;
    c.d = d;
    memcpy(c.v, neutral, sizeof c.v);
    for (size_t i = 0; i < n_data; i++)
        c.n += data[i].meas->n;
    c.sc = pp_xcalloc(c.n ? c.n : 1, sizeof *c.sc);
    c.di = pp_xcalloc(c.n ? c.n : 1, sizeof *c.di);
    c.ri = pp_xcalloc(c.n ? c.n : 1, sizeof *c.ri);
    c.in_fit = pp_xcalloc(c.n ? c.n : 1, sizeof *c.in_fit);
    struct pp_cal_result *res = pp_xcalloc(1, sizeof *res);
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < n_data; i++) {
        int data_ok = o->n_fit_data == 0;
        for (size_t j = 0; j < o->n_fit_data; j++)
            data_ok |= o->fit_data[j] == (int)i;
        for (size_t r = 0; rc == 0 && r < data[i].meas->n; r++, k++) {
            const struct pp_meas_run *mr = &data[i].meas->runs[r];
            if (mr->ranks > PP_MAX_STAGES)
                rc = pp_diag_set(d, PP_EINVAL, data[i].meas->file, mr->line, 0,
                                 "%d ranks: at most %d", mr->ranks, PP_MAX_STAGES);
            else
                rc = run_scenario(&data[i], r, &c.sc[k], d);
            c.di[k] = i;
            c.ri[k] = r;
            c.in_fit[k] = data_ok && (o->n_fit_schedules == 0 ||
                                      name_in(mr->schedule, o->fit_schedules, o->n_fit_schedules));
            if (c.in_fit[k]) {
                res->n_fit_runs++;
                res->n_fit_ranks += (size_t)mr->ranks;
            }
        }
    }
    if (rc == 0 && res->n_fit_runs == 0)
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                         "no measured run matches the fit selection (--fit-on / --fit-data)");
    int max_iter = o->max_iterations > 0 ? o->max_iterations : 200;
    if (rc == 0)
        rc = fit_part(&c, 0, o->fit_mask, max_iter, res);
    if (rc == 0)
        rc = fit_part(&c, 1, o->fit_mask, max_iter, res);
    if (rc == 0)
        rc = predict_all(&c, res);
    if (rc == 0) {
        memcpy(res->value, c.v, sizeof c.v);
        to_calib(c.v, c.lazy, &res->calib);
        if (res->fitted[PP_CP_LINK_LATENCY] || res->fitted[PP_CP_LINK_MS_PER_GB]) {
            res->calib.has_link = 1;
            res->calib.link_latency_ms = c.v[PP_CP_LINK_LATENCY];
            res->calib.link_bandwidth_bytes_per_s =
                c.v[PP_CP_LINK_MS_PER_GB] > 0 ? 1e12 / c.v[PP_CP_LINK_MS_PER_GB] : 0;
        }
    }
    ctx_free(&c);
    if (rc) {
        pp_cal_result_free(res);
        return rc < 0 ? rc : -rc;
    }
    *out = res;
    return 0;
}

void pp_cal_result_free(struct pp_cal_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_preds; i++) {
        free(r->preds[i].mem_uncal);
        free(r->preds[i].mem_cal);
    }
    free(r->preds);
    free(r);
}
