/* meas.c - the measurement CSV of `ppsim calibrate` (meas.h). One pass over
 * the rows checks each cell and groups rows into runs through two hash
 * tables (configuration -> run, (run, rank) -> row), so a hostile file of
 * millions of rows costs linear time; the per-rank memory arrays are built
 * only once every row has passed, when their total size is the row count. */
#include "meas.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csvtab.h"
#include "diag.h"
#include "scenario.h"
#include "schedule.h"
#include "xalloc.h"
#include "yamlutil.h"

#define MAX_MEAS_BYTES ((size_t)256 << 20)
/* Model sizes and repeat counts past this are typos, not measurements; it
 * also keeps every integer exact in a double. */
#define MAX_SIZE 1000000000000000.0

enum col {
    C_SCHEDULE, C_RANKS, C_SPR, C_MBS, C_MBSIZE, C_HIDDEN, C_HEADS, C_FFN, C_SEQ, C_LAYERS,
    C_DTYPE, C_MEDIAN, C_MIN, C_MAX, C_REPEATS, C_RANK, C_PEAK, C_TORCH, C_GPU, C_DRIVER,
    N_COLS
};

/* The contract's first 20 columns (tools/gpu/formats.py MEASURE_COLUMNS). */
static const char *const col_names[N_COLS] = {
    "schedule", "ranks", "stages_per_rank", "microbatches", "microbatch_size", "hidden",
    "heads", "ffn", "seq", "layers", "dtype", "step_ms_median", "step_ms_min", "step_ms_max",
    "repeats", "rank", "peak_memory_bytes", "torch_version", "gpu_name", "driver",
};

/* One row after its cells passed. */
struct mrow {
    size_t run;
    long rank;
    double peak;
};

struct parser {
    const struct pp_csvtab *t;
    int col[N_COLS];
    struct pp_diag *d;
    struct pp_meas_run *runs;
    size_t n_runs, runs_cap;
    size_t *run_rows;        /* [n_rows]: the table row of each run's first row */
    size_t *run_seen;        /* [n_rows]: distinct ranks seen by each run */
    size_t *cfg_hash;        /* open addressing: run index + 1, 0 = empty */
    size_t *rank_hash;       /* open addressing: row index + 1, 0 = empty */
    size_t hash_mask;
    struct mrow *rows;
};

static const struct pp_csvpos *cell_pos(const struct parser *p, size_t row, int c)
{
    return &p->t->pos[row * p->t->n_cols + (size_t)p->col[c]];
}

static const char *cell(const struct parser *p, size_t row, int c)
{
    return pp_csvtab_cell(p->t, row, (size_t)p->col[c]);
}

/* "file:line:col: column 'X': message" at the cell of (row, c). */
#define cell_error(p, code, row, c, ...)                                                     \
    pp_csvtab_cell_error((p)->t, (row), (size_t)(p)->col[c], (code), (p)->d, __VA_ARGS__)

static int get_num(const struct parser *p, size_t row, int c, double *out)
{
    return pp_csvtab_number(p->t, row, (size_t)p->col[c], out, p->d);
}

/* A whole number in [lo, hi]; above hi is a valid request past a limit
 * (-PP_ENOMEM, as pp_ycount). */
static int get_int(const struct parser *p, size_t row, int c, double lo, double hi, long *out)
{
    double v;
    int rc = get_num(p, row, c, &v);
    if (rc)
        return rc;
    const char *s = cell(p, row, c);
    if (v != floor(v))
        return cell_error(p, PP_EPARSE, row, c, "expected an integer, got '%s'", s);
    if (v < lo)
        return cell_error(p, PP_EPARSE, row, c, "must be >= %.0f, got '%s'", lo, s);
    if (v > hi)
        return cell_error(p, PP_ENOMEM, row, c, "more than the limit of %.0f, got '%s'", hi, s);
    *out = (long)v;
    return 0;
}

static int get_time(const struct parser *p, size_t row, int c, double *out)
{
    int rc = get_num(p, row, c, out);
    if (rc == 0 && !(*out > 0))
        return cell_error(p, PP_EPARSE, row, c, "must be > 0 ms, got '%s'", cell(p, row, c));
    return rc;
}

