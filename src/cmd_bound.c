/* cmd_bound.c - `ppsim bound`: the reconstructed convergence bound of
 * Randomized PipeDream (pipedream-theory.md §3.2-§3.3), with delta given or
 * measured on a schedule by the staleness analyser. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bound.h"
#include "buf.h"
#include "cli.h"
#include "provenance.h"
#include "diag.h"
#include "report.h"
#include "scenario.h"
#include "schedule.h"
#include "xalloc.h"
#include "yamlutil.h"

static const char usage[] =
    "Usage: ppsim bound --L X --G X --delta0 X --iterations K\n"
    "                   (--stages S | --sweep-stages LIST)\n"
    "                   (--delay D | --schedule NAME [--microbatches N])\n"
    "                   [--gamma X] [--format table|csv|json] [-o FILE]\n"
    "Evaluate the convergence bound of Randomized PipeDream (stale block SGD):\n"
    "  (1/K) sum_k E|grad f(w^k)|^2 <= 2 S delta0/(gamma K) + gamma S L G^2\n"
    "                                  + gamma^2 L^2 delta^2 G^2\n"
    "with the tuned step gamma = min{1/L, sqrt(2 delta0/(L G^2 K))}.\n"
    "RECONSTRUCTED from the authors' code (pipedream-theory.md §3.2, §3.3): the\n"
    "paper's exact statement and constants are unconfirmed.\n"
    "\n"
    "  --L X                smoothness constant of f, > 0\n"
    "  --G X                bound on the block stochastic-gradient norm, > 0\n"
    "  --delta0 X           f(w^0) - f*, >= 0\n"
    "  --iterations K       block updates K, a whole number >= 1 (1e6 is accepted)\n"
    "  --stages S           blocks (pipeline stages) S, a whole number >= 1\n"
    "  --sweep-stages LIST  one row per S in the comma-separated LIST (e.g.\n"
    "                       2,4,8,16,32,64,128) instead of --stages\n"
    "  --delay D            delay bound delta in global block updates, >= 0\n"
    "  --schedule NAME      take delta from the schedule instead: the steady-state\n"
    "                       maximum delay `ppsim staleness --schedule NAME` measures\n"
    "                       in the paper's unit-time model (pipedream: S^2 - S/2,\n"
    "                       rounded down for odd S; pipedream-2bw: S, one batch;\n"
    "                       flushing schedules: 0)\n"
    "  --microbatches N     microbatches replayed for --schedule (default 10 S)\n"
    "  --gamma X            use this step size, > 0 (default: the tuned step)\n"
    "  -f, --format FMT     table (default), csv or json\n"
    "  -o, --output FILE    write the report to FILE (atomically) instead of stdout\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 ok, 1 bad value (or a schedule the staleness analyser cannot\n"
    "replay), 2 usage, 3 more stages or microbatches than --schedule replays.\n";

static const char caveat[] =
    "reconstructed (pipedream-theory.md §3.2): inferred from the authors' code; the "
    "paper's exact statement and constants are unconfirmed";

enum { O_L = 1, O_G, O_DELTA0, O_STAGES, O_ITER, O_DELAY, O_SCHED, O_MB, O_GAMMA, O_SWEEP };

struct args {
    double L, G, delta0, iterations, delay, gamma, microbatches;
    double *stages; /* one entry, or the sweep */
    size_t n_stages;
    int have_l, have_g, have_d0, have_iter, have_delay, have_stages, sweep;
    const char *schedule, *out_path;
    int kind, format;
};

struct row {
    double stages, delta, mean_delay, microbatches; /* NaN when delta was given */
    struct pp_bound b;
    double growth; /* term 3 over the previous row's; NaN when undefined */
};

static int bad_value(const char *opt, const char *why, const char *s)
{
    struct pp_diag d;
    pp_diag_set(&d, PP_EINVAL, NULL, 0, 0, "%s: %s, got '%s'", opt, why, s);
    return pp_cli_fail(&d, -PP_EINVAL);
}

/* A whole number past what the schedule replay takes on: a valid request, too
 * large (exit 3). */
static int too_large(const char *opt, const char *why, const char *s)
{
    struct pp_diag d;
    pp_diag_set(&d, PP_ENOMEM, NULL, 0, 0, "%s: %s, got '%s'", opt, why, s);
    return pp_cli_fail(&d, -PP_ENOMEM);
}

