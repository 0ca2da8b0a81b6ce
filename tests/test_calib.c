/* test_calib.c - the calibration file (calib.h): the neutral default, every
 * key read, write -> parse gives back the same struct bit for bit, and each
 * refusal with its file:line:col and message. */
#include <float.h>
#include <unistd.h>

#include "buf.h"
#include "calib.h"
#include "diag.h"
#include "testutil.h"

static char msg[1024];

static int parse(const char *text, struct pp_calib *c)
{
    struct pp_diag d;
    int rc = pp_calib_parse(text, strlen(text), "c.yaml", c, &d);
    if (rc)
        pp_diag_format(&d, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg, "(parsed)");
    return rc;
}

/* Expect a refusal; msg holds it. The output struct is left as it was. */
static int fail(const char *text)
{
    struct pp_calib c, before;
    memset(&c, 0x5a, sizeof c);
    before = c;
    int rc = parse(text, &c);
    CU_ASSERT(memcmp(&c, &before, sizeof c) == 0);
    return rc;
}

/* Equal as calibrations: the link numbers mean nothing without has_link. */
static int same(const struct pp_calib *a, const struct pp_calib *b)
{
    for (int i = 0; i < PP_CAL_N_OPS; i++)
        if (a->op_overhead_ms[i] != b->op_overhead_ms[i])
            return 0;
    return a->compute_scale == b->compute_scale &&
           a->profile_overhead_ms == b->profile_overhead_ms &&
           a->step_overhead_ms == b->step_overhead_ms &&
           a->optimizer_ms_per_gb == b->optimizer_ms_per_gb && a->has_link == b->has_link &&
           (!a->has_link || (a->link_latency_ms == b->link_latency_ms &&
                             a->link_bandwidth_bytes_per_s == b->link_bandwidth_bytes_per_s)) &&
           a->memory_overhead_bytes == b->memory_overhead_bytes &&
           a->activation_scale == b->activation_scale && a->lazy_gradients == b->lazy_gradients;
}

static void test_neutral(void)
{
    struct pp_calib c;
    pp_calib_init(&c);
    CU_ASSERT(pp_calib_is_neutral(&c));
    CHECK_CLOSE(c.compute_scale, 1, 0);
    CHECK_CLOSE(c.activation_scale, 1, 0);
    CHECK_INT(c.has_link, 0);
    CHECK_INT(c.lazy_gradients, 0);
    for (int i = 0; i < PP_CAL_N_OPS; i++)
        CHECK_CLOSE(c.op_overhead_ms[i], 0, 0);
    /* Any one change makes it non-neutral. */
    struct pp_calib e = c;
    e.op_overhead_ms[PP_CAL_BW] = 0.01;
    CU_ASSERT(!pp_calib_is_neutral(&e));
    e = c;
    e.compute_scale = 1.05;
    CU_ASSERT(!pp_calib_is_neutral(&e));
    e = c;
    e.has_link = 1; /* even a zero link replaces the scenario's */
    CU_ASSERT(!pp_calib_is_neutral(&e));
    e = c;
    e.profile_overhead_ms = 0.005;
    CU_ASSERT(!pp_calib_is_neutral(&e));
    e = c;
    e.lazy_gradients = 1;
    CU_ASSERT(!pp_calib_is_neutral(&e));
    e = c;
    e.memory_overhead_bytes = 1;
    CU_ASSERT(!pp_calib_is_neutral(&e));
    /* An empty calibration section and one that names only the defaults are neutral. */
    CHECK_INT(parse("calibration: {}\n", &e), 0);
    CU_ASSERT(pp_calib_is_neutral(&e));
    CHECK_INT(parse("calibration:\n  compute_scale: 1\n  op_overhead_ms: {forward: -0}\n", &e), 0);
    CU_ASSERT(pp_calib_is_neutral(&e));
    CU_ASSERT(!signbit(e.op_overhead_ms[PP_CAL_F]));
}

