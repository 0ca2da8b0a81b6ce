/* limits.c - interrupts, deadlines and the memory budget (limits.h). */
#include "limits.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "yamlutil.h"

static volatile sig_atomic_t got_signal;
static double deadline_s, limit_s; /* CLOCK_MONOTONIC seconds; 0 = none */
static double max_memory_bytes;    /* 0 = the default */

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
}

void pp_limits_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void pp_limits_set_deadline(double seconds)
{
    limit_s = seconds > 0 ? seconds : 0;
    deadline_s = seconds > 0 ? now_s() + seconds : 0;
}

enum pp_stop pp_limits_stop(void)
{
    if (got_signal)
        return PP_STOP_SIGNAL;
    if (deadline_s > 0 && now_s() >= deadline_s)
        return PP_STOP_DEADLINE;
    return PP_GO_ON;
}

int pp_limits_stopped(struct pp_diag *d, const char *what)
{
    if (pp_limits_stop() == PP_STOP_SIGNAL)
        return pp_diag_set(d, PP_EINTR, NULL, 0, 0, "interrupted%s%s; nothing was written",
                           what ? " " : "", what ? what : "");
    return pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                       "time limit of %g s reached%s%s; nothing was written", limit_s,
                       what ? " " : "", what ? what : "");
}

void pp_limits_set_max_memory(double bytes)
{
    max_memory_bytes = bytes > 0 ? bytes : 0;
}

double pp_limits_max_memory(void)
{
    if (max_memory_bytes > 0)
        return max_memory_bytes;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    /* half the machine: room for the OS and for a second run beside it */
    return pages > 0 && page > 0 ? 0.5 * (double)pages * (double)page : 8e9;
}

int pp_limits_parse_bytes(const char *s, double *out)
{
    char num[64];
    size_t n = strlen(s), k = n;
    double mult = 1;
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {{"Ti", 1099511627776.0}, {"Gi", 1073741824.0}, {"Mi", 1048576.0},
                 {"Ki", 1024.0},          {"T", 1e12},           {"G", 1e9},
                 {"M", 1e6},              {"K", 1e3},            {"B", 1}};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ls = strlen(units[u].suffix);
        if (n > ls && strcmp(s + n - ls, units[u].suffix) == 0) {
            k = n - ls;
            mult = units[u].mult;
            break;
        }
    }
    if (k == 0 || k >= sizeof num)
        return -1;
    memcpy(num, s, k);
    num[k] = 0;
    double x;
    if (pp_parse_decimal(num, &x) != 0 || !(x > 0))
        return -1;
    *out = x * mult;
    return 0;
}
