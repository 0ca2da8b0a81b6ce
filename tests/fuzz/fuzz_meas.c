/* fuzz_meas.c - the measurement CSV of `ppsim calibrate` (pp_meas_parse).
 * A parsed file holds runs whose numbers passed the checks meas.h lists,
 * whose configurations are distinct, and whose ranks account for every row
 * of the table exactly once. */
#include <math.h>
#include <string.h>

#include "csvtab.h"
#include "diag.h"
#include "fuzz.h"
#include "meas.h"
#include "schedule.h"

static int same_config(const struct pp_meas_run *a, const struct pp_meas_run *b)
{
    return strcmp(a->schedule, b->schedule) == 0 && strcmp(a->dtype, b->dtype) == 0 &&
           a->ranks == b->ranks && a->stages_per_rank == b->stages_per_rank &&
           a->microbatches == b->microbatches && a->microbatch_size == b->microbatch_size &&
           a->hidden == b->hidden && a->heads == b->heads && a->ffn == b->ffn &&
           a->seq == b->seq && a->layers == b->layers;
}

static void check_run(const struct pp_meas_run *r)
{
    if (!r->schedule || pp_schedule_from_name(r->schedule) < 0)
        pp_fuzz_fail("meas", "a run has no known schedule");
    if (!r->dtype || !r->dtype[0] || !r->gpu_name || !r->torch_version || !r->driver)
        pp_fuzz_fail("meas", "a run lacks a text field");
    if (r->ranks < 1 || r->stages_per_rank < 1 || r->microbatches < 1 ||
        r->microbatch_size < 1 || r->hidden < 1 || r->heads < 1 || r->ffn < 1 || r->seq < 1 ||
        r->layers < 1 || r->repeats < 1)
        pp_fuzz_fail("meas", "a run has a count below 1");
    if (!(isfinite(r->step_ms_min) && r->step_ms_min > 0 && r->step_ms_min <= r->step_ms_median &&
          r->step_ms_median <= r->step_ms_max && isfinite(r->step_ms_max)))
        pp_fuzz_fail("meas", "a run's step times are not 0 < min <= median <= max < inf");
    if (!r->peak_memory_bytes)
        pp_fuzz_fail("meas", "a run has no memory array");
    for (int k = 0; k < r->ranks; k++)
        if (!(isfinite(r->peak_memory_bytes[k]) && r->peak_memory_bytes[k] >= 0))
            pp_fuzz_fail("meas", "a rank's peak memory is negative or not finite");
    if (r->line < 2)
        pp_fuzz_fail("meas", "a run's first row is not below the header");
}

int pp_fuzz_meas(const uint8_t *data, size_t size)
{
    struct pp_meas *m = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_meas_parse((const char *)data, size, PP_FUZZ_FILE, &m, &d);
    if (rc != 0) {
        if (m)
            pp_fuzz_fail("meas", "a failed parse returned measurements");
        pp_fuzz_check_error(rc, &d, "meas");
        return 0;
    }
    if (!m || m->n == 0 || !m->runs)
        pp_fuzz_fail("meas", "a parsed file has no runs");
    size_t rows = 0;
    for (size_t i = 0; i < m->n; i++) {
        check_run(&m->runs[i]);
        rows += (size_t)m->runs[i].ranks;
        if (i && m->runs[i].line <= m->runs[i - 1].line)
            pp_fuzz_fail("meas", "runs are not in the order of their first rows");
        /* fuzzed files are small; the pairwise check stays cheap */
        for (size_t j = 0; j < i && m->n <= 2000; j++)
            if (same_config(&m->runs[i], &m->runs[j]))
                pp_fuzz_fail("meas", "two runs have the same configuration");
    }
    struct pp_csvtab *t = NULL;
    if (pp_csvtab_parse((const char *)data, size, PP_FUZZ_FILE, &t, &d) != 0)
        pp_fuzz_fail("meas", "parsed as measurements but not as a CSV table");
    if (t->n_rows != rows)
        pp_fuzz_fail("meas", "the runs' ranks do not account for every row once");
    pp_csvtab_free(t);
    pp_meas_free(m);
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_meas)
