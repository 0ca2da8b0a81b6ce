/* test_report.c - the output contract of issue 3: JSON keys, CSV columns with
 * units, C-locale round-trip numbers, and byte-identical output for one input. */
#include "testutil.h"

#include "buf.h"
#include "diag.h"
#include "report.h"
#include "run.h"
#include "scenario.h"

static const char scenario[] =
    "name: report-test\n"
    "model:\n"
    "  uniform: {count: 6, forward_ms: 1.1, backward_input_ms: 1.3, backward_weight_ms: 0.9,\n"
    "            activation_bytes: 3e6, output_bytes: 2e5, parameter_bytes: 5e6}\n"
    "cluster: {devices: 6, device_memory_bytes: 80e9, link: {bandwidth_bytes_per_s: 2e10, "
    "latency_ms: 0.01}}\n"
    "pipeline: {schedule: 1f1b, stages: 3, microbatches: 7, microbatch_size: 4}\n"
    "training: {optimizer_state_bytes_per_parameter_byte: 6, gradient_bytes_per_parameter_byte: 1}\n";

static struct pp_run *make_run(struct pp_scenario **sc)
{
    struct pp_diag d;
    struct pp_run *r = NULL;
    if (pp_scenario_parse(scenario, sizeof scenario - 1, "t.yaml", NULL, 0, sc, &d) != 0)
        return NULL;
    if (pp_run_scenario(*sc, 0, &r, &d) != 0)
        return NULL;
    return r;
}

static void test_json_keys(void)
{
    struct pp_scenario *sc = NULL;
    struct pp_run *r = make_run(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    struct pp_buf b;
    pp_buf_init(&b);
    pp_report_json(&b, r);
    static const char *const keys[] = {
        "\"schedule\": \"1f1b\"", "\"stages\": 3", "\"microbatches\": 7",
        "\"iteration_time_ms\": ", "\"throughput_samples_per_s\": ", "\"bubble_fraction\": ",
        "\"analytic_iteration_time_ms\": ", "\"per_device\": [", "\"device\": 2",
        "\"busy_ms\": ", "\"first_start_ms\": ", "\"last_end_ms\": ", "\"peak_memory_bytes\": ",
        "\"peak_activation_bytes\": ", "\"data_parallel\": 2", "\"fits_memory\": true",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_CONTAINS(b.data, keys[i]);
    /* Throughput counts both data-parallel replicas: 2 x 7 microbatches x 4 samples. */
    CHECK_CLOSE(r->throughput_samples_per_s, 56 / (r->iteration_time_ms / 1e3), 1e-12);
    pp_buf_free(&b);
    pp_run_free(r);
    pp_scenario_free(sc);
}

static void test_csv_columns(void)
{
    struct pp_scenario *sc = NULL;
    struct pp_run *r = make_run(&sc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    struct pp_buf b;
    pp_buf_init(&b);
    pp_report_csv(&b, r);
    CHECK_CONTAINS(b.data, "schedule,stages,chunks,devices,microbatches,microbatch_size,"
                           "iteration_time_ms,throughput_samples_per_s,bubble_fraction,"
                           "analytic_iteration_time_ms,fits_memory,device,busy_ms,");
    size_t lines = 0;
    for (const char *p = b.data; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 4); /* header + one row per pipeline device */
    pp_buf_free(&b);
    pp_run_free(r);
    pp_scenario_free(sc);
}

/* Numbers print in their shortest round-trip form: strtod gives back the double. */
static void test_round_trip_numbers(void)
{
    const double xs[] = {0.1, 1.0 / 3.0, 1485.7216, 6.02214076e23, 5e-324, 123456789.0, -0.0};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        struct pp_buf b;
        pp_buf_init(&b);
        pp_buf_double(&b, xs[i]);
        CU_ASSERT_EQUAL(strtod(b.data, NULL), xs[i]);
        CU_ASSERT_PTR_NULL(strchr(b.data, ','));
        pp_buf_free(&b);
    }
    struct pp_buf b;
    pp_buf_init(&b);
    pp_buf_double(&b, 0.1);
    CHECK_STR(b.data, "0.1");
    pp_buf_free(&b);
    pp_buf_init(&b);
    pp_buf_json_str(&b, "a\"b\\c\n\x01");
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    pp_buf_free(&b);
}

static void test_deterministic(void)
{
    struct pp_buf out[2];
    for (int k = 0; k < 2; k++) {
        struct pp_scenario *sc = NULL;
        struct pp_run *r = make_run(&sc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        pp_buf_init(&out[k]);
        pp_report_json(&out[k], r);
        pp_report_csv(&out[k], r);
        pp_report_table(&out[k], r);
        pp_run_free(r);
        pp_scenario_free(sc);
    }
    CU_ASSERT_EQUAL(out[0].len, out[1].len);
    CU_ASSERT_EQUAL(memcmp(out[0].data, out[1].data, out[0].len), 0);
    pp_buf_free(&out[0]);
    pp_buf_free(&out[1]);
}

/* schedules.md §1: for balanced, communication-free GPipe, Megatron's bubble is
 * (p-1)/m and GPipe's (p-1)/(m+p-1); Zero Bubble's rate from t = 0 equals
 * GPipe's there, and so does the busy-based fraction. */
static void test_bubble_conventions(void)
{
    static const char text[] =
        "model: {uniform: {count: 4, forward_ms: 1, backward_ms: 2, activation_bytes: 1, "
        "output_bytes: 1, parameter_bytes: 1}}\n"
        "cluster: {devices: 4}\n"
        "pipeline: {schedule: gpipe, stages: 4, microbatches: 8}\n";
    struct pp_diag d;
    struct pp_scenario *sc = NULL;
    struct pp_run *r = NULL;
    CU_ASSERT_EQUAL_FATAL(pp_scenario_parse(text, sizeof text - 1, "b.yaml", NULL, 0, &sc, &d), 0);
    CU_ASSERT_EQUAL_FATAL(pp_run_scenario(sc, 0, &r, &d), 0);
    CHECK_CLOSE(r->bubble_megatron, 3.0 / 8, 1e-12);
    CHECK_CLOSE(r->bubble_gpipe, 3.0 / 11, 1e-12);
    CHECK_CLOSE(r->zb_bubble_rate, 3.0 / 11, 1e-12);
    CHECK_CLOSE(r->bubble_fraction, 3.0 / 11, 1e-12);
    CHECK_INT(r->zb_cost_uses_span, 0);
    /* A flushing schedule's steady state is its iteration: 8 samples / 33 ms. */
    CHECK_CLOSE(r->steady_throughput_samples_per_s, 8 / 0.033, 1e-9);
    pp_run_free(r);
    pp_scenario_free(sc);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"bubble conventions", test_bubble_conventions},
        {"JSON keys", test_json_keys},
        {"CSV columns", test_csv_columns},
        {"round-trip numbers", test_round_trip_numbers},
        {"byte-identical output", test_deterministic},
        {NULL, NULL},
    };
    return pp_test_main("report", tests);
}
