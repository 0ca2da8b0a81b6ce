/* cmd_schedule.c - `ppsim schedule export|check`: PyTorch pipelining schedule
 * CSV out of any registered schedule, and the import checks on a file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "scenario.h"
#include "schedcsv.h"
#include "schedule.h"

static const char usage[] =
    "Usage: ppsim schedule export --schedule NAME --stages S --microbatches M [--chunks V]\n"
    "                             [--comms] [-o FILE]\n"
    "       ppsim schedule check FILE.csv [--stages S] [--chunks V] [--microbatches M]\n"
    "PyTorch torch.distributed.pipelining schedule CSV (one row per rank, actions such\n"
    "as 0F3, 1I2, 2W1, 3B0, (0F3;7B1)OVERLAP_F_B; stage = model piece).\n"
    "\n"
    "export  write the schedule's op lists, compute-only (PyTorch's \"compute_only\")\n"
    "  --schedule NAME     one of the scenario schedule names (gpipe, 1f1b, ...)\n"
    "  --stages S          pipeline ranks\n"
    "  --microbatches M    per iteration\n"
    "  --chunks V          model chunks per rank (default 1)\n"
    "  --comms             add REDUCE_GRAD and SEND/RECV actions as PyTorch's runtime\n"
    "                      lowers them (\"compute_comms\"; FSDP UNSHARD/RESHARD left out)\n"
    "  -o, --output FILE   write FILE (atomically) instead of stdout\n"
    "check   import FILE as pipeline.schedule_file does and report what it holds;\n"
    "        with --stages, --chunks or --microbatches it must match them\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad schedule or one the CSV cannot express, 2 usage, 3 a\n"
    "stage or microbatch index past ppsim's limits.\n";

enum { O_SCHEDULE = 1, O_STAGES, O_MB, O_CHUNKS, O_COMMS };

static int parse_int(const char *flag, const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 1 || v > max)
        return pp_cli_usage("schedule", "%s: expected a whole number 1..%ld, got '%s'", flag, max,
                            s);
    *out = v;
    return 0;
}

static void list_names(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const char *const *n = pp_schedule_names(); *n && used < len; n++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", *n);
}

struct args {
    const char *schedule, *out_path, *file;
    long stages, microbatches, chunks;
    int comms;
};

/* Options common to both actions; a positional is the check's file. */
static int parse_args(int argc, char **argv, const char *action, struct args *a)
{
    static const struct option opts[] = {
        {"schedule", required_argument, NULL, O_SCHEDULE},
        {"stages", required_argument, NULL, O_STAGES},
        {"microbatches", required_argument, NULL, O_MB},
        {"chunks", required_argument, NULL, O_CHUNKS},
        {"comms", no_argument, NULL, O_COMMS},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, export = strcmp(action, "export") == 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_SCHEDULE: a->schedule = optarg; break;
        case O_STAGES: rc = parse_int("--stages", optarg, PP_MAX_STAGES, &a->stages); break;
        case O_MB:
            rc = parse_int("--microbatches", optarg, PP_MAX_MICROBATCHES, &a->microbatches);
            break;
        case O_CHUNKS: rc = parse_int("--chunks", optarg, PP_MAX_CHUNKS, &a->chunks); break;
        case O_COMMS: a->comms = 1; break;
        case 'o': a->out_path = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        default:
            if (optopt == 'o' || (optopt >= O_SCHEDULE && optopt <= O_COMMS))
                return pp_cli_usage("schedule", "option '%s' needs a value", argv[optind - 1]);
            if (optopt)
                return pp_cli_usage("schedule", "unknown option '-%c'", optopt);
            return pp_cli_usage("schedule", "unknown option '%s'", argv[optind - 1]);
        }
        if (rc)
            return rc;
    }
    if (export) {
        if (optind < argc)
            return pp_cli_usage("schedule", "export takes no file argument, got '%s'",
                                argv[optind]);
        if (!a->schedule)
            return pp_cli_usage("schedule", "export: missing --schedule NAME");
        if (!a->stages)
            return pp_cli_usage("schedule", "export: missing --stages S");
        if (!a->microbatches)
            return pp_cli_usage("schedule", "export: missing --microbatches M");
        return 0;
    }
    if (a->schedule || a->comms || a->out_path)
        return pp_cli_usage("schedule", "check takes only --stages, --chunks and --microbatches");
    if (argc - optind != 1)
        return pp_cli_usage("schedule", argc - optind ? "check: expected one schedule file"
                                                       : "check: missing schedule file");
    a->file = argv[optind];
    return 0;
}

static int do_export(const struct args *a)
{
    int kind = pp_schedule_from_name(a->schedule);
    if (kind < 0) {
        char names[512];
        list_names(names, sizeof names);
        return pp_cli_usage("schedule", "unknown schedule '%s' (one of %s)", a->schedule, names);
    }
    struct pp_sched_params sp;
    memset(&sp, 0, sizeof sp);
    sp.stages = (int)a->stages;
    sp.chunks = a->chunks ? (int)a->chunks : 1;
    sp.microbatches = a->microbatches;
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_plan *plan = NULL;
    int rc = pp_plan_build((enum pp_schedule_kind)kind, &sp, &plan, &d);
    if (rc)
        return pp_cli_fail(&d, rc);
    struct pp_buf b;
    pp_buf_init(&b);
    rc = pp_schedcsv_write(plan, a->comms, &b, &d);
    pp_plan_free(plan);
    int status = rc ? pp_cli_fail(&d, rc) : pp_cli_emit(&b, a->out_path);
    pp_buf_free(&b);
    return status;
}

static int do_check(const struct args *a)
{
    struct pp_schedcsv_expect ex = {(int)a->stages, 0, a->microbatches};
    if (a->chunks && !a->stages)
        return pp_cli_usage("schedule", "check: --chunks needs --stages");
    if (a->stages)
        ex.pieces = (int)(a->stages * (a->chunks ? a->chunks : 1));
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_plan *plan = NULL;
    int rc = pp_schedcsv_load(a->file, &ex, &plan, &d);
    if (rc)
        return pp_cli_fail(&d, rc);
    size_t compute = plan->n_ops - (size_t)plan->n_devices; /* one optimizer step each */
    printf("%s: ok: ranks %d, stages %d (%d per rank), microbatches %lld, compute actions %zu\n",
           strcmp(a->file, "-") == 0 ? "<stdin>" : a->file, plan->n_devices, plan->n_pieces,
           plan->chunks, (long long)plan->n_microbatches, compute);
    pp_plan_free(plan);
    return PP_EXIT_OK;
}

int pp_cmd_schedule(int argc, char **argv)
{
    if (argc < 2)
        return pp_cli_usage("schedule", "missing action (export or check)");
    const char *action = argv[1];
    if (strcmp(action, "-h") == 0 || strcmp(action, "--help") == 0) {
        fputs(usage, stdout);
        return PP_EXIT_OK;
    }
    if (strcmp(action, "export") != 0 && strcmp(action, "check") != 0)
        return pp_cli_usage("schedule", "unknown action '%s' (export or check)", action);
    struct args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc - 1, argv + 1, action, &a);
    if (rc)
        return rc < 0 ? PP_EXIT_OK : rc;
    return strcmp(action, "export") == 0 ? do_export(&a) : do_check(&a);
}
