/* cmd_plan.c - `ppsim plan`: PipeDream's optimizer with its own flags.
 *
 * The flags are optimizer_graph_hierarchical.py's argparse flags, with
 * argparse's conventions: "-n 4 2" takes values up to the next option,
 * "--flag=value" works, and a long option may be shortened to any unique
 * prefix. So an existing script ports by changing the program name. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "limits.h"
#include "yamlutil.h"
#include "provenance.h"
#include "diag.h"
#include "pdgraph.h"
#include "planner.h"
#include "schedule.h"
#include "simplan.h"
#include "xalloc.h"

static const char usage[] =
    "Usage: ppsim plan -f GRAPH -n N1 [N2 ...] [-b B1 [B2 ...]] [OPTIONS]\n"
    "PipeDream's partitioner (optimizer_graph_hierarchical.py), same flags, same numbers.\n"
    "\n"
    "  -f, --profile_filename GRAPH    PipeDream profile (graph.txt)\n"
    "  -n, --all_num_machines N...     machines per level, innermost first\n"
    "  -b, --network_bandwidths B...   bytes/s per level (default 1e9; one per -n value)\n"
    "  -s, --memory_size BYTES         per machine, with --use_memory_constraint (default 16e9)\n"
    "      --use_memory_constraint     reject stages whose stash exceeds --memory_size\n"
    "      --straight_pipeline         no replicated stages\n"
    "      --use_fewer_machines        allow idle machines when that is faster\n"
    "      --activation_compression_ratio R\n"
    "                                  model inter-stage transfers, divided by R (without\n"
    "                                  it, as in PipeDream, transfers cost nothing)\n"
    "  -o, --output_directory DIR      write DIR/gpus=N.txt (graph with stage_id per node)\n"
    "                                  and DIR/stage_to_num_ranks.txt\n"
    "ppsim's own options:\n"
    "      --format table|json         report format (default table), on stdout\n"
    "      --collapse-branches auto|always|never\n"
    "                                  fold single-in/single-out chains inside branches into\n"
    "                                  one node (PipeDream's compress_graph_branches.py);\n"
    "                                  auto (default) does it past --max-states states\n"
    "      --max-states N              state budget (default 20000)\n"
    "      --repeat N                  solve N times in this process and print the median\n"
    "                                  and fastest wall time on stderr (benchmarks)\n"
    "      --objective pipedream|simulated\n"
    "                                  simulated: search data-parallel width, stage count and\n"
    "                                  split for a synchronous schedule, scored by the event\n"
    "                                  simulator (one level; memory with --use_memory_constraint\n"
    "                                  -s BYTES includes activations in flight)\n"
    "      --schedule gpipe|1f1b       schedule for --objective simulated (default 1f1b)\n"
    "      --microbatches M            per iteration, each of the profile's batch (default 4 x -n)\n"
    "      --gradient-factor G         gradient bytes per weight byte (default 1)\n"
    "      --optimizer-factor K        optimizer state bytes per weight byte (default 2: Adam)\n"
    "      --time-limit S              stop after S seconds (exit 3, nothing written);\n"
    "                                  Ctrl-C stops cleanly (exit 130)\n"
    "      --no-progress               no progress bar for the DP (it shows only when\n"
    "                                  stderr is a terminal)\n"
    "  -h, --help                      show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad input, 2 usage, 3 nothing fits or the time limit was\n"
    "reached (the reason is printed), 130 interrupted.\n";

enum opt_id {
    O_FILE, O_MACHINES, O_BW, O_MEM, O_USE_MEM, O_STRAIGHT, O_FEWER, O_ACR, O_OUTDIR, O_FORMAT,
    O_COLLAPSE, O_MAX_STATES, O_OBJECTIVE, O_SCHEDULE, O_MICROBATCHES, O_GRAD, O_OPTIM, O_REPEAT,
    O_TIME_LIMIT, O_NO_PROGRESS, O_HELP,
};

static const struct {
    const char *name;
    char short_name;
    int nargs; /* 0 = flag, 1 = one value, -1 = one or more */
} opts[] = {
    [O_FILE] = {"profile_filename", 'f', 1},
    [O_MACHINES] = {"all_num_machines", 'n', -1},
    [O_BW] = {"network_bandwidths", 'b', -1},
    [O_MEM] = {"memory_size", 's', 1},
    [O_USE_MEM] = {"use_memory_constraint", 0, 0},
    [O_STRAIGHT] = {"straight_pipeline", 0, 0},
    [O_FEWER] = {"use_fewer_machines", 0, 0},
    [O_ACR] = {"activation_compression_ratio", 0, 1},
    [O_OUTDIR] = {"output_directory", 'o', 1},
    [O_FORMAT] = {"format", 0, 1},
    [O_COLLAPSE] = {"collapse-branches", 0, 1},
    [O_MAX_STATES] = {"max-states", 0, 1},
    [O_OBJECTIVE] = {"objective", 0, 1},
    [O_SCHEDULE] = {"schedule", 0, 1},
    [O_MICROBATCHES] = {"microbatches", 0, 1},
    [O_GRAD] = {"gradient-factor", 0, 1},
    [O_OPTIM] = {"optimizer-factor", 0, 1},
    [O_REPEAT] = {"repeat", 0, 1},
    [O_TIME_LIMIT] = {"time-limit", 0, 1},
    [O_NO_PROGRESS] = {"no-progress", 0, 0},
    [O_HELP] = {"help", 'h', 0},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

/* argparse: an exact long name, else a unique prefix. */
static int find_long(const char *name, size_t len, int *ambiguous)
{
    int found = -1;
    *ambiguous = 0;
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return (int)i;
        if (strncmp(opts[i].name, name, len) == 0) {
            if (found >= 0)
                *ambiguous = 1;
            found = (int)i;
        }
    }
    return *ambiguous ? -1 : found;
}

