/* scenario.c - read and validate a scenario (schema in scenario.h).
 *
 * --set overrides are applied to the parsed tree before anything is read, so
 * they meet exactly the same checks as the file. Type and range errors are
 * PP_EPARSE at the offending value; combinations that cannot run (more stages
 * than devices, a partition that does not add up) are PP_EINVAL, reported at the
 * key that is most likely wrong, with the numbers involved. */
#include "scenario.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "costmodel.h"
#include "schedcsv.h"
#include "diag.h"
#include "xalloc.h"
#include "yamlutil.h"

#define MAX_SCENARIO_BYTES ((size_t)256 << 20)
#define MAX_DEVICES 1000000
#define MAX_LAYER_COUNT 10000000

static const char *const top_keys[] = {"name",     "model",    "cluster", "pipeline",
                                       "training", "converge", "sweep",   NULL};
static const char *const cluster_keys[] = {"devices", "device_memory_bytes", "link",
                                           "data_parallel_link", "calibration", NULL};
static const char *const link_keys[] = {"bandwidth_bytes_per_s", "latency_ms", "mode", NULL};
static const char *const dp_link_keys[] = {"bandwidth_bytes_per_s", "latency_ms", NULL};
static const char *const link_modes[] = {"alpha-beta", "latency-only", NULL};
static const char *const pipeline_keys[] = {"schedule",
                                            "stages",
                                            "chunks",
                                            "microbatches",
                                            "microbatch_size",
                                            "partition",
                                            "data_parallel",
                                            "recompute",
                                            "noam",
                                            "local_replicas",
                                            "local_steps",
                                            "interleave_wrap_quirk",
                                            "zbv_order",
                                            "activation_memory_bytes",
                                            "schedule_file",
                                            "global_batch_size",
                                            "fb_cost",
                                            "zb_auto_solver",
                                            NULL};
static const char *const zb_solvers[] = {"heuristic", "ilp", NULL};
static const char *const fb_costs[] = {"sum", "max", NULL};
static const char *const recompute_words[] = {"none", "full", "selective", NULL};
static const char *const zbv_orders[] = {"zero-bubble", "pytorch", NULL};
static const char *const training_keys[] = {"optimizer_state_bytes_per_parameter_byte",
                                            "gradient_bytes_per_parameter_byte",
                                            "optimizer_step_ms", NULL};
static const char *const file_keys[] = {"file", NULL};
static const char *const partition_words[] = {"balanced", "pipedream", "auto", NULL};

void pp_scenario_free(struct pp_scenario *sc)
{
    if (!sc)
        return;
    free(sc->name);
    free(sc->file);
    pp_costmodel_free(sc->model);
    free(sc->partition_counts);
    free(sc->optimizer_step_ms_per_stage);
    free(sc->schedule_file);
    free(sc->model_path);
    free(sc->calib_path);
    free(sc->effective_json);
    pp_plan_free(sc->custom_plan);
    free(sc);
}

/* The directory part of a path, with its slash ("" for a bare name). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? pp_xstrndup(path, (size_t)(slash - path + 1)) : pp_xstrdup("");
}

/* Relative to the scenario, so a scenario and its files move together; a
 * path given with --set is typed at the shell, relative to the working
 * directory, as is everything read from stdin. */
static char *resolve_path(const struct pp_ynode *node, const char *scenario_file, const char *rel)
{
    int from_file = strcmp(node->file, scenario_file) == 0 && strcmp(scenario_file, "<stdin>");
    char *dir = from_file && rel[0] != '/' ? dir_of(scenario_file) : pp_xstrdup("");
    size_t n = strlen(dir) + strlen(rel) + 1;
    char *path = pp_xmalloc(n);
    snprintf(path, n, "%s%s", dir, rel);
    free(dir);
    return path;
}

