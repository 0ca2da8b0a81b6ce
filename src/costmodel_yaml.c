/* costmodel_yaml.c - ppsim's own per-layer cost model in YAML.
 *
 * A model is `layers:` (layer mappings, or `{uniform: {count: N, ...}}` blocks
 * of identical layers) and/or a top-level `uniform:`, or just a list of layers.
 * Every number must be present, finite and non-negative: a missing time is a
 * mistake, not a zero. Messages carry the dotted key path, e.g.
 * `layers[2].forward_ms`, prefixed by the caller's path inside a scenario. */
#include "costmodel.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "xalloc.h"
#include "yamlutil.h"

/* A cap well past any real network that stops `count: 1e12` from eating memory. */
#define MAX_LAYERS 10000000

#define LAYER_FIELDS                                                                          \
    "forward_ms", "backward_ms", "backward_input_ms", "backward_weight_ms",                  \
        "fused_backward_ms",                                                                  \
        "activation_bytes", "backward_weight_activation_bytes", "output_bytes",              \
        "parameter_bytes", "recompute_activation_bytes", "recompute_forward_ms"

static const char *const layer_keys[] = {"name", LAYER_FIELDS, NULL};
static const char *const uniform_keys[] = {"count", "name", LAYER_FIELDS, NULL};
static const char *const uniform_item_keys[] = {"uniform", NULL};
static const char *const model_keys[] = {"name", "source", "layers", "uniform", NULL};

/* The reader runs twice: once only counting (so an oversized model is refused
 * before anything is allocated, and every error is found), then filling an
 * array of exactly the right size. */
struct lbuild {
    int count_only;
    struct pp_layer *layers;
    size_t n, cap;
};

/* Key paths only label messages, so an over-long one is simply cut short. */
static void join(char *out, size_t len, const char *path, const char *key)
{
    size_t n = 0;
    for (const char *s = path; *s && n + 1 < len; s++)
        out[n++] = *s;
    if (*path && n + 1 < len)
        out[n++] = '.';
    for (const char *s = key; *s && n + 1 < len; s++)
        out[n++] = *s;
    out[n] = '\0';
}

/* A required non-negative number; a missing one is reported at the mapping. */
static int req_num(const struct pp_ynode *m, const char *path, const char *key, double *out,
                   struct pp_diag *d)
{
    const struct pp_ynode *v = pp_ymap_get(m, key);
    if (!v)
        return pp_ynode_error(m, PP_EPARSE, path, d, "missing key '%s'", key);
    char full[300];
    join(full, sizeof full, path, key);
    return pp_ynum_nonneg(v, full, out, d);
}

