/* meas.h - measured pipeline runs: the measurement CSV that tools/gpu/measure.py
 * writes and `ppsim calibrate` reads (columns: tools/gpu/README.md,
 * "measure.csv"; docs/calibrate.md).
 *
 * One CSV row per (configuration, rank); rows of one configuration (same
 * schedule, ranks, stages_per_rank, microbatches, microbatch_size and model
 * shape) are grouped into one pp_meas_run with a peak memory per rank. */
#ifndef PP_MEAS_H
#define PP_MEAS_H

#include <stddef.h>

struct pp_diag;

struct pp_meas_run {
    char *schedule;           /* ppsim's schedule name (gpipe, 1f1b, ...) */
    int ranks, stages_per_rank;
    long microbatches, microbatch_size;
    long hidden, heads, ffn, seq, layers; /* the model shape */
    char *dtype;
    double step_ms_median, step_ms_min, step_ms_max;
    long repeats;
    double *peak_memory_bytes;    /* [ranks], by rank */
    char *gpu_name, *torch_version, *driver;
    unsigned line;                /* the first row's line, for messages */
};

struct pp_meas {
    char *file;
    struct pp_meas_run *runs; /* in file order of their first row */
    size_t n;
};

/* Parse a measurement CSV held in a buffer; `file` names it in messages.
 * Refused with file:line:col and the column: a missing column (did you
 * mean), a non-number, a non-positive time or count, min > median > max out
 * of order, an unknown schedule (did you mean), a rank outside 0..ranks-1,
 * a rank given twice or missing, configurations whose rows disagree on the
 * step time, an empty table. */
int pp_meas_parse(const char *buf, size_t len, const char *file, struct pp_meas **out,
                  struct pp_diag *d);
int pp_meas_load(const char *path, struct pp_meas **out, struct pp_diag *d);
void pp_meas_free(struct pp_meas *m);

#endif