static int read_calibration(const struct pp_ynode *cluster, const char *scenario_file,
                            int has_link, struct pp_scenario *sc, struct pp_diag *d)
{
    const struct pp_ynode *node = pp_ymap_get(cluster, "calibration");
    if (!node)
        return 0;
    const char *rel;
    int rc = pp_ystr(node, "cluster.calibration", &rel, d);
    if (rc)
        return rc;
    free(sc->calib_path);
    sc->calib_path = resolve_path(node, scenario_file, rel);
    rc = pp_calib_load(sc->calib_path, &sc->calib, d);
    if (rc == -PP_EIO) {
        char why[sizeof d->msg];
        snprintf(why, sizeof why, "%s", d ? d->msg : "");
        return pp_ynode_error(node, PP_EIO, "cluster.calibration", d, "'%s': %s",
                              sc->calib_path, why);
    }
    if (rc)
        return rc;
    sc->has_calib = 1;
    /* A fitted link describes the measured stack; a scenario that names its
     * own link is asking a what-if about another one. */
    if (sc->calib.has_link && !has_link) {
        sc->link_latency_ms = sc->calib.link_latency_ms;
        sc->link_bandwidth_bytes_per_s = sc->calib.link_bandwidth_bytes_per_s;
    }
    return 0;
}

static int read_model(const struct pp_ynode *model, const char *scenario_file,
                      struct pp_costmodel **out, char **model_path, struct pp_diag *d)
{
    if (model->kind == PP_Y_SCALAR)
        return pp_ynode_error(model, PP_EPARSE, "model", d,
                              "expected {file: PATH} or an inline model ({layers: [...]} or "
                              "{uniform: {...}}), got '%s'",
                              model->value);
    const struct pp_ynode *fnode = model->kind == PP_Y_MAP ? pp_ymap_get(model, "file") : NULL;
    if (!fnode)
        return pp_costmodel_from_node(model, "model", model->file, out, d);
    int rc = pp_ymap_check(model, "model", file_keys, d);
    if (rc)
        return rc;
    const char *rel;
    if ((rc = pp_ystr(fnode, "model.file", &rel, d)))
        return rc;
    char *path = resolve_path(fnode, scenario_file, rel);
    free(*model_path);
    *model_path = pp_xstrdup(path);
    rc = pp_costmodel_load(path, out, d);
    if (rc == -PP_EIO) {
        /* "cannot open" belongs to the key that named the file. */
        char why[sizeof d->msg];
        snprintf(why, sizeof why, "%s", d ? d->msg : "");
        rc = pp_ynode_error(fnode, PP_EIO, "model.file", d, "'%s': %s", path, why);
    }
    free(path);
    return rc;
}

static int read_partition(const struct pp_ynode *v, struct pp_scenario *sc, struct pp_diag *d)
{
    const char *path = "pipeline.partition";
    if (v->kind == PP_Y_SCALAR) {
        for (int i = 0; !v->quoted && partition_words[i]; i++)
            if (strcmp(v->value, partition_words[i]) == 0) {
                sc->partition_mode = i == 0   ? PP_PARTITION_BALANCED
                                     : i == 1 ? PP_PARTITION_PIPEDREAM
                                              : PP_PARTITION_AUTO;
                sc->partition_balanced = i == 0;
                return 0;
            }
        const char *s = pp_suggest(v->value, partition_words);
        char hint[64] = "";
        if (s)
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", s);
        return pp_ynode_error(v, PP_EPARSE, path, d,
                              "expected balanced, pipedream, auto or a list of layer counts, "
                              "got '%s'%s",
                              v->value, hint);
    }
    if (v->kind != PP_Y_SEQ)
        return pp_ynode_error(v, PP_EPARSE, path, d,
                              "expected balanced, pipedream, auto or a list of layer counts, got "
                              "a mapping");
    sc->partition_balanced = 0;
    sc->partition_mode = PP_PARTITION_EXPLICIT;
    sc->n_partition_counts = v->n;
    sc->partition_counts = pp_xcalloc(v->n ? v->n : 1, sizeof *sc->partition_counts);
    for (size_t i = 0; i < v->n; i++) {
        char ipath[64];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        int64_t c;
        int rc = pp_ycount(v->kids[i], ipath, 1, MAX_LAYER_COUNT, &c, d);
        if (rc)
            return rc;
        sc->partition_counts[i] = (size_t)c;
    }
    return 0;
}