/* The numeric fields shared by a layer and a uniform block. */
static int read_fields(const struct pp_ynode *m, const char *path, struct pp_layer *L,
                       struct pp_diag *d)
{
    int rc = req_num(m, path, "forward_ms", &L->forward_ms, d);
    if (rc)
        return rc;
    const struct pp_ynode *bw = pp_ymap_get(m, "backward_ms");
    const struct pp_ynode *bi = pp_ymap_get(m, "backward_input_ms");
    const struct pp_ynode *bwt = pp_ymap_get(m, "backward_weight_ms");
    const struct pp_ynode *fused = pp_ymap_get(m, "fused_backward_ms");
    if (fused && !(bi || bwt))
        return pp_ynode_error(fused, PP_EPARSE, path, d,
                              "fused_backward_ms goes with backward_input_ms + "
                              "backward_weight_ms (backward_ms alone already is the fused time)");
    if (bw && (bi || bwt))
        return pp_ynode_error(bi ? bi : bwt, PP_EPARSE, path, d,
                              "give either backward_ms or the pair backward_input_ms + "
                              "backward_weight_ms, not both");
    if (bw) {
        char full[300];
        join(full, sizeof full, path, "backward_ms");
        if ((rc = pp_ynum_nonneg(bw, full, &L->backward_input_ms, d)))
            return rc;
        L->backward_weight_ms = 0;
        L->split_backward = 0;
    } else if (bi || bwt) {
        if (!bi || !bwt)
            return pp_ynode_error(m, PP_EPARSE, path, d, "missing key '%s' (%s needs it)",
                                  bi ? "backward_weight_ms" : "backward_input_ms",
                                  bi ? "backward_input_ms" : "backward_weight_ms");
        if ((rc = req_num(m, path, "backward_input_ms", &L->backward_input_ms, d)) ||
            (rc = req_num(m, path, "backward_weight_ms", &L->backward_weight_ms, d)))
            return rc;
        L->split_backward = 1;
        const struct pp_ynode *fb = pp_ymap_get(m, "fused_backward_ms");
        if (fb) {
            char full[300];
            join(full, sizeof full, path, "fused_backward_ms");
            if ((rc = pp_ynum_nonneg(fb, full, &L->fused_backward_ms, d)))
                return rc;
            L->has_fused = 1;
        }
    } else {
        return pp_ynode_error(m, PP_EPARSE, path, d,
                              "missing key 'backward_ms' (or backward_input_ms + "
                              "backward_weight_ms)");
    }
    if ((rc = req_num(m, path, "activation_bytes", &L->activation_bytes, d)) ||
        (rc = req_num(m, path, "output_bytes", &L->output_bytes, d)) ||
        (rc = req_num(m, path, "parameter_bytes", &L->parameter_bytes, d)))
        return rc;
    L->bw_activation_bytes = L->activation_bytes;
    const struct pp_ynode *bwa = pp_ymap_get(m, "backward_weight_activation_bytes");
    if (bwa) {
        char full[300];
        join(full, sizeof full, path, "backward_weight_activation_bytes");
        if ((rc = pp_ynum_nonneg(bwa, full, &L->bw_activation_bytes, d)))
            return rc;
        /* M_W is the part of the activations W still needs: a subset of them. */
        if (L->bw_activation_bytes > L->activation_bytes)
            return pp_ynode_error(bwa, PP_EINVAL, full, d,
                                  "must be <= activation_bytes (%.17g), got '%s'",
                                  L->activation_bytes, bwa->value);
    }
    const struct pp_ynode *ra = pp_ymap_get(m, "recompute_activation_bytes");
    const struct pp_ynode *rf = pp_ymap_get(m, "recompute_forward_ms");
    if (ra || rf) {
        if (!ra || !rf)
            return pp_ynode_error(m, PP_EPARSE, path, d, "missing key '%s' (%s needs it)",
                                  ra ? "recompute_forward_ms" : "recompute_activation_bytes",
                                  ra ? "recompute_activation_bytes" : "recompute_forward_ms");
        if ((rc = req_num(m, path, "recompute_activation_bytes", &L->recompute_activation_bytes,
                          d)) ||
            (rc = req_num(m, path, "recompute_forward_ms", &L->recompute_forward_ms, d)))
            return rc;
        char full[300];
        join(full, sizeof full, path, "recompute_activation_bytes");
        if (L->recompute_activation_bytes > L->activation_bytes)
            return pp_ynode_error(ra, PP_EINVAL, full, d,
                                  "must be <= activation_bytes (%.17g), got '%s'",
                                  L->activation_bytes, ra->value);
        L->has_recompute = 1;
    }
    return 0;
}

static struct pp_layer *push_layer(struct lbuild *lb)
{
    lb->layers = pp_xgrow(lb->layers, &lb->cap, lb->n + 1, sizeof *lb->layers);
    struct pp_layer *L = &lb->layers[lb->n++];
    memset(L, 0, sizeof *L);
    return L;
}

