/* cmd_calibrate_gen.c - `ppsim calibrate generator`: fit the transformer
 * generator's efficiency factors to measured per-layer times (genfit.h), report
 * every layer's error before and after, and write a calibrated GPU catalogue
 * entry for `ppsim model transformer --gpu-catalogue`. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "genfit.h"
#include "gpucat.h"
#include "pp_config.h"
#include "provenance.h"
#include "xalloc.h"

#define CMD "calibrate generator"

static const char usage[] =
    "Usage: ppsim calibrate generator --layers PROFILE.csv [--layers MORE.csv ...]\n"
    "                                 --gpu NAME [OPTIONS]\n"
    "Fit the efficiency factors of `ppsim model transformer` (gemm, memory, attention,\n"
    "op_overhead_us) to measured per-layer times with GSL least squares on relative\n"
    "errors, report each layer's error before and after, and write the GPU's\n"
    "calibrated catalogue entry.\n"
    "\n"
    "  --layers FILE          measured layers to fit (tools/gpu/profile.py's profile.csv;\n"
    "                         columns in tools/gpu/README.md)\n"
    "  --holdout FILE         measured layers only predicted, not fitted\n"
    "  --gpu NAME             the GPU measured (ppsim model gpus)\n"
    "  --gpu-catalogue FILE   extra GPUs, as for ppsim model transformer\n"
    "  --split-method M       pipelining (default) or autograd: whose backward_input/weight\n"
    "                         times to use; a layer without it falls back to the other\n"
    "  --params P,...         factors to fit (default all): gemm, memory, op_overhead_us,\n"
    "                         attention\n"
    "  --max-iterations N     trust-region iterations per solve (default 200); a fit that\n"
    "                         has not converged by then is an error\n"
    "  --name NAME            the calibrated entry's name (default NAME-calibrated)\n"
    "  -o, --output FILE      write the calibrated entry as a GPU catalogue (atomically);\n"
    "                         use it with ppsim model transformer --gpu-catalogue FILE\n"
    "  -f, --format FMT       the report: table (default) or json\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input or unknown GPU, 2 usage, 3 the fit did not converge\n"
    "(nothing written).\n";

enum { MAX_FILES = 64 };

static int parse_params(const char *arg, unsigned *mask)
{
    *mask = 0;
    char *dup = pp_xstrdup(arg), *save = NULL;
    int rc = PP_EXIT_OK;
    for (char *t = strtok_r(dup, ",", &save); t && rc == PP_EXIT_OK;
         t = strtok_r(NULL, ",", &save)) {
        int q = -1;
        for (int i = 0; i < PP_GF_N; i++)
            if (strcmp(t, pp_gf_param_names[i]) == 0)
                q = i;
        if (q < 0)
            rc = pp_cli_usage(CMD, "--params: unknown factor '%s' (gemm, memory, op_overhead_us, "
                                   "attention)",
                              t);
        else
            *mask |= 1u << q;
    }
    free(dup);
    if (rc == PP_EXIT_OK && *mask == 0)
        rc = pp_cli_usage(CMD, "--params: empty list");
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double err_pct(double pred, double meas)
{
    return (pred - meas) / meas * 100;
}

/* Median and max |error| of one file's rows of one kind (-1 = all kinds). */
struct summary {
    const char *file;
    int kind;
    int in_fit;
    size_t n;
    double med[2], max[2]; /* uncalibrated, calibrated */
};

/* One summary per run of rows from the same file and fit set (the files are
 * read one after the other), per layer kind and for all kinds. */