static int is_option(const char *s)
{
    /* argparse treats "-5" as a value when no option looks like a number. */
    return s[0] == '-' && s[1] != '\0' && !(s[1] >= '0' && s[1] <= '9') && s[1] != '.';
}

static int parse_pos_double(const char *flag, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return pp_cli_usage("plan", "%s: '%s' is not a number", flag, s);
    if (!(v > 0))
        return pp_cli_usage("plan", "%s: must be > 0, got '%s'", flag, s);
    *out = v;
    return 0;
}

static int parse_machines(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno)
        return pp_cli_usage("plan", "-n: '%s' is not an integer", s);
    if (v < 1 || v > 4096)
        return pp_cli_usage("plan", "-n: machines per level must be 1..4096, got '%s'", s);
    *out = (size_t)v;
    return 0;
}

struct args {
    const char *graph, *outdir;
    int json, have_bw, simulated, no_progress;
    long repeat;
    struct pp_simplan_opts so;
    size_t n_machines, n_bw;
    struct pp_planner_opts po;
};

static int take_value(struct args *a, int id, const char *flag, const char *v)
{
    struct pp_pdplan_opts *o = &a->po.dp;
    switch (id) {
    case O_FILE:
        a->graph = v;
        return 0;
    case O_MACHINES:
        if (a->n_machines == PP_PD_MAX_LEVELS)
            return pp_cli_usage("plan", "-n: at most %d levels", PP_PD_MAX_LEVELS);
        return parse_machines(v, &o->machines[a->n_machines++]);
    case O_BW:
        if (a->n_bw == PP_PD_MAX_LEVELS)
            return pp_cli_usage("plan", "-b: at most %d levels", PP_PD_MAX_LEVELS);
        return parse_pos_double(flag, v, &o->bandwidth_bps[a->n_bw++]);
    case O_MEM:
        return parse_pos_double(flag, v, &o->memory_bytes);
    case O_ACR:
        return parse_pos_double(flag, v, &o->compression);
    case O_OUTDIR:
        a->outdir = v;
        return 0;
    case O_FORMAT:
        if (strcmp(v, "json") && strcmp(v, "table"))
            return pp_cli_usage("plan", "--format: 'table' or 'json', got '%s'", v);
        a->json = strcmp(v, "json") == 0;
        return 0;
    case O_COLLAPSE:
        if (!strcmp(v, "auto"))
            a->po.collapse = PP_COLLAPSE_AUTO;
        else if (!strcmp(v, "always"))
            a->po.collapse = PP_COLLAPSE_ALWAYS;
        else if (!strcmp(v, "never"))
            a->po.collapse = PP_COLLAPSE_NEVER;
        else
            return pp_cli_usage("plan", "--collapse-branches: auto, always or never, got '%s'", v);
        return 0;
    case O_OBJECTIVE:
        if (strcmp(v, "pipedream") && strcmp(v, "simulated"))
            return pp_cli_usage("plan", "--objective: 'pipedream' or 'simulated', got '%s'", v);
        a->simulated = strcmp(v, "simulated") == 0;
        return 0;
    case O_SCHEDULE: {
        const char *const *names = pp_schedule_names();
        for (int k = 0; k < PP_SCHED_KIND_COUNT; k++)
            if (strcmp(v, names[k]) == 0) {
                a->so.schedule = (enum pp_schedule_kind)k;
                return 0;
            }
        return pp_cli_usage("plan", "--schedule: gpipe or 1f1b, got '%s'", v);
    }
    case O_MICROBATCHES: {
        char *end;
        long long m = strtoll(v, &end, 10);
        if (end == v || *end || m < 1 || m > 100000)
            return pp_cli_usage("plan", "--microbatches: an integer 1..100000, got '%s'", v);
        a->so.microbatches = (size_t)m;
        return 0;
    }
    case O_GRAD:
    case O_OPTIM: {
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || !(x >= 0) || x > 1e3)
            return pp_cli_usage("plan", "%s: a number >= 0, got '%s'", flag, v);
        *(id == O_GRAD ? &a->so.gradient_factor : &a->so.optimizer_factor) = x;
        return 0;
    }
    case O_REPEAT: {
        char *end;
        long r = strtol(v, &end, 10);
        if (end == v || *end || r < 1 || r > 100000)
            return pp_cli_usage("plan", "--repeat: an integer 1..100000, got '%s'", v);
        a->repeat = r;
        return 0;
    }
    case O_TIME_LIMIT:
        return pp_cli_time_limit("plan", v);
    case O_MAX_STATES: {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end || n < 2 || n > 1000000)
            return pp_cli_usage("plan", "--max-states: an integer 2..1000000, got '%s'", v);
        a->po.max_states = (size_t)n;
        return 0;
    }
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    struct pp_pdplan_opts *o = &a->po.dp;
    o->memory_bytes = 16e9;
    a->so.schedule = PP_SCHED_1F1B;
    a->so.microbatches = 0;
    a->so.gradient_factor = 1;
    a->so.optimizer_factor = 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *inline_val = NULL;
        int id = -1;
        char flag[64];
        if (!is_option(arg))
            return pp_cli_usage("plan", "unexpected argument '%s'", arg);
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            int amb;
            id = find_long(name, len, &amb);
            if (id < 0)
                return pp_cli_usage("plan", amb ? "ambiguous option '%.*s'" : "unknown option '%.*s'",
                                    (int)(len + 2), arg);
            inline_val = eq ? eq + 1 : NULL;
        } else {
            for (size_t k = 0; k < N_OPTS; k++)
                if (opts[k].short_name && opts[k].short_name == arg[1])
                    id = (int)k;
            if (id < 0)
                return pp_cli_usage("plan", "unknown option '%.2s'", arg);
            inline_val = arg[2] ? arg + 2 : NULL;
        }
        snprintf(flag, sizeof flag, "--%s", opts[id].name);
        if (opts[id].nargs == 0) {
            if (inline_val)
                return pp_cli_usage("plan", "%s takes no value", flag);
            if (id == O_HELP)
                return -1;
            if (id == O_USE_MEM)
                o->use_memory_constraint = 1;
            else if (id == O_STRAIGHT)
                o->straight = 1;
            else if (id == O_FEWER)
                o->fewer_machines = 1;
            else if (id == O_NO_PROGRESS)
                a->no_progress = 1;
            continue;
        }
        if (id == O_BW && !a->have_bw) {
            a->have_bw = 1; /* the first -b replaces the default */
            a->n_bw = 0;
        }
        if (id == O_MACHINES)
            a->n_machines = 0; /* argparse: a repeated option replaces the list */
        int n_vals = 0, rc;
        if (inline_val) {
            if ((rc = take_value(a, id, flag, inline_val)))
                return rc;
            n_vals = 1;
        }
        while ((opts[id].nargs < 0 || n_vals == 0) && i + 1 < argc && !is_option(argv[i + 1])) {
            if ((rc = take_value(a, id, flag, argv[++i])))
                return rc;
            n_vals++;
        }
        if (n_vals == 0)
            return pp_cli_usage("plan", "%s needs a value", flag);
    }
    if (!a->graph)
        return pp_cli_usage("plan", "missing -f GRAPH");
    if (a->n_machines == 0)
        return pp_cli_usage("plan", "missing -n N (machines per level)");
    if (!a->have_bw) {
        o->bandwidth_bps[0] = 1e9;
        a->n_bw = 1;
    }
    if (a->n_bw != a->n_machines)
        return pp_cli_usage("plan", "-n has %zu value%s but -b has %zu: give one bandwidth per "
                                    "level",
                            a->n_machines, a->n_machines == 1 ? "" : "s", a->n_bw);
    size_t total = 1;
    for (size_t l = 0; l < a->n_machines; l++) {
        total *= o->machines[l];
        if (total > 4096)
            return pp_cli_usage("plan", "-n: at most 4096 machines in all");
    }
    o->n_levels = a->n_machines;
    if (a->simulated) {
        if (a->n_machines != 1)
            return pp_cli_usage("plan", "--objective simulated takes one level: -n DEVICES -b BW");
        if (a->outdir)
            return pp_cli_usage("plan", "-o is for PipeDream's objective");
        a->so.devices = o->machines[0];
        a->so.bandwidth_bps = o->bandwidth_bps[0];
        a->so.memory_bytes = o->use_memory_constraint ? o->memory_bytes : 0;
        if (a->so.microbatches == 0)
            a->so.microbatches = 4 * a->so.devices;
    }
    return 0;
}

