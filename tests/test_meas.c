/* test_meas.c - the measurement CSV (meas.h): the recorded H200 runs group
 * into the configurations the files hold, rows of several ranks group by
 * configuration, and every refusal names its file:line:col, column and value. */
#include "diag.h"
#include "meas.h"
#include "testutil.h"

#define COMPUTE "../validation/2026-11-23-h200-x1/compute/measure.csv"
#define OVERHEAD "../validation/2026-11-23-h200-x1/overhead/measure.csv"

#define HEADER                                                                                 \
    "schedule,ranks,stages_per_rank,microbatches,microbatch_size,hidden,heads,ffn,seq,layers," \
    "dtype,step_ms_median,step_ms_min,step_ms_max,repeats,rank,peak_memory_bytes,"            \
    "torch_version,gpu_name,driver\n"

/* One rank's row; its fields start at these columns (1-based). */
#define BASE "gpipe,1,1,4,1,4096,32,16384,2048,16,bf16,327.7,322.6,341.8,8,0,287,2.11,H200,580"
enum { F_SCHEDULE, F_RANKS, F_SPR, F_MBS, F_MBSIZE, F_HIDDEN, F_HEADS, F_FFN, F_SEQ, F_LAYERS,
       F_DTYPE, F_MEDIAN, F_MIN, F_MAX, F_REPEATS, F_RANK, F_PEAK };
static const unsigned field_col[] = {1, 7, 9, 11, 13, 15, 20, 23, 29, 34, 37, 42, 48, 54, 60,
                                     62, 64};

static char msg[1024];

/* BASE with field k replaced by v. */
static const char *with(int k, const char *v)
{
    static char row[512];
    const char *p = BASE;
    size_t n = 0;
    for (int f = 0; f < k; f++) {
        const char *c = strchr(p, ',');
        n += (size_t)(c - p) + 1;
        p = c + 1;
    }
    const char *rest = strchr(p, ',');
    snprintf(row, sizeof row, "%.*s%s%s", (int)n, BASE, v, rest);
    return row;
}

/* Parse text expecting failure; the formatted diagnostic goes to msg. */
static int fail(const char *text)
{
    struct pp_meas *m = NULL;
    struct pp_diag d;
    int rc = pp_meas_parse(text, strlen(text), "m.csv", &m, &d);
    if (rc == 0) {
        pp_meas_free(m);
        snprintf(msg, sizeof msg, "(parsed)");
        return 0;
    }
    CU_ASSERT_PTR_NULL(m);
    pp_diag_format(&d, msg, sizeof msg);
    return rc;
}

static struct pp_meas *ok(const char *text)
{
    struct pp_meas *m = NULL;
    struct pp_diag d;
    if (pp_meas_parse(text, strlen(text), "m.csv", &m, &d)) {
        pp_diag_format(&d, msg, sizeof msg);
        CU_FAIL(msg);
        return NULL;
    }
    return m;
}

/* One bad field of BASE: the message at the field's column. */
static void check_field(int k, const char *v, int code, const char *want_msg)
{
    char text[1024], want[600];
    snprintf(text, sizeof text, HEADER "%s\n", with(k, v));
    CHECK_INT(fail(text), -code);
    snprintf(want, sizeof want, "m.csv:2:%u: error: %s", field_col[k], want_msg);
    CHECK_STR(msg, want);
}