static size_t summarise(const struct pp_gf_data *g, const struct pp_gf_result *r,
                        struct summary **out)
{
    size_t cap = 0, n = 0;
    struct summary *s = NULL;
    double *v[2] = {pp_xmalloc((g->n * PP_GF_NOBS + 1) * sizeof(double)),
                    pp_xmalloc((g->n * PP_GF_NOBS + 1) * sizeof(double))};
    for (size_t i = 0, end; i < g->n; i = end) {
        for (end = i + 1; end < g->n && g->rows[end].in_fit == g->rows[i].in_fit &&
                          strcmp(g->rows[end].file, g->rows[i].file) == 0;
             end++)
            ;
        for (int kind = -1; kind < 3; kind++) {
            size_t m = 0;
            for (size_t j = i; j < end; j++) {
                const struct pp_gf_row *w = &g->rows[j];
                if (kind >= 0 && (int)w->kind != kind)
                    continue;
                for (int o = 0; o < PP_GF_NOBS; o++)
                    if (pp_gf_obs_used(w, o)) {
                        v[0][m] = fabs(err_pct(r->uncal[j][o], w->meas_ms[o]));
                        v[1][m++] = fabs(err_pct(r->cal[j][o], w->meas_ms[o]));
                    }
            }
            if (m == 0)
                continue;
            s = pp_xgrow(s, &cap, n + 1, sizeof *s);
            struct summary *x = &s[n++];
            x->file = g->rows[i].file;
            x->kind = kind;
            x->in_fit = g->rows[i].in_fit;
            x->n = m;
            for (int c = 0; c < 2; c++) {
                x->med[c] = median(v[c], m);
                x->max[c] = v[c][m - 1];
            }
        }
    }
    free(v[0]);
    free(v[1]);
    *out = s;
    return n;
}

static const char *status_name(enum pp_gf_status s)
{
    return s == PP_GF_FITTED ? "fitted" : s == PP_GF_PINNED ? "pinned" : "not fitted";
}

static double catalogue_value(const struct pp_gf_result *r, int q)
{
    switch (q) {
    case PP_GF_GEMM: return r->eff0.gemm;
    case PP_GF_MEMORY: return r->eff0.memory;
    case PP_GF_ATTENTION: return r->eff0.attention;
    default: return r->eff0.op_overhead_us;
    }
}

static void report_table(struct pp_buf *b, const struct pp_gpu *gpu, const struct pp_gf_data *g,
                         const struct pp_gf_result *r, const struct summary *s, size_t n_s,
                         const char *method)
{
    size_t n_fit = 0;
    for (size_t i = 0; i < g->n; i++)
        n_fit += (size_t)g->rows[i].in_fit;
    pp_buf_printf(b, "ppsim %s: generator calibration of %s (%s) from %zu measured layers (%zu in "
                     "the fit, %zu times), split method %s\n\n",
                  PP_VERSION, gpu->name, gpu->file, g->n, n_fit, r->n_res, method);
    pp_buf_printf(b, "%-16s %10s %12s %10s  %s\n", "factor", "catalogue", "calibrated", "1-sigma",
                  "status");
    for (int q = 0; q < PP_GF_N; q++) {
        pp_buf_printf(b, "%-16s %10.4g %12.6g ", pp_gf_param_names[q], catalogue_value(r, q),
                      r->value[q]);
        if (r->status[q] == PP_GF_FITTED)
            pp_buf_printf(b, "%10.3g  fitted\n", r->sigma[q]);
        else
            pp_buf_printf(b, "%10s  %s: %s\n", "-", status_name(r->status[q]), r->why[q]);
    }
    pp_buf_puts(b, "collective, network, collective_latency_us: not fitted (no collective or "
                   "network transfer in one-GPU layer timings)\n");
    pp_buf_printf(b, "fit: %d solves, %d iterations in the last; RMS relative residual %.2f%%\n\n",
                  r->solves, r->iterations, r->rms_rel * 100);
    pp_buf_printf(b, "%-5s %-8s %-5s %4s %-11s %-4s %-15s %10s %10s %8s %10s %8s\n", "line",
                  "layer", "kind", "rank", "split", "fit", "time", "measured", "uncal_ms", "err%",
                  "cal_ms", "err%");
    const char *file = NULL;
    int fallback = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct pp_gf_row *w = &g->rows[i];
        if (!file || strcmp(file, w->file)) {
            file = w->file;
            pp_buf_printf(b, "%s:\n", file);
        }
        char split[16];
        snprintf(split, sizeof split, "%s%s", pp_gf_method_names[w->method],
                 w->fallback ? "*" : "");
        fallback |= w->fallback;
        for (int o = 0; o < PP_GF_NOBS; o++) {
            if (!pp_gf_obs_used(w, o))
                continue;
            pp_buf_printf(b, "%-5u %-8s %-5s %4ld %-11s %-4s %-15s %10.4f %10.4f %+8.2f %10.4f "
                             "%+8.2f\n",
                          w->line, w->layer, pp_gf_kind_names[w->kind], w->rank, split,
                          w->in_fit ? "yes" : "no",
                          pp_gf_obs_names[o], w->meas_ms[o], r->uncal[i][o],
                          err_pct(r->uncal[i][o], w->meas_ms[o]), r->cal[i][o],
                          err_pct(r->cal[i][o], w->meas_ms[o]));
        }
    }
    if (fallback)
        pp_buf_printf(b, "* no %s row for this layer: the other split is used\n", method);
    pp_buf_printf(b, "\n%-6s %-9s %5s %12s %10s %12s %10s  %s\n", "kind", "set", "n",
                  "uncal med|%|", "max|%|", "cal med|%|", "max|%|", "file");
    for (size_t i = 0; i < n_s; i++)
        pp_buf_printf(b, "%-6s %-9s %5zu %12.2f %10.2f %12.2f %10.2f  %s\n",
                      s[i].kind < 0 ? "all" : pp_gf_kind_names[s[i].kind],
                      s[i].in_fit ? "fitted" : "held out", s[i].n, s[i].med[0], s[i].max[0],
                      s[i].med[1], s[i].max[1], s[i].file);
}