static int write_outputs(const struct pp_planner *p, const char *dir)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        pp_diag_set(&d, PP_EIO, dir, 0, 0, "cannot create directory: %s", strerror(errno));
        return pp_cli_fail(&d, -PP_EIO);
    }
    struct pp_buf b, path;
    pp_buf_init(&b);
    pp_buf_init(&path);
    pp_pdgraph_write(&b, p->graph, p->node_stage);
    pp_buf_printf(&path, "%s/gpus=%zu.txt", dir, p->plan->machines_total);
    int rc = pp_write_file_atomic(path.data, b.data ? b.data : "", b.len, &d);
    if (rc == 0) {
        b.len = 0;
        pp_planner_rank_map(&b, p);
        pp_buf_puts(&b, "\n");
        path.len = 0;
        pp_buf_printf(&path, "%s/stage_to_num_ranks.txt", dir);
        rc = pp_write_file_atomic(path.data, b.data, b.len, &d);
    }
    pp_buf_free(&b);
    pp_buf_free(&path);
    return rc ? pp_cli_fail(&d, rc) : PP_EXIT_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int pp_cmd_plan(int argc, char **argv)
{
    struct args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc == -1) {
        fputs(usage, stdout);
        return PP_EXIT_OK;
    }
    if (rc)
        return rc;
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_planner *p;
    if (a.repeat > 0) {
        /* Read, enumerate and solve from scratch each time: what a user waits for,
         * without the process start-up. */
        double *ms = pp_xmalloc((size_t)a.repeat * sizeof *ms);
        for (long i = 0; i < a.repeat; i++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            rc = pp_planner_run(a.graph, &a.po, &p, &d);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (rc) {
                free(ms);
                return pp_cli_fail(&d, rc);
            }
            pp_planner_free(p);
            ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        }
        qsort(ms, (size_t)a.repeat, sizeof *ms, cmp_double);
        fprintf(stderr, "ppsim plan: %ld solves in one process: median %.3f ms, fastest %.3f ms\n",
                a.repeat, ms[a.repeat / 2], ms[0]);
        free(ms);
    }
    /* stderr only, and only for a person watching: output stays the same bytes */
    struct pp_cli_progress bar;
    pp_cli_progress_start(&bar, !a.no_progress, 0);
    if (bar.on) {
        a.po.dp.progress = pp_cli_progress_update;
        a.po.dp.progress_ctx = &bar;
    }
    rc = pp_planner_run(a.graph, &a.po, &p, &d);
    pp_cli_progress_end(&bar);
    if (rc)
        return pp_cli_fail(&d, rc);
    struct pp_buf b;
    pp_buf_init(&b);
    if (a.simulated) {
        struct pp_simplan *sp;
        rc = pp_simplan_run(p->collapsed ? p->collapsed : p->graph, p->states, &a.so, &sp, &d);
        /* A stop during the search is returned (simplan.h); one that comes
         * after its last candidate still asks for nothing to be written. */
        if (rc == 0 && pp_limits_stop() != PP_GO_ON) {
            pp_simplan_free(sp);
            rc = pp_limits_stopped(&d, "while scoring plans");
        }
        if (rc) {
            pp_planner_free(p);
            return pp_cli_fail(&d, rc);
        }
        pp_planner_report_sim(&b, p, sp, &a.so, a.json);
        const char *files[] = {a.graph, NULL};
        struct pp_provenance prov = {"plan", NULL, files, 0, 0};
        if (a.json)
            pp_provenance_insert(&b, &prov);
        int status = pp_cli_emit(&b, "-");
        if (status == PP_EXIT_OK && sp->best == SIZE_MAX) {
            fprintf(stderr, "ppsim plan: infeasible: no configuration fits in %g bytes per "
                            "device\n", a.so.memory_bytes);
            status = PP_EXIT_INFEASIBLE;
        }
        pp_buf_free(&b);
        pp_simplan_free(sp);
        pp_planner_free(p);
        return status;
    }
    pp_planner_report(&b, p, a.json);
    const char *files[] = {a.graph, NULL};
    struct pp_provenance prov = {"plan", NULL, files, 0, 0};
    if (a.json)
        pp_provenance_insert(&b, &prov);
    int status = pp_cli_emit(&b, "-");
    pp_buf_free(&b);
    if (status == PP_EXIT_OK && !p->plan->feasible) {
        pp_buf_init(&b);
        pp_planner_reason(&b, p);
        fprintf(stderr, "ppsim plan: infeasible: %s\n", b.data);
        pp_buf_free(&b);
        status = PP_EXIT_INFEASIBLE;
    }
    if (status == PP_EXIT_OK && a.outdir)
        status = write_outputs(p, a.outdir);
    pp_planner_free(p);
    return status;
}
