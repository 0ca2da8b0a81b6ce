/* test_scenario.c - scenario schema, defaults, semantic checks and --set.
 *
 * Every refusal is checked with the exact line a user sees (pp_diag_format).
 * The shipped scenarios must load with the values their comments promise; the
 * GPT-1.5B numbers are ZB Table 9 (schedules.md §7.1). */
#include "costmodel.h"
#include "diag.h"
#include "scenario.h"
#include "testutil.h"

static char msg[1024];

/* A scenario body that is valid as it stands; tests append or replace keys. */
#define MODEL16                                                                              \
    "model:\n"                                                                               \
    "  uniform: {count: 16, forward_ms: 1, backward_ms: 2, activation_bytes: 1,\n"           \
    "            output_bytes: 1, parameter_bytes: 1}\n"

static int parse_sets(const char *text, const char *const *sets, size_t n_sets,
                      struct pp_scenario **out)
{
    struct pp_diag d;
    struct pp_scenario *sc = NULL;
    int rc = pp_scenario_parse(text, strlen(text), "s.yaml", sets, n_sets, &sc, &d);
    if (rc)
        pp_diag_format(&d, msg, sizeof msg);
    if (out)
        *out = sc;
    else
        pp_scenario_free(sc);
    return rc;
}

static int parse(const char *text, struct pp_scenario **out)
{
    return parse_sets(text, NULL, 0, out);
}

static void test_quickstart(void)
{
    struct pp_scenario *sc = NULL;
    struct pp_diag d;
    int rc = pp_scenario_load("../scenarios/quickstart.yaml", NULL, 0, &sc, &d);
    if (rc) {
        CU_FAIL(pp_diag_format(&d, msg, sizeof msg));
        return;
    }
    CHECK_STR(sc->name, "quickstart-gpt-1.5b-1f1b");
    CHECK_STR(sc->file, "../scenarios/quickstart.yaml");
    CHECK_INT(sc->model->n_layers, 24);
    CHECK_STR(sc->model->source, "../scenarios/../models/gpt-1.5b-zb.yaml");
    CHECK_INT(sc->devices, 8);
    CHECK_CLOSE(sc->device_memory_bytes, 80e9, 0);
    CHECK_CLOSE(sc->link_bandwidth_bytes_per_s, 25e9, 0);
    CHECK_CLOSE(sc->link_latency_ms, 0.005, 0);
    CHECK_INT(sc->schedule, PP_SCHED_1F1B);
    CHECK_INT(sc->stages, 8);
    CHECK_INT(sc->chunks, 1);
    CHECK_INT(sc->microbatches, 24);
    CHECK_CLOSE(sc->microbatch_size, 6, 0);
    CHECK_INT(sc->partition_balanced, 1);
    CHECK_CLOSE(sc->optimizer_state_bytes_per_parameter_byte, 6, 0);
    CHECK_CLOSE(sc->gradient_bytes_per_parameter_byte, 1, 0);
    CHECK_CLOSE(sc->optimizer_step_ms, 0, 0);
    /* Three layers per stage: one stage's F+B+W is ZB Table 9's 18.522+18.086+9.337. */
    CHECK_CLOSE(pp_costmodel_compute_ms(sc->model, 0, 3), 45.945, 1e-12);
    pp_scenario_free(sc);
}