static int read_layer(const struct pp_ynode *m, const char *path, struct lbuild *lb,
                      struct pp_diag *d)
{
    int rc = pp_ymap_check(m, path, layer_keys, d);
    if (rc)
        return rc;
    const struct pp_ynode *nm = pp_ymap_get(m, "name");
    if (!nm)
        return pp_ynode_error(m, PP_EPARSE, path, d, "missing key 'name'");
    char full[300];
    join(full, sizeof full, path, "name");
    const char *name;
    if ((rc = pp_ystr(nm, full, &name, d)))
        return rc;
    struct pp_layer tmpl;
    memset(&tmpl, 0, sizeof tmpl);
    if ((rc = read_fields(m, path, &tmpl, d)))
        return rc;
    if (lb->n >= MAX_LAYERS)
        return pp_ynode_error(m, PP_ENOMEM, path, d, "the model has more than %d layers",
                              MAX_LAYERS);
    if (lb->count_only) {
        lb->n++;
        return 0;
    }
    struct pp_layer *L = push_layer(lb);
    *L = tmpl;
    L->name = pp_xstrdup(name);
    L->line = m->line;
    L->col = m->col;
    return 0;
}

/* `uniform: {count: N, ...}`: N copies of one layer, named layer<i> (global index)
 * or <name>.<j> when a name is given. */
static int read_uniform(const struct pp_ynode *m, const char *path, struct lbuild *lb,
                        struct pp_diag *d)
{
    int rc = pp_ymap_check(m, path, uniform_keys, d);
    if (rc)
        return rc;
    char full[300];
    const struct pp_ynode *cn = pp_ymap_get(m, "count");
    if (!cn)
        return pp_ynode_error(m, PP_EPARSE, path, d, "missing key 'count'");
    join(full, sizeof full, path, "count");
    int64_t count;
    if ((rc = pp_ycount(cn, full, 1, MAX_LAYERS, &count, d)))
        return rc;
    const char *name = NULL;
    const struct pp_ynode *nm = pp_ymap_get(m, "name");
    if (nm) {
        char npath[300];
        join(npath, sizeof npath, path, "name");
        if ((rc = pp_ystr(nm, npath, &name, d)))
            return rc;
    }
    struct pp_layer tmpl;
    memset(&tmpl, 0, sizeof tmpl);
    if ((rc = read_fields(m, path, &tmpl, d)))
        return rc;
    if ((size_t)count > MAX_LAYERS - lb->n)
        return pp_ynode_error(cn, PP_ENOMEM, full, d,
                              "%lld more layers would make the model larger than %d layers",
                              (long long)count, MAX_LAYERS);
    if (lb->count_only) {
        lb->n += (size_t)count;
        return 0;
    }
    size_t name_len = name ? strlen(name) + 24 : 32;
    for (int64_t j = 0; j < count; j++) {
        char *nb = pp_xmalloc(name_len);
        if (name)
            snprintf(nb, name_len, "%s.%lld", name, (long long)j);
        else
            snprintf(nb, name_len, "layer%zu", lb->n);
        struct pp_layer *L = push_layer(lb);
        *L = tmpl;
        L->name = nb;
        L->line = m->line;
        L->col = m->col;
    }
    return 0;
}