static int get_schedule(const struct parser *p, size_t row, const char **out)
{
    const char *s = cell(p, row, C_SCHEDULE);
    int kind = pp_schedule_from_name(s);
    if (kind >= 0) {
        *out = pp_schedule_name((enum pp_schedule_kind)kind);
        return 0;
    }
    const char *sug = pp_suggest(s, pp_schedule_names());
    if (sug)
        return cell_error(p, PP_EPARSE, row, C_SCHEDULE,
                          "unknown schedule '%s' (did you mean '%s'?)", s, sug);
    char known[400] = "";
    size_t m = 0;
    for (const char *const *n = pp_schedule_names(); *n && m < sizeof known; n++)
        m += (size_t)snprintf(known + m, sizeof known - m, "%s%s", m ? ", " : "", *n);
    return cell_error(p, PP_EPARSE, row, C_SCHEDULE, "unknown schedule '%s' (known: %s)", s,
                      known);
}

/* FNV-1a over the configuration's fields. */
static uint64_t mix(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t run_hash(const struct pp_meas_run *r)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix(h, r->schedule, strlen(r->schedule) + 1);
    h = mix(h, r->dtype, strlen(r->dtype) + 1);
    long v[9] = {r->ranks,  r->stages_per_rank, r->microbatches, r->microbatch_size, r->hidden,
                 r->heads, r->ffn,              r->seq,          r->layers};
    return mix(h, v, sizeof v);
}

static int same_config(const struct pp_meas_run *a, const struct pp_meas_run *b)
{
    return strcmp(a->schedule, b->schedule) == 0 && strcmp(a->dtype, b->dtype) == 0 &&
           a->ranks == b->ranks && a->stages_per_rank == b->stages_per_rank &&
           a->microbatches == b->microbatches && a->microbatch_size == b->microbatch_size &&
           a->hidden == b->hidden && a->heads == b->heads && a->ffn == b->ffn &&
           a->seq == b->seq && a->layers == b->layers;
}

/* The run of configuration `r` (its strings borrowed): an existing one, or
 * a new one that takes copies. */
static size_t find_run(struct parser *p, const struct pp_meas_run *r, size_t row, int *is_new)
{
    size_t i = (size_t)run_hash(r) & p->hash_mask;
    for (; p->cfg_hash[i]; i = (i + 1) & p->hash_mask)
        if (same_config(&p->runs[p->cfg_hash[i] - 1], r)) {
            *is_new = 0;
            return p->cfg_hash[i] - 1;
        }
    p->runs = pp_xgrow(p->runs, &p->runs_cap, p->n_runs + 1, sizeof *p->runs);
    struct pp_meas_run *n = &p->runs[p->n_runs];
    *n = *r;
    n->schedule = pp_xstrdup(r->schedule);
    n->dtype = pp_xstrdup(r->dtype);
    n->gpu_name = pp_xstrdup(r->gpu_name);
    n->torch_version = pp_xstrdup(r->torch_version);
    n->driver = pp_xstrdup(r->driver);
    n->peak_memory_bytes = NULL;
    p->run_rows[p->n_runs] = row;
    p->run_seen[p->n_runs] = 0;
    p->cfg_hash[i] = ++p->n_runs;
    *is_new = 1;
    return p->n_runs - 1;
}

/* Record (run, rank) for row; a rank given twice is refused at this row. */
static int add_rank(struct parser *p, size_t row)
{
    const struct mrow *m = &p->rows[row];
    uint64_t key[2] = {m->run, (uint64_t)m->rank};
    size_t i = (size_t)mix(0xcbf29ce484222325ull, key, sizeof key) & p->hash_mask;
    for (; p->rank_hash[i]; i = (i + 1) & p->hash_mask) {
        const struct mrow *o = &p->rows[p->rank_hash[i] - 1];
        if (o->run == m->run && o->rank == m->rank)
            return cell_error(p, PP_EINVAL, row, C_RANK,
                              "rank %ld given twice for this configuration (first on line %u), "
                              "got '%s'",
                              m->rank, cell_pos(p, p->rank_hash[i] - 1, C_RANK)->line,
                              cell(p, row, C_RANK));
    }
    p->rank_hash[i] = row + 1;
    p->run_seen[m->run]++;
    return 0;
}

static int has_rank(const struct parser *p, size_t run, long rank)
{
    uint64_t key[2] = {run, (uint64_t)rank};
    size_t i = (size_t)mix(0xcbf29ce484222325ull, key, sizeof key) & p->hash_mask;
    for (; p->rank_hash[i]; i = (i + 1) & p->hash_mask) {
        const struct mrow *o = &p->rows[p->rank_hash[i] - 1];
        if (o->run == run && o->rank == rank)
            return 1;
    }
    return 0;
}