static int opt_small_int(const struct pp_ynode *map, const char *key, int64_t hi, int *out,
                         struct pp_diag *d)
{
    char path[64];
    snprintf(path, sizeof path, "pipeline.%s", key);
    int64_t v = 0;
    int rc = pp_yopt_count(map, key, path, 1, hi, &v, d);
    if (rc == 0 && pp_ymap_get(map, key))
        *out = (int)v;
    return rc;
}

/* Keys beyond the schedule's shape: replication, recomputation, knobs. */
static int read_pipeline_knobs(const struct pp_ynode *pipeline, struct pp_scenario *sc,
                               struct pp_diag *d)
{
    int rc, rec = 0, order = 0;
    if ((rc = opt_small_int(pipeline, "data_parallel", MAX_DEVICES, &sc->data_parallel, d)) ||
        (rc = opt_small_int(pipeline, "noam", PP_MAX_MICROBATCHES, &sc->noam, d)) ||
        (rc = opt_small_int(pipeline, "local_replicas", PP_MAX_MICROBATCHES, &sc->local_replicas,
                            d)) ||
        (rc = opt_small_int(pipeline, "local_steps", PP_MAX_MICROBATCHES, &sc->local_steps, d)) ||
        (rc = pp_yopt_word(pipeline, "recompute", "pipeline.recompute", recompute_words, &rec, d)) ||
        (rc = pp_yopt_word(pipeline, "zbv_order", "pipeline.zbv_order", zbv_orders, &order, d)) ||
        (rc = pp_yopt_word(pipeline, "fb_cost", "pipeline.fb_cost", fb_costs, &sc->fb_cost_max, d)) ||
        (rc = pp_yopt_word(pipeline, "zb_auto_solver", "pipeline.zb_auto_solver", zb_solvers,
                       &sc->zb_ilp, d)) ||
        (rc = pp_yopt_num(pipeline, "activation_memory_bytes", "pipeline.activation_memory_bytes", 2,
                      &sc->activation_memory_bytes, d)))
        return rc;
    sc->recompute = (enum pp_recompute)rec;
    sc->pytorch_order = order;
    const struct pp_ynode *q = pp_ymap_get(pipeline, "interleave_wrap_quirk");
    if (q && (rc = pp_ybool(q, "pipeline.interleave_wrap_quirk", &sc->zb_wrap_quirk, d)))
        return rc;
    return 0;
}

/* training.optimizer_step_ms: one time for every stage, or a list per stage. */
static int read_optimizer_step(const struct pp_ynode *training, struct pp_scenario *sc,
                               struct pp_diag *d)
{
    const struct pp_ynode *v = pp_ymap_get(training, "optimizer_step_ms");
    if (!v || v->kind != PP_Y_SEQ)
        return pp_yopt_num(training, "optimizer_step_ms", "training.optimizer_step_ms", 0,
                       &sc->optimizer_step_ms, d);
    if (v->n != (size_t)sc->stages)
        return pp_ynode_error(v, PP_EINVAL, "training.optimizer_step_ms", d,
                              "has %zu entries, expected one per stage (%d)", v->n, sc->stages);
    sc->optimizer_step_ms_per_stage = pp_xcalloc(v->n ? v->n : 1, sizeof(double));
    for (size_t i = 0; i < v->n; i++) {
        char ipath[64];
        snprintf(ipath, sizeof ipath, "training.optimizer_step_ms[%zu]", i);
        int rc = pp_ynum_nonneg(v->kids[i], ipath, &sc->optimizer_step_ms_per_stage[i], d);
        if (rc)
            return rc;
    }
    return 0;
}

