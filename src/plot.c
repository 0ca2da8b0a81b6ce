/* plot.c - the gnuplot runner and what every plot script shares. gnuplot runs
 * as a child inside a private temporary directory in DIR; the files move
 * into DIR only after it exits cleanly (plot.h says why). */
#include "plot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "xalloc.h"

extern const char pp_terminal_template[];

#define INSTALL_HINT "install it with: apt-get install gnuplot-nox"

static const char *const term_names[] = {"png", "svg", "pdf", NULL};

int pp_plot_term_from_name(const char *name)
{
    for (int i = 0; term_names[i]; i++)
        if (strcmp(name, term_names[i]) == 0)
            return i;
    return -1;
}

const char *pp_plot_term_name(enum pp_plot_term t)
{
    return (unsigned)t < 3 ? term_names[t] : "png";
}

int pp_plot_check_gnuplot(struct pp_diag *d)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    const char *p = path;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char cand[4096];
        if (n + sizeof "/gnuplot" < sizeof cand) {
            if (n == 0)
                snprintf(cand, sizeof cand, "./gnuplot");
            else
                snprintf(cand, sizeof cand, "%.*s/gnuplot", (int)n, p);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                return 0;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "not found on PATH; " INSTALL_HINT);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = pp_xmalloc(n);
    int slash = dir[0] && dir[strlen(dir) - 1] == '/';
    snprintf(p, n, "%s%s%s", dir, slash ? "" : "/", name);
    return p;
}

/* mkdir -p that remembers what it created, so a failed plot can take its
 * directories back. */
struct made {
    char *path[64];
    int n;
};

static void unmake(struct made *m)
{
    while (m->n > 0) {
        m->n--;
        rmdir(m->path[m->n]);
        free(m->path[m->n]);
    }
}

static void forget(struct made *m)
{
    while (m->n > 0)
        free(m->path[--m->n]);
}

static int make_dirs(const char *dir, struct made *m, struct pp_diag *d)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return pp_diag_set(d, PP_EIO, dir, 0, 0, "exists and is not a directory");
        return 0;
    }
    char *p = pp_xstrdup(dir);
    size_t len = strlen(p);
    int rc = 0;
    for (size_t i = 1; i <= len && rc == 0; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char save = p[i];
        p[i] = '\0';
        if (stat(p, &st) != 0) {
            if (mkdir(p, 0755) != 0)
                rc = pp_diag_set(d, PP_EIO, dir, 0, 0, "cannot create directory: %s",
                                 strerror(errno));
            else if (m->n < 64)
                m->path[m->n++] = pp_xstrdup(p);
        } else if (!S_ISDIR(st.st_mode)) {
            rc = pp_diag_set(d, PP_EIO, dir, 0, 0, "cannot create directory: '%s' is not a "
                             "directory", p);
        }
        p[i] = save;
    }
    free(p);
    return rc;
}

/* gnuplot's own complaint, from its log: the last `"FILE" line N: ...` line,
 * else the last non-blank one. */
static void log_reason(const char *log_path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char line[512], any[512] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '^')
            continue;
        snprintf(any, sizeof any, "%s", s);
        if (strstr(s, " line ") && strchr(s, ':'))
            snprintf(out, len, "%.*s", (int)len - 1, s);
    }
    fclose(f);
    if (!out[0])
        snprintf(out, len, "%.*s", (int)len - 1, any);
}

/* Run `gnuplot -e outfile='IMAGE' STEM.gp` in tmpdir, its output to a log. */
static int run_gnuplot(const char *tmpdir, const char *stem, const char *image,
                       struct pp_diag *d)
{
    int rc = pp_plot_check_gnuplot(d);
    if (rc)
        return rc;
    char outfile[300], script[300];
    snprintf(outfile, sizeof outfile, "outfile='%s'", image);
    snprintf(script, sizeof script, "%s.gp", stem);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "cannot start: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(tmpdir) != 0)
            _exit(126);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
        execlp("gnuplot", "gnuplot", "-e", outfile, script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "wait failed: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "cannot run it; " INSTALL_HINT);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = join(tmpdir, "gnuplot.log"), why[400];
        log_reason(log, why, sizeof why);
        free(log);
        return pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "failed on %s (%s %d)%s%s", script,
                           WIFEXITED(status) ? "status" : "signal",
                           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                           why[0] ? ": " : "", why);
    }
    return 0;
}

