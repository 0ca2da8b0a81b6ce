/* plot.h - plots through gnuplot: ppsim writes a .dat file and a script built
 * from a template in plots/, runs `gnuplot`, and leaves both beside the image
 * so users can restyle and re-run it (`gnuplot STEM.gp` in that directory).
 *
 * Every plot renders inside a private temporary directory in DIR and only
 * then moves STEM.dat, STEM.gp and the image into DIR: a failure (gnuplot
 * missing, a bad script, a full disk) leaves no file behind, and an earlier
 * plot of the same name stays intact. DIR (and missing parents) is created;
 * directories created by a failed call are removed again.
 *
 * Scripts are deterministic (no dates, no absolute paths), so they can be
 * golden-tested. Kinds (docs/plots.md): gantt, memory-timeline and memory
 * from simulated runs; throughput, bubble, memory and heatmap from a sweep
 * CSV (sweep.h's contract, read with csvtab.h). */
#ifndef PP_PLOT_H
#define PP_PLOT_H

#include <stddef.h>

struct pp_run;
struct pp_diag;
struct pp_buf;
struct pp_csvtab;

enum pp_plot_term {
    PP_PLOT_PNG, /* pngcairo, the default */
    PP_PLOT_SVG,
    PP_PLOT_PDF, /* pdfcairo */
};

/* "png", "svg" or "pdf" (also the file extension); -1 when unknown. */
int pp_plot_term_from_name(const char *name);
const char *pp_plot_term_name(enum pp_plot_term t);

/* Is gnuplot on PATH? 0, or -PP_EIO with the command that installs it.
 * Commands call it before any expensive work; rendering checks again. */
int pp_plot_check_gnuplot(struct pp_diag *d);

/* Write DIR/STEM.dat and DIR/STEM.gp, run gnuplot on the script (which must
 * honour the `outfile` variable) and move its image to DIR/STEM.EXT. */
int pp_plot_render_term(const char *dir, const char *stem, enum pp_plot_term term,
                        const char *dat, size_t dat_len, const char *script, size_t script_len,
                        struct pp_diag *d);
/* The same, PNG. */
int pp_plot_render(const char *dir, const char *stem, const char *dat, size_t dat_len,
                   const char *script, size_t script_len, struct pp_diag *d);

/* --- plots of simulated runs (made with record_spans for gantt and
 *     memory-timeline) --- */

/* DIR/gantt.*: one iteration, one row per device, ops coloured by kind and
 * shaded by chunk, labelled with the microbatch; link sends as thin bars
 * under each row; the recompute share of a backward as its own shade. */
int pp_plot_gantt_term(const struct pp_run *r, const char *dir, enum pp_plot_term term,
                       struct pp_diag *d);
/* The same, PNG (what `simulate --plot` has always written). */
int pp_plot_gantt(const struct pp_run *r, const char *dir, struct pp_diag *d);

/* DIR/memory-timeline.*: each device's memory over the iteration, static
 * (parameters, gradients, optimizer state) + activations + stashed weights,
 * in GB, with the device-memory limit when the scenario sets one. */
int pp_plot_memory_timeline(const struct pp_run *r, const char *dir, enum pp_plot_term term,
                            struct pp_diag *d);

/* DIR/memory.*: peak memory per device, one bar group per run (labelled
 * labels[i], or its schedule's name when labels is NULL), the static share
 * hatched, and a line at the scenario's device_memory_bytes (runs[0]'s) when
 * it sets one. */
int pp_plot_memory(const struct pp_run *const *runs, const char *const *labels, size_t n_runs,
                   const char *dir, enum pp_plot_term term, struct pp_diag *d);

/* --- plots of a sweep CSV --- */

struct pp_plot_sweep {
    const char *x, *y, *by, *z;  /* column names; NULL = the kind's default */
    const char *const *where;    /* "COLUMN=VALUE" row filters (exact match), all must hold */
    size_t n_where;
    double device_memory_bytes;  /* memory: the limit line; 0 = none */
    enum pp_plot_term term;
    /* out: rows dropped because their status is not ok / by a filter */
    size_t n_not_ok, n_filtered;
};

/* DIR/throughput.*: y (throughput_samples_per_s) against x (microbatches),
 * one curve per value of `by` (schedule). A configuration column that still
 * tells rows with the same x and by apart (a swept stage count, say) splits
 * the curves further and is named in their titles. */
int pp_plot_throughput(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                       struct pp_diag *d);
/* DIR/bubble.*: the same with y = bubble_fraction. */
int pp_plot_bubble(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                   struct pp_diag *d);
/* DIR/memory.*: the same with y = peak_memory_bytes (GB), and a line at
 * o->device_memory_bytes when it is set. */
int pp_plot_memory_sweep(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                         struct pp_diag *d);
/* DIR/heatmap.*: z (throughput_samples_per_s) over the grid of x
 * (microbatches) by y (stages) values, each cell labelled; cells without an
 * ok row are blank; when several rows share a cell the best z is shown
 * (highest, or lowest for times, bytes and bubbles) and the title says so. */
int pp_plot_heatmap(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                    struct pp_diag *d);

/* The plots a sweep's CSV supports, for `sweep --plot DIR`: throughput,
 * bubble and memory against microbatches (or the first swept numeric column
 * that varies) when such a column varies, and a heatmap when a second one
 * does. *n_written counts them; `written` (may be NULL) gets their stems, up
 * to 4. Fails when none applies. */
int pp_plot_sweep_all(const struct pp_csvtab *t, struct pp_plot_sweep *o, const char *dir,
                      const char **written, int *n_written, struct pp_diag *d);

/* --- for the plot_*.c modules --- */

/* The script's opening: a comment and the variables every template reads
 * (stem, term, width, height, datafile, title_text). */
void pp_plot_script_head(struct pp_buf *gp, const char *stem, enum pp_plot_term term, int width,
                         int height, const char *title);
/* Append the terminal preamble and then the kind's template. */
void pp_plot_script_tail(struct pp_buf *gp, const char *kind_template);
/* Append s as a gnuplot single-quoted string ('' for a quote; control
 * characters become spaces). */
void pp_plot_gp_str(struct pp_buf *b, const char *s);
/* An axis label with units for a result or configuration column, and the
 * factor that converts its values to those units (bytes -> GB: 1e-9). */
void pp_plot_axis_label(const char *column, char *buf, size_t len, double *scale);
/* Append s for a one-line comment in a .dat file (control characters become
 * spaces). */
void pp_plot_dat_text(struct pp_buf *b, const char *s);
/* Append a double in its shortest exact form (NaN when not finite), as data
 * for gnuplot. */
void pp_plot_num(struct pp_buf *b, double x);

/* The rows of a sweep table to plot, in file order: those passing every
 * o->where filter and whose status (when the table has that column) is ok;
 * sets o->n_filtered and o->n_not_ok. Fails when none is left, saying how
 * many rows were dropped and why. *rows is owned (free). */
int pp_plot_select_rows(const struct pp_csvtab *t, struct pp_plot_sweep *o, size_t **rows,
                        size_t *n_rows, struct pp_diag *d);
/* The rows passing every o->where filter, whatever their status. */
int pp_plot_filter_rows(const struct pp_csvtab *t, const struct pp_plot_sweep *o, size_t **rows,
                        size_t *n_rows, struct pp_diag *d);
/* Is the column a result (not a configuration) column of the sweep CSV? */
int pp_plot_is_result_column(const char *name);

#endif
