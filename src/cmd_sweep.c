/* cmd_sweep.c - `ppsim sweep`: one scenario over a grid of keys, in parallel,
 * sharded for job arrays or split over MPI ranks; `ppsim sweep merge` joins
 * shard CSVs. The CSV is the same bytes however the work was split. */
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "limits.h"
#include "csvtab.h"
#include "plot.h"
#include "pp_config.h"
#include "provenance.h"
#include "scenario.h"
#include "sweep.h"
#include "sweep_run.h"
#include "trace.h"
#include "xalloc.h"
#include "yamlutil.h"

#if PP_HAVE_MPI
#include <mpi.h>
#endif

static const char usage[] =
    "Usage: ppsim sweep SCENARIO.yaml [--grid KEY=V1,V2,...]... [OPTIONS]\n"
    "       ppsim sweep merge SHARD.csv... [-o FILE]\n"
    "Run the scenario for every combination of the grid's values and print one CSV\n"
    "row per configuration (docs/sweep.md): its index, the swept values, the\n"
    "effective schedule, stages, chunks, microbatches, microbatch size, devices and\n"
    "data-parallel width, the status and every result column.\n"
    "\n"
    "  --grid KEY=V1,V2,...   sweep a dotted scenario key (repeatable; values as --set\n"
    "                         takes them, e.g. --grid 'pipeline.partition=[2,2],[1,3]');\n"
    "                         adds to the scenario's sweep: block\n"
    "  --where EXPR           keep configurations where EXPR holds (repeatable), e.g.\n"
    "                         'microbatches >= stages', 'pipeline.schedule != gpipe';\n"
    "                         operands: swept keys, the columns schedule, stages, chunks,\n"
    "                         microbatches, microbatch_size, devices, data_parallel, or\n"
    "                         literals; OP: == != < <= > >=\n"
    "  --set KEY.PATH=VALUE   override a scenario key for every configuration\n"
    "  -f, --format csv       the output format (csv, the only one)\n"
    "  -o, --output FILE      write the CSV to FILE (atomically) instead of stdout\n"
    "      --summary FILE     write the summary (best fitting configuration by\n"
    "                         throughput, Pareto front of throughput against peak\n"
    "                         memory) to FILE instead of stderr\n"
    "  -j, --jobs N           worker threads (default: every core); 1 runs serially\n"
    "      --shard I/N        run only slice I of N (0 <= I < N) of the configurations,\n"
    "                         e.g. --shard $SLURM_ARRAY_TASK_ID/16; join with sweep merge\n"
    "      --yes              allow more than 100000 configurations (up to 1e8)\n"
    "      --no-progress      no progress bar (it shows only when stderr is a terminal)\n"
    "      --time-limit S     stop after S seconds of wall-clock time (exit 3, nothing\n"
    "                         written; split the sweep with --shard instead)\n"
    "      --max-memory B     host memory one configuration may take (8e9, 8G, 512Mi;\n"
    "                         default half the machine); larger ones are invalid rows\n"
    "      --plot DIR         also write the plots that apply (docs/plots.md): throughput\n"
    "                         and bubble against microbatches per schedule, peak memory,\n"
    "                         a heat map when two numeric keys are swept\n"
    "      --terminal T       png (default), svg or pdf for --plot\n"
    "      --trace FILE.json  a Chrome/Perfetto trace with one process per configuration\n"
    "                         (at most 256 configurations; narrow with --where)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Under mpirun (an MPI build: meson setup -Dmpi=enabled), the ranks split the\n"
    "configurations and rank 0 prints the one CSV. Exit status: 0 ok, 1 bad input,\n"
    "2 usage, 3 time limit or too large, 130 interrupted.\n";

struct opts {
    const char *scenario, *out_path, *summary_path, *plot_dir, *trace_path;
    int term;
    const char **sets, **grids, **wheres;
    size_t n_sets, n_grids, n_wheres;
    int jobs, yes, progress;
    int64_t shard_i, shard_n;
};