/* A decimal number; inf and nan are read so that the range check can name them. */
static int parse_num(const char *opt, const char *s, double *out)
{
    int special = strcasecmp(s, "inf") == 0 || strcasecmp(s, "-inf") == 0 ||
                  strcasecmp(s, "infinity") == 0 || strcasecmp(s, "nan") == 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!special && (end == s || *end || strspn(s, "0123456789+-.eE") != strlen(s)))
        return bad_value(opt, "expected a decimal number", s);
    if (errno == ERANGE)
        return bad_value(opt, "number out of range", s);
    *out = v == 0 ? 0 : v; /* -0 is 0: the same row as 0 */
    return 0;
}

/* Parse and range-check one library parameter. */
static int parse_param(const char *opt, enum pp_bound_param p, const char *s, double *out)
{
    int rc = parse_num(opt, s, out);
    if (rc)
        return rc;
    const char *why = pp_bound_check(p, *out);
    if (why && p == PP_BOUND_GAMMA && *out == 0)
        why = "must be > 0 (leave --gamma out for the tuned step)";
    return why ? bad_value(opt, why, s) : 0;
}

static int parse_sweep(const char *s, struct args *a)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    double *v = pp_xcalloc(n, sizeof *v);
    const char *tok = s;
    for (size_t k = 0; k < n; k++) {
        size_t len = strcspn(tok, ",");
        char *item = pp_xstrndup(tok, len);
        int rc = len ? parse_param("--sweep-stages", PP_BOUND_STAGES, item, &v[k])
                     : bad_value("--sweep-stages", "empty entry in the list", s);
        free(item);
        if (rc) {
            free(v);
            return rc;
        }
        tok += len + 1;
    }
    free(a->stages);
    a->stages = v;
    a->n_stages = n;
    return 0;
}

static int parse_schedule(const char *s, struct args *a)
{
    a->kind = pp_schedule_from_name(s);
    if (a->kind >= 0) {
        a->schedule = s;
        return 0;
    }
    char why[600];
    const char *sug = pp_suggest(s, pp_schedule_names());
    if (sug) {
        snprintf(why, sizeof why, "unknown schedule (did you mean '%s'?)", sug);
    } else {
        size_t m = (size_t)snprintf(why, sizeof why, "unknown schedule (known: ");
        const char *const *names = pp_schedule_names();
        for (const char *const *n = names; *n && m < sizeof why; n++)
            m += (size_t)snprintf(why + m, sizeof why - m, "%s%s", n == names ? "" : ", ", *n);
        if (m < sizeof why)
            snprintf(why + m, sizeof why - m, ")");
    }
    return bad_value("--schedule", why, s);
}

