/* limits.h - what may stop a run early: an interrupt (SIGINT, SIGTERM), a
 * wall-clock deadline (--time-limit), and the host memory one simulation may
 * take (--max-memory, estimated before anything is allocated).
 *
 * Long loops (sweep workers, plan candidates, step-size grids, the event
 * loop) poll pp_limits_stop() and give up with -PP_EINTR or -PP_EINFEASIBLE;
 * the commands write their output only after the work is done, so a stopped
 * run leaves no partial file. The state is process-wide and set before any
 * worker starts. */
#ifndef PP_LIMITS_H
#define PP_LIMITS_H

#include <stdint.h>

struct pp_diag;

enum pp_stop { PP_GO_ON = 0, PP_STOP_SIGNAL = 1, PP_STOP_DEADLINE = 2 };

/* SIGINT and SIGTERM set a flag instead of killing the process. */
void pp_limits_install_signals(void);
/* Stop after `seconds` of wall-clock time from now (<= 0: no deadline). */
void pp_limits_set_deadline(double seconds);
enum pp_stop pp_limits_stop(void);
/* Fill d for a stopped run: "interrupted" (-PP_EINTR) or "time limit of N s
 * reached" (-PP_EINFEASIBLE); `what` says how far it got. */
int pp_limits_stopped(struct pp_diag *d, const char *what);

/* The host memory one run may use: --max-memory, default half the physical
 * memory. */
void pp_limits_set_max_memory(double bytes);
double pp_limits_max_memory(void);
/* Parse "8e9", "8G", "512M", "1.5T" (powers of 1000, or Gi/Mi/Ki/Ti for
 * powers of 1024): 0 on success. */
int pp_limits_parse_bytes(const char *s, double *out);

#endif