/* A later row of a run must repeat its first row's step columns. */
static int check_agrees(const struct parser *p, size_t row, const struct pp_meas_run *r,
                        const struct pp_meas_run *first)
{
    const double got[3] = {r->step_ms_median, r->step_ms_min, r->step_ms_max};
    const double want[3] = {first->step_ms_median, first->step_ms_min, first->step_ms_max};
    const int cols[4] = {C_MEDIAN, C_MIN, C_MAX, C_REPEATS};
    size_t first_row = p->run_rows[first - p->runs];
    for (int k = 0; k < 4; k++) {
        int differs = k < 3 ? got[k] != want[k] : r->repeats != first->repeats;
        if (differs)
            return cell_error(p, PP_EINVAL, row, cols[k],
                              "'%s' differs from '%s' on line %u, the first row of the same "
                              "configuration (every rank's row repeats the step time)",
                              cell(p, row, cols[k]), cell(p, first_row, cols[k]),
                              cell_pos(p, first_row, cols[k])->line);
    }
    return 0;
}

/* Check one row's cells into r (strings borrowed from the table). */
static int read_row(const struct parser *p, size_t row, struct pp_meas_run *r, long *rank,
                    double *peak)
{
    long ranks, spr;
    int rc;
    const char *sched = NULL;
    if ((rc = get_schedule(p, row, &sched)))
        return rc;
    r->schedule = (char *)sched;
    if ((rc = get_int(p, row, C_RANKS, 1, PP_MAX_STAGES, &ranks)) ||
        (rc = get_int(p, row, C_SPR, 1, PP_MAX_CHUNKS, &spr)) ||
        (rc = get_int(p, row, C_MBS, 1, PP_MAX_MICROBATCHES, &r->microbatches)) ||
        (rc = get_int(p, row, C_MBSIZE, 1, MAX_SIZE, &r->microbatch_size)) ||
        (rc = get_int(p, row, C_HIDDEN, 1, MAX_SIZE, &r->hidden)) ||
        (rc = get_int(p, row, C_HEADS, 1, MAX_SIZE, &r->heads)) ||
        (rc = get_int(p, row, C_FFN, 1, MAX_SIZE, &r->ffn)) ||
        (rc = get_int(p, row, C_SEQ, 1, MAX_SIZE, &r->seq)) ||
        (rc = get_int(p, row, C_LAYERS, 1, MAX_SIZE, &r->layers)))
        return rc;
    r->ranks = (int)ranks;
    r->stages_per_rank = (int)spr;
    r->dtype = (char *)cell(p, row, C_DTYPE);
    if (!r->dtype[0])
        return cell_error(p, PP_EPARSE, row, C_DTYPE, "expected a type such as bf16, got ''");
    if ((rc = get_time(p, row, C_MEDIAN, &r->step_ms_median)) ||
        (rc = get_time(p, row, C_MIN, &r->step_ms_min)) ||
        (rc = get_time(p, row, C_MAX, &r->step_ms_max)))
        return rc;
    if (r->step_ms_min > r->step_ms_median)
        return cell_error(p, PP_EINVAL, row, C_MIN,
                          "the fastest step is slower than the median %s ms, got '%s'",
                          cell(p, row, C_MEDIAN), cell(p, row, C_MIN));
    if (r->step_ms_max < r->step_ms_median)
        return cell_error(p, PP_EINVAL, row, C_MAX,
                          "the slowest step is faster than the median %s ms, got '%s'",
                          cell(p, row, C_MEDIAN), cell(p, row, C_MAX));
    if ((rc = get_int(p, row, C_REPEATS, 1, MAX_SIZE, &r->repeats)))
        return rc;
    double rv;
    if ((rc = get_num(p, row, C_RANK, &rv)))
        return rc;
    if (rv != floor(rv))
        return cell_error(p, PP_EPARSE, row, C_RANK, "expected an integer, got '%s'",
                          cell(p, row, C_RANK));
    if (rv < 0 || rv >= (double)ranks)
        return cell_error(p, PP_EINVAL, row, C_RANK,
                          "expected a rank in 0..%ld (ranks = %ld), got '%s'", ranks - 1, ranks,
                          cell(p, row, C_RANK));
    *rank = (long)rv;
    if ((rc = get_num(p, row, C_PEAK, peak)))
        return rc;
    if (*peak < 0)
        return cell_error(p, PP_EPARSE, row, C_PEAK, "must be >= 0, got '%s'",
                          cell(p, row, C_PEAK));
    *peak += 0.0; /* -0 reads as 0 */
    r->torch_version = (char *)cell(p, row, C_TORCH);
    r->gpu_name = (char *)cell(p, row, C_GPU);
    r->driver = (char *)cell(p, row, C_DRIVER);
    r->line = cell_pos(p, row, C_SCHEDULE)->line;
    return 0;
}