static void test_shipped_scenarios(void)
{
    struct pp_scenario *sc = NULL;
    struct pp_diag d;
    int rc = pp_scenario_load("../scenarios/gpipe-vs-1f1b.yaml", NULL, 0, &sc, &d);
    CHECK_INT(rc, 0);
    if (sc) {
        CHECK_INT(sc->schedule, PP_SCHED_GPIPE);
        CHECK_INT(sc->model->n_layers, 16);
        CHECK_STR(sc->model->name, "toy-16");
        CHECK_STR(sc->model->source, "../scenarios/gpipe-vs-1f1b.yaml");
        CHECK_CLOSE(sc->link_latency_ms, 0, 0);
        CHECK_CLOSE(sc->device_memory_bytes, 0, 0);
        pp_scenario_free(sc);
    }
    /* The same file with the other schedule, as its comment suggests. */
    const char *sets[] = {"pipeline.schedule=1f1b"};
    sc = NULL;
    CHECK_INT(pp_scenario_load("../scenarios/gpipe-vs-1f1b.yaml", sets, 1, &sc, &d), 0);
    if (sc)
        CHECK_INT(sc->schedule, PP_SCHED_1F1B);
    pp_scenario_free(sc);
    sc = NULL;
    rc = pp_scenario_load("../scenarios/pipedream-vgg16.yaml", NULL, 0, &sc, &d);
    if (rc)
        CU_FAIL(pp_diag_format(&d, msg, sizeof msg));
    if (sc) {
        CHECK_INT(sc->model->n_layers, 40);
        CHECK_INT(sc->stages, 4);
        CHECK_INT(sc->microbatches, 16);
        CHECK_INT(sc->schedule, PP_SCHED_1F1B);
        CHECK_STR(sc->model->name, "vgg16");
        pp_scenario_free(sc);
    }
}

static void test_defaults_and_inline_models(void)
{
    struct pp_scenario *sc;
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4}\n"
                            "pipeline: {schedule: gpipe, stages: 4, microbatches: 8}\n",
                    &sc),
              0);
    if (sc) {
        CHECK_STR(sc->name, "");
        CHECK_INT(sc->chunks, 1);
        CHECK_CLOSE(sc->microbatch_size, 1, 0);
        CHECK_INT(sc->partition_balanced, 1);
        CU_ASSERT_PTR_NULL(sc->partition_counts);
        CHECK_CLOSE(sc->device_memory_bytes, 0, 0);
        CHECK_CLOSE(sc->link_bandwidth_bytes_per_s, 0, 0);
        CHECK_CLOSE(sc->link_latency_ms, 0, 0);
        CHECK_CLOSE(sc->optimizer_state_bytes_per_parameter_byte, 0, 0);
        CHECK_CLOSE(sc->gradient_bytes_per_parameter_byte, 0, 0);
        CHECK_CLOSE(sc->optimizer_step_ms, 0, 0);
        CHECK_INT(sc->model->format, PP_MODEL_YAML);
        CHECK_STR(sc->model->source, "s.yaml");
        CHECK_STR(sc->model->layers[15].name, "layer15");
    }
    pp_scenario_free(sc);
    /* `layers:` inline, an explicit partition, 8 data-parallel replicas of 2 stages. */
    int rc = parse("name: explicit\n"
                   "model:\n"
                   "  layers:\n"
                   "    - {name: a, forward_ms: 1, backward_ms: 2, activation_bytes: 1,"
                   " output_bytes: 1, parameter_bytes: 1}\n"
                   "    - uniform: {count: 4, forward_ms: 1, backward_ms: 2,"
                   " activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}\n"
                   "cluster: {devices: 16}\n"
                   "pipeline: {schedule: 1f1b, stages: 2, microbatches: 4,"
                   " partition: [3, 2], microbatch_size: 0.5}\n",
                   &sc);
    CHECK_INT(rc, 0);
    if (sc) {
        CHECK_STR(sc->name, "explicit");
        CHECK_INT(sc->model->n_layers, 5);
        CHECK_INT(sc->partition_balanced, 0);
        CHECK_INT(sc->n_partition_counts, 2);
        CHECK_INT(sc->partition_counts[0], 3);
        CHECK_INT(sc->partition_counts[1], 2);
        CHECK_CLOSE(sc->microbatch_size, 0.5, 0);
    }
    pp_scenario_free(sc);
    /* A model file given relative to the scenario's folder, in either format. */
    CHECK_INT(parse_sets("model: {file: ../models/pipedream/alexnet.yaml}\n"
                         "cluster: {devices: 2}\n"
                         "pipeline: {schedule: 1f1b, stages: 2, microbatches: 4}\n",
                         NULL, 0, &sc),
              0);
    if (sc)
        CHECK_INT(sc->model->n_layers, 22);
    pp_scenario_free(sc);
    CHECK_INT(parse("model: {file: ../models/pipedream/profiles/alexnet/graph.txt}\n"
                    "cluster: {devices: 2}\n"
                    "pipeline: {schedule: 1f1b, stages: 2, microbatches: 4}\n",
                    &sc),
              0);
    if (sc) {
        CHECK_INT(sc->model->format, PP_MODEL_PIPEDREAM_GRAPH);
        CHECK_INT(sc->model->n_edges, 22);
    }
    pp_scenario_free(sc);
}

