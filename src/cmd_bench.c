/* cmd_bench.c - `ppsim bench`: simulator throughput and memory.
 *
 * Each size runs in a forked child so its peak RSS is its own (wait4). The
 * figure is simulated compute ops per second of the event loop alone (setup,
 * i.e. building dependency arrays, is reported apart), printed as a ratio
 * against two baselines measured in the same run: the 10 M ops/s target, and
 * one plain pass over the same op arrays (the cost floor of touching each op). */
#define _DEFAULT_SOURCE /* wait4 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "costmodel.h"
#include "diag.h"
#include "partition.h"
#include "schedule.h"
#include "sim.h"
#include "xalloc.h"

static const char usage[] =
    "Usage: ppsim bench [--stages S] [--microbatches M] [--schedule NAME] [--chunks V]\n"
    "                   [--repeat N] [--no-spans]\n"
    "Simulate a large balanced iteration (default 1F1B, 64 stages x 4096 microbatches:\n"
    "524,288 compute ops plus their transfers) and print simulated ops per second,\n"
    "peak RSS and bytes per op at M/4, M/2 and M microbatches (memory must grow\n"
    "linearly), each as a ratio against baselines measured in the same run.\n"
    "--no-spans skips recording op spans and transfers, as a sweep does.\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct result {
    double ops, sim_s, total_s, floor_s;
    uint64_t events;
    int rc;
};

/* One timed replay; keeps the best of `repeat` runs (least disturbed by noise). */
static struct result measure(int stages, int chunks, int64_t m, int sched, int repeat, int spans)
{
    struct result res = {0, 1e300, 1e300, 1e300, 0, 0};
    struct pp_costmodel cm = {0};
    cm.n_layers = (size_t)stages * (size_t)chunks;
    cm.layers = pp_xcalloc(cm.n_layers, sizeof *cm.layers);
    for (size_t i = 0; i < cm.n_layers; i++) {
        cm.layers[i].forward_ms = 1.0;
        /* Split 1 + 1 so zero-bubble schedules run; B = BI + BW = 2 for the rest. */
        cm.layers[i].backward_input_ms = 1.0;
        cm.layers[i].backward_weight_ms = 1.0;
        cm.layers[i].split_backward = 1;
        cm.layers[i].activation_bytes = 1e6;
        cm.layers[i].bw_activation_bytes = 1e6;
        cm.layers[i].output_bytes = 1e5;
        cm.layers[i].parameter_bytes = 1e6;
    }
    struct pp_diag d;
    struct pp_partition *part = NULL;
    struct pp_plan *plan = NULL;
    struct pp_sched_params sp = {.stages = stages, .chunks = chunks, .microbatches = m};
    if (pp_partition_balanced(&cm, cm.n_layers, &part, &d) ||
        pp_plan_build((enum pp_schedule_kind)sched, &sp, &plan, &d)) {
        res.rc = 1;
        free(cm.layers);
        return res;
    }
    struct pp_sim_config cfg = {0};
    cfg.link_bandwidth_bytes_per_s = 25e9;
    cfg.link_latency_ms = 0.005;
    cfg.record_spans = spans;
    size_t compute = 0;
    for (size_t o = 0; o < plan->n_ops; o++)
        compute += plan->ops[o].kind != PP_OP_OPTIM && plan->ops[o].kind != PP_OP_ALLREDUCE;
    res.ops = (double)compute;
    for (int it = 0; it < repeat; it++) {
        struct pp_sim_result *r = NULL;
        double t0 = now_s();
        if (pp_sim_run(plan, part, &cfg, &r, &d)) {
            res.rc = 1;
            break;
        }
        double t1 = now_s();
        if (t1 - t0 < res.total_s)
            res.total_s = t1 - t0;
        if (r->loop_s < res.sim_s)
            res.sim_s = r->loop_s;
        res.events = r->n_events;
        pp_sim_result_free(r);
        /* Floor: read every op once and write a result, as the loop must at least do. */
        volatile int64_t sink = 0;
        int64_t *out = pp_xmalloc(plan->n_ops * sizeof *out);
        t0 = now_s();
        for (size_t o = 0; o < plan->n_ops; o++)
            out[o] = (int64_t)plan->ops[o].piece * 3 + plan->ops[o].mb + plan->ops[o].kind;
        for (size_t o = 0; o < plan->n_ops; o += 4096)
            sink += out[o];
        t1 = now_s();
        (void)sink;
        free(out);
        if (t1 - t0 < res.floor_s)
            res.floor_s = t1 - t0;
    }
    pp_plan_free(plan);
    pp_partition_free(part);
    free(cm.layers);
    return res;
}

