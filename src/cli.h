/* cli.h - what every subcommand shares: exit statuses, error printing and
 * output files. Only main.c and cmd_*.c print. */
#ifndef PP_CLI_H
#define PP_CLI_H

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

int pp_cmd_simulate(int argc, char **argv);
int pp_cmd_plot(int argc, char **argv);
int pp_cmd_model(int argc, char **argv);
int pp_cmd_bench(int argc, char **argv);
int pp_cmd_plan(int argc, char **argv);
int pp_cmd_schedule(int argc, char **argv);
int pp_cmd_staleness(int argc, char **argv);
int pp_cmd_sweep(int argc, char **argv);
int pp_cmd_calibrate(int argc, char **argv);
int pp_cmd_converge(int argc, char **argv);
int pp_cmd_bound(int argc, char **argv);

#endif