/* Returns 0, a usage status, a bad-value status, or -1 after --help. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"L", required_argument, NULL, O_L},
        {"G", required_argument, NULL, O_G},
        {"delta0", required_argument, NULL, O_DELTA0},
        {"stages", required_argument, NULL, O_STAGES},
        {"iterations", required_argument, NULL, O_ITER},
        {"delay", required_argument, NULL, O_DELAY},
        {"schedule", required_argument, NULL, O_SCHED},
        {"microbatches", required_argument, NULL, O_MB},
        {"gamma", required_argument, NULL, O_GAMMA},
        {"sweep-stages", required_argument, NULL, O_SWEEP},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double one_stage = 0;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_L: rc = parse_param("--L", PP_BOUND_L, optarg, &a->L); a->have_l = 1; break;
        case O_G: rc = parse_param("--G", PP_BOUND_G, optarg, &a->G); a->have_g = 1; break;
        case O_DELTA0:
            rc = parse_param("--delta0", PP_BOUND_DELTA0, optarg, &a->delta0);
            a->have_d0 = 1;
            break;
        case O_STAGES:
            rc = parse_param("--stages", PP_BOUND_STAGES, optarg, &one_stage);
            a->have_stages = 1;
            break;
        case O_ITER:
            rc = parse_param("--iterations", PP_BOUND_ITERATIONS, optarg, &a->iterations);
            a->have_iter = 1;
            break;
        case O_DELAY:
            rc = parse_param("--delay", PP_BOUND_DELAY, optarg, &a->delay);
            a->have_delay = 1;
            break;
        case O_SCHED: rc = parse_schedule(optarg, a); break;
        case O_MB:
            rc = parse_num("--microbatches", optarg, &a->microbatches);
            if (!rc && a->microbatches > PP_MAX_MICROBATCHES && isfinite(a->microbatches) &&
                a->microbatches == floor(a->microbatches))
                rc = too_large("--microbatches", "more than the limit of 1000000", optarg);
            else if (!rc && !(a->microbatches >= 1 && a->microbatches <= PP_MAX_MICROBATCHES &&
                              a->microbatches == floor(a->microbatches)))
                rc = bad_value("--microbatches", "must be a whole number 1..1000000", optarg);
            break;
        case O_GAMMA: rc = parse_param("--gamma", PP_BOUND_GAMMA, optarg, &a->gamma); break;
        case O_SWEEP: rc = parse_sweep(optarg, a); a->sweep = 1; break;
        case 'f':
            a->format = pp_format_from_name(optarg);
            if (a->format < 0)
                return pp_cli_usage("bound", "unknown format '%s' (table, csv or json)", optarg);
            break;
        case 'o': a->out_path = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        default:
            if (optopt == 'f' || optopt == 'o' || (optopt >= O_L && optopt <= O_SWEEP))
                return pp_cli_usage("bound", "option '%s' needs a value", argv[optind - 1]);
            if (optopt)
                return pp_cli_usage("bound", "unknown option '-%c'", optopt);
            return pp_cli_usage("bound", "unknown or ambiguous option '%s'", argv[optind - 1]);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return pp_cli_usage("bound", "unexpected argument '%s'", argv[optind]);
    if (!a->have_l)
        return pp_cli_usage("bound", "missing --L X");
    if (!a->have_g)
        return pp_cli_usage("bound", "missing --G X");
    if (!a->have_d0)
        return pp_cli_usage("bound", "missing --delta0 X");
    if (!a->have_iter)
        return pp_cli_usage("bound", "missing --iterations K");
    if (a->have_stages == a->sweep)
        return pp_cli_usage("bound", a->sweep ? "give --stages or --sweep-stages, not both"
                                              : "missing --stages S (or --sweep-stages LIST)");
    if (a->have_delay == (a->schedule != NULL))
        return pp_cli_usage("bound", a->have_delay ? "give --delay or --schedule, not both"
                                                   : "missing --delay D or --schedule NAME");
    if (a->microbatches > 0 && !a->schedule)
        return pp_cli_usage("bound", "--microbatches needs --schedule");
    if (!a->sweep) {
        a->stages = pp_xcalloc(1, sizeof *a->stages);
        a->stages[0] = one_stage;
        a->n_stages = 1;
    }
    if (a->schedule)
        for (size_t i = 0; i < a->n_stages; i++)
            if (a->stages[i] > PP_MAX_STAGES) {
                char got[32];
                snprintf(got, sizeof got, "%.17g", a->stages[i]);
                return too_large(a->sweep ? "--sweep-stages" : "--stages",
                                 "--schedule replays at most 4096 stages", got);
            }
    return 0;
}

static int compute_rows(const struct args *a, struct row *rows, struct pp_diag *d)
{
    for (size_t i = 0; i < a->n_stages; i++) {
        struct row *r = &rows[i];
        r->stages = a->stages[i];
        r->delta = a->delay;
        r->mean_delay = NAN;
        r->microbatches = NAN;
        if (a->schedule) {
            int64_t n = (int64_t)a->microbatches;
            int rc = pp_bound_schedule_delay((enum pp_schedule_kind)a->kind, (int)r->stages, n,
                                             &r->delta, &r->mean_delay, d);
            if (rc)
                return rc;
            r->microbatches = n ? (double)n : 10.0 * r->stages;
        }
        struct pp_bound_params p = {a->L, a->G, a->delta0, r->stages, a->iterations, r->delta,
                                    a->gamma};
        int rc = pp_bound_eval(&p, &r->b, d);
        if (rc)
            return rc;
        r->growth = i > 0 && rows[i - 1].b.term[2] > 0 ? r->b.term[2] / rows[i - 1].b.term[2]
                                                         : NAN;
    }
    return 0;
}

/* --- output --- */

/* Round-trip digits; whole numbers (S, K, N, delays) in full rather than 1e+05. */
static void put_num(struct pp_buf *b, double x)
{
    if (x == floor(x) && fabs(x) < 1e15)
        pp_buf_printf(b, "%.0f", x == 0 ? 0.0 : x);
    else
        pp_buf_double(b, x);
}

static void json_num(struct pp_buf *b, const char *key, double x, int comma)
{
    pp_buf_printf(b, "%s\"%s\": ", comma ? ", " : "", key);
    if (isfinite(x))
        put_num(b, x);
    else
        pp_buf_puts(b, "null");
}

