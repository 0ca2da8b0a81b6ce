/* plot_heatmap.c - a sweep's result over the grid of two configuration
 * columns (plots/heatmap.gp), e.g. throughput over stages x microbatches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csvtab.h"
#include "diag.h"
#include "plot.h"
#include "xalloc.h"

extern const char pp_heatmap_template[];

#define MAX_CATEGORIES 200

/* The distinct values of a column, sorted numerically when all are numbers,
 * else in order of first appearance. */
struct axis {
    char **val;
    double *num;
    size_t n;
    int numeric;
};

struct cat {
    const char *s;
    double v;
};

static int cmp_cat(const void *a, const void *b)
{
    const struct cat *p = a, *q = b;
    return p->v < q->v ? -1 : p->v > q->v;
}

static int axis_build(const struct pp_csvtab *t, const size_t *rows, size_t n, int col,
                      struct axis *ax, struct pp_diag *d)
{
    struct cat *cats = pp_xmalloc((MAX_CATEGORIES + 1) * sizeof *cats);
    size_t k = 0;
    ax->numeric = 1;
    for (size_t i = 0; i < n; i++) {
        const char *s = pp_csvtab_cell(t, rows[i], (size_t)col);
        if (!*s)
            continue; /* an invalid configuration may leave it empty */
        size_t j = 0;
        while (j < k && strcmp(cats[j].s, s) != 0)
            j++;
        if (j < k)
            continue;
        if (k == MAX_CATEGORIES) {
            free(cats);
            return pp_diag_set(d, PP_EINVAL, t->file, 0, 0,
                               "heatmap: column '%s' has more than %d distinct values",
                               t->header[col], MAX_CATEGORIES);
        }
        cats[k].s = s;
        ax->numeric &= pp_csvtab_number(t, rows[i], (size_t)col, &cats[k].v, NULL) == 0;
        k++;
    }
    if (ax->numeric)
        qsort(cats, k, sizeof *cats, cmp_cat); /* distinct strings, but "8" and "8.0" tie: stable enough */
    ax->n = k;
    ax->val = pp_xmalloc(k * sizeof *ax->val);
    ax->num = pp_xmalloc(k * sizeof *ax->num);
    for (size_t j = 0; j < k; j++) {
        ax->val[j] = pp_xstrdup(cats[j].s);
        ax->num[j] = cats[j].v;
    }
    free(cats);
    return 0;
}

static void axis_free(struct axis *ax)
{
    for (size_t j = 0; j < ax->n; j++)
        free(ax->val[j]);
    free(ax->val);
    free(ax->num);
}

static size_t axis_index(const struct axis *ax, const char *s)
{
    size_t j = 0;
    while (j < ax->n && strcmp(ax->val[j], s) != 0)
        j++;
    return j;
}

/* Times, bytes and bubbles are better low; throughputs high. */
static int lower_is_better(const char *col)
{
    size_t n = strlen(col);
    return strstr(col, "bubble") || strstr(col, "inflight") ||
           (n > 3 && strcmp(col + n - 3, "_ms") == 0) ||
           (n > 6 && strcmp(col + n - 6, "_bytes") == 0);
}

/* A short cell label, three significant digits without an exponent. */
static void cell_label(char *buf, size_t len, double v)
{
    double a = fabs(v);
    int dec = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : a >= 0.01 ? 4 : 5;
    if (a > 0 && a < 1e-5)
        snprintf(buf, len, "%.2e", v);
    else
        snprintf(buf, len, "%.*f", dec, v);
}

static void axis_array(struct pp_buf *gp, const char *name, const struct axis *ax)
{
    pp_buf_printf(gp, "array %s[%zu] = [", name, ax->n);
    for (size_t j = 0; j < ax->n; j++) {
        pp_buf_puts(gp, j ? ", " : "");
        pp_plot_gp_str(gp, ax->val[j]);
    }
    pp_buf_puts(gp, "]\n");
}

