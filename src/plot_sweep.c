/* plot_sweep.c - curves from a sweep CSV (plots/lines.gp): throughput,
 * bubble fraction or peak memory against a configuration column, one curve
 * per schedule; and the row selection every sweep plot shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csvtab.h"
#include "diag.h"
#include "plot.h"
#include "xalloc.h"

extern const char pp_lines_template[];

/* More curves than this make an unreadable key. */
#define MAX_CURVES 40

static const char *const result_columns[] = {
    "config", "status", "message", "iteration_time_ms", "throughput_samples_per_s",
    "steady_throughput_samples_per_s", "bubble_fraction", "bubble_megatron", "bubble_gpipe",
    "zb_bubble_rate", "ideal_ms", "analytic_iteration_ms", "peak_memory_bytes",
    "peak_activation_bytes", "max_peak_inflight", NULL,
};

int pp_plot_is_result_column(const char *name)
{
    for (const char *const *c = result_columns; *c; c++)
        if (strcmp(name, *c) == 0)
            return 1;
    return 0;
}

/* The columns of the --where filters. */
static int where_columns(const struct pp_csvtab *t, const struct pp_plot_sweep *o, int **out,
                         struct pp_diag *d)
{
    int *wcol = pp_xcalloc(o->n_where + 1, sizeof *wcol);
    int rc = 0;
    for (size_t w = 0; w < o->n_where && rc == 0; w++) {
        const char *eq = strchr(o->where[w], '=');
        if (!eq || eq == o->where[w]) {
            rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "--where '%s': expected COLUMN=VALUE",
                             o->where[w]);
            break;
        }
        char *name = pp_xstrndup(o->where[w], (size_t)(eq - o->where[w]));
        rc = pp_csvtab_need(t, name, "--where", d);
        free(name);
        wcol[w] = rc;
        if (rc >= 0)
            rc = 0;
    }
    if (rc) {
        free(wcol);
        return rc;
    }
    *out = wcol;
    return 0;
}

static int passes(const struct pp_csvtab *t, const struct pp_plot_sweep *o, const int *wcol,
                  size_t r)
{
    for (size_t w = 0; w < o->n_where; w++)
        if (strcmp(pp_csvtab_cell(t, r, (size_t)wcol[w]), strchr(o->where[w], '=') + 1) != 0)
            return 0;
    return 1;
}

int pp_plot_filter_rows(const struct pp_csvtab *t, const struct pp_plot_sweep *o, size_t **rows,
                        size_t *n_rows, struct pp_diag *d)
{
    int *wcol;
    int rc = where_columns(t, o, &wcol, d);
    if (rc)
        return rc;
    size_t *sel = pp_xmalloc((t->n_rows + 1) * sizeof *sel), n = 0;
    for (size_t r = 0; r < t->n_rows; r++)
        if (passes(t, o, wcol, r))
            sel[n++] = r;
    free(wcol);
    *rows = sel;
    *n_rows = n;
    return 0;
}

int pp_plot_select_rows(const struct pp_csvtab *t, struct pp_plot_sweep *o, size_t **rows,
                        size_t *n_rows, struct pp_diag *d)
{
    o->n_filtered = o->n_not_ok = 0;
    int *wcol;
    int rc = where_columns(t, o, &wcol, d);
    if (rc)
        return rc;
    int cs = pp_csvtab_col(t, "status");
    size_t *sel = pp_xmalloc((t->n_rows + 1) * sizeof *sel), n = 0;
    size_t n_infeasible = 0, n_invalid = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        if (!passes(t, o, wcol, r)) {
            o->n_filtered++;
            continue;
        }
        const char *st = cs >= 0 ? pp_csvtab_cell(t, r, (size_t)cs) : "ok";
        if (strcmp(st, "ok") != 0) {
            o->n_not_ok++;
            n_infeasible += strcmp(st, "infeasible") == 0;
            n_invalid += strcmp(st, "invalid") == 0;
            continue;
        }
        sel[n++] = r;
    }
    free(wcol);
    if (t->n_rows == 0) {
        free(sel);
        return pp_diag_set(d, PP_EINVAL, t->file, 0, 0, "no rows to plot (only a header)");
    }
    if (n == 0) {
        char why[200] = "";
        size_t other = o->n_not_ok - n_infeasible - n_invalid;
        snprintf(why, sizeof why, "%zu infeasible, %zu invalid", n_infeasible, n_invalid);
        if (other)
            snprintf(why + strlen(why), sizeof why - strlen(why), ", %zu other", other);
        if (o->n_filtered)
            snprintf(why + strlen(why), sizeof why - strlen(why), ", %zu dropped by --where",
                     o->n_filtered);
        free(sel);
        return pp_diag_set(d, PP_EINVAL, t->file, 0, 0, "no rows with status ok to plot (%zu "
                           "rows: %s)", t->n_rows, why);
    }
    *rows = sel;
    *n_rows = n;
    return 0;
}