#define GOOD_CLUSTER "cluster: {devices: 4}\n"
#define GOOD_PIPE "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8}\n"

static void test_structure_errors(void)
{
    CHECK_INT(parse("", NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml: error: empty scenario: expected a mapping at the top level (keys "
                   "name, model, cluster, pipeline, training)");
    CHECK_INT(parse("# nothing but a comment\n", NULL), -PP_EPARSE);
    CHECK_CONTAINS(msg, "s.yaml: error: empty scenario");
    CHECK_INT(parse("- a\n- b\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:1: error: expected a mapping at the top level (keys name, model, "
                   "cluster, pipeline, training)");
    CHECK_INT(parse("just text\n", NULL), -PP_EPARSE);
    CHECK_CONTAINS(msg, "s.yaml:1:1: error: expected a mapping at the top level");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipline: {}\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:1: error: unknown key 'pipline' (did you mean 'pipeline'?)");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {schedule: 1f1b, stages: 4, microbatch: 8}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:39: error: unknown key 'pipeline.microbatch' (did you mean "
                   "'microbatches'?)");
    CHECK_INT(parse(GOOD_CLUSTER GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:1: error: missing key 'model'");
    CHECK_INT(parse(MODEL16 GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:1: error: missing key 'cluster'");
    CHECK_INT(parse(MODEL16 "cluster: {device: 4}\n" GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:11: error: unknown key 'cluster.device' (did you mean 'devices'?)");
    CHECK_INT(parse(MODEL16 "cluster: {device_memory_bytes: 1e9}\n" GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:10: error: cluster: missing key 'devices'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:1: error: missing key 'pipeline'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {stages: 4, microbatches: 8}\n", NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:11: error: pipeline: missing key 'schedule'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {schedule: 1f1b, microbatches: 8}\n", NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:11: error: pipeline: missing key 'stages'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {schedule: 1f1b, stages: 4}\n", NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:11: error: pipeline: missing key 'microbatches'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: 4\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:11: error: pipeline: expected a mapping, got a scalar");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, link: {bandwidth: 1e9}}\n" GOOD_PIPE, NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:30: error: unknown key 'cluster.link.bandwidth' (did you mean "
                   "'bandwidth_bytes_per_s'?)");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER GOOD_PIPE "training: {optimizer_step: 1}\n", NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:6:12: error: unknown key 'training.optimizer_step' (did you mean "
                   "'optimizer_step_ms'?)");
    CHECK_INT(parse("name: ~\n" MODEL16 GOOD_CLUSTER GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:7: error: name: expected a string, got an empty value");
}

static void test_value_errors(void)
{
    CHECK_INT(parse(MODEL16 "cluster: {devices: eight}\n" GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:20: error: cluster.devices: expected a decimal number, got 'eight'");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 0}\n" GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:20: error: cluster.devices: must be >= 1, got '0'");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, device_memory_bytes: 0}\n" GOOD_PIPE, NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:44: error: cluster.device_memory_bytes: must be > 0, got '0' (leave "
                   "it out for no limit)");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, device_memory_bytes: -8e9}\n" GOOD_PIPE,
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:44: error: cluster.device_memory_bytes: must be >= 0, got '-8e9'");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, device_memory_bytes: yes}\n" GOOD_PIPE, NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:44: error: cluster.device_memory_bytes: expected a decimal number, "
                   "got 'yes'");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, link: {bandwidth_bytes_per_s: 0}}\n" GOOD_PIPE,
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:53: error: cluster.link.bandwidth_bytes_per_s: must be > 0, got '0' "
                   "(leave it out for no limit)");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, link: {latency_ms: -1}}\n" GOOD_PIPE, NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:42: error: cluster.link.latency_ms: must be >= 0, got '-1'");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, link: {latency_ms: .nan}}\n" GOOD_PIPE, NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:42: error: cluster.link.latency_ms: expected a decimal number, got "
                   "'.nan'");
    /* Schedules: a near miss gets a suggestion, anything else the list. */
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {schedule: ifib, stages: 4, microbatches: 8}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:22: error: pipeline.schedule: unknown schedule 'ifib' (did you mean "
                   "'1f1b'?)");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: zero-bubble, stages: 4, microbatches: 8}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:22: error: pipeline.schedule: unknown schedule 'zero-bubble' (known: "
                   "gpipe, 1f1b, interleaved-1f1b, looped-bfs, zb-h1, zb-h2, zb-auto, zb-v, "
                   "v-half, v-min, interleaved-zb, dualpipe, dualpipev, chimera, pipedream, "
                   "pipedream-2bw, localsgd, naive)");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: [1f1b], stages: 4, microbatches: 8}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:22: error: pipeline.schedule: expected a string, got a list");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {schedule: 1f1b, stages: 0, microbatches: 8}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:36: error: pipeline.stages: must be >= 1, got '0'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 5000, microbatches: 8}\n",
                    NULL),
              -PP_ENOMEM); /* past a size cap: exit 3 (issue 8) */
    CHECK_STR(msg, "s.yaml:5:36: error: pipeline.stages: more than the limit of 4096, got '5000'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, chunks: 65, microbatches: 8}\n",
                    NULL),
              -PP_ENOMEM);
    CHECK_STR(msg, "s.yaml:5:47: error: pipeline.chunks: more than the limit of 64, got '65'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 1e12}\n",
                    NULL),
              -PP_ENOMEM);
    CHECK_STR(msg, "s.yaml:5:53: error: pipeline.microbatches: more than the limit of 1000000, got "
                   "'1e12'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 2.5}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:53: error: pipeline.microbatches: expected an integer, got '2.5'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8, microbatch_size: 0}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:73: error: pipeline.microbatch_size: must be > 0, got '0'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER GOOD_PIPE
                    "training: {gradient_bytes_per_parameter_byte: -1}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:6:47: error: training.gradient_bytes_per_parameter_byte: must be >= 0, "
                   "got '-1'");
    /* Partitions. */
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8, partition: balance}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:67: error: pipeline.partition: expected balanced, pipedream, auto or a list of layer "
                   "counts, got 'balance' (did you mean 'balanced'?)");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8,"
                    " partition: [4, 0, 8, 4]}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:71: error: pipeline.partition[1]: must be >= 1, got '0'");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8, partition: {a: 1}}\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:5:67: error: pipeline.partition: expected balanced, pipedream, auto or a list of layer "
                   "counts, got a mapping");
}

