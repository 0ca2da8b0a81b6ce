/* cmd_converge.c - `ppsim converge SCENARIO.yaml`: stale block-SGD on the
 * seed paper's synthetic objectives, every method in the same simulated time
 * (pipedream-theory.md §4.2): the scenario's costs set the time axis. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "converge.h"
#include "converge_spec.h"
#include "diag.h"
#include "limits.h"
#include "yamlutil.h"
#include "objective.h"
#include "plot.h"
#include "provenance.h"
#include "report.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"
#include "sim.h"
#include "staleness.h"
#include "wtrace.h"
#include "xalloc.h"

extern const char pp_converge_template[];

static const char usage[] =
    "Usage: ppsim converge SCENARIO.yaml [OPTIONS]\n"
    "Run PipeDream (pd), Randomized PipeDream (rpd), LocalSGD and synchronous\n"
    "pipelines on a synthetic objective in simulated time: the scenario's pipeline\n"
    "costs give every method's timeline, its `converge:` section the objective, the\n"
    "methods and the time budget (docs/converge.md).\n"
    "\n"
    "  --set KEY.PATH=VALUE   override a scenario key (repeatable), converge.* included\n"
    "  -f, --format FMT       table (default: one row per method), csv (the curves:\n"
    "                         f(w) - f* per time step and per block update) or json\n"
    "  -o, --output FILE      write the report to FILE (atomically) instead of stdout\n"
    "      --log-every K      per-update curve: a point every K block updates (default 1)\n"
    "      --plot DIR         also write DIR/converge.png (+ .dat, .gp): the curves of\n"
    "                         the chosen step sizes, or the final value against S for\n"
    "                         a converge.stages sweep\n"
    "      --time-limit S     stop after S seconds (exit 3, nothing written)\n"
    "      --max-memory B     host memory one replay may take (8e9, 8G; default half\n"
    "                         the machine)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 usage, 3 a budget no method can reach, a size\n"
    "past a limit or the time limit, 130 interrupted (Ctrl-C; nothing written).\n";

/* One method's chosen run at one stage count. */
struct outcome {
    const struct pp_cv_method_spec *ms;
    int stages;
    const char *schedule;
    int64_t microbatches, iterations; /* iterations: replayed batches (sync) */
    double timeline_ms;               /* the trace's length (before the budget cut) */
    struct pp_cv_result res;          /* the chosen run, with every curve */
    double gamma;
    int64_t max_delay;
    struct pp_cv_tuning tuning;       /* all step sizes (empty for a fixed gamma) */
    int chosen;                       /* index into tuning.runs, -1 for a fixed gamma */
};

struct job {
    const char *path;
    const char **sets;
    size_t n_sets;
    const struct pp_cv_spec *spec;
    int64_t log_every;
};

static int makespan_of(void *ctx, int64_t n, pp_time *out, struct pp_diag *d)
{
    struct pp_scenario *sc = ctx;
    struct pp_run *run = NULL;
    sc->microbatches = n;
    int rc = pp_run_scenario(sc, 0, &run, d);
    if (rc == 0)
        *out = run->res->makespan_ns;
    pp_run_free(run);
    return rc;
}

/* Point the scenario at the method's schedule and choose its microbatches:
 * enough to fill the budget, or the scenario's own count. */
