/* plot.c - Gantt chart of a simulated iteration via gnuplot (plots/gantt.gp,
 * embedded at build time by tools/embed.py). gnuplot runs as a child in DIR and
 * renders to a temporary name that is renamed once it exits cleanly. */
#include "plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"
#include "xalloc.h"

extern const char pp_gantt_template[];

static int make_dir(const char *dir, struct pp_diag *d)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return pp_diag_set(d, PP_EIO, dir, 0, 0, "exists and is not a directory");
        return 0;
    }
    if (mkdir(dir, 0755) != 0)
        return pp_diag_set(d, PP_EIO, dir, 0, 0, "cannot create directory: %s", strerror(errno));
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = pp_xmalloc(n);
    int slash = dir[0] && dir[strlen(dir) - 1] == '/';
    snprintf(p, n, "%s%s%s", dir, slash ? "" : "/", name);
    return p;
}

/* Run `gnuplot -e outfile='STEM.png.tmp' STEM.gp` in dir; 0 or -PP_EIO. */
static int run_gnuplot(const char *dir, const char *stem, struct pp_diag *d)
{
    char outfile[300], script[300];
    snprintf(outfile, sizeof outfile, "outfile='%s.png.tmp'", stem);
    snprintf(script, sizeof script, "%s.gp", stem);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "cannot start: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        execlp("gnuplot", "gnuplot", "-e", outfile, script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "wait failed: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0,
                           "not found on PATH (install gnuplot-nox to write plots)");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return pp_diag_set(d, PP_EIO, dir, 0, 0, "gnuplot failed on %s (status %d)", script,
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

int pp_plot_render(const char *dir, const char *stem, const char *dat, size_t dat_len,
                   const char *script, size_t script_len, struct pp_diag *d)
{
    int rc = make_dir(dir, d);
    if (rc)
        return rc;
    char name[256];
    snprintf(name, sizeof name, "%s.dat", stem);
    char *dat_path = join(dir, name);
    snprintf(name, sizeof name, "%s.gp", stem);
    char *gp_path = join(dir, name);
    snprintf(name, sizeof name, "%s.png.tmp", stem);
    char *tmp_png = join(dir, name);
    snprintf(name, sizeof name, "%s.png", stem);
    char *png = join(dir, name);
    rc = pp_write_file_atomic(dat_path, dat, dat_len, d);
    if (rc == 0)
        rc = pp_write_file_atomic(gp_path, script, script_len, d);
    if (rc == 0)
        rc = run_gnuplot(dir, stem, d);
    if (rc == 0 && rename(tmp_png, png) != 0)
        rc = pp_diag_set(d, PP_EIO, png, 0, 0, "cannot write file: %s", strerror(errno));
    if (rc)
        unlink(tmp_png);
    free(dat_path);
    free(gp_path);
    free(tmp_png);
    free(png);
    return rc;
}

int pp_plot_gantt(const struct pp_run *r, const char *dir, struct pp_diag *d)
{
    if (!r->res->spans)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "the run kept no op spans to plot");
    int rc;
    struct pp_buf dat, gp;
    pp_buf_init(&dat);
    pp_buf_init(&gp);
    const struct pp_plan *plan = r->plan;
    pp_buf_puts(&dat, "# device start_ms end_ms kind microbatch (kind 0=F 1=B 2=BI 3=BW 4=FB 5=opt or all-reduce)\n");
    for (int dv = 0; dv < plan->n_devices; dv++) {
        for (size_t o = plan->dev_first[dv]; o < plan->dev_first[dv + 1]; o++) {
            const struct pp_span *s = &r->res->spans[o];
            if (s->end_ns == s->start_ns)
                continue;
            int kind = plan->ops[o].kind;
            pp_buf_printf(&dat, "%d %.6f %.6f %d %d\n", dv, (double)s->start_ns / 1e6,
                          (double)s->end_ns / 1e6, kind > 5 ? 5 : kind,
                          plan->ops[o].mb < 0 ? 0 : plan->ops[o].mb);
        }
    }
    char title[256];
    snprintf(title, sizeof title, "%s: %s, %d stages, %lld microbatches, %.6g ms",
             r->sc->name[0] ? r->sc->name : "ppsim", pp_schedule_name(plan->kind), plan->n_devices,
             (long long)plan->n_microbatches, r->iteration_time_ms);
    for (char *c = title; *c; c++)
        if (*c == '\'' || *c == '\\')
            *c = ' ';
    pp_buf_printf(&gp, "# written by ppsim; re-run with: gnuplot gantt.gp\n"
                       "datafile = 'gantt.dat'\nndevices = %d\ntitle_text = '%s'\n",
                  plan->n_devices, title);
    pp_buf_puts(&gp, pp_gantt_template);

    rc = pp_plot_render(dir, "gantt", dat.data, dat.len, gp.data, gp.len, d);
    pp_buf_free(&dat);
    pp_buf_free(&gp);
    return rc;
}