static void json_num(struct pp_buf *b, double x)
{
    if (isfinite(x))
        pp_buf_double(b, x);
    else
        pp_buf_puts(b, "null");
}

static void report_json(struct pp_buf *b, const struct pp_gpu *gpu, const struct pp_gf_data *g,
                        const struct pp_gf_result *r, const struct summary *s, size_t n_s,
                        const char *method, const struct pp_provenance *prov)
{
    pp_buf_puts(b, "{");
    pp_provenance_json(b, prov);
    pp_buf_puts(b, ",\n\"gpu\": ");
    pp_buf_json_str(b, gpu->name);
    pp_buf_puts(b, ", \"catalogue\": ");
    pp_buf_json_str(b, gpu->file);
    pp_buf_puts(b, ", \"split_method\": ");
    pp_buf_json_str(b, method);
    pp_buf_puts(b, ",\n\"parameters\": {");
    for (int q = 0; q < PP_GF_N; q++) {
        pp_buf_printf(b, "%s\n  ", q ? "," : "");
        pp_buf_json_str(b, pp_gf_param_names[q]);
        pp_buf_puts(b, ": {\"catalogue\": ");
        json_num(b, catalogue_value(r, q));
        pp_buf_puts(b, ", \"value\": ");
        json_num(b, r->value[q]);
        pp_buf_puts(b, ", \"sigma\": ");
        json_num(b, r->sigma[q]);
        pp_buf_printf(b, ", \"status\": \"%s\", \"why\": ", status_name(r->status[q]));
        pp_buf_json_str(b, r->why[q]);
        pp_buf_puts(b, "}");
    }
    pp_buf_printf(b, "},\n\"fit\": {\"times\": %zu, \"solves\": %d, \"iterations\": %d, "
                     "\"rms_relative\": ",
                  r->n_res, r->solves, r->iterations);
    json_num(b, r->rms_rel);
    pp_buf_puts(b, "},\n\"summary\": [");
    for (size_t i = 0; i < n_s; i++) {
        pp_buf_printf(b, "%s\n  {\"file\": ", i ? "," : "");
        pp_buf_json_str(b, s[i].file);
        pp_buf_printf(b, ", \"kind\": \"%s\", \"in_fit\": %s, \"n\": %zu, ",
                      s[i].kind < 0 ? "all" : pp_gf_kind_names[s[i].kind],
                      s[i].in_fit ? "true" : "false", s[i].n);
        pp_buf_puts(b, "\"uncalibrated\": {\"median_ape_pct\": ");
        json_num(b, s[i].med[0]);
        pp_buf_puts(b, ", \"max_ape_pct\": ");
        json_num(b, s[i].max[0]);
        pp_buf_puts(b, "}, \"calibrated\": {\"median_ape_pct\": ");
        json_num(b, s[i].med[1]);
        pp_buf_puts(b, ", \"max_ape_pct\": ");
        json_num(b, s[i].max[1]);
        pp_buf_puts(b, "}}");
    }
    pp_buf_puts(b, "],\n\"layers\": [");
    for (size_t i = 0; i < g->n; i++) {
        const struct pp_gf_row *w = &g->rows[i];
        const struct pp_xf_shape *sh = &w->shape;
        pp_buf_printf(b, "%s\n  {\"file\": ", i ? "," : "");
        pp_buf_json_str(b, w->file);
        pp_buf_printf(b, ", \"line\": %u, \"layer\": ", w->line);
        pp_buf_json_str(b, w->layer);
        pp_buf_printf(b, ", \"kind\": \"%s\", \"rank\": %ld, \"gpu_name\": ",
                      pp_gf_kind_names[w->kind], w->rank);
        pp_buf_json_str(b, w->gpu_name);
        pp_buf_printf(b, ", \"split_method\": \"%s\", \"fallback\": %s, \"in_fit\": %s, "
                         "\"shape\": {\"hidden\": %lld, \"heads\": %lld, \"ffn\": %lld, "
                         "\"seq\": %lld, \"microbatch_size\": %lld, \"vocab\": %lld, "
                         "\"dtype\": \"%s\"}, \"times\": {",
                      pp_gf_method_names[w->method], w->fallback ? "true" : "false",
                      w->in_fit ? "true" : "false", (long long)sh->hidden, (long long)sh->heads,
                      (long long)sh->ffn, (long long)sh->seq, (long long)sh->microbatch,
                      (long long)sh->vocab,
                      sh->dtype == PP_XF_BF16 ? "bf16" : sh->dtype == PP_XF_FP16 ? "fp16" : "fp8");
        int first = 1;
        for (int o = 0; o < PP_GF_NOBS; o++) {
            if (!pp_gf_obs_used(w, o))
                continue;
            pp_buf_printf(b, "%s\"%s\": {\"measured_ms\": ", first ? "" : ", ",
                          pp_gf_obs_names[o]);
            json_num(b, w->meas_ms[o]);
            pp_buf_puts(b, ", \"uncalibrated_ms\": ");
            json_num(b, r->uncal[i][o]);
            pp_buf_puts(b, ", \"calibrated_ms\": ");
            json_num(b, r->cal[i][o]);
            pp_buf_puts(b, "}");
            first = 0;
        }
        pp_buf_puts(b, "}}");
    }
    pp_buf_puts(b, "]}\n");
}

