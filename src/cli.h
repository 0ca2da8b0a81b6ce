/* cli.h - what every subcommand shares: exit statuses, error printing and
 * output files. Only main.c and cmd_*.c print. */
#ifndef PP_CLI_H
#define PP_CLI_H

#include <stdint.h>

struct pp_diag;
struct pp_buf;

enum {
    PP_EXIT_OK = 0,
    PP_EXIT_FAIL = 1,       /* bad input or a failed run */
    PP_EXIT_USAGE = 2,      /* wrong command line */
    PP_EXIT_INFEASIBLE = 3, /* valid request, no feasible answer (e.g. memory) */
    PP_EXIT_INTERRUPTED = 130, /* SIGINT or SIGTERM: stopped cleanly, nothing written */
};

/* Print "ppsim CMD: message" and the --help hint to stderr; returns PP_EXIT_USAGE. */
int pp_cli_usage(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Print the diagnostic as one line on stderr; returns the exit status for rc. */
int pp_cli_fail(const struct pp_diag *d, int rc);
/* --max-memory BYTES and --time-limit SECONDS (limits.h): 0, or the usage
 * status after printing why. */
int pp_cli_max_memory(const char *cmd, const char *arg);
int pp_cli_time_limit(const char *cmd, const char *arg);
/* Write the buffer to path ("-" or NULL = stdout), atomically for files. */
int pp_cli_emit(const struct pp_buf *b, const char *path);

/* A progress bar for a person watching, "[#####      ]  42%  ETA 3 s", on one
 * rewritten stderr line at most ten times a second, and only when stderr is
 * a terminal: stdout and output files stay the same bytes with it. */
struct pp_cli_progress {
    double t0_s, last_s; /* CLOCK_MONOTONIC start; last drawn, from t0_s */
    int on;              /* wanted (no --no-progress) and stderr a terminal */
    int counts;          /* also "done/total  rate/s": sweep's configurations */
    int drawn;           /* an unfinished bar is on the line */
};
/* Start the clock; the bar shows only if `wanted` and stderr is a terminal. */
void pp_cli_progress_start(struct pp_cli_progress *p, int wanted, int counts);
/* Draw `done` of `total`; the line ends at done == total. ctx is the struct
 * pp_cli_progress: this is a progress callback (sweep_run.h, pdplan.h). */
void pp_cli_progress_update(void *ctx, uint64_t done, uint64_t total);
/* End an unfinished bar's line, so that an error message starts its own. */
void pp_cli_progress_end(struct pp_cli_progress *p);

int pp_cmd_simulate(int argc, char **argv);
int pp_cmd_plot(int argc, char **argv);
int pp_cmd_model(int argc, char **argv);
int pp_cmd_bench(int argc, char **argv);
int pp_cmd_plan(int argc, char **argv);
int pp_cmd_schedule(int argc, char **argv);
int pp_cmd_staleness(int argc, char **argv);
int pp_cmd_sweep(int argc, char **argv);
int pp_cmd_calibrate(int argc, char **argv);
int pp_cmd_calibrate_generator(int argc, char **argv); /* `calibrate generator` */
int pp_cmd_converge(int argc, char **argv);
int pp_cmd_bound(int argc, char **argv);

#endif