static void test_compute_file(void)
{
    struct pp_meas *m = NULL;
    struct pp_diag d;
    int rc = pp_meas_load(COMPUTE, &m, &d);
    CHECK_INT(rc, 0);
    if (rc)
        return;
    CHECK_STR(m->file, COMPUTE);
    CHECK_INT(m->n, 21);
    for (size_t i = 0; i < m->n; i++) {
        CHECK_INT(m->runs[i].ranks, 1);
        CHECK_INT(m->runs[i].line, i + 2);
    }
    const struct pp_meas_run *r = &m->runs[0];
    CHECK_STR(r->schedule, "gpipe");
    CHECK_INT(r->stages_per_rank, 1);
    CHECK_INT(r->microbatches, 4);
    CHECK_INT(r->microbatch_size, 1);
    CHECK_INT(r->hidden, 4096);
    CHECK_INT(r->heads, 32);
    CHECK_INT(r->ffn, 16384);
    CHECK_INT(r->seq, 2048);
    CHECK_INT(r->layers, 16);
    CHECK_STR(r->dtype, "bf16");
    CHECK_CLOSE(r->step_ms_median, 327.7715, 0);
    CHECK_CLOSE(r->step_ms_min, 322.666027, 0);
    CHECK_CLOSE(r->step_ms_max, 341.871565, 0);
    CHECK_INT(r->repeats, 8);
    CHECK_CLOSE(r->peak_memory_bytes[0], 28744667648.0, 0);
    CHECK_STR(r->gpu_name, "NVIDIA H200");
    CHECK_STR(r->torch_version, "2.11.0+cu130");
    CHECK_STR(r->driver, "580.159.04");
    r = &m->runs[7]; /* interleaved-1f1b, 8 microbatches */
    CHECK_STR(r->schedule, "interleaved-1f1b");
    CHECK_INT(r->stages_per_rank, 2);
    CHECK_INT(r->microbatches, 8);
    CHECK_CLOSE(r->step_ms_median, 653.185534, 0);
    CHECK_CLOSE(r->peak_memory_bytes[0], 19541349888.0, 0);
    r = &m->runs[20];
    CHECK_STR(r->schedule, "looped-bfs");
    CHECK_INT(r->microbatches, 16);
    CHECK_CLOSE(r->step_ms_max, 1312.20917, 0);
    CHECK_CLOSE(r->peak_memory_bytes[0], 84409803264.0, 0);
    pp_meas_free(m);
}

static void test_overhead_file(void)
{
    struct pp_meas *m = NULL;
    struct pp_diag d;
    int rc = pp_meas_load(OVERHEAD, &m, &d);
    CHECK_INT(rc, 0);
    if (rc)
        return;
    CHECK_INT(m->n, 28);
    const char *order[] = {"gpipe",          "1f1b", "interleaved-1f1b", "interleaved-zb",
                           "zb-v",           "dualpipev", "looped-bfs"};
    for (size_t i = 0; i < m->n; i++) {
        CHECK_INT(m->runs[i].ranks, 1);
        CHECK_STR(m->runs[i].schedule, order[i / 4]);
        CHECK_INT(m->runs[i].microbatches, 4L << (i % 4));
        CHECK_INT(m->runs[i].microbatch_size, 4);
        CHECK_INT(m->runs[i].hidden, 256);
        CHECK_INT(m->runs[i].repeats, 20);
    }
    const struct pp_meas_run *r = &m->runs[20]; /* dualpipev, 4 microbatches */
    CHECK_CLOSE(r->step_ms_median, 57.4740865, 0);
    CHECK_CLOSE(r->step_ms_min, 53.651495, 0);
    CHECK_CLOSE(r->peak_memory_bytes[0], 297815040.0, 0);
    CHECK_INT(r->line, 22);
    pp_meas_free(m);
}

/* Two 2-rank configurations with interleaved rows: runs in order of first
 * appearance, memory by rank; columns in any order, extra columns ignored,
 * the four optional ones absent. */