static int parse_shard(const char *arg, struct opts *o)
{
    char *end;
    long long i = strtoll(arg, &end, 10), n;
    if (end == arg || *end != '/')
        return -1;
    const char *q = end + 1;
    n = strtoll(q, &end, 10);
    if (end == q || *end || n < 1 || i < 0 || i >= n)
        return -1;
    o->shard_i = i;
    o->shard_n = n;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"grid", required_argument, NULL, 'g'},    {"where", required_argument, NULL, 'w'},
        {"set", required_argument, NULL, 's'},     {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},  {"summary", required_argument, NULL, 'S'},
        {"jobs", required_argument, NULL, 'j'},    {"shard", required_argument, NULL, 'H'},
        {"yes", no_argument, NULL, 'y'},           {"no-progress", no_argument, NULL, 'P'},
        {"time-limit", required_argument, NULL, 'T'}, {"max-memory", required_argument, NULL, 'M'},
        {"plot", required_argument, NULL, 'p'},    {"terminal", required_argument, NULL, 't'},
        {"trace", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:j:h", lo, NULL)) != -1) {
        switch (c) {
        case 'g':
            o->grids[o->n_grids++] = optarg;
            break;
        case 'w':
            o->wheres[o->n_wheres++] = optarg;
            break;
        case 's':
            o->sets[o->n_sets++] = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "csv") != 0)
                return pp_cli_usage("sweep", "unknown format '%s' (a sweep prints csv)", optarg);
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 'S':
            o->summary_path = optarg;
            break;
        case 'j': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 4096)
                return pp_cli_usage("sweep", "--jobs: '%s' is not an integer in [1, 4096]", optarg);
            o->jobs = (int)v;
            break;
        }
        case 'H':
            if (parse_shard(optarg, o))
                return pp_cli_usage("sweep", "--shard: '%s' is not I/N with 0 <= I < N", optarg);
            break;
        case 'y':
            o->yes = 1;
            break;
        case 'p':
            o->plot_dir = optarg;
            break;
        case 't':
            if ((o->term = pp_plot_term_from_name(optarg)) < 0)
                return pp_cli_usage("sweep", "--terminal: png, svg or pdf, got '%s'", optarg);
            break;
        case 'R':
            o->trace_path = optarg;
            break;
        case 'T':
            if (pp_cli_time_limit("sweep", optarg))
                return PP_EXIT_USAGE;
            break;
        case 'M':
            if (pp_cli_max_memory("sweep", optarg))
                return PP_EXIT_USAGE;
            break;
        case 'P':
            o->progress = 0;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            if (optopt)
                return pp_cli_usage("sweep", "option '-%c' is unknown or needs a value", optopt);
            return pp_cli_usage("sweep", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return pp_cli_usage("sweep", argc - optind ? "expected one scenario file"
                                                    : "missing scenario file");
    o->scenario = argv[optind];
    return 0;
}

/* The best fitting configuration and the Pareto front of throughput against
 * peak memory (a configuration is on it when no other fitting one is at
 * least as fast with no more memory, and strictly better in one). */
static void summarise(struct pp_buf *b, const struct pp_sweep *sw, uint64_t first,
                      const struct pp_sweep_stat *st, uint64_t n)
{
    uint64_t counts[4] = {0}, best = UINT64_MAX;
    for (uint64_t i = 0; i < n; i++) {
        counts[st[i].status]++;
        if (st[i].status == PP_SWEEP_OK &&
            (best == UINT64_MAX ||
             st[i].throughput_samples_per_s > st[best].throughput_samples_per_s))
            best = i;
    }
    pp_buf_printf(b, "sweep: %llu configurations: %llu ok, %llu over device memory, %llu invalid, "
                     "%llu dropped by --where\n",
                  (unsigned long long)n, (unsigned long long)counts[PP_SWEEP_OK],
                  (unsigned long long)counts[PP_SWEEP_INFEASIBLE],
                  (unsigned long long)counts[PP_SWEEP_INVALID],
                  (unsigned long long)counts[PP_SWEEP_DROPPED]);
    if (best == UINT64_MAX) {
        pp_buf_puts(b, "no configuration fits in device memory\n");
        return;
    }
    pp_buf_printf(b, "best that fits: config %llu (", (unsigned long long)(first + best));
    pp_sweep_describe(sw, first + best, b);
    pp_buf_printf(b, "): %.6g samples/s, %.6g ms per iteration, peak %.4g GB\n",
                  st[best].throughput_samples_per_s, st[best].iteration_time_ms,
                  st[best].peak_memory_bytes / 1e9);
    pp_buf_puts(b, "Pareto front, throughput against peak memory (fitting configurations):\n"
                   "  config  samples/s      peak GB  configuration\n");
    for (uint64_t i = 0; i < n; i++) {
        if (st[i].status != PP_SWEEP_OK)
            continue;
        int dominated = 0;
        for (uint64_t j = 0; j < n && !dominated; j++) {
            if (j == i || st[j].status != PP_SWEEP_OK)
                continue;
            double ti = st[i].throughput_samples_per_s, tj = st[j].throughput_samples_per_s;
            double mi = st[i].peak_memory_bytes, mj = st[j].peak_memory_bytes;
            /* ties: the earlier configuration represents them */
            dominated = (tj >= ti && mj <= mi && (tj > ti || mj < mi)) ||
                        (tj == ti && mj == mi && j < i);
        }
        if (dominated)
            continue;
        pp_buf_printf(b, "  %6llu  %-12.6g  %9.4g  ", (unsigned long long)(first + i),
                      st[i].throughput_samples_per_s, st[i].peak_memory_bytes / 1e9);
        pp_sweep_describe(sw, first + i, b);
        pp_buf_puts(b, "\n");
    }
}