static int configure(struct pp_scenario *sc, int64_t base_mb, const struct pp_cv_spec *spec,
                     const struct pp_cv_method_spec *ms, int64_t *iterations, struct pp_diag *d)
{
    sc->noam = sc->local_replicas = sc->local_steps = 0;
    sc->microbatches = base_mb;
    *iterations = 1;
    switch (ms->method) {
    case PP_CVM_PD:
        sc->schedule = PP_SCHED_PIPEDREAM;
        sc->noam = ms->noam;
        break;
    case PP_CVM_LOCALSGD:
        sc->schedule = PP_SCHED_LOCALSGD;
        sc->local_replicas = ms->local_replicas;
        sc->local_steps = ms->local_steps;
        break;
    case PP_CVM_SYNC:
        sc->schedule = ms->schedule;
        if (ms->batch_microbatches)
            sc->microbatches = ms->batch_microbatches;
        break;
    case PP_CVM_RPD:
        return 0;
    }
    pp_time target = pp_ms_to_ns(spec->budget_ms);
    if (spec->budget_ms > 0 && ms->method != PP_CVM_SYNC) {
        int64_t n;
        int rc = pp_cv_microbatches_for_time(makespan_of, sc, target, 1, PP_MAX_MICROBATCHES, &n, d);
        if (rc)
            return rc;
        sc->microbatches = n;
    } else if (spec->budget_ms > 0) {
        /* a flushing schedule repeats whole iterations until the budget */
        pp_time t_iter;
        int rc = makespan_of(sc, sc->microbatches, &t_iter, d);
        if (rc)
            return rc;
        *iterations = t_iter > 0 ? (int64_t)((target + t_iter - 1) / t_iter) : 1;
        if (*iterations < 1)
            *iterations = 1;
        if (*iterations > 100000)
            return pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                               "%s: the budget needs %lld iterations of %.6g ms; at most 100000",
                               ms->label, (long long)*iterations, (double)t_iter / 1e6);
    }
    if (ms->method == PP_CVM_LOCALSGD && spec->budget_ms <= 0) {
        int64_t R = ms->local_replicas ? ms->local_replicas : sc->stages;
        int at_key = ms->replicas_line > 0;
        if (sc->microbatches % R != 0)
            return pp_diag_set(d, PP_EINVAL, spec->file, at_key ? ms->replicas_line : ms->line,
                               at_key ? ms->replicas_col : ms->col,
                               "converge.methods[%zu].local_replicas: %lld does not divide "
                               "pipeline.microbatches (%lld) and there is no budget_ms, so the "
                               "replicas would take unequal numbers of local steps",
                               (size_t)(ms - spec->methods), (long long)R,
                               (long long)sc->microbatches);
    }
    return 0;
}

static int64_t updates_within(const struct pp_wtrace *t, double budget_ms)
{
    pp_time cut = budget_ms > 0 ? pp_ms_to_ns(budget_ms) : INT64_MAX;
    int64_t n = 0;
    for (size_t k = 0; k < t->n_ev; k++)
        n += t->ev[k].kind == PP_WEV_GRAD && t->ev[k].end_ns <= cut;
    return n;
}

/* Run (or tune) one method and keep the chosen run in *o. Tuning logs only
 * the selection curve; the chosen step size is then re-run with every curve,
 * on the same random streams pp_cv_tune gave it, so it is the same run. */
static int run_method(const struct job *jb, const struct pp_objective *obj,
                      const struct pp_cv_method *m, size_t idx, struct outcome *o,
                      struct pp_diag *d)
{
    const struct pp_cv_spec *spec = jb->spec;
    struct pp_cv_opts opts = {0};
    struct pp_cv_method mm = *m;
    opts.noise_seed = pp_cv_seed_mix(spec->seed, 0x100 + idx);
    opts.budget_ms = spec->budget_ms;
    opts.log_every = jb->log_every;
    opts.step_ms = spec->step_ms;
    o->chosen = -1;
    int rc = 0;
    if (o->ms->gamma > 0) {
        o->gamma = o->ms->gamma;
    } else {
        rc = pp_cv_tune(obj, m, &opts, o->ms->exp_lo, o->ms->exp_hi, NULL, &o->tuning, d);
        if (rc)
            return rc;
        int pick = spec->select == PP_CV_SELECT_BEST ? o->tuning.best : o->tuning.stable;
        if (pick < 0)
            pick = 0; /* every step size diverged: report the smallest */
        o->chosen = pick;
        o->gamma = o->tuning.runs[pick].gamma;
        int a = o->tuning.runs[pick].exponent;
        opts.noise_seed = pp_cv_seed_mix(opts.noise_seed, (uint64_t)(int64_t)a);
        mm.seed = pp_cv_seed_mix(m->seed, (uint64_t)(int64_t)a);
    }
    opts.gamma = o->gamma;
    opts.log_updates = 1;
    opts.log_steps = m->kind == PP_CV_TRACE || m->delays == PP_RPD_EXACT;
    return pp_cv_run(obj, &mm, &opts, &o->res, d);
}

