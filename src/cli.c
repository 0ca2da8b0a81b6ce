/* cli.c - shared command-line plumbing. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "limits.h"
#include "yamlutil.h"

int pp_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ppsim%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'ppsim%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return PP_EXIT_USAGE;
}

int pp_cli_fail(const struct pp_diag *d, int rc)
{
    char line[1024];
    fprintf(stderr, "%s\n", pp_diag_format(d, line, sizeof line));
    if (rc == -PP_EINTR)
        return PP_EXIT_INTERRUPTED;
    /* A size past a cap (10^12 microbatches, a 300 MB file) is a valid request
     * ppsim cannot take on, not a malformed one. */
    return rc == -PP_EINFEASIBLE || rc == -PP_ENOMEM ? PP_EXIT_INFEASIBLE : PP_EXIT_FAIL;
}

int pp_cli_emit(const struct pp_buf *b, const char *path)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_write_file_atomic(path ? path : "-", b->data ? b->data : "", b->len, &d);
    return rc ? pp_cli_fail(&d, rc) : PP_EXIT_OK;
}

int pp_cli_max_memory(const char *cmd, const char *arg)
{
    double m;
    if (pp_limits_parse_bytes(arg, &m) != 0)
        return pp_cli_usage(cmd, "--max-memory: '%s' is not a size such as 8e9 or 8G", arg);
    pp_limits_set_max_memory(m);
    return 0;
}

int pp_cli_time_limit(const char *cmd, const char *arg)
{
    double t;
    if (pp_parse_decimal(arg, &t) != 0 || !(t > 0))
        return pp_cli_usage(cmd, "--time-limit: '%s' is not a number of seconds > 0", arg);
    pp_limits_set_deadline(t);
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void pp_cli_progress_start(struct pp_cli_progress *p, int wanted, int counts)
{
    p->t0_s = now_s();
    p->last_s = 0;
    p->on = wanted && isatty(2);
    p->counts = counts;
    p->drawn = 0;
}

void pp_cli_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    struct pp_cli_progress *p = ctx;
    if (!p->on)
        return;
    double s = now_s() - p->t0_s;
    if (done < total && p->drawn && s - p->last_s < 0.1)
        return;
    p->last_s = s;
    double frac = total ? (double)done / (double)total : 1;
    double eta = frac > 0 ? s * (1 - frac) / frac : 0;
    int width = 30, fill = (int)((double)width * frac);
    fprintf(stderr, "\r[%.*s%*s] %3.0f%%  ", fill, "##############################", width - fill,
            "", 100 * frac);
    if (p->counts)
        fprintf(stderr, "%llu/%llu  %.1f/s  ", (unsigned long long)done,
                (unsigned long long)total, s > 0 ? (double)done / s : 0);
    fprintf(stderr, "ETA %.0f s ", eta);
    p->drawn = done < total;
    if (!p->drawn)
        fputs("\n", stderr);
    fflush(stderr);
}

void pp_cli_progress_end(struct pp_cli_progress *p)
{
    if (p->drawn)
        fputs("\n", stderr);
    p->drawn = 0;
}