/* Build the grid: the scenario's sweep: block first, then --grid, --where. */
static int build_sweep(const struct opts *o, const char *buf, size_t len, struct pp_sweep *sw,
                       struct pp_diag *d)
{
    struct pp_ydoc *doc = NULL;
    int rc = pp_ydoc_parse(buf, len, o->scenario, &doc, d);
    for (size_t i = 0; i < o->n_sets && rc == 0; i++)
        rc = pp_ydoc_set(doc, o->sets[i], d);
    const struct pp_ynode *blk = rc == 0 && doc->root ? pp_ymap_get(doc->root, "sweep") : NULL;
    if (blk)
        rc = pp_sweep_add_yaml(sw, blk, d);
    pp_ydoc_free(doc);
    for (size_t i = 0; i < o->n_grids && rc == 0; i++)
        rc = pp_sweep_add_grid(sw, o->grids[i], d);
    for (size_t i = 0; i < o->n_wheres && rc == 0; i++)
        rc = pp_sweep_add_where(sw, o->wheres[i], d);
    if (rc == 0 && sw->n_axes == 0) /* name the file that has no sweep: block */
        rc = pp_diag_set(d, PP_EPARSE, o->scenario, 0, 0,
                         "empty grid: no sweep: block and no --grid KEY=V1,V2,...");
    if (rc == 0)
        rc = pp_sweep_check(sw, d);
    uint64_t n = rc == 0 ? pp_sweep_size(sw) : 0;
    if (rc == 0 && n > PP_SWEEP_MAX)
        rc = pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                         "the grid has more than %u configurations", PP_SWEEP_MAX);
    else if (rc == 0 && n > PP_SWEEP_SANE && !o->yes)
        rc = pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                         "the grid has %llu configurations, more than %u; pass --yes to run it",
                         (unsigned long long)n, PP_SWEEP_SANE);
    return rc;
}

/* With MPI, rank r runs slice r of `ranks` of [first, first+n) and rank 0
 * gathers the rows and stats in rank order, which is configuration order. */
