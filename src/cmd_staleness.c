/* cmd_staleness.c - `ppsim staleness`: the delays of the weights every block
 * update reads (pipedream-theory.md §2), for a scenario or the paper's
 * unit-time model, and the delay-against-S figure. */
#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_multifit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "limits.h"
#include "plot.h"
#include "provenance.h"
#include "report.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"
#include "staleness.h"
#include "xalloc.h"
#include "yamlutil.h"

extern const char pp_staleness_template[];

static const char usage[] =
    "Usage: ppsim staleness SCENARIO.yaml [OPTIONS]\n"
    "       ppsim staleness --stages S [--schedule NAME] [--microbatches N] [OPTIONS]\n"
    "Weight staleness of a replayed schedule: for each block update (a backward on\n"
    "stage s of microbatch m) the delay of block i is the number of block updates\n"
    "between the forward F(i, m) that read block i and the update (PipeDream theory\n"
    "paper, §2). Without a scenario, the paper's unit-time model: F = B = 1 step,\n"
    "free communication, results visible the next step.\n"
    "\n"
    "  --stages S             unit-time model with S >= 2 stages\n"
    "  --schedule NAME        unit-time model's schedule (default pipedream)\n"
    "  --microbatches N       unit-time microbatches (default 10 S, at least 2 S)\n"
    "  --batch M              pipedream-2bw: microbatches per weight version (default:\n"
    "                         S in the unit-time model, the scenario's microbatches)\n"
    "  --iterations Q         scenario: replay Q batches of a flushing or 2BW schedule\n"
    "                         (default 4)\n"
    "  --convention C         paper (default): updates ordered by (op start, stage), as\n"
    "                         the paper's code; physical: an update counts once its B ends\n"
    "  --set KEY.PATH=VALUE   override a scenario key (repeatable)\n"
    "  -f, --format FMT       table (default), csv (the delay matrix) or json\n"
    "  -o, --output FILE      write the report to FILE (atomically) instead of stdout\n"
    "      --plot DIR         also write DIR/staleness.png: steady-state delay against S\n"
    "                         (unit-time model of the schedule, S = 2 .. --max-stages),\n"
    "                         log-log, with least-squares fits a S^2 + b S and c S^2\n"
    "      --max-stages S     the plot's largest S (default 128)\n"
    "      --max-memory B     host memory the replay may take (8e9, 8G; default half\n"
    "                         the machine)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 usage, 3 too large for --max-memory or past a\n"
    "size limit (--stages over 4096, ...), 130 interrupted.\n";

struct opts {
    const char *scenario, *out_path, *plot_dir, *schedule;
    const char **sets;
    size_t n_sets;
    int format, stages, iterations, max_stages;
    int64_t microbatches, batch;
    enum pp_wconv conv;
};

/* 0, or the exit status: usage for a malformed value, infeasible (3) for a
 * whole number past the cap, which is a valid request too large to replay. */