/* All methods at one stage count. */
static int run_stage_count(const struct job *jb, int S, struct outcome *out, struct pp_diag *d)
{
    const struct pp_cv_spec *spec = jb->spec;
    char set_s[64], set_dev[64], set_count[64];
    const char **sets = pp_xcalloc(jb->n_sets + 3, sizeof *sets);
    memcpy(sets, jb->sets, jb->n_sets * sizeof *sets);
    size_t n_sets = jb->n_sets;
    if (spec->n_stages) {
        snprintf(set_s, sizeof set_s, "pipeline.stages=%d", S);
        snprintf(set_dev, sizeof set_dev, "cluster.devices=%d", S);
        snprintf(set_count, sizeof set_count, "model.uniform.count=%d", S);
        sets[n_sets++] = set_s;
        sets[n_sets++] = set_dev;
        sets[n_sets++] = set_count;
    }
    struct pp_scenario *sc = NULL;
    struct pp_objective *obj = NULL;
    struct pp_wtrace *pd_trace = NULL;
    int64_t pd_updates = -1, pd_delta = 0;
    int rc = pp_scenario_load(jb->path, sets, n_sets, &sc, d);
    free(sets);
    if (rc == 0 && sc->chunks != 1)
        rc = pp_diag_set(d, PP_EINVAL, jb->path, 0, 0,
                         "converge: pipeline.chunks must be 1 (one block per stage), got %d",
                         sc->chunks);
    if (rc == 0)
        rc = pp_objective_create(&spec->objective, sc->stages, &obj, d);
    int64_t base_mb = sc ? sc->microbatches : 0;
    for (size_t k = 0; k < spec->n_methods && rc == 0; k++) {
        struct outcome *o = &out[k];
        const struct pp_cv_method_spec *ms = &spec->methods[k];
        o->ms = ms;
        o->stages = sc->stages;
        o->schedule = "-";
        struct pp_cv_method m = {0};
        struct pp_wtrace *t = NULL;
        struct pp_run *run = NULL;
        if (ms->method == PP_CVM_RPD) {
            m.kind = PP_CV_RPD;
            m.delays = ms->delays;
            m.delta = ms->delta;
            m.iterations = ms->iterations;
            m.seed = pp_cv_seed_mix(spec->seed, 0x200 + k);
            int needs_pd = ms->delays == PP_RPD_EXACT || ms->delta < 0 || ms->iterations == 0;
            if (needs_pd && !pd_trace) {
                rc = pp_diag_set(d, PP_EINVAL, spec->file, ms->line, ms->col,
                                 "converge.methods[%zu]: rpd takes its delays, delta or "
                                 "iterations from a pd method listed before it; add one or set "
                                 "delta and iterations",
                                 k);
                break;
            }
            if (ms->delta < 0)
                m.delta = pd_delta;
            if (ms->iterations == 0 && ms->delays != PP_RPD_EXACT)
                m.iterations = pd_updates;
            if (ms->delays == PP_RPD_EXACT)
                m.trace = pd_trace;
            o->max_delay = m.delta;
            o->microbatches = 0;
        } else {
            struct pp_wtrace_opts wo = {PP_WCONV_PAPER, 1, 0};
            rc = configure(sc, base_mb, spec, ms, &o->iterations, d);
            wo.iterations = (int)o->iterations;
            if (rc == 0)
                rc = pp_run_scenario(sc, 1, &run, d);
            if (rc == 0)
                rc = pp_wtrace_build(run->plan, run->res, &wo, &t, d);
            if (rc)
                break;
            o->schedule = pp_schedule_name(sc->schedule);
            o->microbatches = sc->microbatches;
            o->timeline_ms = (double)t->makespan_ns / 1e6;
            m.kind = PP_CV_TRACE;
            m.trace = t;
            pp_run_free(run);
        }
        rc = run_method(jb, obj, &m, k, o, d);
        if (rc == 0 && t) {
            /* the steady-state maximum delay (§2.3); PD's is RPD's default
             * delta, the paper's floor(S^2 - S/2) in the unit-time model */
            struct pp_staleness *st = NULL;
            rc = pp_staleness_compute(t, NULL, &st, d);
            o->max_delay = st ? st->max_delay : 0;
            pp_staleness_free(st);
        }
        if (rc == 0 && ms->method == PP_CVM_PD && !pd_trace) {
            pd_delta = o->max_delay;
            pd_trace = t;
            pd_updates = updates_within(t, spec->budget_ms);
        } else {
            pp_wtrace_free(t);
        }
    }
    if (rc && !d->file[0])
        snprintf(d->file, sizeof d->file, "%s", jb->path);
    pp_wtrace_free(pd_trace);
    pp_objective_free(obj);
    pp_scenario_free(sc);
    return rc;
}