/* Combinations of valid values that still cannot run. */
static int check_semantics(struct pp_scenario *sc, const struct pp_ynode *cluster,
                           const struct pp_ynode *pipeline, struct pp_diag *d)
{
    const struct pp_ynode *stages = pp_ymap_get(pipeline, "stages");
    const struct pp_ynode *devices = pp_ymap_get(cluster, "devices");
    const struct pp_ynode *chunks = pp_ymap_get(pipeline, "chunks");
    const struct pp_ynode *mbs = pp_ymap_get(pipeline, "microbatches");
    if (sc->stages > sc->devices)
        return pp_ynode_error(stages, PP_EINVAL, "pipeline.stages", d,
                              "%d stages need at least %d devices, cluster.devices is %d",
                              sc->stages, sc->stages, sc->devices);
    if (sc->devices % sc->stages != 0)
        return pp_ynode_error(devices, PP_EINVAL, "cluster.devices", d,
                              "%d devices do not divide into %d pipeline stages (data-parallel "
                              "replicas = devices / stages must be a whole number)",
                              sc->devices, sc->stages);
    const struct pp_ynode *dpn = pp_ymap_get(pipeline, "data_parallel");
    if (dpn && sc->data_parallel * sc->stages != sc->devices)
        return pp_ynode_error(dpn, PP_EINVAL, "pipeline.data_parallel", d,
                              "%d replicas x %d stages = %d devices, but cluster.devices is %d",
                              sc->data_parallel, sc->stages, sc->data_parallel * sc->stages,
                              sc->devices);
    sc->data_parallel = sc->devices / sc->stages;
    if (sc->global_batch_size > 0) {
        /* The replicas split the global batch: each runs gbs / (d x mbs). */
        const struct pp_ynode *g = pp_ymap_get(pipeline, "global_batch_size");
        double per = sc->global_batch_size / (sc->data_parallel * sc->microbatch_size);
        if (per != floor(per) || per < 1 || per > PP_MAX_MICROBATCHES)
            return pp_ynode_error(g, PP_EINVAL, "pipeline.global_batch_size", d,
                                  "%.17g samples do not split into whole microbatches: %d "
                                  "replicas x microbatch_size %.17g gives %.17g per replica",
                                  sc->global_batch_size, sc->data_parallel, sc->microbatch_size,
                                  per);
        if (mbs && sc->microbatches != (int64_t)per)
            return pp_ynode_error(g, PP_EINVAL, "pipeline.global_batch_size", d,
                                  "%.17g samples = %d replicas x %lld microbatches x %.17g, but "
                                  "pipeline.microbatches is %lld (give one of the two)",
                                  sc->global_batch_size, sc->data_parallel, (long long)per,
                                  sc->microbatch_size, (long long)sc->microbatches);
        sc->microbatches = (int64_t)per;
    }
    size_t pieces = (size_t)sc->stages * (size_t)sc->chunks;
    size_t layers = sc->model->n_layers;
    if (pp_schedule_splits_backward(sc->schedule))
        for (size_t i = 0; i < layers; i++) {
            const struct pp_layer *L = &sc->model->layers[i];
            if (L->split_backward)
                continue;
            const struct pp_ynode *sn = pp_ymap_get(pipeline, "schedule");
            return pp_ynode_error(sn ? sn : pipeline, PP_EINVAL, "pipeline.schedule", d,
                                  "'%s' splits backward into input and weight gradients (B and "
                                  "W), but layer %zu ('%s'%s) gives only backward_ms: give "
                                  "backward_input_ms and backward_weight_ms",
                                  pp_schedule_name(sc->schedule), i, L->name ? L->name : "",
                                  sc->model->format == PP_MODEL_PIPEDREAM_GRAPH
                                      ? ", a PipeDream graph has no split"
                                      : "");
        }
    if (sc->recompute == PP_RECOMPUTE_SELECTIVE)
        for (size_t i = 0; i < layers; i++)
            if (!sc->model->layers[i].has_recompute)
                return pp_ynode_error(pp_ymap_get(pipeline, "recompute"), PP_EINVAL,
                                      "pipeline.recompute", d,
                                      "selective recomputation needs recompute_activation_bytes "
                                      "and recompute_forward_ms on every layer; layer %zu ('%s') "
                                      "has none (ppsim model transformer writes them)",
                                      i, sc->model->layers[i].name ? sc->model->layers[i].name : "");
    if (pieces > layers) {
        if (sc->chunks > 1)
            return pp_ynode_error(chunks, PP_EINVAL, "pipeline.chunks", d,
                                  "%d stages x %d chunks = %zu model pieces, but the model has "
                                  "only %zu layers",
                                  sc->stages, sc->chunks, pieces, layers);
        return pp_ynode_error(stages, PP_EINVAL, "pipeline.stages", d,
                              "%d stages, but the model has only %zu layers", sc->stages, layers);
    }
    const struct pp_ynode *part = pp_ymap_get(pipeline, "partition");
    if ((sc->partition_mode == PP_PARTITION_PIPEDREAM || sc->partition_mode == PP_PARTITION_AUTO) &&
        sc->model->format != PP_MODEL_PIPEDREAM_GRAPH)
        return pp_ynode_error(part, PP_EINVAL, "pipeline.partition", d,
                              "'%s' plans over PipeDream's antichain states and needs a "
                              "PipeDream profile graph (model.file naming a graph.txt); this "
                              "model is per-layer YAML: use balanced or explicit layer counts",
                              part->value);
    if (sc->partition_mode == PP_PARTITION_AUTO && sc->chunks != 1)
        return pp_ynode_error(part, PP_EINVAL, "pipeline.partition", d,
                              "'auto' scores one-chunk splits with the simulator; with chunks: %d "
                              "use pipedream or explicit layer counts",
                              sc->chunks);
    if (sc->partition_mode == PP_PARTITION_EXPLICIT) {
        if (sc->n_partition_counts != pieces)
            return pp_ynode_error(part, PP_EINVAL, "pipeline.partition", d,
                                  "has %zu entries, expected stages x chunks = %zu",
                                  sc->n_partition_counts, pieces);
        size_t sum = 0;
        for (size_t i = 0; i < sc->n_partition_counts; i++)
            sum += sc->partition_counts[i];
        if (sum != layers)
            return pp_ynode_error(part, PP_EINVAL, "pipeline.partition", d,
                                  "layer counts sum to %zu, but the model has %zu layers", sum,
                                  layers);
    }
    if (sc->schedule_file) {
        struct pp_schedcsv_expect ex = {sc->stages, sc->stages * sc->chunks, sc->microbatches};
        int rc = pp_schedcsv_load(sc->schedule_file, &ex, &sc->custom_plan, d);
        if (rc == -PP_EIO) {
            char why[sizeof d->msg];
            snprintf(why, sizeof why, "%s", d ? d->msg : "");
            const struct pp_ynode *fn = pp_ymap_get(pipeline, "schedule_file");
            return pp_ynode_error(fn, PP_EIO, "pipeline.schedule_file", d, "'%s': %s",
                                  sc->schedule_file, why);
        }
        if (rc)
            return rc;
    }
    struct pp_sched_params p;
    pp_scenario_sched_params(sc, &p);
    const char *key = NULL;
    const char *why = pp_sched_check(sc->schedule, &p, &key);
    if (why) {
        char kpath[64];
        snprintf(kpath, sizeof kpath, "pipeline.%s", key ? key : "schedule");
        const struct pp_ynode *at = key ? pp_ymap_get(pipeline, key) : NULL;
        return pp_ynode_error(at ? at : pipeline, PP_EINVAL, kpath, d, "%s (schedule '%s')", why,
                              pp_schedule_name(sc->schedule));
    }
    /* Forward and backward of every microbatch on every piece: the simulator's size. */
    unsigned long long ops = 2ull * (unsigned long long)sc->microbatches * pieces;
    if (ops > PP_MAX_OPS)
        return pp_ynode_error(mbs ? mbs : pipeline, PP_ENOMEM, "pipeline.microbatches", d,
                              "2 x %lld microbatches x %zu pieces = %llu compute ops, more than "
                              "the limit of %llu",
                              (long long)sc->microbatches, pieces, ops, PP_MAX_OPS);
    return 0;
}