static void test_grouping(void)
{
    struct pp_meas *m = ok(
        "rank,peak_memory_bytes,note,schedule,ranks,stages_per_rank,microbatches,"
        "microbatch_size,hidden,heads,ffn,seq,layers,dtype,step_ms_median,step_ms_min,"
        "step_ms_max,repeats,torch_version,gpu_name,driver\n"
        "1,200,x,1f1b,2,1,8,1,64,4,256,32,4,bf16,10,9,11,5,2.4,H100,550\n"
        "0,300,y,gpipe,2,1,8,1,64,4,256,32,4,bf16,12,11,13,5,2.4,H100,550\n"
        "0,100,z,1f1b,2,1,8,1,64,4,256,32,4,bf16,10,9,11,5,2.5,H100b,551\n"
        "1,-0,w,gpipe,2,1,8,1,64,4,256,32,4,bf16,12,11,13,5,2.4,H100,550\n");
    if (!m)
        return;
    CHECK_INT(m->n, 2);
    CHECK_STR(m->runs[0].schedule, "1f1b");
    CHECK_INT(m->runs[0].line, 2);
    CHECK_CLOSE(m->runs[0].peak_memory_bytes[0], 100, 0);
    CHECK_CLOSE(m->runs[0].peak_memory_bytes[1], 200, 0);
    CHECK_STR(m->runs[0].gpu_name, "H100"); /* the first row's */
    CHECK_STR(m->runs[1].schedule, "gpipe");
    CHECK_INT(m->runs[1].line, 3);
    CHECK_CLOSE(m->runs[1].peak_memory_bytes[0], 300, 0);
    CHECK_CLOSE(m->runs[1].peak_memory_bytes[1], 0, 0);
    CU_ASSERT(!signbit(m->runs[1].peak_memory_bytes[1]));
    CHECK_CLOSE(m->runs[1].step_ms_median, 12, 0);
    pp_meas_free(m);
    /* Configurations differing in one shape field or the dtype are apart. */
    m = ok(HEADER BASE "\n"
                  "gpipe,1,1,4,1,4096,32,16384,2048,17,bf16,327.7,322.6,341.8,8,0,287,2.11,H200,580\n"
                  "gpipe,1,1,4,1,4096,32,16384,2048,16,fp16,327.7,322.6,341.8,8,0,287,2.11,H200,580\n"
                  "gpipe,1,1,4,2,4096,32,16384,2048,16,bf16,327.7,322.6,341.8,8,0,287,2.11,H200,580\n");
    if (m)
        CHECK_INT(m->n, 4);
    pp_meas_free(m);
}

/* Many configurations and ranks: grouping stays correct (the hash tables
 * grow with the row count). */
static void test_many_rows(void)
{
    struct {
        char *p;
        size_t n, cap;
    } b = {NULL, 0, 0};
    size_t configs = 3000, ranks = 4;
    b.cap = 200 + configs * ranks * 120;
    b.p = malloc(b.cap);
    b.n = (size_t)snprintf(b.p, b.cap, HEADER);
    for (size_t r = 0; r < ranks; r++)
        for (size_t c = 0; c < configs; c++)
            b.n += (size_t)snprintf(b.p + b.n, b.cap - b.n,
                                    "1f1b,%zu,1,%zu,1,64,4,256,32,4,bf16,10,9,11,5,%zu,%zu,t,g,d\n",
                                    ranks, c + 1, ranks - 1 - r, c * 10 + r);
    struct pp_meas *m = ok(b.p);
    if (m) {
        CHECK_INT(m->n, configs);
        CHECK_INT(m->runs[1234].microbatches, 1235);
        CHECK_CLOSE(m->runs[1234].peak_memory_bytes[3], 12340, 0);
        CHECK_CLOSE(m->runs[1234].peak_memory_bytes[0], 12343, 0);
    }
    pp_meas_free(m);
    /* Thousands of configurations each claiming 4096 ranks but giving one:
     * refused at the first, without a table of 4096 per configuration. */
    b.n = (size_t)snprintf(b.p, b.cap, HEADER);
    for (size_t c = 0; c < configs; c++)
        b.n += (size_t)snprintf(b.p + b.n, b.cap - b.n,
                                "1f1b,4096,1,%zu,1,64,4,256,32,4,bf16,10,9,11,5,0,1,t,g,d\n", c + 1);
    CHECK_INT(fail(b.p), -PP_EINVAL);
    CHECK_STR(msg, "m.csv:2:46: error: column 'rank': the configuration starting here (1f1b, "
                   "4096 ranks, 1 microbatches) has no row for rank '1'");
    free(b.p);
}