/* Remove the temporary directory and whatever is left in it. */
static void remove_tmpdir(const char *tmpdir)
{
    DIR *dh = opendir(tmpdir);
    if (dh) {
        struct dirent *e;
        while ((e = readdir(dh)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = join(tmpdir, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(dh);
    }
    rmdir(tmpdir);
}

int pp_plot_render_term(const char *dir, const char *stem, enum pp_plot_term term,
                        const char *dat, size_t dat_len, const char *script, size_t script_len,
                        struct pp_diag *d)
{
    if (strlen(stem) > 200 || strchr(stem, '/') || strchr(stem, '\''))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "bad plot name '%s'", stem);
    int rc = pp_plot_check_gnuplot(d);
    if (rc)
        return rc;
    struct made made = {{0}, 0};
    rc = make_dirs(dir, &made, d);
    if (rc) {
        unmake(&made);
        return rc;
    }
    char name[256];
    snprintf(name, sizeof name, ".ppsim-%s-XXXXXX", stem);
    char *tmpdir = join(dir, name);
    if (!mkdtemp(tmpdir)) {
        rc = pp_diag_set(d, PP_EIO, dir, 0, 0, "cannot write in directory: %s", strerror(errno));
        free(tmpdir);
        unmake(&made);
        return rc;
    }
    const char *ext = pp_plot_term_name(term);
    char image[256], gpname[256], datname[256];
    snprintf(image, sizeof image, "%s.%s", stem, ext);
    snprintf(gpname, sizeof gpname, "%s.gp", stem);
    snprintf(datname, sizeof datname, "%s.dat", stem);
    const char *names[3] = {datname, gpname, image};
    const char *data[2] = {dat, script};
    size_t lens[2] = {dat_len, script_len};
    for (int i = 0; i < 2 && rc == 0; i++) {
        char *p = join(tmpdir, names[i]);
        rc = pp_write_file_atomic(p, data[i], lens[i], d);
        free(p);
    }
    if (rc == 0)
        rc = run_gnuplot(tmpdir, stem, image, d);
    for (int i = 0; i < 3 && rc == 0; i++) {
        char *from = join(tmpdir, names[i]), *to = join(dir, names[i]);
        struct stat st;
        if (stat(from, &st) != 0)
            rc = pp_diag_set(d, PP_EIO, "gnuplot", 0, 0, "wrote no %s", names[i]);
        else if (rename(from, to) != 0)
            rc = pp_diag_set(d, PP_EIO, to, 0, 0, "cannot write file: %s", strerror(errno));
        free(from);
        free(to);
    }
    remove_tmpdir(tmpdir);
    free(tmpdir);
    if (rc)
        unmake(&made);
    else
        forget(&made);
    return rc;
}

int pp_plot_render(const char *dir, const char *stem, const char *dat, size_t dat_len,
                   const char *script, size_t script_len, struct pp_diag *d)
{
    return pp_plot_render_term(dir, stem, PP_PLOT_PNG, dat, dat_len, script, script_len, d);
}

void pp_plot_gp_str(struct pp_buf *b, const char *s)
{
    pp_buf_append(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            pp_buf_append(b, "''", 2);
        else if ((unsigned char)*p < 0x20 || *p == 0x7f)
            pp_buf_append(b, " ", 1);
        else
            pp_buf_append(b, p, 1);
    }
    pp_buf_append(b, "'", 1);
}

void pp_plot_dat_text(struct pp_buf *b, const char *s)
{
    for (const char *p = s; *p; p++)
        pp_buf_append(b, (unsigned char)*p < 0x20 || *p == 0x7f ? " " : p, 1);
}

void pp_plot_num(struct pp_buf *b, double x)
{
    if (!isfinite(x)) {
        pp_buf_puts(b, "NaN");
        return;
    }
    if (x == 0)
        x = 0; /* no "-0" */
    pp_buf_double(b, x); /* reads back exactly */
}

void pp_plot_script_head(struct pp_buf *gp, const char *stem, enum pp_plot_term term, int width,
                         int height, const char *title)
{
    pp_buf_printf(gp, "# %s.gp - written by ppsim; %s.dat holds the data. Restyle and re-run in\n"
                      "# this directory with: gnuplot %s.gp   (or: gnuplot -e \"term='svg'\" "
                      "%s.gp)\n",
                  stem, stem, stem, stem);
    pp_buf_puts(gp, "stem = ");
    pp_plot_gp_str(gp, stem);
    pp_buf_printf(gp, "\nif (!exists(\"term\")) term = '%s'\n", pp_plot_term_name(term));
    pp_buf_printf(gp, "if (!exists(\"width\")) width = %d\nif (!exists(\"height\")) height = %d\n"
                      "datafile = ",
                  width, height);
    pp_buf_printf(gp, "'%s.dat'\ntitle_text = ", stem);
    pp_plot_gp_str(gp, title);
    pp_buf_puts(gp, "\n");
}

void pp_plot_script_tail(struct pp_buf *gp, const char *kind_template)
{
    pp_buf_puts(gp, "\n");
    pp_buf_puts(gp, pp_terminal_template);
    pp_buf_puts(gp, "\n");
    pp_buf_puts(gp, kind_template);
}

/* Column names the sweep CSV uses, with their labels; others get one from
 * their last dotted component and unit suffix. */
static const struct {
    const char *col, *label;
    double scale;
} known_cols[] = {
    {"microbatches", "microbatches per iteration", 1},
    {"stages", "pipeline stages", 1},
    {"chunks", "model chunks per device", 1},
    {"microbatch_size", "microbatch size (samples)", 1},
    {"devices", "devices", 1},
    {"data_parallel", "data-parallel replicas", 1},
    {"iteration_time_ms", "iteration time (ms)", 1},
    {"throughput_samples_per_s", "throughput (samples/s)", 1},
    {"steady_throughput_samples_per_s", "steady-state throughput (samples/s)", 1},
    {"bubble_fraction", "bubble fraction (idle share of devices x time)", 1},
    {"bubble_megatron", "bubble, Megatron's (T - ideal) / ideal", 1},
    {"bubble_gpipe", "bubble, GPipe's (T - ideal) / T", 1},
    {"zb_bubble_rate", "bubble rate, Zero Bubble's", 1},
    {"ideal_ms", "ideal iteration time (ms)", 1},
    {"analytic_iteration_ms", "closed-form iteration time (ms)", 1},
    {"peak_memory_bytes", "peak memory per device (GB)", 1e-9},
    {"peak_activation_bytes", "peak activation memory per device (GB)", 1e-9},
    {"max_peak_inflight", "microbatches in flight (peak)", 1},
    {"device_memory_bytes", "device memory (GB)", 1e-9},
    {"bandwidth_bytes_per_s", "link bandwidth (GB/s)", 1e-9},
    {"latency_ms", "link latency (ms)", 1},
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void pp_plot_axis_label(const char *column, char *buf, size_t len, double *scale)
{
    const char *last = strrchr(column, '.');
    last = last ? last + 1 : column;
    for (size_t i = 0; i < sizeof known_cols / sizeof known_cols[0]; i++) {
        if (strcmp(column, known_cols[i].col) == 0 || strcmp(last, known_cols[i].col) == 0) {
            snprintf(buf, len, "%s", known_cols[i].label);
            *scale = known_cols[i].scale;
            return;
        }
    }
    static const struct {
        const char *suffix, *unit;
        double scale;
    } units[] = {
        {"_bytes_per_s", "GB/s", 1e-9}, {"_bytes", "GB", 1e-9}, {"_per_s", "/s", 1},
        {"_ms", "ms", 1},               {"_ns", "ns", 1},
    };
    *scale = 1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ends_with(last, units[i].suffix)) {
            int n = (int)(strlen(last) - strlen(units[i].suffix));
            snprintf(buf, len, "%.*s (%s)", n, last, units[i].unit);
            *scale = units[i].scale;
            goto spaces;
        }
    }
    snprintf(buf, len, "%s", last);
spaces:
    for (char *c = buf; *c && *c != '('; c++)
        if (*c == '_')
            *c = ' ';
}