static int parse_int(const char *arg, const char *opt, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    int whole = *arg && !*end && arg[strspn(arg, " \t")] != '-';
    if (whole && (v > hi || errno == ERANGE)) {
        struct pp_diag d;
        pp_diag_set(&d, PP_ENOMEM, NULL, 0, 0, "%s: more than the limit of %lld, got '%s'", opt,
                    (long long)hi, arg);
        return pp_cli_fail(&d, -PP_ENOMEM);
    }
    if (!*arg || *end || v < lo || v > hi)
        return pp_cli_usage("staleness", "%s: '%s' is not an integer in [%lld, %lld]", opt, arg,
                            (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"stages", required_argument, NULL, 'S'},       {"schedule", required_argument, NULL, 'k'},
        {"microbatches", required_argument, NULL, 'm'}, {"batch", required_argument, NULL, 'b'},
        {"iterations", required_argument, NULL, 'q'},   {"convention", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},          {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},       {"plot", required_argument, NULL, 'p'},
        {"max-stages", required_argument, NULL, 'X'},   {"help", no_argument, NULL, 'h'},
        {"max-memory", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    int c, st;
    int64_t v;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'S':
            if ((st = parse_int(optarg, "--stages", 2, PP_MAX_STAGES, &v)))
                return st;
            o->stages = (int)v;
            break;
        case 'k':
            o->schedule = optarg;
            break;
        case 'm':
            if ((st = parse_int(optarg, "--microbatches", 1, PP_MAX_MICROBATCHES,
                                &o->microbatches)))
                return st;
            break;
        case 'b':
            if ((st = parse_int(optarg, "--batch", 1, PP_MAX_MICROBATCHES, &o->batch)))
                return st;
            break;
        case 'q':
            if ((st = parse_int(optarg, "--iterations", 1, 1000, &v)))
                return st;
            o->iterations = (int)v;
            break;
        case 'M':
            if (pp_cli_max_memory("staleness", optarg))
                return PP_EXIT_USAGE;
            break;
        case 'X':
            if ((st = parse_int(optarg, "--max-stages", 2, 512, &v)))
                return st;
            o->max_stages = (int)v;
            break;
        case 'c':
            if (strcmp(optarg, "paper") == 0)
                o->conv = PP_WCONV_PAPER;
            else if (strcmp(optarg, "physical") == 0)
                o->conv = PP_WCONV_PHYSICAL;
            else
                return pp_cli_usage("staleness", "unknown convention '%s' (paper or physical)",
                                    optarg);
            break;
        case 's':
            o->sets[o->n_sets++] = optarg;
            break;
        case 'f':
            o->format = pp_format_from_name(optarg);
            if (o->format < 0)
                return pp_cli_usage("staleness", "unknown format '%s' (table, csv or json)",
                                    optarg);
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 'p':
            o->plot_dir = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            if (optopt)
                return pp_cli_usage("staleness", "option '-%c' is unknown or needs a value", optopt);
            return pp_cli_usage("staleness", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind > 1)
        return pp_cli_usage("staleness", "expected at most one scenario file");
    o->scenario = argc - optind == 1 ? argv[optind] : NULL;
    if (!o->scenario && !o->stages)
        return pp_cli_usage("staleness", "give a scenario file or --stages S");
    if (o->scenario && (o->stages || o->schedule || o->microbatches))
        return pp_cli_usage("staleness", "--stages, --schedule and --microbatches describe the "
                                         "unit-time model; a scenario sets them itself");
    if (!o->scenario && o->n_sets)
        return pp_cli_usage("staleness", "--set needs a scenario file");
    return 0;
}

static int schedule_kind(const char *name, enum pp_schedule_kind *out)
{
    int k = pp_schedule_from_name(name ? name : "pipedream");
    if (k < 0 || k == PP_SCHED_CUSTOM) {
        const char *s = pp_suggest(name, pp_schedule_names());
        return pp_cli_usage("staleness", "unknown schedule '%s'%s%s%s", name,
                            s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    }
    *out = (enum pp_schedule_kind)k;
    return 0;
}

static const char *sem_name(enum pp_wsem s)
{
    static const char *const names[] = {"immediate", "local", "accumulate", "double"};
    return names[s];
}

/* What was measured, for the report's header. */
struct what {
    const struct pp_scenario *sc; /* NULL for the unit-time model */
    const char *schedule, *source;
    int stages;
    int64_t microbatches;
    enum pp_wconv conv;
};

static void render_table(struct pp_buf *b, const struct what *w, const struct pp_staleness *st)
{
    int S = st->n_blocks;
    pp_buf_printf(b, "staleness: %s, %d stages, %lld microbatches (%s), %s convention\n",
                  w->schedule, w->stages, (long long)w->microbatches, w->source,
                  w->conv == PP_WCONV_PAPER ? "paper" : "physical");
    pp_buf_printf(b, "  weight updates           %s (%lld block updates)\n", sem_name(st->sem),
                  (long long)st->n_updates);
    pp_buf_printf(b, "  steady max delay         %lld updates (%.6g global steps of S updates)\n",
                  (long long)st->max_delay, (double)st->max_delay / S);
    pp_buf_printf(b, "  steady mean delay        %.6g updates\n", st->mean_delay);
    pp_buf_printf(b, "  steady p10 delay         %.6g updates (second half of the run)\n",
                  st->p10_delay);
    pp_buf_printf(b, "  steady delay, time       max %.6g ms, mean %.6g ms (F(i,m) start to "
                     "B(s,m) end)\n", st->max_delay_ms, st->mean_delay_ms);
    pp_buf_printf(b, "  whole run                max %lld, mean %.6g, p10 %.6g updates\n",
                  (long long)st->run_max_delay, st->run_mean_delay, st->run_p10_delay);
    pp_buf_printf(b, "\ndelay matrix, microbatch %lld (updates; row s = updating stage, "
                     "column i = block read):\n      ", (long long)st->steady_mb);
    for (int i = 0; i < S; i++)
        pp_buf_printf(b, "      i=%-3d", i + 1);
    pp_buf_puts(b, "\n");
    for (int s = 0; s < S; s++) {
        pp_buf_printf(b, "  s=%-3d", s + 1);
        for (int i = 0; i < S; i++)
            pp_buf_printf(b, " %9lld", (long long)st->delay_matrix[(size_t)s * S + i]);
        pp_buf_puts(b, "\n");
    }
    pp_buf_puts(b, "\nstage  own_staleness  stash_versions\n");
    for (int s = 0; s < S; s++)
        pp_buf_printf(b, "%5d  %13lld  %14d\n", s + 1, (long long)st->own_stage[s],
                      s < st->n_devices ? st->stash_versions[s] : 0);
}

static void json_matrix_i(struct pp_buf *b, const int64_t *m, int S)
{
    pp_buf_puts(b, "[");
    for (int s = 0; s < S; s++) {
        pp_buf_puts(b, s ? ", [" : "[");
        for (int i = 0; i < S; i++)
            pp_buf_printf(b, "%s%lld", i ? ", " : "", (long long)m[(size_t)s * S + i]);
        pp_buf_puts(b, "]");
    }
    pp_buf_puts(b, "]");
}

static void render_json(struct pp_buf *b, const struct what *w, const struct pp_staleness *st)
{
    int S = st->n_blocks;
    pp_buf_puts(b, "{");
    struct pp_provenance prov = {"staleness", w->sc, NULL, 0, 0};
    pp_provenance_json(b, &prov);
    pp_buf_puts(b, ", \"schedule\": ");
    pp_buf_json_str(b, w->schedule);
    pp_buf_printf(b, ", \"model\": \"%s\", \"stages\": %d, \"microbatches\": %lld, "
                     "\"convention\": \"%s\", \"semantics\": \"%s\", \"block_updates\": %lld, "
                     "\"steady_microbatch\": %lld, \"max_delay\": %lld, \"mean_delay\": ",
                  w->source, w->stages, (long long)w->microbatches,
                  w->conv == PP_WCONV_PAPER ? "paper" : "physical", sem_name(st->sem),
                  (long long)st->n_updates, (long long)st->steady_mb, (long long)st->max_delay);
    pp_buf_double(b, st->mean_delay);
    pp_buf_puts(b, ", \"p10_delay\": ");
    pp_buf_double(b, st->p10_delay);
    pp_buf_puts(b, ", \"max_delay_steps\": ");
    pp_buf_double(b, (double)st->max_delay / S);
    pp_buf_puts(b, ", \"max_delay_ms\": ");
    pp_buf_double(b, st->max_delay_ms);
    pp_buf_puts(b, ", \"mean_delay_ms\": ");
    pp_buf_double(b, st->mean_delay_ms);
    pp_buf_printf(b, ", \"run_max_delay\": %lld, \"run_mean_delay\": ", (long long)st->run_max_delay);
    pp_buf_double(b, st->run_mean_delay);
    pp_buf_puts(b, ", \"run_p10_delay\": ");
    pp_buf_double(b, st->run_p10_delay);
    pp_buf_puts(b, ",\n \"delay_matrix\": ");
    json_matrix_i(b, st->delay_matrix, S);
    pp_buf_puts(b, ",\n \"delay_ms_matrix\": [");
    for (int s = 0; s < S; s++) {
        pp_buf_puts(b, s ? ", [" : "[");
        for (int i = 0; i < S; i++) {
            if (i)
                pp_buf_puts(b, ", ");
            pp_buf_double(b, st->delay_ms_matrix[(size_t)s * S + i]);
        }
        pp_buf_puts(b, "]");
    }
    pp_buf_puts(b, "],\n \"own_stage_staleness\": [");
    for (int s = 0; s < S; s++)
        pp_buf_printf(b, "%s%lld", s ? ", " : "", (long long)st->own_stage[s]);
    pp_buf_puts(b, "], \"stash_versions\": [");
    for (int dv = 0; dv < st->n_devices; dv++)
        pp_buf_printf(b, "%s%d", dv ? ", " : "", st->stash_versions[dv]);
    pp_buf_puts(b, "]}\n");
}

static void render_csv(struct pp_buf *b, const struct pp_staleness *st)
{
    int S = st->n_blocks;
    pp_buf_puts(b, "stage,block,delay_updates,delay_ms\n");
    for (int s = 0; s < S; s++)
        for (int i = 0; i < S; i++) {
            pp_buf_printf(b, "%d,%d,%lld,", s + 1, i + 1,
                          (long long)st->delay_matrix[(size_t)s * S + i]);
            pp_buf_double(b, st->delay_ms_matrix[(size_t)s * S + i]);
            pp_buf_puts(b, "\n");
        }
}

/* The figure: steady max, mean and p10 for S = 2 .. max_stages, with the
 * least-squares fits max ~ a S^2 + b S and mean ~ c S^2 (GSL multifit). */
static int plot_sweep(const struct opts *o, enum pp_schedule_kind kind, struct pp_diag *d)
{
    static const int grid[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 24,
                               32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512};
    int max_s = o->max_stages ? o->max_stages : 128, n = 0;
    size_t cap = sizeof grid / sizeof grid[0];
    gsl_matrix *X = gsl_matrix_alloc(cap, 2);
    gsl_vector *y = gsl_vector_alloc(cap);
    struct pp_buf dat, gp;
    pp_buf_init(&dat);
    pp_buf_init(&gp);
    pp_buf_puts(&dat, "# S max_delay mean_delay p10_delay\n");
    double s4 = 0, s2m = 0;
    int rc = 0;
    for (size_t g = 0; g < cap && grid[g] <= max_s && rc == 0; g++) {
        struct pp_staleness *st = NULL;
        rc = pp_staleness_unit(kind, grid[g], 0, 0, o->conv, &st, d);
        if (rc)
            break;
        double S = grid[g];
        pp_buf_printf(&dat, "%d %lld %.17g %.17g\n", grid[g], (long long)st->max_delay,
                      st->mean_delay, st->p10_delay);
        gsl_matrix_set(X, (size_t)n, 0, S * S);
        gsl_matrix_set(X, (size_t)n, 1, S);
        gsl_vector_set(y, (size_t)n, (double)st->max_delay);
        s4 += S * S * S * S;
        s2m += S * S * st->mean_delay;
        n++;
        pp_staleness_free(st);
    }
    double a = 0, b = 0, c = s4 > 0 ? s2m / s4 : 0;
    if (rc == 0 && n >= 2) {
        gsl_matrix_view Xv = gsl_matrix_submatrix(X, 0, 0, (size_t)n, 2);
        gsl_vector_view yv = gsl_vector_subvector(y, 0, (size_t)n);
        gsl_vector *coef = gsl_vector_alloc(2);
        gsl_matrix *cov = gsl_matrix_alloc(2, 2);
        gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc((size_t)n, 2);
        double chisq;
        gsl_multifit_linear(&Xv.matrix, &yv.vector, coef, cov, &chisq, ws);
        a = gsl_vector_get(coef, 0);
        b = gsl_vector_get(coef, 1);
        gsl_multifit_linear_free(ws);
        gsl_matrix_free(cov);
        gsl_vector_free(coef);
    }
    if (rc == 0) {
        pp_buf_printf(&gp, "# written by ppsim staleness; re-run with: gnuplot staleness.gp\n"
                           "datafile = 'staleness.dat'\ntitle_text = '%s: delay against stages "
                           "(unit-time model)'\nfit_a = %.17g\nfit_b = %.17g\nfit_c = %.17g\n",
                      pp_schedule_name(kind), a, b, c);
        pp_buf_puts(&gp, pp_staleness_template);
        rc = pp_plot_render(o->plot_dir, "staleness", dat.data, dat.len, gp.data, gp.len, d);
    }
    gsl_matrix_free(X);
    gsl_vector_free(y);
    pp_buf_free(&dat);
    pp_buf_free(&gp);
    return rc;
}

/* A scenario: replay it with spans (2BW over `iterations` batches of its
 * microbatches), trace, measure. */
static int measure_scenario(struct opts *o, struct what *w, struct pp_staleness **st,
                            enum pp_schedule_kind *kind, struct pp_scenario **sc_out,
                            struct pp_diag *d)
{
    struct pp_scenario *sc = NULL;
    struct pp_run *run = NULL;
    struct pp_wtrace *t = NULL;
    int rc = pp_scenario_load(o->scenario, o->sets, o->n_sets, &sc, d);
    if (rc)
        return rc;
    int q = o->iterations ? o->iterations : 4;
    struct pp_wtrace_opts wo = {o->conv, q, 0};
    *kind = sc->schedule;
    if (sc->schedule == PP_SCHED_PIPEDREAM_2BW) {
        wo.batch_microbatches = o->batch ? o->batch : sc->microbatches;
        sc->microbatches = wo.batch_microbatches * q;
    }
    rc = pp_run_scenario(sc, 1, &run, d);
    if (rc == 0)
        rc = pp_wtrace_build(run->plan, run->res, &wo, &t, d);
    if (rc == 0)
        rc = pp_staleness_compute(t, run->res, st, d);
    if (rc == 0) {
        w->stages = sc->stages;
        w->microbatches = t->n_microbatches;
    }
    if (rc && !d->file[0])
        snprintf(d->file, sizeof d->file, "%s", o->scenario);
    pp_wtrace_free(t);
    pp_run_free(run);
    if (rc == 0)
        *sc_out = sc; /* the report's provenance names its files */
    else
        pp_scenario_free(sc);
    return rc;
}

int pp_cmd_staleness(int argc, char **argv)
{
    struct opts o = {0};
    o.sets = pp_xcalloc((size_t)argc + 1, sizeof *o.sets);
    o.format = PP_FMT_TABLE;
    int status = parse_opts(argc, argv, &o);
    if (status) {
        free(o.sets);
        return status < 0 ? PP_EXIT_OK : status;
    }
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_staleness *st = NULL;
    enum pp_schedule_kind kind = PP_SCHED_PIPEDREAM;
    struct what w = {NULL, NULL, "scenario", o.stages, o.microbatches, o.conv};
    struct pp_scenario *sc = NULL;
    int rc;
    if (o.scenario) {
        rc = measure_scenario(&o, &w, &st, &kind, &sc, &d);
        w.sc = sc;
    } else {
        if ((status = schedule_kind(o.schedule, &kind))) {
            free(o.sets);
            return status;
        }
        w.source = "unit-time model";
        w.microbatches = o.microbatches ? o.microbatches : 10 * (int64_t)o.stages;
        rc = pp_staleness_unit(kind, o.stages, o.microbatches, o.batch, o.conv, &st, &d);
    }
    free(o.sets);
    w.schedule = pp_schedule_name(kind);
    if (rc) {
        pp_scenario_free(sc);
        return pp_cli_fail(&d, rc);
    }
    struct pp_buf b;
    pp_buf_init(&b);
    if (o.format == PP_FMT_JSON)
        render_json(&b, &w, st);
    else if (o.format == PP_FMT_CSV)
        render_csv(&b, st);
    else
        render_table(&b, &w, st);
    status = pp_cli_emit(&b, o.out_path);
    pp_buf_free(&b);
    pp_staleness_free(st);
    pp_scenario_free(sc);
    if (status == PP_EXIT_OK && o.plot_dir) {
        rc = plot_sweep(&o, kind, &d);
        if (rc)
            status = pp_cli_fail(&d, rc);
        else
            fprintf(stderr, "ppsim: wrote %s%sstaleness.png\n", o.plot_dir,
                    o.plot_dir[strlen(o.plot_dir) - 1] == '/' ? "" : "/");
    }
    return status;
}