static void test_columns(void)
{
    CHECK_INT(fail("schedule,ranks\n"), -PP_EINVAL);
    CHECK_STR(msg, "m.csv: error: no column 'stages_per_rank' (the header has 2 columns: "
                   "schedule, ..., ranks)");
    char text[1024];
    snprintf(text, sizeof text, "%s", HEADER BASE "\n");
    char *p = strstr(text, "step_ms_median");
    memcpy(p, "step_ms_medain", 14);
    CHECK_INT(fail(text), -PP_EINVAL);
    CHECK_STR(msg, "m.csv: error: no column 'step_ms_median' (did you mean 'step_ms_medain'?)");
    CHECK_INT(fail(HEADER), -PP_EINVAL);
    CHECK_STR(msg, "m.csv: error: no measurements: the CSV has a header but no rows");
    CHECK_INT(fail(""), -PP_EPARSE);
    CHECK_STR(msg, "m.csv: error: empty CSV: expected a header row");
    CHECK_INT(fail(HEADER "gpipe,1\n"), -PP_EPARSE);
    CHECK_STR(msg, "m.csv:2:1: error: row has 2 fields, the header has 20");
}

static void test_numbers(void)
{
    check_field(F_RANKS, "two", PP_EPARSE, "column 'ranks': expected a number, got 'two'");
    check_field(F_RANKS, "1.5", PP_EPARSE, "column 'ranks': expected an integer, got '1.5'");
    check_field(F_RANKS, "0", PP_EPARSE, "column 'ranks': must be >= 1, got '0'");
    check_field(F_RANKS, "5000", PP_ENOMEM,
                "column 'ranks': more than the limit of 4096, got '5000'");
    check_field(F_SPR, "-1", PP_EPARSE, "column 'stages_per_rank': must be >= 1, got '-1'");
    check_field(F_MBS, "", PP_EPARSE, "column 'microbatches': expected a number, got ''");
    check_field(F_MBS, "2e6", PP_ENOMEM,
                "column 'microbatches': more than the limit of 1000000, got '2e6'");
    check_field(F_MBSIZE, "0", PP_EPARSE, "column 'microbatch_size': must be >= 1, got '0'");
    check_field(F_HIDDEN, "1e16", PP_ENOMEM,
                "column 'hidden': more than the limit of 1000000000000000, got '1e16'");
    check_field(F_HEADS, "0x20", PP_EPARSE, "column 'heads': expected a number, got '0x20'");
    check_field(F_FFN, "-0", PP_EPARSE, "column 'ffn': must be >= 1, got '-0'");
    check_field(F_SEQ, "nan", PP_EPARSE, "column 'seq': expected a number, got 'nan'");
    check_field(F_LAYERS, "16.0001", PP_EPARSE,
                "column 'layers': expected an integer, got '16.0001'");
    check_field(F_REPEATS, "0", PP_EPARSE, "column 'repeats': must be >= 1, got '0'");
    check_field(F_PEAK, "-1", PP_EPARSE, "column 'peak_memory_bytes': must be >= 0, got '-1'");
    check_field(F_PEAK, "inf", PP_EPARSE,
                "column 'peak_memory_bytes': expected a number, got 'inf'");
    check_field(F_DTYPE, "", PP_EPARSE, "column 'dtype': expected a type such as bf16, got ''");
}

static void test_times(void)
{
    check_field(F_MEDIAN, "0", PP_EPARSE, "column 'step_ms_median': must be > 0 ms, got '0'");
    check_field(F_MEDIAN, "-327.7", PP_EPARSE,
                "column 'step_ms_median': must be > 0 ms, got '-327.7'");
    check_field(F_MIN, "1e400", PP_EPARSE,
                "column 'step_ms_min': expected a number, got '1e400'");
    check_field(F_MAX, "Infinity", PP_EPARSE,
                "column 'step_ms_max': expected a number, got 'Infinity'");
    check_field(F_MIN, "330", PP_EINVAL,
                "column 'step_ms_min': the fastest step is slower than the median 327.7 ms, "
                "got '330'");
    check_field(F_MAX, "300", PP_EINVAL,
                "column 'step_ms_max': the slowest step is faster than the median 327.7 ms, "
                "got '300'");
    /* min = median = max is one repeated step time, fine. */
    struct pp_meas *m = ok(HEADER "1f1b,1,1,4,1,64,4,256,32,4,bf16,5,5,5,1,0,0,t,g,d\n");
    if (m)
        CHECK_CLOSE(m->runs[0].step_ms_min, 5, 0);
    pp_meas_free(m);
}