static void test_model_errors(void)
{
    CHECK_INT(parse("model: gpt.yaml\n" GOOD_CLUSTER GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:8: error: model: expected {file: PATH} or an inline model ({layers: "
                   "[...]} or {uniform: {...}}), got 'gpt.yaml'");
    CHECK_INT(parse("model: {file: x.yaml, layers: []}\n" GOOD_CLUSTER GOOD_PIPE, NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:23: error: unknown key 'model.layers'");
    CHECK_INT(parse("model: {file: ../models/none.yaml}\n" GOOD_CLUSTER GOOD_PIPE, NULL), -PP_EIO);
    CHECK_STR(msg, "s.yaml:1:15: error: model.file: '../models/none.yaml': cannot open file: No "
                   "such file or directory");
    /* Errors inside the model file name that file. */
    CHECK_INT(parse("model: {file: ../models/pipedream/profiles/SOURCE.md}\n" GOOD_CLUSTER
                        GOOD_PIPE,
                    NULL),
              -PP_EPARSE);
    CHECK_CONTAINS(msg, "../models/pipedream/profiles/SOURCE.md:");
    /* Inline model errors carry the `model.` prefix. */
    CHECK_INT(parse("model:\n  uniform: {count: 16, forward_ms: -1, backward_ms: 2,"
                    " activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}\n" GOOD_CLUSTER
                        GOOD_PIPE,
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:2:36: error: model.uniform.forward_ms: must be >= 0, got '-1'");
    CHECK_INT(parse("model: {uniform: {count: 16}}\n" GOOD_CLUSTER GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:18: error: model.uniform: missing key 'forward_ms'");
    CHECK_INT(parse("model: {layer: []}\n" GOOD_CLUSTER GOOD_PIPE, NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:1:9: error: unknown key 'model.layer' (did you mean 'layers'?)");
}

static void test_semantic_errors(void)
{
    /* The brief's wording: stages need devices. */
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {schedule: 1f1b, stages: 8, microbatches: 8}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:5:36: error: pipeline.stages: 8 stages need at least 8 devices, "
                   "cluster.devices is 4");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 6}\n" GOOD_PIPE, NULL), -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:4:20: error: cluster.devices: 6 devices do not divide into 4 pipeline "
                   "stages (data-parallel replicas = devices / stages must be a whole number)");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 32}\n"
                            "pipeline: {schedule: 1f1b, stages: 32, microbatches: 8}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:5:36: error: pipeline.stages: 32 stages, but the model has only 16 "
                   "layers");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, chunks: 8, microbatches: 8}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:5:47: error: pipeline.chunks: 4 stages x 8 chunks = 32 model pieces, "
                   "but the model has only 16 layers");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8, partition: [8, 8]}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:5:67: error: pipeline.partition: has 2 entries, expected stages x "
                   "chunks = 4");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8,"
                    " partition: [4, 4, 4, 5]}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:5:67: error: pipeline.partition: layer counts sum to 17, but the model "
                   "has 16 layers");
    /* The schedule's own check (schedule.c pp_sched_check), at the key it names. */
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, chunks: 2, microbatches: 8}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:5:47: error: pipeline.chunks: this schedule runs one model chunk per "
                   "device (chunks: 1); multi-chunk schedules are interleaved or V-shaped "
                   "(schedule '1f1b')");
    /* 2 x 10^6 microbatches x 128 pieces = 2.56e8 ops > PP_MAX_OPS (2e8). */
    CHECK_INT(parse("model: {uniform: {count: 128, forward_ms: 1, backward_ms: 2,"
                    " activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}}\n"
                    "cluster: {devices: 128}\n"
                    "pipeline: {schedule: gpipe, stages: 128, microbatches: 1000000}\n",
                    NULL),
              -PP_ENOMEM); /* a size cap: exit 3 */
    CHECK_STR(msg, "s.yaml:3:56: error: pipeline.microbatches: 2 x 1000000 microbatches x 128 "
                   "pieces = 256000000 compute ops, more than the limit of 200000000");
    /* Just under the cap is fine. */
    CHECK_INT(parse("model: {uniform: {count: 100, forward_ms: 1, backward_ms: 2,"
                    " activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}}\n"
                    "cluster: {devices: 100}\n"
                    "pipeline: {schedule: gpipe, stages: 100, microbatches: 1000000}\n",
                    NULL),
              0);
}