/* --- curves --- */

struct point {
    size_t row, curve;
    double x, y;
    char *sig; /* key columns + x, for finding rows that would share a point */
};

static int cmp_point_sig(const void *a, const void *b)
{
    const struct point *p = a, *q = b;
    int c = strcmp(p->sig, q->sig);
    return c ? c : (p->row > q->row) - (p->row < q->row);
}

static char *signature(const struct pp_csvtab *t, size_t row, const int *keys, int n_keys,
                       int cx)
{
    struct pp_buf b;
    pp_buf_init(&b);
    for (int k = 0; k < n_keys; k++) {
        pp_buf_puts(&b, pp_csvtab_cell(t, row, (size_t)keys[k]));
        pp_buf_append(&b, "\x1f", 1);
    }
    if (cx >= 0)
        pp_buf_puts(&b, pp_csvtab_cell(t, row, (size_t)cx));
    pp_buf_append(&b, "", 0);
    return b.data;
}

/* Add configuration columns to the curve key until no two rows of a curve
 * share an x: a swept column that the x and `by` columns do not determine
 * (stages, say) must split the curves, one that they do (pipeline.microbatches
 * beside microbatches) must not. */
static int split_keys(const struct pp_csvtab *t, struct point *pts, size_t n, int *keys,
                      int n_keys, int cx, int cy)
{
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            free(pts[i].sig);
            pts[i].sig = signature(t, pts[i].row, keys, n_keys, cx);
        }
        qsort(pts, n, sizeof *pts, cmp_point_sig);
        size_t i = 1;
        while (i < n && strcmp(pts[i - 1].sig, pts[i].sig) != 0)
            i++;
        if (i >= n)
            return n_keys;
        int added = -1;
        for (size_t c = 0; c < t->n_cols && added < 0; c++) {
            int used = (int)c == cx || (int)c == cy || pp_plot_is_result_column(t->header[c]);
            for (int k = 0; k < n_keys && !used; k++)
                used = keys[k] == (int)c;
            if (!used && strcmp(pp_csvtab_cell(t, pts[i - 1].row, c),
                                pp_csvtab_cell(t, pts[i].row, c)) != 0)
                added = (int)c;
        }
        if (added < 0)
            return n_keys; /* duplicate configurations: both points are drawn */
        keys[n_keys++] = added;
    }
}

static const char *short_name(const char *col)
{
    const char *dot = strrchr(col, '.');
    return dot ? dot + 1 : col;
}

static int cmp_point_row(const void *a, const void *b)
{
    const struct point *p = a, *q = b;
    return (p->row > q->row) - (p->row < q->row);
}

static int cmp_point_xy(const void *a, const void *b)
{
    const struct point *p = a, *q = b;
    if (p->curve != q->curve)
        return p->curve < q->curve ? -1 : 1;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return (p->row > q->row) - (p->row < q->row);
}