static void test_schedule_and_rank(void)
{
    check_field(F_SCHEDULE, "1fb1", PP_EPARSE,
                "column 'schedule': unknown schedule '1fb1' (did you mean '1f1b'?)");
    /* Nothing close: the list (which grows with the schedules, so only its start). */
    char text[1024];
    snprintf(text, sizeof text, HEADER "%s\n", with(F_SCHEDULE, "Schedule1F1B"));
    CHECK_INT(fail(text), -PP_EPARSE);
    CHECK_CONTAINS(msg, "m.csv:2:1: error: column 'schedule': unknown schedule 'Schedule1F1B' "
                        "(known: gpipe, 1f1b, interleaved-1f1b, ");
    check_field(F_RANK, "1", PP_EINVAL,
                "column 'rank': expected a rank in 0..0 (ranks = 1), got '1'");
    check_field(F_RANK, "-1", PP_EINVAL,
                "column 'rank': expected a rank in 0..0 (ranks = 1), got '-1'");
    check_field(F_RANK, "0.5", PP_EPARSE, "column 'rank': expected an integer, got '0.5'");
}

static void test_groups(void)
{
    /* rank 0 twice */
    CHECK_INT(fail(HEADER "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9,11,5,0,1,t,g,d\n"
                          "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9,11,5,1,1,t,g,d\n"
                          "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9,11,5,0,1,t,g,d\n"),
              -PP_EINVAL);
    CHECK_STR(msg, "m.csv:4:43: error: column 'rank': rank 0 given twice for this "
                   "configuration (first on line 2), got '0'");
    /* rank 1 of the second configuration missing: reported at its first row */
    CHECK_INT(fail(HEADER "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9,11,5,0,1,t,g,d\n"
                          "1f1b,2,1,8,1,64,4,256,32,4,bf16,20,19,21,5,0,1,t,g,d\n"
                          "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9,11,5,1,1,t,g,d\n"),
              -PP_EINVAL);
    CHECK_STR(msg, "m.csv:3:44: error: column 'rank': the configuration starting here (1f1b, "
                   "2 ranks, 8 microbatches) has no row for rank '1'");
    /* a later rank's row with another step time */
    CHECK_INT(fail(HEADER "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9,11,5,0,1,t,g,d\n"
                          "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9.5,11,5,1,1,t,g,d\n"),
              -PP_EINVAL);
    CHECK_STR(msg, "m.csv:3:36: error: column 'step_ms_min': '9.5' differs from '9' on line 2, "
                   "the first row of the same configuration (every rank's row repeats the step "
                   "time)");
    CHECK_INT(fail(HEADER "1f1b,2,1,4,1,64,4,256,32,4,bf16,10,9,11,5,0,1,t,g,d\n"
                          "1f1b,2,1,4,1,64,4,256,32,4,bf16,10.0,9,11,6,1,1,t,g,d\n"),
              -PP_EINVAL);
    CHECK_STR(msg, "m.csv:3:43: error: column 'repeats': '6' differs from '5' on line 2, the "
                   "first row of the same configuration (every rank's row repeats the step "
                   "time)");
}

static void test_load_errors(void)
{
    struct pp_meas *m = NULL;
    struct pp_diag d;
    CHECK_INT(pp_meas_load("no/such/measure.csv", &m, &d), -PP_EIO);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "no/such/measure.csv: error: cannot open file: No such file or directory");
    CU_ASSERT_PTR_NULL(m);
    pp_meas_free(NULL);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"compute_file", test_compute_file},
        {"overhead_file", test_overhead_file},
        {"grouping", test_grouping},
        {"many_rows", test_many_rows},
        {"columns", test_columns},
        {"numbers", test_numbers},
        {"times", test_times},
        {"schedule_and_rank", test_schedule_and_rank},
        {"groups", test_groups},
        {"load_errors", test_load_errors},
        {NULL, NULL},
    };
    return pp_test_main("meas", tests);
}
