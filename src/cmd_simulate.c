/* cmd_simulate.c - `ppsim simulate SCENARIO.yaml`: one training iteration. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "limits.h"
#include "plot.h"
#include "report.h"
#include "run.h"
#include "scenario.h"
#include "trace.h"
#include "xalloc.h"

static const char usage[] =
    "Usage: ppsim simulate SCENARIO.yaml [OPTIONS]\n"
    "Predict one training iteration of the scenario's pipeline.\n"
    "\n"
    "  --set KEY.PATH=VALUE   override a scenario key (repeatable), e.g.\n"
    "                         --set pipeline.microbatches=16; same validation as the file\n"
    "  -f, --format FMT       table (default), csv or json\n"
    "  -o, --output FILE      write the report to FILE (atomically) instead of stdout\n"
    "      --plot DIR         also write DIR/gantt.png and DIR/memory-timeline.png\n"
    "                         (+ .dat, .gp beside them) via gnuplot\n"
    "      --trace FILE.json  also write a Chrome trace (Perfetto, chrome://tracing)\n"
    "      --trace-iterations A:B  keep iterations A..B-1 in the trace (an iteration is\n"
    "                         one optimizer step: the whole plan of a flushing schedule\n"
    "                         is iteration 0, without a flush one microbatch)\n"
    "      --max-memory B     host memory the replay may take (8e9, 8G, 512Mi; default\n"
    "                         half the machine): larger runs stop before allocating\n"
    "  -h, --help             show this help\n"
    "\n"
    "SCENARIO may be - for standard input. Exit status: 0 ok, 1 bad input, 2 usage,\n"
    "3 the configuration does not fit in device memory (the report is still printed)\n"
    "or the run would exceed --max-memory or a size limit (e.g. 10^12 microbatches),\n"
    "130 interrupted.\n";

/* --trace FILE and --trace-iterations A:B, checked before anything runs. */
static int check_trace_args(const char *path, const char *iters, const char *out_path,
                            struct pp_trace_opts *o)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    if (iters && !path)
        return pp_cli_usage("simulate", "--trace-iterations needs --trace FILE.json");
    if (iters && pp_trace_parse_iterations(iters, o, &d) != 0)
        return pp_cli_usage("simulate", "%s", d.msg);
    if (path && strcmp(path, "-") == 0 && (!out_path || strcmp(out_path, "-") == 0))
        return pp_cli_usage("simulate", "--trace -: the report already goes to standard output "
                                        "(send it elsewhere with -o FILE)");
    return PP_EXIT_OK;
}

/* The whole trace is built in memory and written in one atomic step. */
static int write_trace(const struct pp_run *run, const char *path, const struct pp_trace_opts *o)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_buf b;
    struct pp_trace t;
    pp_buf_init(&b);
    pp_trace_begin(&t, &b);
    int rc = pp_trace_add_run(&t, run, 0, NULL, o, &d);
    if (rc == 0) {
        pp_trace_end(&t);
        rc = pp_write_file_atomic(path, b.data, b.len, &d);
    }
    int status = rc ? pp_cli_fail(&d, rc) : PP_EXIT_OK;
    if (rc == 0 && strcmp(path, "-") != 0)
        fprintf(stderr, "ppsim: wrote %s (%zu events, %zu bytes)\n", path, t.n_events, b.len);
    pp_buf_free(&b);
    return status;
}

int pp_cmd_simulate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'},    {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'}, {"plot", required_argument, NULL, 'p'},
        {"trace", required_argument, NULL, 'T'},
        {"trace-iterations", required_argument, NULL, 'I'},
        {"max-memory", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char **sets = pp_xcalloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    int format = PP_FMT_TABLE, c, status;
    const char *out_path = NULL, *plot_dir = NULL;
    const char *trace_path = NULL, *trace_iters = NULL;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sets[n_sets++] = optarg;
            break;
        case 'f':
            format = pp_format_from_name(optarg);
            if (format < 0) {
                free(sets);
                return pp_cli_usage("simulate", "unknown format '%s' (table, csv or json)", optarg);
            }
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'p':
            plot_dir = optarg;
            break;
        case 'T':
            trace_path = optarg;
            break;
        case 'I':
            trace_iters = optarg;
            break;
        case 'M':
            if ((status = pp_cli_max_memory("simulate", optarg))) {
                free(sets);
                return status;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            free(sets);
            return PP_EXIT_OK;
        default:
            free(sets);
            if (optopt)
                return pp_cli_usage("simulate", "option '-%c' is unknown or needs a value", optopt);
            return pp_cli_usage("simulate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        free(sets);
        return pp_cli_usage("simulate", argc - optind ? "expected one scenario file"
                                                       : "missing scenario file");
    }
    struct pp_trace_opts trace_opts = {0, 0};
    status = check_trace_args(trace_path, trace_iters, out_path, &trace_opts);
    if (status != PP_EXIT_OK) {
        free(sets);
        return status;
    }
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_scenario *sc = NULL;
    struct pp_run *run = NULL;
    int rc = pp_scenario_load(argv[optind], sets, n_sets, &sc, &d);
    free(sets);
    if (rc == 0)
        rc = pp_run_scenario(sc, plot_dir != NULL || trace_path != NULL, &run, &d);
    if (rc) {
        status = pp_cli_fail(&d, rc);
        pp_scenario_free(sc);
        return status;
    }
    struct pp_buf b;
    pp_buf_init(&b);
    pp_report(&b, run, (enum pp_format)format);
    status = pp_cli_emit(&b, out_path);
    pp_buf_free(&b);
    if (status == PP_EXIT_OK && plot_dir) {
        rc = pp_plot_gantt(run, plot_dir, &d);
        if (rc == 0)
            rc = pp_plot_memory_timeline(run, plot_dir, PP_PLOT_PNG, &d);
        const char *sep = plot_dir[strlen(plot_dir) - 1] == '/' ? "" : "/";
        if (rc)
            status = pp_cli_fail(&d, rc);
        else if (!out_path || strcmp(out_path, "-") != 0)
            fprintf(stderr, "ppsim: wrote %s%sgantt.png and %s%smemory-timeline.png\n", plot_dir,
                    sep, plot_dir, sep);
    }
    if (status == PP_EXIT_OK && trace_path)
        status = write_trace(run, trace_path, &trace_opts);
    if (status == PP_EXIT_OK && !run->fits_memory) {
        fprintf(stderr, "ppsim: infeasible: %s\n", run->infeasible_reason);
        status = PP_EXIT_INFEASIBLE;
    }
    pp_run_free(run);
    pp_scenario_free(sc);
    return status;
}