static void free_outcome(struct outcome *o)
{
    pp_cv_result_free(&o->res);
    pp_cv_tuning_free(&o->tuning);
}

static void render_table(struct pp_buf *b, const struct pp_cv_spec *spec, const struct outcome *o,
                         size_t n)
{
    static const char *const kinds[] = {"quadratic", "nesterov", "logistic"};
    const struct pp_objective_spec *os = &spec->objective;
    char budget[64] = "the scenario's microbatches";
    if (spec->budget_ms > 0)
        snprintf(budget, sizeof budget, "%.6g ms", spec->budget_ms);
    pp_buf_printf(b, "converge: %s objective, d = %d, n = %d, batch %d; budget %s; %s step size\n",
                  kinds[os->kind], os->dim, os->examples, os->batch, budget,
                  spec->select == PP_CV_SELECT_BEST ? "best" : "stable");
    pp_buf_printf(b, "%6s  %-18s %-9s %-16s %12s %12s %12s %10s %12s %12s %9s\n", "stages",
                  "method", "kind", "schedule", "microbatches", "timeline_ms", "updates",
                  "max_delay", "gamma", "final_gap", "diverged");
    for (size_t k = 0; k < n; k++)
        pp_buf_printf(b, "%6d  %-18s %-9s %-16s %12lld %12.6g %12lld %10lld %12.6g %12.6g %9s\n",
                      o[k].stages, o[k].ms->label, pp_cvm_name(o[k].ms->method), o[k].schedule,
                      (long long)o[k].microbatches, o[k].timeline_ms,
                      (long long)o[k].res.n_updates, (long long)o[k].max_delay, o[k].gamma,
                      o[k].res.final_value, o[k].res.diverged ? "yes" : "no");
}

static void csv_curve(struct pp_buf *b, const struct outcome *o, const char *axis,
                      const struct pp_cv_curve *c)
{
    for (size_t p = 0; p < c->n; p++) {
        pp_buf_printf(b, "%d,", o->stages);
        pp_buf_csv_str(b, o->ms->label);
        pp_buf_puts(b, ",");
        pp_buf_double(b, o->gamma);
        pp_buf_printf(b, ",%s,%lld,", axis, (long long)c->pt[p].updates);
        if (isfinite(c->pt[p].time_ms))
            pp_buf_double(b, c->pt[p].time_ms);
        pp_buf_puts(b, ",");
        if (isfinite(c->pt[p].value))
            pp_buf_double(b, c->pt[p].value);
        pp_buf_puts(b, "\n");
    }
}

static void render_csv(struct pp_buf *b, const struct outcome *o, size_t n)
{
    pp_buf_puts(b, "stages,method,gamma,axis,updates,time_ms,gap\n");
    for (size_t k = 0; k < n; k++) {
        csv_curve(b, &o[k], "step", &o[k].res.by_step);
        csv_curve(b, &o[k], "update", &o[k].res.by_update);
    }
}

static void json_num(struct pp_buf *b, const char *key, double x)
{
    pp_buf_printf(b, ", \"%s\": ", key);
    if (isfinite(x))
        pp_buf_double(b, x);
    else
        pp_buf_puts(b, "null");
}