/* The # header of the written catalogue: what made it and how to use it. */
static void catalogue_header(struct pp_buf *h, int argc, char **argv, const struct pp_gpu *gpu,
                             const char *name, const struct pp_gf_result *r,
                             const struct summary *s, size_t n_s, const char *method)
{
    pp_buf_printf(h, "GPU catalogue entry written by ppsim %s calibrate generator "
                     "(docs/costmodel.md, Generator calibration).\n",
                  PP_VERSION);
    /* The command as typed, minus the output file, so the header does not
     * depend on where the catalogue was written. */
    pp_buf_puts(h, "command: ppsim calibrate");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--output=", 9) == 0 || strncmp(argv[i], "-o", 2) == 0)
            continue;
        pp_buf_printf(h, " %s", argv[i]);
    }
    pp_buf_printf(h, "\nbase entry: %s of %s; split method %s; %zu measured times, RMS relative "
                     "residual %.2f%%\n",
                  gpu->name, gpu->file, method, r->n_res, r->rms_rel * 100);
    for (size_t i = 0; i < n_s; i++)
        if (s[i].kind >= 0)
            pp_buf_printf(h, "%s %-5s median |error| %.2f%% -> %.2f%%, max %.2f%% -> %.2f%% (%s)\n",
                          s[i].in_fit ? "fitted  " : "held out", pp_gf_kind_names[s[i].kind],
                          s[i].med[0], s[i].med[1], s[i].max[0], s[i].max[1], s[i].file);
    pp_buf_printf(h, "use: ppsim model transformer --gpu-catalogue THIS_FILE --gpu %s "
                     "--flash-attention on --fp32-grads off ...\n"
                     "(the measured model: flash attention, 16-bit gradients; "
                     "tools/gpu/blocks.py)",
                  name);
}