static int run_distributed(const struct pp_sweep_job *job, uint64_t first, uint64_t n, int jobs,
                           struct pp_cli_progress *bar, struct pp_buf *out,
                           struct pp_sweep_stat *stats, int rank, int ranks)
{
    pp_sweep_progress_fn show = bar->on ? pp_cli_progress_update : NULL;
    uint64_t lo = n * (uint64_t)rank / (uint64_t)ranks, hi = n * (uint64_t)(rank + 1) / (uint64_t)ranks;
    if (ranks == 1)
        return pp_sweep_run_range(job, first, n, jobs, show, bar, out, stats);
#if PP_HAVE_MPI
    struct pp_buf mine;
    pp_buf_init(&mine);
    pp_sweep_run_range(job, first + lo, hi - lo, jobs, rank == 0 ? show : NULL, bar,
                       &mine, stats + lo);
    long long len = (long long)mine.len;
    long long *lens = rank == 0 ? pp_xcalloc((size_t)ranks, sizeof *lens) : NULL;
    MPI_Gather(&len, 1, MPI_LONG_LONG, lens, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    int *counts = NULL, *displs = NULL;
    char *all = NULL;
    if (rank == 0) {
        counts = pp_xcalloc((size_t)ranks, sizeof *counts);
        displs = pp_xcalloc((size_t)ranks, sizeof *displs);
        long long total = 0;
        for (int r = 0; r < ranks; r++) {
            counts[r] = (int)lens[r];
            displs[r] = (int)total;
            total += lens[r];
        }
        all = pp_xmalloc((size_t)total + 1);
    }
    MPI_Gatherv(mine.data ? mine.data : "", (int)mine.len, MPI_CHAR, all, counts, displs,
                MPI_CHAR, 0, MPI_COMM_WORLD);
    /* the stats travel as bytes: every rank runs the same binary */
    int *scounts = NULL, *sdispls = NULL;
    if (rank == 0) {
        scounts = pp_xcalloc((size_t)ranks, sizeof *scounts);
        sdispls = pp_xcalloc((size_t)ranks, sizeof *sdispls);
        for (int r = 0; r < ranks; r++) {
            uint64_t a = n * (uint64_t)r / (uint64_t)ranks, z = n * (uint64_t)(r + 1) / (uint64_t)ranks;
            scounts[r] = (int)((z - a) * sizeof *stats);
            sdispls[r] = (int)(a * sizeof *stats);
        }
    }
    MPI_Gatherv(stats + lo, (int)((hi - lo) * sizeof *stats), MPI_BYTE, stats, scounts, sdispls,
                MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        long long total = 0;
        for (int r = 0; r < ranks; r++)
            total += lens[r];
        pp_buf_append(out, all, (size_t)total);
    }
    free(lens);
    free(counts);
    free(displs);
    free(scounts);
    free(sdispls);
    free(all);
    pp_buf_free(&mine);
#else
    (void)lo, (void)hi;
#endif
    return 0;
}

static int merge(int argc, char **argv);

/* --plot DIR: every sweep plot the grid allows, read back from the CSV. */
static int sweep_plots(const struct opts *o, const struct pp_scenario *base, const struct pp_buf *csv)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_csvtab *t = NULL;
    int rc = pp_csvtab_parse(csv->data, csv->len, "sweep.csv", &t, &d);
    struct pp_plot_sweep po = {0};
    po.device_memory_bytes = base->device_memory_bytes;
    po.term = (enum pp_plot_term)o->term;
    const char *written[8];
    int n = 0;
    if (rc == 0)
        rc = pp_plot_sweep_all(t, &po, o->plot_dir, written, &n, &d);
    pp_csvtab_free(t);
    if (rc)
        return pp_cli_fail(&d, rc);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "ppsim: wrote %s%s%s.%s\n", o->plot_dir,
                o->plot_dir[strlen(o->plot_dir) - 1] == '/' ? "" : "/", written[i],
                pp_plot_term_name(po.term));
    return PP_EXIT_OK;
}

/* --trace FILE: re-run each configuration that ran, keeping op spans, as one
 * trace process per configuration (pid = config + 1, docs/trace.md). */
static int sweep_trace(const struct opts *o, const struct pp_sweep_job *job, uint64_t first,
                       uint64_t n, const struct pp_sweep_stat *stats)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    uint64_t ran = 0;
    for (uint64_t i = 0; i < n; i++)
        ran += stats[i].status == PP_SWEEP_OK || stats[i].status == PP_SWEEP_INFEASIBLE;
    if (ran > 256)
        return pp_cli_fail(&d, pp_diag_set(&d, PP_EINFEASIBLE, o->trace_path, 0, 0,
                                            "%llu configurations ran; a trace holds at most 256 "
                                            "(narrow the sweep with --where or --shard)",
                                            (unsigned long long)ran));
    struct pp_buf b;
    pp_buf_init(&b);
    struct pp_trace tr;
    pp_trace_begin(&tr, &b);
    struct pp_trace_opts topts = {0, 0};
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        if (stats[i].status != PP_SWEEP_OK && stats[i].status != PP_SWEEP_INFEASIBLE)
            continue;
        rc = pp_sweep_trace_run(job, first + i, &tr, &topts, &d);
    }
    pp_trace_end(&tr);
    if (rc == 0)
        rc = pp_write_file_atomic(o->trace_path, b.data, b.len, &d);
    pp_buf_free(&b);
    return rc ? pp_cli_fail(&d, rc) : PP_EXIT_OK;
}