static void render_json(struct pp_buf *b, const struct pp_cv_spec *spec, const struct outcome *o,
                        size_t n)
{
    pp_buf_puts(b, "{\"budget_ms\": ");
    pp_buf_double(b, spec->budget_ms);
    pp_buf_printf(b, ", \"select\": \"%s\", \"runs\": [",
                  spec->select == PP_CV_SELECT_BEST ? "best" : "stable");
    for (size_t k = 0; k < n; k++) {
        pp_buf_printf(b, "%s\n  {\"stages\": %d, \"label\": ", k ? "," : "", o[k].stages);
        pp_buf_json_str(b, o[k].ms->label);
        pp_buf_printf(b, ", \"method\": \"%s\", \"schedule\": \"%s\", \"microbatches\": %lld, "
                         "\"iterations\": %lld, \"block_updates\": %lld, \"max_delay\": %lld, "
                         "\"diverged\": %s",
                      pp_cvm_name(o[k].ms->method), o[k].schedule, (long long)o[k].microbatches,
                      (long long)o[k].iterations, (long long)o[k].res.n_updates,
                      (long long)o[k].max_delay, o[k].res.diverged ? "true" : "false");
        json_num(b, "timeline_ms", o[k].timeline_ms);
        json_num(b, "gamma", o[k].gamma);
        json_num(b, "initial_gap", o[k].res.initial_value);
        json_num(b, "final_gap", o[k].res.final_value);
        pp_buf_puts(b, ", \"grid\": [");
        for (int r = 0; r < o[k].tuning.n_runs; r++) {
            const struct pp_cv_tune_run *tr = &o[k].tuning.runs[r];
            pp_buf_printf(b, "%s{\"exponent\": %d, \"stable\": %s, \"diverged\": %s", r ? ", " : "",
                          tr->exponent, tr->metrics.stable ? "true" : "false",
                          tr->res.diverged ? "true" : "false");
            json_num(b, "final_gap", tr->res.final_value);
            pp_buf_puts(b, "}");
        }
        pp_buf_puts(b, "]}");
    }
    pp_buf_puts(b, "\n]}\n");
}

/* Curves of one stage count (by time, or by block update when RPD is in
 * the comparison), or the final value against S for a sweep. */
static int plot(const char *dir, const struct pp_cv_spec *spec, const struct outcome *o, size_t n,
                struct pp_diag *d)
{
    struct pp_buf dat, gp;
    pp_buf_init(&dat);
    pp_buf_init(&gp);
    int sweep = spec->n_stages > 0, by_update = 0;
    for (size_t k = 0; k < spec->n_methods; k++)
        by_update |= spec->methods[k].method == PP_CVM_RPD;
    for (size_t k = 0; k < spec->n_methods; k++) {
        pp_buf_printf(&dat, "%s\"%s\"\n", k ? "\n\n" : "", spec->methods[k].label);
        for (size_t j = k; j < n; j += spec->n_methods) {
            if (sweep) {
                pp_buf_printf(&dat, "%d %.17g\n", o[j].stages, o[j].res.final_value);
                continue;
            }
            const struct pp_cv_curve *c = by_update ? &o[j].res.by_update : &o[j].res.by_step;
            for (size_t p = 0; p < c->n; p++)
                if (isfinite(c->pt[p].value) && c->pt[p].value > 0)
                    pp_buf_printf(&dat, "%.17g %.17g\n",
                                  by_update ? (double)c->pt[p].updates : c->pt[p].time_ms,
                                  c->pt[p].value);
        }
    }
    pp_buf_printf(&gp, "# written by ppsim converge; re-run with: gnuplot converge.gp\n"
                       "datafile = 'converge.dat'\nnmethods = %zu\ntitle_text = 'ppsim converge: "
                       "f(w) - f*%s'\nxlabel_text = '%s'\nlogx = %d\n",
                  spec->n_methods, sweep ? " at the budget" : "",
                  sweep ? "stages S" : by_update ? "block updates" : "simulated time (ms)", sweep);
    pp_buf_puts(&gp, pp_converge_template);
    int rc = pp_plot_render(dir, "converge", dat.data, dat.len, gp.data, gp.len, d);
    pp_buf_free(&dat);
    pp_buf_free(&gp);
    return rc;
}