/* pipeline.schedule: a registered name, with "did you mean" or the list. */
static int read_schedule_name(const struct pp_ynode *v, struct pp_scenario *sc, struct pp_diag *d)
{
    const char *sname;
    int rc = pp_ystr(v, "pipeline.schedule", &sname, d);
    if (rc)
        return rc;
    int kind = pp_schedule_from_name(sname);
    if (kind < 0) {
        const char *s = pp_suggest(sname, pp_schedule_names());
        if (s)
            return pp_ynode_error(v, PP_EPARSE, "pipeline.schedule", d,
                                  "unknown schedule '%s' (did you mean '%s'?)", sname, s);
        char known[400] = "";
        size_t m = 0;
        for (const char *const *n = pp_schedule_names(); *n && m < sizeof known; n++)
            m += (size_t)snprintf(known + m, sizeof known - m, "%s%s", m ? ", " : "", *n);
        return pp_ynode_error(v, PP_EPARSE, "pipeline.schedule", d,
                              "unknown schedule '%s' (known: %s)", sname, known);
    }
    sc->schedule = (enum pp_schedule_kind)kind;
    return 0;
}

static int read_scenario(const struct pp_ydoc *doc, struct pp_scenario *sc, struct pp_diag *d)
{
    const struct pp_ynode *root = doc->root;
    const struct pp_ynode *cluster, *link, *pipeline, *training, *v;
    int rc;
    if ((rc = pp_ymap_check(root, "", top_keys, d)))
        return rc;
    if ((v = pp_ymap_get(root, "name"))) {
        const char *s;
        if ((rc = pp_ystr(v, "name", &s, d)))
            return rc;
        free(sc->name);
        sc->name = pp_xstrdup(s);
    }
    /* Settings first: a typo there is cheaper to report than after loading a model. */
    if ((rc = pp_yget_map(root, "cluster", cluster_keys, 1, &cluster, d)))
        return rc;
    if ((rc = pp_yneed(cluster, "cluster", "devices", &v, d)))
        return rc;
    int64_t i64;
    if ((rc = pp_ycount(v, "cluster.devices", 1, MAX_DEVICES, &i64, d)))
        return rc;
    sc->devices = (int)i64;
    if ((rc = pp_yopt_num(cluster, "device_memory_bytes", "cluster.device_memory_bytes", 2,
                      &sc->device_memory_bytes, d)))
        return rc;
    link = pp_ymap_get(cluster, "link");
    if (link) {
        if ((rc = pp_ymap_check(link, "cluster.link", link_keys, d)) ||
            (rc = pp_yopt_num(link, "bandwidth_bytes_per_s", "cluster.link.bandwidth_bytes_per_s", 2,
                          &sc->link_bandwidth_bytes_per_s, d)) ||
            (rc = pp_yopt_num(link, "latency_ms", "cluster.link.latency_ms", 0, &sc->link_latency_ms,
                          d)) ||
            (rc = pp_yopt_word(link, "mode", "cluster.link.mode", link_modes, &sc->latency_only, d)))
            return rc;
    }
    sc->dp_bandwidth_bytes_per_s = sc->link_bandwidth_bytes_per_s;
    sc->dp_latency_ms = sc->link_latency_ms;
    const struct pp_ynode *dpl = pp_ymap_get(cluster, "data_parallel_link");
    if (dpl) {
        sc->dp_bandwidth_bytes_per_s = 0;
        sc->dp_latency_ms = 0;
        if ((rc = pp_ymap_check(dpl, "cluster.data_parallel_link", dp_link_keys, d)) ||
            (rc = pp_yopt_num(dpl, "bandwidth_bytes_per_s",
                          "cluster.data_parallel_link.bandwidth_bytes_per_s", 2,
                          &sc->dp_bandwidth_bytes_per_s, d)) ||
            (rc = pp_yopt_num(dpl, "latency_ms", "cluster.data_parallel_link.latency_ms", 0,
                          &sc->dp_latency_ms, d)))
            return rc;
    }
    if ((rc = read_calibration(cluster, doc->file, link != NULL, sc, d)))
        return rc;

    if ((rc = pp_yget_map(root, "pipeline", pipeline_keys, 1, &pipeline, d)))
        return rc;
    const struct pp_ynode *sfile = pp_ymap_get(pipeline, "schedule_file");
    v = pp_ymap_get(pipeline, "schedule");
    if (sfile && v)
        return pp_ynode_error(v, PP_EINVAL, "pipeline.schedule", d,
                              "give pipeline.schedule or pipeline.schedule_file, not both");
    if (!sfile && (rc = pp_yneed(pipeline, "pipeline", "schedule", &v, d)))
        return rc;
    if (sfile) {
        const char *rel;
        if ((rc = pp_ystr(sfile, "pipeline.schedule_file", &rel, d)))
            return rc;
        sc->schedule_file = resolve_path(sfile, doc->file, rel);
        sc->schedule = PP_SCHED_CUSTOM;
    }
    if (!sfile && (rc = read_schedule_name(v, sc, d)))
        return rc;
    if ((rc = pp_yneed(pipeline, "pipeline", "stages", &v, d)) ||
        (rc = pp_ycount(v, "pipeline.stages", 1, PP_MAX_STAGES, &i64, d)))
        return rc;
    sc->stages = (int)i64;
    i64 = 1;
    if ((rc = pp_yopt_count(pipeline, "chunks", "pipeline.chunks", 1, PP_MAX_CHUNKS, &i64, d)))
        return rc;
    sc->chunks = (int)i64;
    /* microbatches may follow from global_batch_size (check_semantics). */
    if (!pp_ymap_get(pipeline, "global_batch_size") &&
        (rc = pp_yneed(pipeline, "pipeline", "microbatches", &v, d)))
        return rc;
    if ((v = pp_ymap_get(pipeline, "microbatches")) &&
        (rc = pp_ycount(v, "pipeline.microbatches", 1, PP_MAX_MICROBATCHES, &sc->microbatches, d)))
        return rc;
    if ((rc = pp_yopt_num(pipeline, "global_batch_size", "pipeline.global_batch_size", 1,
                      &sc->global_batch_size, d)))
        return rc;
    if ((rc = pp_yopt_num(pipeline, "microbatch_size", "pipeline.microbatch_size", 1,
                      &sc->microbatch_size, d)))
        return rc;
    sc->partition_balanced = 1;
    if ((v = pp_ymap_get(pipeline, "partition")) && (rc = read_partition(v, sc, d)))
        return rc;
    if ((rc = read_pipeline_knobs(pipeline, sc, d)))
        return rc;

    if ((rc = pp_yget_map(root, "training", training_keys, 0, &training, d)))
        return rc;
    if (training &&
        ((rc = pp_yopt_num(training, "optimizer_state_bytes_per_parameter_byte",
                       "training.optimizer_state_bytes_per_parameter_byte", 0,
                       &sc->optimizer_state_bytes_per_parameter_byte, d)) ||
         (rc = pp_yopt_num(training, "gradient_bytes_per_parameter_byte",
                       "training.gradient_bytes_per_parameter_byte", 0,
                       &sc->gradient_bytes_per_parameter_byte, d)) ||
         (rc = read_optimizer_step(training, sc, d))))
        return rc;

    if ((rc = pp_yneed(root, "", "model", &v, d)) || (rc = read_model(v, doc->file, &sc->model, &sc->model_path, d)))
        return rc;
    return check_semantics(sc, cluster, pipeline, d);
}

