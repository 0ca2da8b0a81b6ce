/* cmd_calibrate.c - `ppsim calibrate`: fit a calibration to measured runs and
 * report every run's prediction error before and after. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "calibrate.h"
#include "cli.h"
#include "diag.h"
#include "meas.h"
#include "pp_config.h"
#include "provenance.h"
#include "xalloc.h"

static const char usage[] =
    "Usage: ppsim calibrate --profile PROFILE.yaml --measurements MEASURE.csv\n"
    "                       [--profile P2 --measurements M2 ...] [OPTIONS]\n"
    "       ppsim calibrate generator --layers PROFILE.csv --gpu NAME [OPTIONS]\n"
    "                       (model transformer's efficiency factors from measured\n"
    "                       per-layer times: ppsim calibrate generator --help)\n"
    "Fit the physical effects a per-layer profile misses (per-op host overhead,\n"
    "in-pipeline compute slowdown, per-step work, the optimizer step, p2p alpha-beta,\n"
    "activation and allocator memory) to measured pipeline runs, with GSL least\n"
    "squares, and report every run's error before and after.\n"
    "\n"
    "  --profile FILE         per-layer profile the next --measurements were taken with\n"
    "                         (tools/gpu/profile.py's profile.yaml)\n"
    "  --measurements FILE    measured runs (tools/gpu/measure.py's measure.csv; columns\n"
    "                         in docs/calibrate.md)\n"
    "  --fit-on SCHED,...     fit on these schedules only; the others are held out\n"
    "  --fit-data N,...       fit on these --measurements files only (1 = the first)\n"
    "  --params P,...         parameters to fit (default all): compute_scale,\n"
    "                         profile_overhead, op_forward,\n"
    "                         op_backward, op_backward_input, op_backward_weight,\n"
    "                         step_overhead, optimizer, link_latency, link_bandwidth,\n"
    "                         activation_scale, memory_overhead; or the groups time, memory\n"
    "  --eager-gradients      gradients stay allocated between steps (default: the\n"
    "                         runtime frees them in zero_grad(set_to_none=True))\n"
    "  --link-latency-ms T    p2p latency of the uncalibrated prediction (default 0)\n"
    "  --link-bandwidth B     p2p bytes/s of the uncalibrated prediction (default 0 = inf)\n"
    "      --max-iterations N trust-region iterations per fit (default 200); a fit that\n"
    "                         has not converged by then is an error\n"
    "  -o, --output FILE      write the calibration (YAML, for cluster.calibration)\n"
    "  -f, --format FMT       the report: table (default), csv or json\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 usage, 3 the fit did not converge (nothing\n"
    "written).\n";

enum { MAX_DATA = 64 };

static const char *const param_opts[PP_CP_N] = {
    "compute_scale", "profile_overhead", "op_forward", "op_backward",     "op_backward_input", "op_backward_weight",
    "step_overhead", "optimizer",  "link_latency",    "link_bandwidth",    "activation_scale",
    "memory_overhead",
};

static int parse_params(const char *arg, unsigned *mask)
{
    *mask = 0;
    char *dup = pp_xstrdup(arg), *save = NULL;
    int rc = PP_EXIT_OK;
    for (char *t = strtok_r(dup, ",", &save); t && rc == PP_EXIT_OK; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "time") == 0) {
            *mask |= (1u << PP_CP_N_TIME) - 1;
            continue;
        }
        if (strcmp(t, "memory") == 0) {
            *mask |= ((1u << PP_CP_N) - 1) & ~((1u << PP_CP_N_TIME) - 1);
            continue;
        }
        int q = -1;
        for (int i = 0; i < PP_CP_N; i++)
            if (strcmp(t, param_opts[i]) == 0)
                q = i;
        if (q < 0)
            rc = pp_cli_usage("calibrate", "--params: unknown parameter '%s' (one of %s, %s, ..., "
                                           "time, memory)",
                              t, param_opts[0], param_opts[1]);
        else
            *mask |= 1u << q;
    }
    free(dup);
    if (rc == PP_EXIT_OK && *mask == 0)
        rc = pp_cli_usage("calibrate", "--params: empty list");
    return rc;
}

/* Comma-separated list into a fresh array of strings. */
static size_t split_list(const char *arg, char ***out)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    char *dup = pp_xstrdup(arg), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        v = pp_xgrow(v, &cap, n + 1, sizeof *v);
        v[n++] = pp_xstrdup(t);
    }
    free(dup);
    *out = v;
    return n;
}