int pp_cmd_converge(int argc, char **argv)
{
    static const struct option lo[] = {
        {"set", required_argument, NULL, 's'},    {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'}, {"plot", required_argument, NULL, 'p'},
        {"log-every", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
        {"time-limit", required_argument, NULL, 'T'}, {"max-memory", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    struct job jb = {0};
    jb.sets = pp_xcalloc((size_t)argc + 1, sizeof *jb.sets);
    jb.log_every = 1;
    int format = PP_FMT_TABLE, c, status;
    const char *out_path = NULL, *plot_dir = NULL;
    char *end;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:h", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            jb.sets[jb.n_sets++] = optarg;
            break;
        case 'f':
            if ((format = pp_format_from_name(optarg)) < 0) {
                free(jb.sets);
                return pp_cli_usage("converge", "unknown format '%s' (table, csv or json)", optarg);
            }
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'p':
            plot_dir = optarg;
            break;
        case 'T':
        case 'M':
            if ((status = c == 'T' ? pp_cli_time_limit("converge", optarg)
                                   : pp_cli_max_memory("converge", optarg))) {
                free(jb.sets);
                return status;
            }
            break;
        case 'L':
            jb.log_every = strtoll(optarg, &end, 10);
            if (!*optarg || *end || jb.log_every < 1) {
                free(jb.sets);
                return pp_cli_usage("converge", "--log-every: '%s' is not an integer >= 1", optarg);
            }
            break;
        case 'h':
            fputs(usage, stdout);
            free(jb.sets);
            return PP_EXIT_OK;
        default:
            free(jb.sets);
            if (optopt)
                return pp_cli_usage("converge", "option '-%c' is unknown or needs a value", optopt);
            return pp_cli_usage("converge", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        free(jb.sets);
        return pp_cli_usage("converge", argc - optind ? "expected one scenario file"
                                                       : "missing scenario file");
    }
    jb.path = argv[optind];
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_cv_spec *spec = NULL;
    int rc = strcmp(jb.path, "-") == 0
                 ? pp_diag_set(&d, PP_EINVAL, "<stdin>", 0, 0,
                               "converge reads its scenario twice; give a file, not -")
                 : pp_cv_spec_load(jb.path, jb.sets, jb.n_sets, &spec, &d);
    if (rc) {
        free(jb.sets);
        return pp_cli_fail(&d, rc);
    }
    jb.spec = spec;
    size_t n_s = spec->n_stages ? spec->n_stages : 1, n = n_s * spec->n_methods;
    struct outcome *o = pp_xcalloc(n, sizeof *o);
    for (size_t k = 0; k < n; k++)
        o[k].chosen = -1;
    for (size_t si = 0; si < n_s && rc == 0; si++) {
        int S = spec->n_stages ? (int)spec->stages[si] : 0;
        rc = run_stage_count(&jb, S, o + si * spec->n_methods, &d);
    }
    status = rc ? pp_cli_fail(&d, rc) : PP_EXIT_OK;
    if (rc == 0) {
        struct pp_buf b;
        pp_buf_init(&b);
        if (format == PP_FMT_CSV)
            render_csv(&b, o, n);
        else if (format == PP_FMT_JSON) {
            render_json(&b, spec, o, n);
            const char *files[] = {jb.path, NULL};
            struct pp_provenance prov = {"converge", NULL, files, 1, spec->seed};
            pp_provenance_insert(&b, &prov);
        }
        else
            render_table(&b, spec, o, n);
        status = pp_cli_emit(&b, out_path);
        pp_buf_free(&b);
    }
    if (status == PP_EXIT_OK && plot_dir) {
        if ((rc = plot(plot_dir, spec, o, n, &d)))
            status = pp_cli_fail(&d, rc);
        else
            fprintf(stderr, "ppsim: wrote %s%sconverge.png\n", plot_dir,
                    plot_dir[strlen(plot_dir) - 1] == '/' ? "" : "/");
    }
    for (size_t k = 0; k < n; k++)
        free_outcome(&o[k]);
    free(o);
    pp_cv_spec_free(spec);
    free(jb.sets);
    return status;
}