int pp_scenario_parse(const char *buf, size_t len, const char *file, const char *const *sets,
                      size_t n_sets, struct pp_scenario **out, struct pp_diag *d)
{
    struct pp_ydoc *doc;
    int rc = pp_ydoc_parse(buf, len, file, &doc, d);
    if (rc)
        return rc;
    if (!doc->root || doc->root->kind != PP_Y_MAP) {
        const struct pp_ynode *r = doc->root; /* "---" alone is an empty scalar */
        if (r && (r->kind != PP_Y_SCALAR || r->quoted || r->value[0]))
            rc = pp_ynode_error(doc->root, PP_EPARSE, "", d,
                                "expected a mapping at the top level (keys name, model, "
                                "cluster, pipeline, training)");
        else
            rc = pp_diag_set(d, PP_EPARSE, file, 0, 0,
                             "empty scenario: expected a mapping at the top level (keys name, "
                             "model, cluster, pipeline, training)");
        pp_ydoc_free(doc);
        return rc;
    }
    for (size_t i = 0; i < n_sets && rc == 0; i++)
        rc = pp_ydoc_set(doc, sets[i], d);
    struct pp_scenario *sc = pp_xcalloc(1, sizeof *sc);
    sc->name = pp_xstrdup("");
    sc->file = pp_xstrdup(file);
    sc->chunks = 1;
    sc->microbatch_size = 1;
    sc->partition_balanced = 1;
    if (rc == 0)
        rc = read_scenario(doc, sc, d);
    if (rc == 0) {
        struct pp_buf eff;
        pp_buf_init(&eff);
        pp_ynode_json(&eff, doc->root);
        sc->effective_json = eff.data;
    }
    pp_ydoc_free(doc);
    if (rc) {
        pp_scenario_free(sc);
        return rc;
    }
    *out = sc;
    return 0;
}

