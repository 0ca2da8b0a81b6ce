/* plot_sweep_all.c - the plots a sweep CSV supports, chosen from the columns
 * that vary (what `sweep --plot DIR` and `ppsim plot sweep` write). */
#include <stdlib.h>
#include <string.h>

#include "csvtab.h"
#include "diag.h"
#include "plot.h"
#include "xalloc.h"

/* A configuration column whose values are all numbers and not all equal. */
static int varies(const struct pp_csvtab *t, const size_t *rows, size_t n, int c)
{
    if (c < 0 || pp_plot_is_result_column(t->header[c]))
        return 0;
    int differs = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pp_csvtab_is_number(t, rows[i], (size_t)c))
            return 0;
        differs |= strcmp(pp_csvtab_cell(t, rows[i], (size_t)c),
                          pp_csvtab_cell(t, rows[0], (size_t)c)) != 0;
    }
    return differs;
}

struct pair {
    const char *a, *b;
};

static int cmp_pair(const void *p, const void *q)
{
    const struct pair *x = p, *y = q;
    int c = strcmp(x->a, y->a);
    return c ? c : strcmp(x->b, y->b);
}

/* Does column c take two values for one value of column x? (data_parallel
 * does not, beside stages: it is devices / stages.) */
static int independent(const struct pp_csvtab *t, const size_t *rows, size_t n, int x, int c)
{
    struct pair *p = pp_xmalloc((n + 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        p[i].a = pp_csvtab_cell(t, rows[i], (size_t)x);
        p[i].b = pp_csvtab_cell(t, rows[i], (size_t)c);
    }
    qsort(p, n, sizeof *p, cmp_pair);
    int found = 0;
    for (size_t i = 1; i < n && !found; i++)
        found = strcmp(p[i - 1].a, p[i].a) == 0 && strcmp(p[i - 1].b, p[i].b) != 0;
    free(p);
    return found;
}

/* A varying numeric configuration column (prefer's first), not determined
 * by column `not` when that is given. */
static int first_varying(const struct pp_csvtab *t, const size_t *rows, size_t n,
                         const char *prefer, int not)
{
    int c = pp_csvtab_col(t, prefer);
    if (c >= 0 && c != not && varies(t, rows, n, c) &&
        (not < 0 || independent(t, rows, n, not, c)))
        return c;
    for (size_t i = 0; i < t->n_cols; i++) {
        if ((int)i == not || strcmp(t->header[i], "config") == 0)
            continue;
        if (varies(t, rows, n, (int)i) && (not < 0 || independent(t, rows, n, not, (int)i)))
            return (int)i;
    }
    return -1;
}

int pp_plot_sweep_all(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                      const char **written, int *n_written, struct pp_diag *d)
{
    *n_written = 0;
    size_t *rows, n;
    int rc = pp_plot_select_rows(t, o, &rows, &n, d);
    if (rc)
        return rc;
    int cx = o->x ? pp_csvtab_need(t, o->x, "--x", d) : first_varying(t, rows, n, "microbatches", -1);
    int cy = cx >= 0 ? first_varying(t, rows, n, "stages", cx) : -1;
    free(rows);
    if (o->x && cx < 0)
        return cx;
    if (cx < 0)
        return pp_diag_set(d, PP_EINVAL, t->file, 0, 0,
                           "no swept numeric column varies, so there is nothing to plot "
                           "against (sweep microbatches or stages, say)");
    struct pp_plot_sweep lo = *o;
    lo.x = t->header[cx];
    static const struct {
        const char *stem, *col;
        int (*fn)(const struct pp_csvtab *, struct pp_plot_sweep *, const char *,
                  struct pp_diag *);
    } kinds[] = {
        {"throughput", "throughput_samples_per_s", pp_plot_throughput},
        {"bubble", "bubble_fraction", pp_plot_bubble},
        {"memory", "peak_memory_bytes", pp_plot_memory_sweep},
    };
    for (size_t k = 0; k < 3 && rc == 0; k++) {
        if (pp_csvtab_col(t, kinds[k].col) < 0)
            continue;
        lo.y = NULL;
        rc = kinds[k].fn(t, &lo, dir, d);
        if (rc == 0 && written && *n_written < 4)
            written[*n_written] = kinds[k].stem;
        *n_written += rc == 0;
    }
    if (rc == 0 && cy >= 0 && pp_csvtab_col(t, "throughput_samples_per_s") >= 0) {
        lo.y = t->header[cy];
        lo.z = NULL;
        rc = pp_plot_heatmap(t, &lo, dir, d);
        if (rc == 0 && written && *n_written < 4)
            written[*n_written] = "heatmap";
        *n_written += rc == 0;
    }
    o->n_not_ok = lo.n_not_ok;
    o->n_filtered = lo.n_filtered;
    if (rc == 0 && *n_written == 0)
        return pp_diag_set(d, PP_EINVAL, t->file, 0, 0, "no result column to plot");
    return rc;
}