static double ape(double pred, double meas)
{
    return fabs(pred - meas) / meas * 100.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and maximum of n values (sorted in place). */
static void med_max(double *v, size_t n, double *med, double *max)
{
    if (n == 0) {
        *med = *max = NAN;
        return;
    }
    qsort(v, n, sizeof *v, cmp_double);
    *med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    *max = v[n - 1];
}

struct summary_row {
    size_t data;
    const char *what; /* "step time" | "peak memory" */
    const char *set;  /* "all" | "fitted" | "held out" */
    int calibrated;
    size_t n;
    double median, max;
};

/* Per data file: step time and memory APE, uncalibrated over all runs and
 * calibrated over the fitted and the held-out runs. */
static size_t summarise(const struct pp_cal_result *r, const struct pp_cal_data *data,
                        size_t n_data, struct summary_row *rows)
{
    size_t n_rows = 0, cap = 1;
    for (size_t i = 0; i < r->n_preds; i++)
        cap += (size_t)data[r->preds[i].data].meas->runs[r->preds[i].run].ranks;
    double *v = pp_xmalloc(cap * sizeof *v);
    for (size_t di = 0; di < n_data; di++)
        for (int mem = 0; mem < 2; mem++)
            for (int set = 0; set < 3; set++) {
                size_t n = 0;
                for (size_t i = 0; i < r->n_preds; i++) {
                    const struct pp_cal_pred *p = &r->preds[i];
                    if (p->data != di || (set == 1 && !p->in_fit) || (set == 2 && p->in_fit))
                        continue;
                    const struct pp_meas_run *m = &data[di].meas->runs[p->run];
                    if (!mem) {
                        v[n++] = ape(set ? p->step_ms_cal : p->step_ms_uncal, m->step_ms_median);
                        continue;
                    }
                    for (int q = 0; q < m->ranks; q++)
                        if (m->peak_memory_bytes[q] > 0)
                            v[n++] = ape(set ? p->mem_cal[q] : p->mem_uncal[q],
                                         m->peak_memory_bytes[q]);
                }
                if (n == 0)
                    continue;
                struct summary_row *s = &rows[n_rows++];
                s->data = di;
                s->what = mem ? "peak memory" : "step time";
                s->set = set == 0 ? "all" : set == 1 ? "fitted" : "held out";
                s->calibrated = set > 0;
                s->n = n;
                med_max(v, n, &s->median, &s->max);
            }
    free(v);
    return n_rows;
}

static void param_text(struct pp_buf *b, const struct pp_cal_result *r, int q)
{
    if (r->fitted[q])
        pp_buf_printf(b, "%-32s %12.6g %12.3g\n", pp_cal_param_names[q], r->value[q], r->sigma[q]);
    else
        pp_buf_printf(b, "%-32s %12.6g %12s  not fitted: %s\n", pp_cal_param_names[q], r->value[q],
                      "-", r->why[q]);
}

static void report_table(struct pp_buf *b, const struct pp_cal_result *r,
                         const struct pp_cal_data *data, size_t n_data,
                         const struct summary_row *rows, size_t n_rows)
{
    pp_buf_printf(b, "ppsim %s: calibration from %zu measured runs (%zu in the fit)\n\n", PP_VERSION,
                  r->n_preds, r->n_fit_runs);
    pp_buf_printf(b, "%-32s %12s %12s\n", "parameter", "value", "1-sigma");
    for (int q = 0; q < PP_CP_N; q++)
        param_text(b, r, q);
    pp_buf_printf(b, "time fit: %d iterations, RMS relative residual %.2f%%; memory fit: %d "
                     "iterations, %.2f%%\n\n",
                  r->iterations[0], r->rms_rel[0] * 100, r->iterations[1], r->rms_rel[1] * 100);
    pp_buf_printf(b, "%-4s %-17s %3s %2s %4s %3s %10s %10s %7s %10s %7s %5s %9s %9s %7s %9s %7s\n",
                  "data", "schedule", "P", "V", "m", "fit", "step_ms", "uncal_ms", "err%", "cal_ms",
                  "err%", "rank", "mem_GB", "uncal_GB", "err%", "cal_GB", "err%");
    for (size_t i = 0; i < r->n_preds; i++) {
        const struct pp_cal_pred *p = &r->preds[i];
        const struct pp_meas_run *m = &data[p->data].meas->runs[p->run];
        for (int q = 0; q < m->ranks; q++) {
            double mm = m->peak_memory_bytes[q];
            pp_buf_printf(b, "%-4zu %-17s %3d %2d %4ld %3s %10.3f %10.3f %+7.2f %10.3f %+7.2f %5d",
                          p->data + 1, m->schedule, m->ranks, m->stages_per_rank, m->microbatches,
                          p->in_fit ? "yes" : "no", m->step_ms_median, p->step_ms_uncal,
                          (p->step_ms_uncal - m->step_ms_median) / m->step_ms_median * 100,
                          p->step_ms_cal,
                          (p->step_ms_cal - m->step_ms_median) / m->step_ms_median * 100, q);
            if (mm > 0)
                pp_buf_printf(b, " %9.3f %9.3f %+7.2f %9.3f %+7.2f\n", mm / 1e9,
                              p->mem_uncal[q] / 1e9, (p->mem_uncal[q] - mm) / mm * 100,
                              p->mem_cal[q] / 1e9, (p->mem_cal[q] - mm) / mm * 100);
            else
                pp_buf_puts(b, " -\n");
        }
    }
    pp_buf_printf(b, "\n%-4s %-12s %-13s %-9s %5s %10s %10s\n", "data", "quantity", "prediction",
                  "runs", "n", "median|%|", "max|%|");
    for (size_t i = 0; i < n_rows; i++)
        pp_buf_printf(b, "%-4zu %-12s %-13s %-9s %5zu %10.2f %10.2f\n", rows[i].data + 1,
                      rows[i].what, rows[i].calibrated ? "calibrated" : "uncalibrated", rows[i].set,
                      rows[i].n, rows[i].median, rows[i].max);
    for (size_t i = 0; i < n_data; i++)
        pp_buf_printf(b, "data %zu: %s with %s\n", i + 1, data[i].meas->file, data[i].profile_path);
}

static void report_csv(struct pp_buf *b, const struct pp_cal_result *r,
                       const struct pp_cal_data *data)
{
    pp_buf_puts(b, "data,schedule,ranks,stages_per_rank,microbatches,in_fit,step_ms_measured,"
                   "step_ms_uncalibrated,step_ms_calibrated,rank,peak_memory_bytes_measured,"
                   "peak_memory_bytes_uncalibrated,peak_memory_bytes_calibrated\n");
    for (size_t i = 0; i < r->n_preds; i++) {
        const struct pp_cal_pred *p = &r->preds[i];
        const struct pp_meas_run *m = &data[p->data].meas->runs[p->run];
        for (int q = 0; q < m->ranks; q++)
            pp_buf_printf(b, "%zu,%s,%d,%d,%ld,%d,%.6f,%.6f,%.6f,%d,%.0f,%.0f,%.0f\n", p->data + 1,
                          m->schedule, m->ranks, m->stages_per_rank, m->microbatches, p->in_fit,
                          m->step_ms_median, p->step_ms_uncal, p->step_ms_cal, q,
                          m->peak_memory_bytes[q], p->mem_uncal[q], p->mem_cal[q]);
    }
}

static void report_json(struct pp_buf *b, const struct pp_cal_result *r,
                        const struct pp_cal_data *data, const struct summary_row *rows,
                        size_t n_rows, const struct pp_provenance *prov)
{
    pp_buf_puts(b, "{");
    pp_provenance_json(b, prov);
    pp_buf_puts(b, ",\n\"parameters\": {");
    for (int q = 0; q < PP_CP_N; q++) {
        pp_buf_printf(b, "%s\n  ", q ? "," : "");
        pp_buf_json_str(b, pp_cal_param_names[q]);
        pp_buf_puts(b, ": {\"value\": ");
        pp_buf_double(b, r->value[q]);
        pp_buf_printf(b, ", \"fitted\": %s, \"sigma\": ", r->fitted[q] ? "true" : "false");
        pp_buf_double(b, r->sigma[q]);
        pp_buf_puts(b, ", \"why_not\": ");
        pp_buf_json_str(b, r->why[q]);
        pp_buf_puts(b, "}");
    }
    pp_buf_printf(b, "},\n\"fit\": {\"runs\": %zu, \"time_iterations\": %d, \"memory_iterations\": %d, "
                     "\"time_rms_relative\": ",
                  r->n_fit_runs, r->iterations[0], r->iterations[1]);
    pp_buf_double(b, r->rms_rel[0]);
    pp_buf_puts(b, ", \"memory_rms_relative\": ");
    pp_buf_double(b, r->rms_rel[1]);
    pp_buf_puts(b, "},\n\"summary\": [");
    for (size_t i = 0; i < n_rows; i++) {
        pp_buf_printf(b, "%s\n  {\"data\": %zu, \"quantity\": \"%s\", \"calibrated\": %s, "
                         "\"runs\": \"%s\", \"n\": %zu, \"median_ape_pct\": ",
                      i ? "," : "", rows[i].data + 1, rows[i].what,
                      rows[i].calibrated ? "true" : "false", rows[i].set, rows[i].n);
        pp_buf_double(b, rows[i].median);
        pp_buf_puts(b, ", \"max_ape_pct\": ");
        pp_buf_double(b, rows[i].max);
        pp_buf_puts(b, "}");
    }
    pp_buf_puts(b, "],\n\"runs\": [");
    for (size_t i = 0; i < r->n_preds; i++) {
        const struct pp_cal_pred *p = &r->preds[i];
        const struct pp_meas_run *m = &data[p->data].meas->runs[p->run];
        pp_buf_printf(b, "%s\n  {\"data\": %zu, \"schedule\": \"%s\", \"ranks\": %d, "
                         "\"stages_per_rank\": %d, \"microbatches\": %ld, \"in_fit\": %s, "
                         "\"step_ms\": {\"measured\": ",
                      i ? "," : "", p->data + 1, m->schedule, m->ranks, m->stages_per_rank,
                      m->microbatches, p->in_fit ? "true" : "false");
        pp_buf_double(b, m->step_ms_median);
        pp_buf_puts(b, ", \"uncalibrated\": ");
        pp_buf_double(b, p->step_ms_uncal);
        pp_buf_puts(b, ", \"calibrated\": ");
        pp_buf_double(b, p->step_ms_cal);
        pp_buf_puts(b, "}, \"peak_memory_bytes\": [");
        for (int q = 0; q < m->ranks; q++)
            pp_buf_printf(b, "%s{\"measured\": %.0f, \"uncalibrated\": %.0f, \"calibrated\": %.0f}",
                          q ? ", " : "", m->peak_memory_bytes[q], p->mem_uncal[q], p->mem_cal[q]);
        pp_buf_puts(b, "]}");
    }
    pp_buf_puts(b, "]}\n");
}

/* The calibration file's provenance and residuals ("fit:" block). */
static void fit_yaml(struct pp_buf *b, const struct pp_cal_result *r,
                     const struct pp_cal_data *data, size_t n_data,
                     const struct summary_row *rows, size_t n_rows)
{
    pp_buf_printf(b, "fit:\n  ppsim: \"%s\"\n  runs: %zu\n  fitted_runs: %zu\n  data:\n", PP_VERSION,
                  r->n_preds, r->n_fit_runs);
    for (size_t i = 0; i < n_data; i++) {
        pp_buf_printf(b, "    - {measurements: ");
        pp_buf_json_str(b, data[i].meas->file);
        pp_buf_printf(b, ", profile: ");
        pp_buf_json_str(b, data[i].profile_path);
        pp_buf_puts(b, "}\n");
    }
    pp_buf_puts(b, "  parameters:\n");
    for (int q = 0; q < PP_CP_N; q++) {
        pp_buf_printf(b, "    %s: {value: %.6g, ", pp_cal_param_names[q], r->value[q]);
        if (r->fitted[q])
            pp_buf_printf(b, "sigma: %.3g}\n", r->sigma[q]);
        else {
            pp_buf_puts(b, "not_fitted: ");
            pp_buf_json_str(b, r->why[q]);
            pp_buf_puts(b, "}\n");
        }
    }
    pp_buf_puts(b, "  error_pct:\n");
    for (size_t i = 0; i < n_rows; i++)
        pp_buf_printf(b, "    - {data: %zu, quantity: %s, prediction: %s, runs: %s, n: %zu, "
                         "median: %.3f, max: %.3f}\n",
                      rows[i].data + 1, rows[i].what,
                      rows[i].calibrated ? "calibrated" : "uncalibrated", rows[i].set, rows[i].n,
                      rows[i].median, rows[i].max);
}

int pp_cmd_calibrate(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "generator") == 0)
        return pp_cmd_calibrate_generator(argc - 1, argv + 1);
    static const struct option opts[] = {
        {"profile", required_argument, NULL, 'P'},      {"measurements", required_argument, NULL, 'M'},
        {"fit-on", required_argument, NULL, 'S'},       {"fit-data", required_argument, NULL, 'D'},
        {"params", required_argument, NULL, 'p'},       {"eager-gradients", no_argument, NULL, 'e'},
        {"link-latency-ms", required_argument, NULL, 'l'}, {"link-bandwidth", required_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},       {"format", required_argument, NULL, 'f'},
        {"max-iterations", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0}};
    struct pp_cal_opts o;
    pp_cal_opts_init(&o);
    const char *profiles[MAX_DATA], *measures[MAX_DATA], *profile = NULL, *out_path = NULL,
               *format = "table";
    size_t n_data = 0;
    char **scheds = NULL;
    size_t n_scheds = 0;
    int fit_data[MAX_DATA];
    size_t n_fit_data = 0;
    double lat_ms = 0, bw = 0;
    int status = PP_EXIT_OK, c;
    optind = 1;
    opterr = 0;
    while (status == PP_EXIT_OK && (c = getopt_long(argc, argv, ":o:f:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'P': profile = optarg; break;
        case 'M':
            if (!profile)
                status = pp_cli_usage("calibrate", "--measurements '%s' needs a --profile before it",
                                      optarg);
            else if (n_data == MAX_DATA)
                status = pp_cli_usage("calibrate", "at most %d --measurements files", MAX_DATA);
            else {
                profiles[n_data] = profile;
                measures[n_data++] = optarg;
            }
            break;
        case 'S':
            for (size_t i = 0; i < n_scheds; i++)
                free(scheds[i]);
            free(scheds);
            n_scheds = split_list(optarg, &scheds);
            break;
        case 'D': {
            char **v;
            size_t n = split_list(optarg, &v);
            n_fit_data = 0;
            for (size_t i = 0; i < n; i++) {
                long k = strtol(v[i], &end, 10);
                if (status == PP_EXIT_OK && (*end || k < 1 || k > MAX_DATA))
                    status = pp_cli_usage("calibrate", "--fit-data: '%s' is not a file number", v[i]);
                else if (n_fit_data < MAX_DATA)
                    fit_data[n_fit_data++] = (int)k - 1;
                free(v[i]);
            }
            free(v);
            break;
        }
        case 'p': status = parse_params(optarg, &o.fit_mask); break;
        case 'e': o.lazy_gradients = 0; break;
        case 'l':
            lat_ms = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(lat_ms) || lat_ms < 0)
                status = pp_cli_usage("calibrate", "--link-latency-ms: '%s' is not a time >= 0", optarg);
            break;
        case 'b':
            bw = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(bw) || bw < 0)
                status = pp_cli_usage("calibrate", "--link-bandwidth: '%s' is not a rate >= 0", optarg);
            break;
        case 'i': {
            long k = strtol(optarg, &end, 10);
            if (end == optarg || *end || k < 1 || k > 100000)
                status = pp_cli_usage("calibrate", "--max-iterations: '%s' is not a count in "
                                                   "1..100000", optarg);
            o.max_iterations = (int)k;
            break;
        }
        case 'o': out_path = optarg; break;
        case 'f': format = optarg; break;
        case 'h': fputs(usage, stdout); return PP_EXIT_OK;
        case ':': status = pp_cli_usage("calibrate", "option '%s' needs a value", argv[optind - 1]); break;
        default: status = pp_cli_usage("calibrate", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (status == PP_EXIT_OK && optind < argc)
        status = pp_cli_usage("calibrate", "unexpected argument '%s'", argv[optind]);
    if (status == PP_EXIT_OK && n_data == 0)
        status = pp_cli_usage("calibrate", "give --profile FILE --measurements FILE");
    if (status == PP_EXIT_OK && strcmp(format, "table") && strcmp(format, "csv") &&
        strcmp(format, "json"))
        status = pp_cli_usage("calibrate", "--format: '%s' is not table, csv or json", format);
    for (size_t i = 0; status == PP_EXIT_OK && i < n_fit_data; i++)
        if ((size_t)fit_data[i] >= n_data)
            status = pp_cli_usage("calibrate", "--fit-data %d: only %zu --measurements files",
                                  fit_data[i] + 1, n_data);

    struct pp_meas *meas[MAX_DATA] = {0};
    struct pp_cal_data data[MAX_DATA];
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_cal_result *res = NULL;
    int rc = 0;
    for (size_t i = 0; status == PP_EXIT_OK && rc == 0 && i < n_data; i++) {
        rc = pp_meas_load(measures[i], &meas[i], &d);
        data[i].profile_path = profiles[i];
        data[i].meas = meas[i];
        data[i].link_latency_ms = lat_ms;
        data[i].link_bandwidth_bytes_per_s = bw;
    }
    o.fit_schedules = (const char *const *)scheds;
    o.n_fit_schedules = n_scheds;
    o.fit_data = fit_data;
    o.n_fit_data = n_fit_data;
    if (status == PP_EXIT_OK && rc == 0)
        rc = pp_calibrate(data, n_data, &o, &res, &d);
    if (status == PP_EXIT_OK && rc)
        status = pp_cli_fail(&d, rc);
    if (status == PP_EXIT_OK) {
        struct summary_row rows[MAX_DATA * 6];
        size_t n_rows = summarise(res, data, n_data, rows);
        const char *files[2 * MAX_DATA + 1];
        for (size_t i = 0; i < n_data; i++) {
            files[2 * i] = profiles[i];
            files[2 * i + 1] = measures[i];
        }
        files[2 * n_data] = NULL;
        struct pp_provenance prov = {"calibrate", NULL, files, 0, 0};
        struct pp_buf b, cal;
        pp_buf_init(&b);
        pp_buf_init(&cal);
        if (strcmp(format, "csv") == 0)
            report_csv(&b, res, data);
        else if (strcmp(format, "json") == 0)
            report_json(&b, res, data, rows, n_rows, &prov);
        else
            report_table(&b, res, data, n_data, rows, n_rows);
        if (out_path) {
            struct pp_buf fit;
            pp_buf_init(&fit);
            fit_yaml(&fit, res, data, n_data, rows, n_rows);
            pp_calib_write_yaml(&res->calib, fit.data, &cal);
            pp_buf_free(&fit);
            if (pp_write_file_atomic(out_path, cal.data, cal.len, &d))
                status = pp_cli_fail(&d, -PP_EIO);
        }
        if (status == PP_EXIT_OK)
            status = pp_cli_emit(&b, NULL);
        pp_buf_free(&b);
        pp_buf_free(&cal);
    }
    pp_cal_result_free(res);
    for (size_t i = 0; i < n_data; i++)
        pp_meas_free(meas[i]);
    for (size_t i = 0; i < n_scheds; i++)
        free(scheds[i]);
    free(scheds);
    return status;
}
