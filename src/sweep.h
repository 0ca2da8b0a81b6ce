/* sweep.h - design-space sweeps: a Cartesian product over scenario keys, run
 * in parallel, one CSV row per configuration in a fixed order.
 *
 * A grid is a list of axes, each a dotted scenario key and its values (YAML
 * scalars or flow lists, exactly what --set takes). Configuration c is the
 * mixed-radix number whose last axis varies fastest: the row order of a
 * serial, a parallel, a sharded and an MPI run is the same by construction.
 * Every configuration is the base scenario with one --set per axis applied,
 * so it gets the scenario's full validation; one that fails it (a schedule
 * that cannot run those stages, a value out of range) is a row with status
 * "invalid" and the reason, not a failed sweep. `where` filters drop
 * configurations before they run (dropped rows are not printed).
 *
 * CSV columns (the sweep CSV contract; plots and `sweep merge` read them by
 * name):
 *   config            the configuration's index in the full product
 *   <axis keys>       one column per axis, its dotted key as the header, the
 *                     value as given
 *   schedule,stages,chunks,microbatches,microbatch_size,devices,data_parallel
 *                     the effective scenario after overrides (empty when invalid)
 *   status            ok | infeasible (over device memory) | invalid
 *   iteration_time_ms,throughput_samples_per_s,steady_throughput_samples_per_s,
 *   bubble_fraction,bubble_megatron,bubble_gpipe,zb_bubble_rate,ideal_ms,
 *   analytic_iteration_ms,peak_memory_bytes,peak_activation_bytes,
 *   max_peak_inflight   results (empty when invalid)
 *   message           why invalid or infeasible (empty when ok) */
#ifndef PP_SWEEP_H
#define PP_SWEEP_H

#include <stddef.h>
#include <stdint.h>

struct pp_buf;
struct pp_diag;
struct pp_ynode;
struct pp_scenario;

struct pp_sweep_axis {
    char *key;      /* dotted scenario key, e.g. pipeline.microbatches */
    char **values;  /* as given (YAML scalars / flow lists) */
    size_t n_values;
};

enum pp_where_op { PP_WHERE_EQ, PP_WHERE_NE, PP_WHERE_LT, PP_WHERE_LE, PP_WHERE_GT, PP_WHERE_GE };

/* "LHS OP RHS": each side an axis key, an effective column (stages,
 * microbatches, ...) or a literal; numeric when both sides are numbers, else
 * strings (== and != only). */
struct pp_sweep_where {
    char *lhs, *rhs;
    enum pp_where_op op;
    char *text; /* as given, for messages */
    char *file; /* a sweep: block's entry: where it is, for messages (NULL: --where) */
    unsigned line, col;
};

struct pp_sweep {
    struct pp_sweep_axis *axes;
    size_t n_axes;
    struct pp_sweep_where *where;
    size_t n_where;
};

/* The most configurations a sweep runs without --yes, and with it. */
#define PP_SWEEP_SANE 100000u
#define PP_SWEEP_MAX 100000000u

void pp_sweep_free(struct pp_sweep *s);
/* "KEY=V1,V2,..." (commas inside [] or {} or quotes do not split). A key
 * given twice, an empty list or an unknown scenario key is an error. */
int pp_sweep_add_grid(struct pp_sweep *s, const char *arg, struct pp_diag *d);
/* The scenario's `sweep:` block: {grid: {KEY: [values] | value, ...},
 * where: [EXPR, ...]}. Errors name file:line:col. */
int pp_sweep_add_yaml(struct pp_sweep *s, const struct pp_ynode *sweep, struct pp_diag *d);
int pp_sweep_add_where(struct pp_sweep *s, const char *expr, struct pp_diag *d);
/* After the grid and filters are added: a non-empty grid, filters that name
 * a swept key or an effective column. */
int pp_sweep_check(const struct pp_sweep *s, struct pp_diag *d);
/* Configurations in the product; PP_SWEEP_MAX + 1 when larger. */
uint64_t pp_sweep_size(const struct pp_sweep *s);

/* One configuration, run against the scenario text buf[0..len) (read once by
 * the caller) with the base --set overrides. */
struct pp_sweep_job {
    const char *file;
    const char *buf;
    size_t len;
    const char *const *base_sets;
    size_t n_base_sets;
    const struct pp_sweep *sweep;
    /* the base scenario (no axes applied): effective columns of a
     * configuration that did not parse fall back to its values */
    const struct pp_scenario *base;
};

/* What the summary needs of a row, without parsing it back. */
enum pp_sweep_status { PP_SWEEP_DROPPED, PP_SWEEP_OK, PP_SWEEP_INFEASIBLE, PP_SWEEP_INVALID };
struct pp_sweep_stat {
    int32_t status;           /* enum pp_sweep_status */
    double throughput_samples_per_s, peak_memory_bytes, iteration_time_ms;
};

void pp_sweep_csv_header(struct pp_buf *b, const struct pp_sweep *s);
/* Append configuration c's row (with its newline) to b and fill *st;
 * st->status = DROPPED when a where filter dropped it (nothing appended).
 * Never fails: an invalid configuration is a row. Thread-safe: workers call
 * it concurrently. */
void pp_sweep_row(const struct pp_sweep_job *job, uint64_t c, struct pp_buf *b,
                  struct pp_sweep_stat *st);
/* Re-run configuration c keeping op spans and add it to trace tr as process
 * c (the CSV's row must have run: status ok or infeasible). */
struct pp_trace;
struct pp_trace_opts;
int pp_sweep_trace_run(const struct pp_sweep_job *job, uint64_t c, struct pp_trace *tr,
                       const struct pp_trace_opts *opts, struct pp_diag *d);
/* "pipeline.schedule=zb-h1, pipeline.microbatches=32" for configuration c. */
void pp_sweep_describe(const struct pp_sweep *s, uint64_t c, struct pp_buf *b);

#endif