/* Run measure() in a child; returns its result and peak RSS in bytes. */
static int run_child(int stages, int chunks, int64_t m, int sched, int repeat, int spans,
                     struct result *res, double *rss_bytes)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        struct result r = measure(stages, chunks, m, sched, repeat, spans);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], res, sizeof *res);
    close(fds[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || got != (ssize_t)sizeof *res || res->rc)
        return -1;
    *rss_bytes = (double)ru.ru_maxrss * 1024.0;
    return 0;
}

int pp_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"stages", required_argument, NULL, 's'},   {"microbatches", required_argument, NULL, 'm'},
        {"schedule", required_argument, NULL, 'k'}, {"repeat", required_argument, NULL, 'r'},
        {"no-spans", no_argument, NULL, 'n'},       {"help", no_argument, NULL, 'h'},
        {"chunks", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    int stages = 64, repeat = 3, sched = PP_SCHED_1F1B, spans = 1, chunks = 0, c;
    long long m = 4096;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            stages = atoi(optarg);
            break;
        case 'm':
            m = atoll(optarg);
            break;
        case 'r':
            repeat = atoi(optarg);
            break;
        case 'k':
            sched = pp_schedule_from_name(optarg);
            if (sched < 0)
                return pp_cli_usage("bench", "unknown schedule '%s'", optarg);
            break;
        case 'n':
            spans = 0;
            break;
        case 'c':
            chunks = atoi(optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return PP_EXIT_OK;
        default:
            return pp_cli_usage("bench", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (stages < 1 || stages > 4096 || m < 4 || m > 1000000 || repeat < 1 || repeat > 100)
        return pp_cli_usage("bench", "need 1 <= stages <= 4096, 4 <= microbatches <= 1e6, "
                                     "1 <= repeat <= 100");
    if (chunks == 0) {
        /* The fewest chunks the schedule accepts: 1, else 2 (interleaved, V). */
        struct pp_sched_params sp = {.stages = stages, .chunks = 1, .microbatches = m};
        const char *key;
        chunks = pp_sched_check((enum pp_schedule_kind)sched, &sp, &key) ? 2 : 1;
    }
    if (chunks < 1 || chunks > 64)
        return pp_cli_usage("bench", "need 1 <= chunks <= 64");
    printf("ppsim bench: %s, %d stages x %d chunk(s), balanced, 25 GB/s links, spans %s\n",
           pp_schedule_name((enum pp_schedule_kind)sched), stages, chunks,
           spans ? "recorded (as for a plot)" : "not kept (as in a sweep)");
    printf("%12s %11s %9s %12s %10s %14s %10s %9s %11s %9s\n", "microbatches", "compute_ops",
           "events", "loop_ops/s", "vs_target", "total_ops/s", "vs_target", "vs_floor",
           "peak_rss_MB", "bytes/op");
    for (long long mm = m / 4; mm <= m; mm *= 2) {
        struct result r;
        double rss;
        if (run_child(stages, chunks, mm, sched, repeat, spans, &r, &rss) != 0) {
            fprintf(stderr, "ppsim bench: run failed at %lld microbatches\n", mm);
            return PP_EXIT_FAIL;
        }
        double ops_s = r.ops / r.sim_s, total_s = r.ops / r.total_s;
        printf("%12lld %11.0f %9llu %12.4g %9.2fx %14.4g %9.2fx %8.1fx %11.1f %9.1f\n", mm, r.ops,
               (unsigned long long)r.events, ops_s, ops_s / 1e7, total_s, total_s / 1e7,
               r.sim_s / r.floor_s, rss / 1e6, rss / r.ops);
    }
    printf("loop = the event loop alone; total = pp_sim_run including setup (dependency\n"
           "arrays, first-touch page faults). vs_target = ops/s / 10e6 (>= 1 meets the\n"
           "target); vs_floor = loop time / one plain pass over the op array.\n");
    return PP_EXIT_OK;
}