int pp_plot_heatmap(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                    struct pp_diag *d)
{
    const char *x = o->x ? o->x : "microbatches", *y = o->y ? o->y : "stages";
    const char *z = o->z ? o->z : "throughput_samples_per_s";
    int cx = pp_csvtab_need(t, x, "--x", d);
    if (cx < 0)
        return cx;
    int cy = pp_csvtab_need(t, y, "--y", d);
    if (cy < 0)
        return cy;
    int cz = pp_csvtab_need(t, z, o->z ? "--z" : NULL, d);
    if (cz < 0)
        return cz;
    size_t *rows, n;
    int rc = pp_plot_select_rows(t, o, &rows, &n, d);
    if (rc)
        return rc;
    /* The grid spans every configuration the filters keep, so a cell whose
     * rows are all infeasible or invalid shows up blank. */
    size_t *all = NULL, n_all = 0;
    struct axis ax = {0}, ay = {0};
    rc = pp_plot_filter_rows(t, o, &all, &n_all, d);
    if (rc == 0)
        rc = axis_build(t, all, n_all, cx, &ax, d);
    if (rc == 0)
        rc = axis_build(t, all, n_all, cy, &ay, d);
    free(all);
    double *cell = NULL;
    size_t *count = NULL;
    if (rc == 0) {
        cell = pp_xmalloc(ax.n * ay.n * sizeof *cell);
        count = pp_xcalloc(ax.n * ay.n, sizeof *count);
    }
    int low = lower_is_better(z), shared = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        double v;
        rc = pp_csvtab_number(t, rows[i], (size_t)cz, &v, d);
        if (rc)
            break;
        size_t k = axis_index(&ax, pp_csvtab_cell(t, rows[i], (size_t)cx)) * ay.n +
                   axis_index(&ay, pp_csvtab_cell(t, rows[i], (size_t)cy));
        if (count[k] == 0 || (low ? v < cell[k] : v > cell[k]))
            cell[k] = v;
        shared |= ++count[k] > 1;
    }
    if (rc == 0) {
        char xlabel[200], ylabel[200], zlabel[200];
        double xs, ys, zs, zmin = 0, zmax = 0;
        int first = 1;
        pp_plot_axis_label(x, xlabel, sizeof xlabel, &xs);
        pp_plot_axis_label(y, ylabel, sizeof ylabel, &ys);
        pp_plot_axis_label(z, zlabel, sizeof zlabel, &zs);
        struct pp_buf dat, gp;
        pp_buf_init(&dat);
        pp_buf_init(&gp);
        const char *base = strrchr(t->file, '/');
        base = base ? base + 1 : t->file;
        pp_buf_printf(&dat, "# heatmap.dat - %s over %s x %s from ", z, x, y);
        pp_plot_dat_text(&dat, base);
        pp_buf_printf(&dat, ", written by ppsim\n"
                            "# x_index y_index %s label (cells without an ok row are absent%s)\n",
                      z,
                      shared ? low ? "; the lowest of a cell's rows" : "; the highest of a "
                                                                       "cell's rows"
                             : "");
        for (size_t i = 0; i < ax.n; i++) {
            for (size_t j = 0; j < ay.n; j++) {
                size_t k = i * ay.n + j;
                if (!count[k])
                    continue;
                char lab[64];
                cell_label(lab, sizeof lab, cell[k] * zs);
                pp_buf_printf(&dat, "%zu %zu ", i, j);
                pp_plot_num(&dat, cell[k]);
                pp_buf_printf(&dat, " %s\n", lab);
                if (first || cell[k] * zs < zmin)
                    zmin = cell[k] * zs;
                if (first || cell[k] * zs > zmax)
                    zmax = cell[k] * zs;
                first = 0;
            }
        }
        char title[500];
        snprintf(title, sizeof title, "%s over %s x %s (%s)%s", zlabel, y, x,
                 base,
                 shared ? low ? ", best (lowest) of each cell's configurations"
                              : ", best (highest) of each cell's configurations"
                        : "");
        int width = (int)(ax.n * 80 + 360), height = (int)(ay.n * 56 + 240);
        width = width < 800 ? 800 : width > 3000 ? 3000 : width;
        height = height < 500 ? 500 : height > 3000 ? 3000 : height;
        pp_plot_script_head(&gp, "heatmap", o->term, width, height, title);
        pp_buf_printf(&gp, "nx = %zu\nny = %zu\n", ax.n, ay.n);
        axis_array(&gp, "xlab", &ax);
        axis_array(&gp, "ylab", &ay);
        pp_buf_puts(&gp, "xlabel_text = ");
        pp_plot_gp_str(&gp, xlabel);
        pp_buf_puts(&gp, "\nylabel_text = ");
        pp_plot_gp_str(&gp, ylabel);
        pp_buf_puts(&gp, "\nzlabel_text = ");
        pp_plot_gp_str(&gp, zlabel);
        pp_buf_puts(&gp, "\nzscale = ");
        pp_plot_num(&gp, zs);
        pp_buf_puts(&gp, "\nzmin = ");
        pp_plot_num(&gp, zmin);
        pp_buf_puts(&gp, "\nzmax = ");
        pp_plot_num(&gp, zmax);
        size_t blank = 0;
        for (size_t k = 0; k < ax.n * ay.n; k++)
            blank += count[k] == 0;
        pp_buf_printf(&gp, "\ncell_labels = %d\nblank_cells = %zu\n", ax.n <= 30 && ay.n <= 40,
                      blank);
        pp_plot_script_tail(&gp, pp_heatmap_template);
        rc = pp_plot_render_term(dir, "heatmap", o->term, dat.data, dat.len, gp.data, gp.len, d);
        pp_buf_free(&dat);
        pp_buf_free(&gp);
    }
    free(cell);
    free(count);
    axis_free(&ax);
    axis_free(&ay);
    free(rows);
    return rc;
}