int pp_cmd_sweep(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "merge") == 0)
        return merge(argc - 1, argv + 1);
    struct opts o = {0};
    o.sets = pp_xcalloc((size_t)argc + 1, sizeof *o.sets);
    o.grids = pp_xcalloc((size_t)argc + 1, sizeof *o.grids);
    o.wheres = pp_xcalloc((size_t)argc + 1, sizeof *o.wheres);
    o.progress = 1;
    o.shard_n = 1;
    /* Thousands of small simulations allocate and free the same sizes: keep
     * that memory in the heap instead of mapping and unmapping it each time,
     * whose page faults serialise the workers on the address-space lock. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o.jobs = cores > 0 ? (int)cores : 1;
    int status = parse_opts(argc, argv, &o), rank = 0, ranks = 1, mpi_on = 0;
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_sweep sw = {0};
    struct pp_scenario *base = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (status)
        goto done;
#if PP_HAVE_MPI
    /* Only under a launcher: a plain run skips MPI_Init's start-up (hardware
     * discovery, loading transport plugins), a fixed half second or so. */
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK")) {
        MPI_Init(NULL, NULL);
        mpi_on = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    }
#endif
    rc = pp_read_file(o.scenario, 64u << 20, &buf, &len, &d);
    if (rc == 0)
        rc = build_sweep(&o, buf, len, &sw, &d);
    /* every configuration is parsed from the same text: check the base once */
    if (rc == 0)
        rc = pp_scenario_parse(buf, len, o.scenario, o.sets, o.n_sets, &base, &d);
    if (rc) {
        status = rank == 0 ? pp_cli_fail(&d, rc) : PP_EXIT_FAIL;
        goto done;
    }
    uint64_t total = pp_sweep_size(&sw);
    uint64_t first = total * (uint64_t)o.shard_i / (uint64_t)o.shard_n;
    uint64_t n = total * (uint64_t)(o.shard_i + 1) / (uint64_t)o.shard_n - first;
    struct pp_sweep_job job = {o.scenario, buf, len, o.sets, o.n_sets, &sw, base};
    struct pp_sweep_stat *stats = pp_xcalloc(n ? n : 1, sizeof *stats);
    struct pp_cli_progress bar;
    pp_cli_progress_start(&bar, o.progress && rank == 0, 1);
    struct pp_buf csv;
    pp_buf_init(&csv);
    pp_sweep_csv_header(&csv, &sw);
    run_distributed(&job, first, n, o.jobs, &bar, &csv, stats, rank, ranks);
    pp_cli_progress_end(&bar); /* a stopped run's bar: the error gets its own line */
    int stopped = pp_limits_stop() != PP_GO_ON;
#if PP_HAVE_MPI
    if (mpi_on) /* one rank stopped: the CSV would miss its rows */
        MPI_Allreduce(MPI_IN_PLACE, &stopped, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#endif
    if (stopped) {
        char what[96];
        snprintf(what, sizeof what, "before all %llu configurations ran", (unsigned long long)n);
        rc = pp_limits_stopped(&d, what);
        status = rank == 0 ? pp_cli_fail(&d, rc) : PP_EXIT_FAIL;
    } else if (rank == 0) {
        status = pp_cli_emit(&csv, o.out_path);
        struct stat st_out;
        if (status == PP_EXIT_OK && o.out_path && strcmp(o.out_path, "-") != 0 &&
            stat(o.out_path, &st_out) == 0 && S_ISREG(st_out.st_mode)) {
            /* a CSV has no room for provenance: FILE.meta.json beside it */
            struct pp_buf meta;
            pp_buf_init(&meta);
            struct pp_provenance prov = {"sweep", base, NULL, 0, 0};
            pp_provenance_sidecar(&meta, &prov);
            size_t n_path = strlen(o.out_path) + 16;
            char *path = pp_xmalloc(n_path);
            snprintf(path, n_path, "%s.meta.json", o.out_path);
            if ((rc = pp_write_file_atomic(path, meta.data, meta.len, &d)))
                status = pp_cli_fail(&d, rc);
            free(path);
            pp_buf_free(&meta);
        }
        struct pp_buf sum;
        pp_buf_init(&sum);
        summarise(&sum, &sw, first, stats, n);
        if (status == PP_EXIT_OK && o.summary_path) {
            if ((rc = pp_write_file_atomic(o.summary_path, sum.data, sum.len, &d)))
                status = pp_cli_fail(&d, rc);
        } else if (status == PP_EXIT_OK) {
            fputs(sum.data, stderr);
        }
        pp_buf_free(&sum);
        if (status == PP_EXIT_OK && o.plot_dir)
            status = sweep_plots(&o, base, &csv);
        if (status == PP_EXIT_OK && o.trace_path)
            status = sweep_trace(&o, &job, first, n, stats);
    }
    pp_buf_free(&csv);
    free(stats);
done:
    pp_scenario_free(base);
#if PP_HAVE_MPI
    if (mpi_on)
        MPI_Finalize();
#endif
    (void)mpi_on;
    pp_sweep_free(&sw);
    free(buf);
    free(o.sets);
    free(o.grids);
    free(o.wheres);
    return status < 0 ? PP_EXIT_OK : status;
}

