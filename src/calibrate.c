/* calibrate.c - least-squares fit of a calibration to measured runs. */
#include "calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "costmodel.h"
#include "diag.h"
#include "lsq.h"
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
/* Physical floors: a scale must stay positive, an added cost non-negative. */
static const double floor_[PP_CP_N] = {1e-3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1e-3, 0};

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
    int lo, n_part;          /* the part's parameters: lo .. lo + n_part - 1 */
    double v[PP_CP_N];       /* every parameter's current value */
    struct pp_diag *d;
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

/* The residuals of the part being fitted, its parameters at x (lsq.h). */
static int part_residuals(const double *x, double *f, void *p)
{
    struct ctx *c = p;
    double v[PP_CP_N];
    memcpy(v, c->v, sizeof v);
    memcpy(v + c->lo, x, (size_t)c->n_part * sizeof *v);
    return residuals(c, v, f);
}

/* Why parameter lo + q of a part was not fitted, in the report's words. */
static void why_not(const struct pp_lsq_result *r, int lo, int q, char *buf, size_t size)
{
    switch (r->state[q]) {
    case PP_LSQ_MASKED: snprintf(buf, size, "not asked for"); break;
    case PP_LSQ_NO_EFFECT: snprintf(buf, size, "no effect on the fitted runs"); break;
    case PP_LSQ_DEPENDENT:
        snprintf(buf, size, "not separable from %s in the fitted runs",
                 r->like[q] >= 0 ? pp_cal_param_names[lo + r->like[q]] : "the others");
        break;
    case PP_LSQ_TOO_MANY: snprintf(buf, size, "more parameters than fitted measurements"); break;
    case PP_LSQ_PINNED:
        snprintf(buf, size, "fitted below its physical floor (%.3g): pinned", r->fit_value[q]);
        break;
    default: buf[0] = 0; /* fitted, or no measurement of this part at all */
    }
}

/* Fit one part (lsq.h) in priority order with an active set: a parameter
 * whose fitted value falls below its physical floor is pinned at its neutral
 * value and the rest refitted from neutral. */
static int fit_part(struct ctx *c, int part, unsigned mask, int max_iter,
                    struct pp_cal_result *res)
{
    c->part = part;
    int lo = part ? PP_CP_N_TIME : 0, hi = part ? PP_CP_N : PP_CP_N_TIME;
    c->lo = lo;
    c->n_part = hi - lo;
    size_t n_res = 0;
    for (size_t k = 0; k < c->n; k++)
        if (c->in_fit[k]) {
            const struct pp_meas_run *r = &c->data[c->di[k]].meas->runs[c->ri[k]];
            if (part == 0)
                n_res++;
            else
                for (int q = 0; q < r->ranks; q++)
                    n_res += r->peak_memory_bytes[q] > 0;
        }
    struct pp_lsq_problem p;
    pp_lsq_init(&p);
    p.n = hi - lo;
    p.names = pp_cal_param_names + lo;
    p.start = neutral + lo;
    p.lo = floor_ + lo;
    p.step = fd_step + lo;
    p.mask = (mask >> lo) & ((1u << p.n) - 1);
    p.f = part_residuals;
    p.ctx = c;
    p.n_res = n_res;
    p.max_iterations = max_iter;
    p.ftol = 1e-12;
    p.no_effect = 1e-9;
    p.restart = 1;
    p.pin_at_start = 1;
    p.what = part ? "memory calibration" : "time calibration";
    p.nothing = "no parameters written";
    struct pp_lsq_result r;
    int rc = pp_lsq_fit(&p, &r, c->d);
    if (rc)
        return rc;
    for (int q = 0; q < p.n; q++) {
        c->v[lo + q] = r.value[q];
        res->fitted[lo + q] = r.state[q] == PP_LSQ_FITTED;
        /* no degrees of freedom left: reported as 0, as if not fitted */
        res->sigma[lo + q] = isinf(r.sigma[q]) ? 0 : r.sigma[q];
        why_not(&r, lo, q, res->why[lo + q], sizeof res->why[lo + q]);
    }
    res->iterations[part] = r.iterations;
    res->rms_rel[part] = r.rms;
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