static void test_every_key(void)
{
    struct pp_calib c;
    int rc = parse("# a comment\n"
                   "calibration:\n"
                   "  op_overhead_ms: {forward: 0.1, backward: 0.2, backward_input: 0.15,\n"
                   "                   backward_weight: 0.05}\n"
                   "  compute_scale: 1.07\n"
                   "  profile_overhead_ms: 0.011\n"
                   "  step_overhead_ms: 3.5\n"
                   "  optimizer_ms_per_gb: 0.8\n"
                   "  link: {latency_ms: 0.02, bandwidth_bytes_per_s: 1.5e11}\n"
                   "  memory_overhead_bytes: 5.2e8\n"
                   "  activation_scale: 0.97\n"
                   "  lazy_gradients: true\n"
                   "fit:\n"
                   "  measurements: validation/x/measure.csv\n"
                   "  residuals: [0.01, -0.02, {anything: [goes]}]\n",
                   &c);
    CHECK_INT(rc, 0);
    CHECK_STR(msg, "(parsed)");
    CHECK_CLOSE(c.op_overhead_ms[PP_CAL_F], 0.1, 0);
    CHECK_CLOSE(c.op_overhead_ms[PP_CAL_B], 0.2, 0);
    CHECK_CLOSE(c.op_overhead_ms[PP_CAL_BI], 0.15, 0);
    CHECK_CLOSE(c.op_overhead_ms[PP_CAL_BW], 0.05, 0);
    CHECK_CLOSE(c.compute_scale, 1.07, 0);
    CHECK_CLOSE(c.profile_overhead_ms, 0.011, 0);
    CHECK_CLOSE(c.step_overhead_ms, 3.5, 0);
    CHECK_CLOSE(c.optimizer_ms_per_gb, 0.8, 0);
    CHECK_INT(c.has_link, 1);
    CHECK_CLOSE(c.link_latency_ms, 0.02, 0);
    CHECK_CLOSE(c.link_bandwidth_bytes_per_s, 1.5e11, 0);
    CHECK_CLOSE(c.memory_overhead_bytes, 5.2e8, 0);
    CHECK_CLOSE(c.activation_scale, 0.97, 0);
    CHECK_INT(c.lazy_gradients, 1);
    /* Absent keys keep the neutral values; bandwidth 0 is an infinite link. */
    rc = parse("calibration:\n  op_overhead_ms: {backward_weight: 0.3}\n"
               "  link: {latency_ms: 0, bandwidth_bytes_per_s: 0}\n",
               &c);
    CHECK_INT(rc, 0);
    CHECK_CLOSE(c.op_overhead_ms[PP_CAL_F], 0, 0);
    CHECK_CLOSE(c.op_overhead_ms[PP_CAL_BW], 0.3, 0);
    CHECK_CLOSE(c.compute_scale, 1, 0);
    CHECK_INT(c.has_link, 1);
    CHECK_CLOSE(c.link_bandwidth_bytes_per_s, 0, 0);
    CHECK_INT(c.lazy_gradients, 0);
}

static void roundtrip(const struct pp_calib *c, const char *fit)
{
    struct pp_buf b;
    pp_buf_init(&b);
    pp_calib_write_yaml(c, fit, &b);
    struct pp_calib back;
    int rc = parse(b.data, &back);
    CHECK_INT(rc, 0);
    if (rc)
        CU_FAIL(msg);
    CU_ASSERT(rc == 0 && same(c, &back));
    CHECK_INT(strncmp(b.data, "# ", 2), 0); /* the header comment */
    if (fit)
        CU_ASSERT(strstr(b.data, fit) != NULL);
    pp_buf_free(&b);
}

static void test_roundtrip(void)
{
    struct pp_calib c;
    pp_calib_init(&c);
    roundtrip(&c, NULL);
    /* Numbers that %g would round: 17 digits keep them exact. */
    c.op_overhead_ms[PP_CAL_F] = 0.1 + 0.2;
    c.op_overhead_ms[PP_CAL_B] = 1.0 / 3.0;
    c.op_overhead_ms[PP_CAL_BI] = DBL_MIN;
    c.op_overhead_ms[PP_CAL_BW] = 5e-324; /* the smallest subnormal */
    c.compute_scale = 1.0 + DBL_EPSILON;
    c.profile_overhead_ms = 0.0072999999999999997;
    c.step_overhead_ms = 12345.678901234567;
    c.optimizer_ms_per_gb = 1e-9;
    c.has_link = 1;
    c.link_latency_ms = 0.0123456789;
    c.link_bandwidth_bytes_per_s = 4.5e11;
    c.memory_overhead_bytes = 1234567890123.0;
    c.activation_scale = 0.9999999999999999;
    c.lazy_gradients = 1;
    roundtrip(&c, "fit:\n  schedules: [gpipe, 1f1b]\n  residual_ms: 0.25\n");
    roundtrip(&c, "fit: {note: no final line end}");
    c.has_link = 0;
    c.lazy_gradients = 0;
    c.memory_overhead_bytes = DBL_MAX;
    roundtrip(&c, NULL);
    /* Without a link the file has no link: the scenario's stays. */
    struct pp_buf b;
    pp_buf_init(&b);
    pp_calib_write_yaml(&c, NULL, &b);
    CU_ASSERT(strstr(b.data, "link") == NULL);
    pp_buf_free(&b);
}