int pp_cmd_calibrate_generator(int argc, char **argv)
{
    enum { O_LAYERS = 256, O_HOLD, O_GPU, O_CAT, O_SPLIT, O_PARAMS, O_ITER, O_NAME };
    static const struct option opts[] = {
        {"layers", required_argument, NULL, O_LAYERS},
        {"holdout", required_argument, NULL, O_HOLD},
        {"gpu", required_argument, NULL, O_GPU},
        {"gpu-catalogue", required_argument, NULL, O_CAT},
        {"split-method", required_argument, NULL, O_SPLIT},
        {"params", required_argument, NULL, O_PARAMS},
        {"max-iterations", required_argument, NULL, O_ITER},
        {"name", required_argument, NULL, O_NAME},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *fit_files[MAX_FILES + 1], *hold_files[MAX_FILES];
    size_t n_fit = 0, n_hold = 0;
    const char *gpu_name = NULL, *cat_file = NULL, *name = NULL, *out_path = NULL,
               *format = "table";
    enum pp_gf_method method = PP_GF_PIPELINING;
    struct pp_gf_opts o;
    pp_gf_opts_init(&o);
    int status = PP_EXIT_OK, c;
    optind = 0;
    opterr = 0;
    while (status == PP_EXIT_OK && (c = getopt_long(argc, argv, ":o:f:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case O_LAYERS:
        case O_HOLD:
            if ((c == O_LAYERS ? n_fit : n_hold) == MAX_FILES)
                status = pp_cli_usage(CMD, "at most %d %s files", MAX_FILES,
                                      c == O_LAYERS ? "--layers" : "--holdout");
            else if (c == O_LAYERS)
                fit_files[n_fit++] = optarg;
            else
                hold_files[n_hold++] = optarg;
            break;
        case O_GPU: gpu_name = optarg; break;
        case O_CAT: cat_file = optarg; break;
        case O_NAME: name = optarg; break;
        case O_SPLIT:
            if (strcmp(optarg, "pipelining") == 0)
                method = PP_GF_PIPELINING;
            else if (strcmp(optarg, "autograd") == 0)
                method = PP_GF_AUTOGRAD;
            else
                status = pp_cli_usage(CMD, "--split-method: '%s' is not pipelining or autograd",
                                      optarg);
            break;
        case O_PARAMS: status = parse_params(optarg, &o.fit_mask); break;
        case O_ITER: {
            long k = strtol(optarg, &end, 10);
            if (end == optarg || *end || k < 1 || k > 100000)
                status = pp_cli_usage(CMD, "--max-iterations: '%s' is not a count in 1..100000",
                                      optarg);
            o.max_iterations = (int)k;
            break;
        }
        case 'o': out_path = optarg; break;
        case 'f': format = optarg; break;
        case 'h': fputs(usage, stdout); return PP_EXIT_OK;
        case ':': status = pp_cli_usage(CMD, "option '%s' needs a value", argv[optind - 1]); break;
        default: status = pp_cli_usage(CMD, "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (status == PP_EXIT_OK && optind < argc)
        status = pp_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (status == PP_EXIT_OK && n_fit == 0)
        status = pp_cli_usage(CMD, "give the measured layers: --layers PROFILE.csv");
    if (status == PP_EXIT_OK && !gpu_name)
        status = pp_cli_usage(CMD, "give the GPU they were measured on: --gpu NAME");
    if (status == PP_EXIT_OK && strcmp(format, "table") && strcmp(format, "json"))
        status = pp_cli_usage(CMD, "--format: '%s' is not table or json", format);
    if (status != PP_EXIT_OK)
        return status;

    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_gpucat *cat = NULL;
    const struct pp_gpu *gpu = NULL;
    struct pp_gf_data g = {NULL, 0};
    struct pp_gf_result *res = NULL;
    int rc = pp_gpucat_load(cat_file, &cat, &d);
    if (rc == 0)
        rc = pp_gpucat_find(cat, gpu_name, &gpu, &d);
    for (size_t i = 0; rc == 0 && i < n_fit; i++)
        rc = pp_gf_load(fit_files[i], method, 1, &g, &d);
    for (size_t i = 0; rc == 0 && i < n_hold; i++)
        rc = pp_gf_load(hold_files[i], method, 0, &g, &d);
    if (rc == 0)
        rc = pp_gf_fit(&g, gpu, &o, &res, &d);
    if (rc)
        status = pp_cli_fail(&d, rc);
    if (status == PP_EXIT_OK) {
        struct summary *s = NULL;
        size_t n_s = summarise(&g, res, &s);
        const char *mname = pp_gf_method_names[method];
        const char *files[2 * MAX_FILES + 2];
        size_t nf = 0;
        for (size_t i = 0; i < n_fit; i++)
            files[nf++] = fit_files[i];
        for (size_t i = 0; i < n_hold; i++)
            files[nf++] = hold_files[i];
        if (cat_file)
            files[nf++] = cat_file;
        files[nf] = NULL;
        struct pp_provenance prov = {"calibrate generator", NULL, files, 0, 0};
        struct pp_buf b;
        pp_buf_init(&b);
        if (strcmp(format, "json") == 0)
            report_json(&b, gpu, &g, res, s, n_s, mname, &prov);
        else
            report_table(&b, gpu, &g, res, s, n_s, mname);
        if (out_path) {
            struct pp_buf entry, head, nm;
            pp_buf_init(&entry);
            pp_buf_init(&head);
            pp_buf_init(&nm);
            if (name)
                pp_buf_puts(&nm, name);
            else
                pp_buf_printf(&nm, "%s-calibrated", gpu->name);
            catalogue_header(&head, argc, argv, gpu, nm.data, res, s, n_s, mname);
            fit_files[n_fit] = NULL;
            pp_gf_write_catalogue(&entry, gpu, nm.data, res, fit_files, head.data);
            /* Read back what `model transformer --gpu-catalogue` will read. */
            struct pp_gpucat *back = NULL;
            if ((rc = pp_gpucat_parse(entry.data, entry.len, out_path, &back, &d)))
                status = pp_cli_fail(&d, rc);
            else if (pp_write_file_atomic(out_path, entry.data, entry.len, &d))
                status = pp_cli_fail(&d, -PP_EIO);
            pp_gpucat_free(back);
            pp_buf_free(&entry);
            pp_buf_free(&head);
            pp_buf_free(&nm);
        }
        if (status == PP_EXIT_OK)
            status = pp_cli_emit(&b, NULL);
        pp_buf_free(&b);
        free(s);
    }
    pp_gf_result_free(res);
    pp_gf_data_free(&g);
    pp_gpucat_free(cat);
    return status;
}