int pp_scenario_load(const char *path, const char *const *sets, size_t n_sets,
                     struct pp_scenario **out, struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_SCENARIO_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_scenario_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, sets, n_sets,
                           out, d);
    free(buf);
    return rc;
}

/* The keys a dotted path may take at each level; model.* below its first
 * level belongs to the cost-model reader and is checked when parsed. */
int pp_scenario_key_check(const char *dotted, char *why, size_t why_len)
{
    static const struct {
        const char *prefix;
        const char *const *keys;
    } levels[] = {{"", top_keys},
                  {"cluster.", cluster_keys},
                  {"cluster.link.", link_keys},
                  {"cluster.data_parallel_link.", dp_link_keys},
                  {"pipeline.", pipeline_keys},
                  {"training.", training_keys}};
    static const char *const model_keys[] = {"file", "layers", "uniform", NULL};
    char path[256];
    snprintf(path, sizeof path, "%s", dotted);
    size_t at = 0;
    for (;;) {
        char *dot = strchr(path + at, '.');
        char word[128];
        size_t n = dot ? (size_t)(dot - (path + at)) : strlen(path + at);
        snprintf(word, sizeof word, "%.*s", (int)n, path + at);
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%.*s", (int)at, path);
        const char *const *keys = NULL;
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++)
            if (strcmp(levels[l].prefix, prefix) == 0)
                keys = levels[l].keys;
        if (strcmp(prefix, "model.") == 0)
            keys = model_keys;
        if (!keys)
            return 0; /* deeper than the schema tables: the parse checks it */
        int found = 0;
        for (size_t k = 0; keys[k]; k++)
            found |= strcmp(keys[k], word) == 0;
        if (!found) {
            const char *sug = pp_suggest(word, keys);
            if (sug)
                snprintf(why, why_len, "unknown key '%s%s' (did you mean '%s%s'?)", prefix, word,
                         prefix, sug);
            else
                snprintf(why, why_len, "unknown key '%s%s'", prefix, word);
            return -1;
        }
        if (!dot)
            return 0;
        at = (size_t)(dot - path) + 1;
    }
}

void pp_scenario_sched_params(const struct pp_scenario *sc, struct pp_sched_params *p)
{
    memset(p, 0, sizeof *p);
    p->stages = sc->stages;
    p->chunks = sc->chunks;
    p->microbatches = sc->microbatches;
    p->memory_limit_bytes = sc->activation_memory_bytes;
    p->comm_latency_ms = sc->link_latency_ms;
    p->noam = sc->noam;
    p->local_replicas = sc->local_replicas;
    p->local_steps = sc->local_steps;
    p->zb_wrap_quirk = sc->zb_wrap_quirk;
    p->pytorch_order = sc->pytorch_order;
    p->zb_ilp = sc->zb_ilp;
    p->custom = sc->custom_plan;
}