static int read_rows(struct parser *p)
{
    int rc;
    for (size_t row = 0; row < p->t->n_rows; row++) {
        struct pp_meas_run r;
        memset(&r, 0, sizeof r);
        long rank = 0;
        double peak = 0;
        if ((rc = read_row(p, row, &r, &rank, &peak)))
            return rc;
        int is_new;
        size_t run = find_run(p, &r, row, &is_new);
        if (!is_new && (rc = check_agrees(p, row, &r, &p->runs[run])))
            return rc;
        p->rows[row] = (struct mrow){run, rank, peak};
        if ((rc = add_rank(p, row)))
            return rc;
    }
    /* Every rank once: with no duplicates, a run is complete when it saw
     * `ranks` distinct ranks. */
    for (size_t k = 0; k < p->n_runs; k++) {
        const struct pp_meas_run *r = &p->runs[k];
        if (p->run_seen[k] == (size_t)r->ranks)
            continue;
        long miss = 0;
        while (miss < r->ranks && has_rank(p, k, miss))
            miss++;
        const struct pp_csvpos *at = cell_pos(p, p->run_rows[k], C_RANK);
        return pp_diag_set(p->d, PP_EINVAL, p->t->file, at->line, at->col,
                           "column 'rank': the configuration starting here (%s, %d ranks, %ld "
                           "microbatches) has no row for rank '%ld'",
                           r->schedule, r->ranks, r->microbatches, miss);
    }
    for (size_t k = 0; k < p->n_runs; k++)
        p->runs[k].peak_memory_bytes = pp_xcalloc((size_t)p->runs[k].ranks, sizeof(double));
    for (size_t row = 0; row < p->t->n_rows; row++)
        p->runs[p->rows[row].run].peak_memory_bytes[p->rows[row].rank] = p->rows[row].peak;
    return 0;
}

static void run_clear(struct pp_meas_run *r)
{
    free(r->schedule);
    free(r->dtype);
    free(r->gpu_name);
    free(r->torch_version);
    free(r->driver);
    free(r->peak_memory_bytes);
}

int pp_meas_parse(const char *buf, size_t len, const char *file, struct pp_meas **out,
                  struct pp_diag *d)
{
    struct pp_csvtab *t;
    int rc = pp_csvtab_parse(buf, len, file, &t, d);
    if (rc)
        return rc;
    struct parser p;
    memset(&p, 0, sizeof p);
    p.t = t;
    p.d = d;
    for (int c = 0; c < N_COLS && rc == 0; c++) {
        int k = pp_csvtab_need(t, col_names[c], NULL, d);
        if (k < 0)
            rc = k;
        p.col[c] = k;
    }
    if (rc == 0 && t->n_rows == 0)
        rc = pp_diag_set(d, PP_EINVAL, file, 0, 0,
                         "no measurements: the CSV has a header but no rows");
    if (rc == 0) {
        size_t slots = 16;
        while (slots < 2 * t->n_rows)
            slots *= 2;
        p.hash_mask = slots - 1;
        p.cfg_hash = pp_xcalloc(slots, sizeof *p.cfg_hash);
        p.rank_hash = pp_xcalloc(slots, sizeof *p.rank_hash);
        p.rows = pp_xcalloc(t->n_rows, sizeof *p.rows);
        p.run_rows = pp_xcalloc(t->n_rows, sizeof *p.run_rows);
        p.run_seen = pp_xcalloc(t->n_rows, sizeof *p.run_seen);
        rc = read_rows(&p);
    }
    free(p.cfg_hash);
    free(p.rank_hash);
    free(p.rows);
    free(p.run_rows);
    free(p.run_seen);
    if (rc) {
        for (size_t k = 0; k < p.n_runs; k++)
            run_clear(&p.runs[k]);
        free(p.runs);
        pp_csvtab_free(t);
        return rc;
    }
    struct pp_meas *m = pp_xcalloc(1, sizeof *m);
    m->file = pp_xstrdup(file);
    m->runs = p.runs;
    m->n = p.n_runs;
    pp_csvtab_free(t);
    *out = m;
    return 0;
}

int pp_meas_load(const char *path, struct pp_meas **out, struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_MEAS_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_meas_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, out, d);
    free(buf);
    return rc;
}

void pp_meas_free(struct pp_meas *m)
{
    if (!m)
        return;
    for (size_t k = 0; k < m->n; k++)
        run_clear(&m->runs[k]);
    free(m->runs);
    free(m->file);
    free(m);
}