static void json_row(struct pp_buf *b, const struct row *r)
{
    json_num(b, "stages", r->stages, 0);
    json_num(b, "microbatches", r->microbatches, 1);
    json_num(b, "delta", r->delta, 1);
    json_num(b, "mean_delay", r->mean_delay, 1);
    json_num(b, "gamma", r->b.gamma, 1);
    pp_buf_puts(b, ", \"gamma_branch\": ");
    pp_buf_json_str(b, pp_bound_branch_name(r->b.branch));
    json_num(b, "gamma_inv_l", r->b.gamma_inv_l, 1);
    json_num(b, "gamma_sqrt", r->b.gamma_sqrt, 1);
    json_num(b, "term1", r->b.term[0], 1);
    json_num(b, "term2", r->b.term[1], 1);
    json_num(b, "term3", r->b.term[2], 1);
    json_num(b, "bound", r->b.total, 1);
    json_num(b, "closed_form", r->b.closed_form, 1);
}

static void render_json(struct pp_buf *b, const struct args *a, const struct row *rows)
{
    pp_buf_puts(b, "{\"command\": \"bound\", \"reconstructed\": true, \"source\": ");
    pp_buf_json_str(b, PP_BOUND_SOURCE);
    pp_buf_puts(b, ", \"caveat\": ");
    pp_buf_json_str(b, caveat);
    json_num(b, "L", a->L, 1);
    json_num(b, "G", a->G, 1);
    json_num(b, "delta0", a->delta0, 1);
    json_num(b, "iterations", a->iterations, 1);
    pp_buf_puts(b, ", \"gamma_mode\": ");
    pp_buf_json_str(b, a->gamma > 0 ? "given" : "tuned");
    pp_buf_puts(b, ", \"delay_source\": ");
    pp_buf_json_str(b, a->schedule ? "schedule" : "given");
    pp_buf_puts(b, ", \"schedule\": ");
    if (a->schedule)
        pp_buf_json_str(b, pp_schedule_name((enum pp_schedule_kind)a->kind));
    else
        pp_buf_puts(b, "null");
    if (!a->sweep) {
        pp_buf_puts(b, ", ");
        json_row(b, &rows[0]);
        pp_buf_puts(b, "}\n");
        return;
    }
    pp_buf_puts(b, ", \"rows\": [");
    for (size_t i = 0; i < a->n_stages; i++) {
        pp_buf_puts(b, i ? ",\n  {" : "\n  {");
        json_row(b, &rows[i]);
        json_num(b, "term3_growth", rows[i].growth, 1);
        pp_buf_puts(b, "}");
    }
    pp_buf_puts(b, "\n]}\n");
}

static void csv_num(struct pp_buf *b, double x)
{
    pp_buf_puts(b, ",");
    if (isfinite(x))
        put_num(b, x);
}

static void render_csv(struct pp_buf *b, const struct args *a, const struct row *rows)
{
    pp_buf_puts(b, "schedule,stages,microbatches,delta,mean_delay,L,G,delta0,iterations,gamma,"
                   "gamma_branch,term1,term2,term3,bound,closed_form,term3_growth\n");
    for (size_t i = 0; i < a->n_stages; i++) {
        const struct row *r = &rows[i];
        if (a->schedule)
            pp_buf_csv_str(b, pp_schedule_name((enum pp_schedule_kind)a->kind));
        const double v[] = {r->stages, r->microbatches, r->delta, r->mean_delay, a->L, a->G,
                            a->delta0, a->iterations, r->b.gamma};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            csv_num(b, v[k]);
        pp_buf_printf(b, ",%s", pp_bound_branch_name(r->b.branch));
        const double w[] = {r->b.term[0], r->b.term[1], r->b.term[2], r->b.total,
                            r->b.closed_form, r->growth};
        for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
            csv_num(b, w[k]);
        pp_buf_puts(b, "\n");
    }
}

static void table_head(struct pp_buf *b)
{
    pp_buf_puts(b, "Randomized PipeDream convergence bound on (1/K) sum_k E|grad f(w^k)|^2\n");
    pp_buf_printf(b, "caveat: %s\n", caveat);
}

static void delay_note(struct pp_buf *b, const struct args *a, const struct row *r)
{
    if (!a->schedule) {
        pp_buf_puts(b, "given");
        return;
    }
    pp_buf_printf(b, "%s: steady-state max, unit-time model, %.6g microbatches; mean %.6g",
                  pp_schedule_name((enum pp_schedule_kind)a->kind), r->microbatches,
                  r->mean_delay);
}