static void test_set_overrides(void)
{
    const char *base = MODEL16 GOOD_CLUSTER GOOD_PIPE;
    struct pp_scenario *sc;
    /* Valid overrides, including a list for the partition and a new section. */
    const char *ok[] = {"pipeline.microbatches=32", "pipeline.partition=[3, 5, 4, 4]",
                        "training.optimizer_step_ms=1.5", "name=override",
                        "cluster.link.bandwidth_bytes_per_s=1e10"};
    CHECK_INT(parse_sets(base, ok, 5, &sc), 0);
    if (sc) {
        CHECK_INT(sc->microbatches, 32);
        CHECK_INT(sc->partition_balanced, 0);
        CHECK_INT(sc->n_partition_counts, 4);
        CHECK_INT(sc->partition_counts[1], 5);
        CHECK_CLOSE(sc->optimizer_step_ms, 1.5, 0);
        CHECK_STR(sc->name, "override");
        CHECK_CLOSE(sc->link_bandwidth_bytes_per_s, 1e10, 0);
    }
    pp_scenario_free(sc);
    /* Later overrides win. */
    const char *twice[] = {"pipeline.stages=2", "pipeline.stages=1"};
    CHECK_INT(parse_sets(base, twice, 2, &sc), 0);
    if (sc)
        CHECK_INT(sc->stages, 1);
    pp_scenario_free(sc);
    /* Invalid values get the same checks, and name the override. */
    const char *bad_val[] = {"pipeline.stages=abc"};
    CHECK_INT(parse_sets(base, bad_val, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipeline.stages=abc: error: pipeline.stages: expected a decimal number, "
                   "got 'abc'");
    const char *empty_val[] = {"pipeline.schedule="};
    CHECK_INT(parse_sets(base, empty_val, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipeline.schedule=: error: pipeline.schedule: expected a string, got an "
                   "empty value");
    const char *bad_sched[] = {"pipeline.schedule=gpipee"};
    CHECK_INT(parse_sets(base, bad_sched, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipeline.schedule=gpipee: error: pipeline.schedule: unknown schedule "
                   "'gpipee' (did you mean 'gpipe'?)");
    const char *unknown[] = {"pipeline.stagess=4"};
    CHECK_INT(parse_sets(base, unknown, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipeline.stagess=4: error: unknown key 'pipeline.stagess' (did you mean "
                   "'stages'?)");
    const char *unknown_top[] = {"pipelin.stages=4"};
    CHECK_INT(parse_sets(base, unknown_top, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipelin.stages=4: error: unknown key 'pipelin' (did you mean "
                   "'pipeline'?)");
    /* Semantic checks see the overridden value. */
    const char *too_many[] = {"pipeline.stages=8"};
    CHECK_INT(parse_sets(base, too_many, 1, NULL), -PP_EINVAL);
    CHECK_STR(msg, "--set pipeline.stages=8: error: pipeline.stages: 8 stages need at least 8 "
                   "devices, cluster.devices is 4");
    const char *bad_part[] = {"pipeline.partition=[8, 8, 8, 8]"};
    CHECK_INT(parse_sets(base, bad_part, 1, NULL), -PP_EINVAL);
    CHECK_STR(msg, "--set pipeline.partition=[8, 8, 8, 8]: error: pipeline.partition: layer counts "
                   "sum to 32, but the model has 16 layers");
    const char *part_item[] = {"pipeline.partition=[4, 4, x, 4]"};
    CHECK_INT(parse_sets(base, part_item, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipeline.partition=[4, 4, x, 4]: error: pipeline.partition[2]: expected "
                   "a decimal number, got 'x'");
    /* Malformed overrides. */
    const char *no_eq[] = {"pipeline.stages"};
    CHECK_INT(parse_sets(base, no_eq, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipeline.stages: error: expected KEY.PATH=VALUE");
    const char *into_scalar[] = {"pipeline.stages.x=4"};
    CHECK_INT(parse_sets(base, into_scalar, 1, NULL), -PP_EPARSE);
    CHECK_STR(msg, "--set pipeline.stages.x=4: error: 'pipeline.stages' is not a mapping");
    const char *bad_yaml[] = {"pipeline.partition=[1, 2"};
    CHECK_INT(parse_sets(base, bad_yaml, 1, NULL), -PP_EPARSE);
    CHECK_CONTAINS(msg, "--set pipeline.partition=[1, 2:");
    /* A model file named on the command line is relative to the working directory. */
    const char *model_file[] = {"model={file: ../models/pipedream/vgg16.yaml}"};
    CHECK_INT(parse_sets("model: {file: nowhere.yaml}\n" GOOD_CLUSTER GOOD_PIPE, model_file, 1,
                         &sc),
              0);
    if (sc)
        CHECK_INT(sc->model->n_layers, 40);
    pp_scenario_free(sc);
}

static void test_load_errors(void)
{
    struct pp_scenario *sc = NULL;
    struct pp_diag d;
    CHECK_INT(pp_scenario_load("../scenarios/none.yaml", NULL, 0, &sc, &d), -PP_EIO);
    CHECK_CONTAINS(pp_diag_format(&d, msg, sizeof msg),
                   "../scenarios/none.yaml: error: cannot open");
    CHECK_INT(pp_scenario_load("../scenarios", NULL, 0, &sc, &d), -PP_EIO);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "../scenarios: error: is a directory, expected a file");
    /* YAML-level refusals reach the scenario reader's caller unchanged. */
    CHECK_INT(parse("a: 1\na: 2\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:2:1: error: duplicate key 'a' (first at line 1)");
}

/* The keys of issue 5 beyond the schedule's shape, and their errors. */
static void test_pipeline_knobs(void)
{
    struct pp_scenario *sc = NULL;
    static const char knobs[] =
        MODEL16 "cluster: {devices: 8, link: {bandwidth_bytes_per_s: 1e9, mode: latency-only}, "
                "data_parallel_link: {bandwidth_bytes_per_s: 5e9}}\n"
                "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8, data_parallel: 2, "
                "recompute: full, noam: 3}\n"
                "training: {optimizer_step_ms: [1, 2, 3, 4]}\n";
    CHECK_INT(parse(knobs, &sc), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CHECK_INT(sc->data_parallel, 2);
    CHECK_INT(sc->latency_only, 1);
    CHECK_CLOSE(sc->dp_bandwidth_bytes_per_s, 5e9, 0);
    CHECK_INT(sc->recompute, PP_RECOMPUTE_FULL);
    CHECK_INT(sc->noam, 3);
    CHECK_CLOSE(sc->optimizer_step_ms_per_stage[3], 4, 0);
    pp_scenario_free(sc);

    CHECK_INT(parse(MODEL16 "cluster: {devices: 8}\n"
                            "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8, "
                            "data_parallel: 4}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:5:71: error: pipeline.data_parallel: 4 replicas x 4 stages = 16 "
                   "devices, but cluster.devices is 8");
    CHECK_INT(parse(MODEL16 "cluster: {devices: 4, link: {mode: latency_only}}\n" GOOD_PIPE, NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "s.yaml:4:36: error: cluster.link.mode: expected one of alpha-beta, "
                   "latency-only, got 'latency_only' (did you mean 'latency-only'?)");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER
                    "pipeline: {schedule: 1f1b, stages: 4, microbatches: 8, recompute: selective}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_CONTAINS(msg, "pipeline.recompute: selective recomputation needs "
                        "recompute_activation_bytes and recompute_forward_ms on every layer");
    /* A split-backward schedule on a model without B/W times. */
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER "pipeline: {schedule: zb-h1, stages: 4, microbatches: 8}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_CONTAINS(msg, "pipeline.schedule: 'zb-h1' splits backward into input and weight "
                        "gradients (B and W), but layer 0");
    /* Replicas split the global batch: 96 samples / (2 replicas x 6) = 8 each. */
    CHECK_INT(parse(MODEL16 "cluster: {devices: 8}\n"
                            "pipeline: {schedule: 1f1b, stages: 4, global_batch_size: 96, "
                            "microbatch_size: 6}\n",
                    &sc),
              0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    CHECK_INT(sc->microbatches, 8);
    pp_scenario_free(sc);
    CHECK_INT(parse(MODEL16 "cluster: {devices: 8}\n"
                            "pipeline: {schedule: 1f1b, stages: 4, global_batch_size: 90, "
                            "microbatch_size: 6}\n",
                    NULL),
              -PP_EINVAL);
    CHECK_CONTAINS(msg, "pipeline.global_batch_size: 90 samples do not split into whole "
                        "microbatches: 2 replicas x microbatch_size 6 gives 7.5 per replica");
    CHECK_INT(parse(MODEL16 GOOD_CLUSTER GOOD_PIPE "training: {optimizer_step_ms: [1, 2]}\n", NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "s.yaml:6:31: error: training.optimizer_step_ms: has 2 entries, expected one "
                   "per stage (4)");
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"quickstart scenario", test_quickstart},
        {"shipped scenarios", test_shipped_scenarios},
        {"defaults and inline models", test_defaults_and_inline_models},
        {"structure errors", test_structure_errors},
        {"value errors", test_value_errors},
        {"model errors", test_model_errors},
        {"semantic errors", test_semantic_errors},
        {"--set overrides", test_set_overrides},
        {"load errors", test_load_errors},
        {"pipeline knobs (issue 5)", test_pipeline_knobs},
        {NULL, NULL},
    };
    return pp_test_main("scenario", tests);
}