static int plot_lines(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *stem,
                      const char *ydef, const char *what, const char *dir, struct pp_diag *d)
{
    const char *x = o->x ? o->x : "microbatches", *y = o->y ? o->y : ydef;
    const char *by = o->by ? o->by : "schedule";
    int cx = pp_csvtab_need(t, x, "--x", d);
    if (cx < 0)
        return cx;
    int cy = pp_csvtab_need(t, y, o->y ? "--y" : NULL, d);
    if (cy < 0)
        return cy;
    int cb = pp_csvtab_col(t, by);
    if (cb < 0 && o->by)
        return pp_csvtab_need(t, by, "--by", d);
    size_t *rows, n;
    int rc = pp_plot_select_rows(t, o, &rows, &n, d);
    if (rc)
        return rc;
    struct point *pts = pp_xcalloc(n, sizeof *pts);
    for (size_t i = 0; i < n && rc == 0; i++) {
        pts[i].row = rows[i];
        rc = pp_csvtab_number(t, rows[i], (size_t)cx, &pts[i].x, d);
        if (rc == 0)
            rc = pp_csvtab_number(t, rows[i], (size_t)cy, &pts[i].y, d);
    }
    int *keys = pp_xmalloc((t->n_cols + 1) * sizeof *keys), n_keys = 0;
    if (rc == 0) {
        if (cb >= 0)
            keys[n_keys++] = cb;
        n_keys = split_keys(t, pts, n, keys, n_keys, cx, cy);
    }
    /* Curves in order of their first row in the file. */
    size_t n_curves = 0;
    char **curve_sig = pp_xmalloc((MAX_CURVES + 1) * sizeof *curve_sig);
    size_t first_row[MAX_CURVES + 1];
    if (rc == 0)
        qsort(pts, n, sizeof *pts, cmp_point_row);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *sig = signature(t, pts[i].row, keys, n_keys, -1);
        size_t c = 0;
        while (c < n_curves && strcmp(curve_sig[c], sig) != 0)
            c++;
        if (c == n_curves && n_curves == MAX_CURVES) {
            free(sig);
            rc = pp_diag_set(d, PP_EINVAL, t->file, 0, 0,
                             "more than %d curves of %s against %s; choose --by or narrow "
                             "the rows with --where",
                             MAX_CURVES, y, x);
            break;
        }
        if (c == n_curves) {
            curve_sig[n_curves] = sig;
            first_row[n_curves++] = pts[i].row;
        } else {
            free(sig);
        }
        pts[i].curve = c;
    }
    struct pp_buf dat, gp;
    pp_buf_init(&dat);
    pp_buf_init(&gp);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            free(pts[i].sig), pts[i].sig = NULL;
        qsort(pts, n, sizeof *pts, cmp_point_xy);
        const char *base = strrchr(t->file, '/');
        base = base ? base + 1 : t->file;
        pp_buf_printf(&dat, "# %s.dat - %s against %s from ", stem, y, x);
        pp_plot_dat_text(&dat, base);
        pp_buf_printf(&dat, ", written by ppsim\n"
                            "# one block per curve (gnuplot index = curve): %s %s\n",
                      x, y);
        char xlabel[200], ylabel[200];
        double xscale, yscale, xmin = 0, xmax = 0;
        int positive = 1;
        pp_plot_axis_label(x, xlabel, sizeof xlabel, &xscale);
        pp_plot_axis_label(y, ylabel, sizeof ylabel, &yscale);
        /* Colour by the `by` value, marker and dash by the rest of the key. */
        size_t *group = pp_xcalloc(n_curves + 1, sizeof *group);
        size_t *sub = pp_xcalloc(n_curves + 1, sizeof *sub);
        size_t n_groups = 0;
        for (size_t c = 0; c < n_curves; c++) {
            size_t e = 0;
            while (e < c && (cb < 0 || strcmp(pp_csvtab_cell(t, first_row[e], (size_t)cb),
                                              pp_csvtab_cell(t, first_row[c], (size_t)cb)) != 0))
                e++;
            group[c] = e == c ? n_groups++ : group[e];
        }
        /* the same stage count (say) gets the same marker in every colour */
        int k0 = n_keys > 0 && keys[0] == cb;
        char **rest = pp_xmalloc((n_curves + 1) * sizeof *rest);
        size_t n_styles = 0;
        for (size_t c = 0; c < n_curves; c++) {
            rest[c] = signature(t, first_row[c], keys + k0, n_keys - k0, -1);
            size_t e = 0;
            while (e < c && strcmp(rest[e], rest[c]) != 0)
                e++;
            sub[c] = e == c ? n_styles++ : sub[e];
        }
        for (size_t c = 0; c < n_curves; c++)
            free(rest[c]);
        free(rest);
        pp_buf_printf(&gp, "ncurves = %zu\narray curve_color[%zu] = [", n_curves, n_curves);
        for (size_t c = 0; c < n_curves; c++)
            pp_buf_printf(&gp, "%s%zu", c ? ", " : "", group[c]);
        pp_buf_printf(&gp, "]\narray curve_style[%zu] = [", n_curves);
        for (size_t c = 0; c < n_curves; c++)
            pp_buf_printf(&gp, "%s%zu", c ? ", " : "", sub[c]);
        free(group);
        free(sub);
        pp_buf_printf(&gp, "]\narray curve_title[%zu] = [", n_curves);
        for (size_t c = 0; c < n_curves; c++) {
            struct pp_buf title;
            pp_buf_init(&title);
            for (int k = 0; k < n_keys; k++) {
                const char *v = pp_csvtab_cell(t, first_row[c], (size_t)keys[k]);
                if (k == 0 && keys[0] == cb)
                    pp_buf_puts(&title, v);
                else
                    pp_buf_printf(&title, "%s%s=%s", k ? ", " : "",
                                  short_name(t->header[keys[k]]), v);
            }
            pp_buf_append(&title, "", 0);
            pp_buf_printf(&dat, "%s# curve %zu: ", c ? "\n\n" : "", c);
            pp_plot_dat_text(&dat, title.data);
            pp_buf_puts(&dat, "\n");
            for (size_t i = 0; i < n; i++) {
                if (pts[i].curve != c)
                    continue;
                pp_plot_num(&dat, pts[i].x);
                pp_buf_puts(&dat, " ");
                pp_plot_num(&dat, pts[i].y);
                pp_buf_puts(&dat, "\n");
            }
            pp_buf_puts(&gp, c ? ", " : "");
            pp_plot_gp_str(&gp, title.data);
            pp_buf_free(&title);
        }
        pp_buf_puts(&gp, "]\n");
        for (size_t i = 0; i < n; i++) {
            positive &= pts[i].x > 0;
            xmin = i == 0 || pts[i].x < xmin ? pts[i].x : xmin;
            xmax = i == 0 || pts[i].x > xmax ? pts[i].x : xmax;
        }
        /* Powers-of-two sweeps (microbatches 4..64) read best on a log axis. */
        int logx = positive && xmax >= 8 * xmin;
        struct pp_buf head;
        pp_buf_init(&head);
        char title[400];
        snprintf(title, sizeof title, "%s against %s (%s)", what, short_name(x), base);
        pp_plot_script_head(&head, stem, o->term, 1100, 680, title);
        pp_buf_puts(&head, "xlabel_text = ");
        pp_plot_gp_str(&head, xlabel);
        pp_buf_puts(&head, "\nylabel_text = ");
        pp_plot_gp_str(&head, ylabel);
        pp_buf_puts(&head, "\nkey_title = ");
        struct pp_buf kt;
        pp_buf_init(&kt);
        for (int k = 0; k < n_keys; k++)
            pp_buf_printf(&kt, "%s%s", k ? ", " : "", short_name(t->header[keys[k]]));
        pp_buf_append(&kt, "", 0);
        pp_plot_gp_str(&head, kt.data);
        pp_buf_free(&kt);
        pp_buf_puts(&head, "\nxscale = ");
        pp_plot_num(&head, xscale);
        pp_buf_puts(&head, "\nyscale = ");
        pp_plot_num(&head, yscale);
        pp_buf_printf(&head, "\nlogx = %d\nhline = ", logx);
        pp_plot_num(&head, o->device_memory_bytes > 0 && strcmp(y, "peak_memory_bytes") == 0
                               ? o->device_memory_bytes * yscale
                               : 0);
        pp_buf_puts(&head, "\n");
        pp_buf_append(&head, gp.data, gp.len);
        pp_plot_script_tail(&head, pp_lines_template);
        rc = pp_plot_render_term(dir, stem, o->term, dat.data, dat.len, head.data, head.len, d);
        pp_buf_free(&head);
    }
    pp_buf_free(&dat);
    pp_buf_free(&gp);
    for (size_t c = 0; c < n_curves; c++)
        free(curve_sig[c]);
    for (size_t i = 0; i < n; i++)
        free(pts[i].sig);
    free(curve_sig);
    free(keys);
    free(pts);
    free(rows);
    return rc;
}

int pp_plot_throughput(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                       struct pp_diag *d)
{
    return plot_lines(t, o, "throughput", "throughput_samples_per_s", "throughput", dir, d);
}

int pp_plot_bubble(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                   struct pp_diag *d)
{
    return plot_lines(t, o, "bubble", "bubble_fraction", "bubble fraction", dir, d);
}

int pp_plot_memory_sweep(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                         struct pp_diag *d)
{
    return plot_lines(t, o, "memory", "peak_memory_bytes", "peak memory", dir, d);
}