static void render_one(struct pp_buf *b, const struct args *a, const struct row *r)
{
    table_head(b);
    pp_buf_printf(b, "\n  %-34s %.6g\n", "L", a->L);
    pp_buf_printf(b, "  %-34s %.6g\n", "G", a->G);
    pp_buf_printf(b, "  %-34s %.6g\n", "delta0 = f(w0) - f*", a->delta0);
    pp_buf_printf(b, "  %-34s %.6g\n", "stages S", r->stages);
    pp_buf_printf(b, "  %-34s %.6g\n", "iterations K", a->iterations);
    pp_buf_printf(b, "  %-34s %-12.6g (", "delay delta", r->delta);
    delay_note(b, a, r);
    pp_buf_puts(b, ")\n");
    pp_buf_printf(b, "  %-34s %-12.6g (", "gamma", r->b.gamma);
    if (r->b.branch == PP_BOUND_GIVEN)
        pp_buf_printf(b, "given; tuned would be min{1/L = %.6g, sqrt(2 delta0/(L G^2 K)) = "
                         "%.6g})\n",
                      r->b.gamma_inv_l, r->b.gamma_sqrt);
    else
        pp_buf_printf(b, "tuned, %s branch of min{1/L = %.6g, sqrt(2 delta0/(L G^2 K)) = %.6g})\n",
                      pp_bound_branch_name(r->b.branch), r->b.gamma_inv_l, r->b.gamma_sqrt);
    pp_buf_printf(b, "  %-34s %.6g\n", "term 1: 2 S delta0 / (gamma K)", r->b.term[0]);
    pp_buf_printf(b, "  %-34s %.6g\n", "term 2: gamma S L G^2", r->b.term[1]);
    pp_buf_printf(b, "  %-34s %-12.6g (stale-read term)\n", "term 3: gamma^2 L^2 delta^2 G^2",
                  r->b.term[2]);
    pp_buf_printf(b, "  %-34s %.6g\n", "bound (sum)", r->b.total);
    if (r->b.branch == PP_BOUND_SQRT)
        pp_buf_printf(b, "  %-34s %-12.6g (2 S sqrt(2 L G^2 delta0/K) + 2 L delta0 delta^2/K)\n",
                      "tuned-rate closed form", r->b.closed_form);
}

static void render_sweep(struct pp_buf *b, const struct args *a, const struct row *rows)
{
    table_head(b);
    pp_buf_printf(b, "L = %.6g, G = %.6g, delta0 = %.6g, K = %.6g, delay: ", a->L, a->G,
                  a->delta0, a->iterations);
    if (a->schedule)
        pp_buf_printf(b, "%s (steady-state max, unit-time model)",
                      pp_schedule_name((enum pp_schedule_kind)a->kind));
    else
        pp_buf_printf(b, "given, %.6g", a->delay);
    pp_buf_printf(b, ", gamma: %s\n\n", a->gamma > 0 ? "given" : "tuned");
    pp_buf_printf(b, "%6s %10s %12s %6s %12s %12s %12s %12s %10s\n", "S", "delta", "gamma",
                  "branch", "term1", "term2", "term3", "bound", "term3 x");
    for (size_t i = 0; i < a->n_stages; i++) {
        const struct row *r = &rows[i];
        pp_buf_printf(b, "%6.6g %10.6g %12.6g %6s %12.6g %12.6g %12.6g %12.6g ", r->stages,
                      r->delta, r->b.gamma, pp_bound_branch_name(r->b.branch), r->b.term[0],
                      r->b.term[1], r->b.term[2], r->b.total);
        if (isfinite(r->growth))
            pp_buf_printf(b, "%10.6g\n", r->growth);
        else
            pp_buf_printf(b, "%10s\n", "-");
    }
    pp_buf_puts(b, "\nterm3 x: the stale-read term over the previous row's (16 per doubling of S "
                   "means S^4)\n");
}

int pp_cmd_bound(int argc, char **argv)
{
    struct args a;
    memset(&a, 0, sizeof a);
    a.kind = -1;
    a.format = PP_FMT_TABLE;
    int status = parse_args(argc, argv, &a);
    if (status) {
        free(a.stages);
        return status < 0 ? PP_EXIT_OK : status;
    }
    struct row *rows = pp_xcalloc(a.n_stages, sizeof *rows);
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = compute_rows(&a, rows, &d);
    if (rc) {
        status = pp_cli_fail(&d, rc);
    } else {
        struct pp_buf b;
        pp_buf_init(&b);
        if (a.format == PP_FMT_JSON) {
            render_json(&b, &a, rows);
            struct pp_provenance prov = {"bound", NULL, NULL, 0, 0};
            pp_provenance_insert(&b, &prov);
        }
        else if (a.format == PP_FMT_CSV)
            render_csv(&b, &a, rows);
        else if (a.sweep)
            render_sweep(&b, &a, rows);
        else
            render_one(&b, &a, rows);
        status = pp_cli_emit(&b, a.out_path);
        pp_buf_free(&b);
    }
    free(rows);
    free(a.stages);
    return status;
}