static int read_layers(const struct pp_ynode *seq, const char *path, struct lbuild *lb,
                       struct pp_diag *d)
{
    if (seq->kind != PP_Y_SEQ)
        return pp_ynode_error(seq, PP_EPARSE, path, d, "expected a list of layers, got %s",
                              seq->kind == PP_Y_MAP ? "a mapping" : "a scalar");
    for (size_t i = 0; i < seq->n; i++) {
        const struct pp_ynode *item = seq->kids[i];
        char ipath[300];
        if (snprintf(ipath, sizeof ipath, "%s[%zu]", path, i) >= (int)sizeof ipath)
            ipath[sizeof ipath - 1] = '\0';
        int rc;
        if (item->kind == PP_Y_MAP && pp_ymap_get(item, "uniform")) {
            if ((rc = pp_ymap_check(item, ipath, uniform_item_keys, d)))
                return rc;
            char upath[320];
            join(upath, sizeof upath, ipath, "uniform");
            rc = read_uniform(pp_ymap_get(item, "uniform"), upath, lb, d);
        } else {
            rc = read_layer(item, ipath, lb, d);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int read_model(const struct pp_ynode *node, const char *path, struct lbuild *lb,
                      char **name, struct pp_diag *d)
{
    char full[300];
    int rc;
    if (node->kind == PP_Y_SEQ) {
        /* A bare list is the layers list; name its items as such. */
        return read_layers(node, *path ? path : "layers", lb, d);
    }
    if (node->kind != PP_Y_MAP)
        return pp_ynode_error(node, PP_EPARSE, path, d,
                              "expected a model: a mapping with 'layers:' or 'uniform:', or a "
                              "list of layers, got '%s'",
                              node->value);
    if ((rc = pp_ymap_check(node, path, model_keys, d)))
        return rc;
    const char *text;
    const struct pp_ynode *v;
    if ((v = pp_ymap_get(node, "name"))) {
        join(full, sizeof full, path, "name");
        if ((rc = pp_ystr(v, full, &text, d)))
            return rc;
        *name = pp_xstrdup(text);
    }
    if ((v = pp_ymap_get(node, "source"))) {
        join(full, sizeof full, path, "source");
        if ((rc = pp_ystr(v, full, &text, d)))
            return rc;
    }
    int any = 0;
    /* Both parts may be given; they are appended in the order they are written. */
    for (size_t i = 0; i < node->n; i++) {
        const char *key = node->kids[2 * i]->value;
        const struct pp_ynode *val = node->kids[2 * i + 1];
        join(full, sizeof full, path, key);
        if (strcmp(key, "layers") == 0)
            rc = read_layers(val, full, lb, d);
        else if (strcmp(key, "uniform") == 0)
            rc = read_uniform(val, full, lb, d);
        else
            continue;
        if (rc)
            return rc;
        any = 1;
    }
    if (!any)
        return pp_ynode_error(node, PP_EPARSE, path, d, "missing key 'layers' (or 'uniform')");
    return 0;
}

int pp_costmodel_from_node(const struct pp_ynode *node, const char *path, const char *file,
                           struct pp_costmodel **out, struct pp_diag *d)
{
    if (!path)
        path = "";
    if (!node)
        return pp_diag_set(d, PP_EPARSE, file, 0, 0,
                           "%s%sempty model: expected a mapping with 'layers:' or 'uniform:'",
                           path, *path ? ": " : "");
    struct lbuild lb = {1, NULL, 0, 0};
    char *name = NULL;
    int rc = read_model(node, path, &lb, &name, d);
    if (rc == 0 && lb.n == 0)
        rc = pp_ynode_error(node, PP_EINVAL, path, d, "the model has no layers");
    if (rc == 0) {
        size_t n = lb.n;
        free(name);
        name = NULL;
        lb = (struct lbuild){0, pp_xmalloc(n * sizeof *lb.layers), 0, n};
        rc = read_model(node, path, &lb, &name, d);
    }
    if (rc) {
        for (size_t i = 0; !lb.count_only && i < lb.n; i++)
            free(lb.layers[i].name);
        free(lb.layers);
        free(name);
        return rc;
    }
    struct pp_costmodel *cm = pp_xcalloc(1, sizeof *cm);
    cm->layers = lb.layers;
    cm->n_layers = lb.n;
    cm->format = PP_MODEL_YAML;
    cm->source = pp_xstrdup(file ? file : "");
    cm->name = name;
    *out = cm;
    return 0;
}

int pp_costmodel_parse_yaml(const char *buf, size_t len, const char *file,
                            struct pp_costmodel **out, struct pp_diag *d)
{
    struct pp_ydoc *doc;
    int rc = pp_ydoc_parse(buf, len, file, &doc, d);
    if (rc)
        return rc;
    rc = pp_costmodel_from_node(doc->root, "", file, out, d);
    pp_ydoc_free(doc);
    return rc;
}