static void test_bad_values(void)
{
    CHECK_INT(fail("calibration:\n  compute_scale: 0\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:18: error: calibration.compute_scale: must be > 0, got '0'");
    CHECK_INT(fail("calibration:\n  activation_scale: -0\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:21: error: calibration.activation_scale: must be > 0, got '-0'");
    CHECK_INT(fail("calibration:\n  profile_overhead_ms: -1e-3\n"), -PP_EPARSE);
    CHECK_STR(msg,
              "c.yaml:2:24: error: calibration.profile_overhead_ms: must be >= 0, got '-1e-3'");
    CHECK_INT(fail("calibration:\n  step_overhead_ms: -1\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:21: error: calibration.step_overhead_ms: must be >= 0, got '-1'");
    CHECK_INT(fail("calibration:\n  optimizer_ms_per_gb: .nan\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:24: error: calibration.optimizer_ms_per_gb: expected a decimal "
                   "number, got '.nan'");
    CHECK_INT(fail("calibration:\n  memory_overhead_bytes: 1e400\n"), -PP_EPARSE);
    CHECK_STR(msg,
              "c.yaml:2:26: error: calibration.memory_overhead_bytes: number '1e400' is out of range");
    CHECK_INT(fail("calibration:\n  op_overhead_ms: {forward: .inf}\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:29: error: calibration.op_overhead_ms.forward: expected a decimal "
                   "number, got '.inf'");
    CHECK_INT(fail("calibration:\n  op_overhead_ms: {backward: \"0.1\"}\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:30: error: calibration.op_overhead_ms.backward: expected a number, "
                   "got the string \"0.1\"");
    CHECK_INT(fail("calibration:\n  op_overhead_ms: 0.1\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:19: error: calibration.op_overhead_ms: expected a mapping, got a "
                   "scalar");
    CHECK_INT(fail("calibration:\n  link: {latency_ms: -0.5, bandwidth_bytes_per_s: 1e9}\n"),
              -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:22: error: calibration.link.latency_ms: must be >= 0, got '-0.5'");
    CHECK_INT(fail("calibration:\n  link: {latency_ms: 0.01}\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:9: error: calibration.link: missing key 'bandwidth_bytes_per_s'");
    CHECK_INT(fail("calibration:\n  lazy_gradients: yes\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:19: error: calibration.lazy_gradients: expected true or false, got "
                   "'yes'");
}

static void test_bad_structure(void)
{
    CHECK_INT(fail(""), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml: error: empty calibration file: expected a mapping with 'calibration:'");
    CHECK_INT(fail("- 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:1:1: error: expected a calibration: a mapping with 'calibration:'");
    CHECK_INT(fail("fit: {}\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:1:1: error: missing key 'calibration'");
    CHECK_INT(fail("calibration: 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:1:14: error: calibration: expected a mapping, got a scalar");
    CHECK_INT(fail("calibrations:\n  compute_scale: 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:1:1: error: unknown key 'calibrations' (did you mean 'calibration'?)");
    CHECK_INT(fail("calibration:\n  compute_sacle: 1.1\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:3: error: unknown key 'calibration.compute_sacle' (did you mean "
                   "'compute_scale'?)");
    CHECK_INT(fail("calibration:\n  op_overhead_ms: {fwd: 0.1}\n"), -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:20: error: unknown key 'calibration.op_overhead_ms.fwd'");
    CHECK_INT(fail("calibration:\n  link: {latency: 0.1, bandwidth_bytes_per_s: 1}\n"),
              -PP_EPARSE);
    CHECK_STR(msg, "c.yaml:2:10: error: unknown key 'calibration.link.latency' (did you mean "
                   "'latency_ms'?)");
    CHECK_INT(fail("calibration:\n  compute_scale: 1\n  compute_scale: 2\n"), -PP_EPARSE);
    CHECK_CONTAINS(msg, "c.yaml:3:3: error: duplicate key 'compute_scale'");
    CHECK_INT(fail("calibration: {compute_scale: &a 1}\n"), -PP_EPARSE);
    CHECK_CONTAINS(msg, "YAML anchors and aliases are not supported");
}

static void test_load(void)
{
    struct pp_calib c;
    struct pp_diag d;
    CHECK_INT(pp_calib_load("no/such/calibration.yaml", &c, &d), -PP_EIO);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "no/such/calibration.yaml: error: cannot open file: No such file or directory");
    /* A written file loads back. */
    char path[] = "/tmp/ppsim_test_calib_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    struct pp_calib w;
    pp_calib_init(&w);
    w.step_overhead_ms = 2.5;
    w.lazy_gradients = 1;
    struct pp_buf b;
    pp_buf_init(&b);
    pp_calib_write_yaml(&w, "fit: {}\n", &b);
    CHECK_INT(pp_write_file_atomic(path, b.data, b.len, &d), 0);
    pp_buf_free(&b);
    CHECK_INT(pp_calib_load(path, &c, &d), 0);
    CU_ASSERT(same(&c, &w));
    unlink(path);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"neutral", test_neutral},
        {"every_key", test_every_key},
        {"roundtrip", test_roundtrip},
        {"bad_values", test_bad_values},
        {"bad_structure", test_bad_structure},
        {"load", test_load},
        {NULL, NULL},
    };
    return pp_test_main("calib", tests);
}