/* --- sweep merge ---------------------------------------------------------- */

struct line {
    uint64_t config;
    const char *text;
    size_t len;
};

static int cmp_line(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    return x->config < y->config ? -1 : x->config > y->config;
}

static int merge(int argc, char **argv)
{
    const char *out_path = NULL;
    int c;
    static const struct option lo[] = {{"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        if (c == 'o')
            out_path = optarg;
        else if (c == 'h') {
            fputs(usage, stdout);
            return PP_EXIT_OK;
        } else
            return pp_cli_usage("sweep merge", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind >= argc)
        return pp_cli_usage("sweep merge", "give the shard CSV files to join");
    struct pp_diag d = {{0}, 0, 0, {0}};
    int nf = argc - optind, rc = 0;
    char **bufs = pp_xcalloc((size_t)nf, sizeof *bufs);
    struct line *lines = NULL;
    size_t n_lines = 0, cap = 0;
    const char *header = NULL;
    size_t header_len = 0;
    for (int f = 0; f < nf && rc == 0; f++) {
        const char *path = argv[optind + f];
        size_t len;
        if ((rc = pp_read_file(path, 1u << 30, &bufs[f], &len, &d)))
            break;
        const char *p = bufs[f], *end = p + len;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || strncmp(p, "config,", 7) != 0) {
            rc = pp_diag_set(&d, PP_EPARSE, path, 1, 1, "not a ppsim sweep CSV (no 'config,' header)");
            break;
        }
        if (!header) {
            header = p;
            header_len = (size_t)(nl - p + 1);
        } else if ((size_t)(nl - p + 1) != header_len || memcmp(p, header, header_len) != 0) {
            rc = pp_diag_set(&d, PP_EPARSE, path, 1, 1,
                             "its header differs from %s's: shards of different sweeps",
                             argv[optind]);
            break;
        }
        unsigned ln = 1;
        for (p = nl + 1; p < end && rc == 0; p = nl + 1) {
            ln++;
            nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) {
                rc = pp_diag_set(&d, PP_EPARSE, path, ln, 1, "truncated row (no newline)");
                break;
            }
            char *e;
            unsigned long long cfg = strtoull(p, &e, 10);
            if (e == p || *e != ',') {
                rc = pp_diag_set(&d, PP_EPARSE, path, ln, 1, "row without a configuration index");
                break;
            }
            if (n_lines == cap) {
                cap = cap ? 2 * cap : 1024;
                lines = pp_xrealloc(lines, cap * sizeof *lines);
            }
            lines[n_lines++] = (struct line){cfg, p, (size_t)(nl - p + 1)};
        }
    }
    if (rc == 0) {
        if (n_lines > 0)
            qsort(lines, n_lines, sizeof *lines, cmp_line);
        for (size_t i = 1; i < n_lines && rc == 0; i++)
            if (lines[i].config == lines[i - 1].config)
                rc = pp_diag_set(&d, PP_EPARSE, NULL, 0, 0,
                                 "configuration %llu appears twice: overlapping shards",
                                 (unsigned long long)lines[i].config);
    }
    int status;
    if (rc) {
        status = pp_cli_fail(&d, rc);
    } else {
        struct pp_buf b;
        pp_buf_init(&b);
        pp_buf_append(&b, header, header_len);
        for (size_t i = 0; i < n_lines; i++)
            pp_buf_append(&b, lines[i].text, lines[i].len);
        status = pp_cli_emit(&b, out_path);
        pp_buf_free(&b);
    }
    for (int f = 0; f < nf; f++)
        free(bufs[f]);
    free(bufs);
    free(lines);
    return status;
}
