/* gpucat.c - reading, merging and searching the GPU catalogue (gpucat.h). */
#include "gpucat.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "xalloc.h"
#include "yamlutil.h"

/* models/gpus.yaml, embedded at build time by tools/embed.py. */
extern const char pp_gpucat_yaml[];

#define BUILTIN_NAME PP_GPUCAT_BUILTIN_FILE
#define MAX_CATALOGUE_BYTES ((size_t)16 << 20)
#define MAX_GPUS 10000

const char *const pp_gpu_eff_keys[PP_GPU_EFF_N] = {
    "gemm", "memory", "collective", "network", "attention", "collective_latency_us",
    "op_overhead_us",
};

static double *eff_slot(struct pp_gpu_eff *e, int i)
{
    switch (i) {
    case 0: return &e->gemm;
    case 1: return &e->memory;
    case 2: return &e->collective;
    case 3: return &e->network;
    case 4: return &e->attention;
    case 5: return &e->collective_latency_us;
    default: return &e->op_overhead_us;
    }
}

/* The numeric fields of an entry: key, unit scale, required, integer. */
struct field {
    const char *key;
    double scale;
    int required, integer;
};
static const struct field fields[] = {
    {"bf16_tflops", 1e12, 1, 0},
    {"fp16_tflops", 1e12, 1, 0},
    {"fp8_tflops", 1e12, 0, 0},
    {"hbm_capacity_gib", 1073741824.0, 1, 0},
    {"hbm_bandwidth_gb_per_s", 1e9, 1, 0},
    {"scaleup_bandwidth_gb_per_s", 1e9, 1, 0},
    {"scaleup_gpus", 1, 1, 1},
    {"network_bandwidth_gb_per_s", 1e9, 1, 0},
    {"sm_count", 1, 1, 1},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static void set_field(struct pp_gpu *g, size_t i, double v)
{
    switch (i) {
    case 0: g->bf16_flops = v; break;
    case 1: g->fp16_flops = v; break;
    case 2: g->fp8_flops = v; break;
    case 3: g->hbm_bytes = v; break;
    case 4: g->hbm_bytes_per_s = v; break;
    case 5: g->scaleup_bytes_per_s = v; break;
    case 6: g->scaleup_gpus = (int)v; break;
    case 7: g->network_bytes_per_s = v; break;
    default: g->sm_count = (int)v; break;
    }
}

static const char *const top_keys[] = {"efficiency", "gpus", NULL};
static const char *const gpu_keys[] = {
    "name", "description", "aliases", "efficiency", "bf16_tflops", "fp16_tflops",
    "fp8_tflops", "hbm_capacity_gib", "hbm_bandwidth_gb_per_s", "scaleup_bandwidth_gb_per_s",
    "scaleup_gpus", "network_bandwidth_gb_per_s", "sm_count", NULL,
};
static const char *const valued_keys[] = {"value", "source", NULL};
static const char *const eff_keys[] = {
    "gemm", "memory", "collective", "network", "attention", "collective_latency_us",
    "op_overhead_us", NULL,
};

/* An efficiency block as read: values, their sources, which were given. */
struct effset {
    double v[PP_GPU_EFF_N];
    const char *src[PP_GPU_EFF_N];
    int set[PP_GPU_EFF_N];
};

static void join(char *out, size_t len, const char *a, const char *b)
{
    snprintf(out, len, "%s%s%s", a, *a ? "." : "", b);
}

/* {value: NUMBER, source: "TEXT"}; the value must be > 0 (or >= 0 with
 * allow_zero), at most `hi` when hi > 0, and whole when `integer`. */
static int read_valued(const struct pp_ynode *n, const char *path, int allow_zero, double hi,
                       int integer, double *out, const char **src, struct pp_diag *d)
{
    if (n->kind != PP_Y_MAP)
        return pp_ynode_error(n, PP_EPARSE, path, d,
                              "expected {value: NUMBER, source: \"where it comes from\"}, got '%s'",
                              n->kind == PP_Y_SCALAR ? n->value : "a list");
    int rc = pp_ymap_check(n, path, valued_keys, d);
    if (rc)
        return rc;
    const struct pp_ynode *v, *s;
    if ((rc = pp_yneed(n, path, "value", &v, d)) ||
        (rc = pp_yneed(n, path, "source", &s, d)))
        return rc;
    char vp[300], sp[300];
    join(vp, sizeof vp, path, "value");
    join(sp, sizeof sp, path, "source");
    if ((rc = pp_ynum_nonneg(v, vp, out, d)) || (rc = pp_ystr(s, sp, src, d)))
        return rc;
    if (!allow_zero && *out == 0)
        return pp_ynode_error(v, PP_EINVAL, vp, d, "must be > 0, got '%s'", v->value);
    if (hi > 0 && *out > hi)
        return pp_ynode_error(v, PP_EINVAL, vp, d, "must be <= %g, got '%s'", hi, v->value);
    if (integer && (*out != floor(*out) || *out > 1e9))
        return pp_ynode_error(v, PP_EINVAL, vp, d, "must be a whole number, got '%s'",
                              v->value);
    return 0;
}

static int read_eff(const struct pp_ynode *m, const char *path, struct effset *e,
                    struct pp_diag *d)
{
    int rc = pp_ymap_check(m, path, eff_keys, d);
    if (rc)
        return rc;
    for (int i = 0; i < PP_GPU_EFF_N; i++) {
        const struct pp_ynode *v = pp_ymap_get(m, pp_gpu_eff_keys[i]);
        if (!v)
            continue;
        char p[300];
        join(p, sizeof p, path, pp_gpu_eff_keys[i]);
        /* Fractions of a peak lie in (0, 1]; the two times only need to be >= 0. */
        int is_time = i >= 5;
        if ((rc = read_valued(v, p, is_time, is_time ? 0 : 1, 0, &e->v[i], &e->src[i], d)))
            return rc;
        e->set[i] = 1;
    }
    return 0;
}

static void add_source(struct pp_gpu *g, const char *key, const char *src)
{
    size_t n = strlen(key) + strlen(src) + 3;
    char *s = pp_xmalloc(n);
    snprintf(s, n, "%s: %s", key, src);
    g->sources = pp_xrealloc(g->sources, (g->n_sources + 1) * sizeof *g->sources);
    g->sources[g->n_sources++] = s;
}

static void gpu_clear(struct pp_gpu *g)
{
    free(g->name);
    free(g->description);
    for (size_t i = 0; i < g->n_aliases; i++)
        free(g->aliases[i]);
    free(g->aliases);
    for (size_t i = 0; i < g->n_sources; i++)
        free(g->sources[i]);
    free(g->sources);
    free(g->file);
    memset(g, 0, sizeof *g);
}

void pp_gpucat_free(struct pp_gpucat *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n; i++)
        gpu_clear(&cat->gpus[i]);
    free(cat->gpus);
    free(cat);
}

/* Lower-case letters and digits only: "H100 SXM", "h100-sxm" and "H100_SXM"
 * name the same GPU. */
static void normalize(const char *s, char *out, size_t len)
{
    size_t n = 0;
    for (; *s && n + 1 < len; s++)
        if (isalnum((unsigned char)*s))
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

static int gpu_matches(const struct pp_gpu *g, const char *norm)
{
    char buf[256];
    normalize(g->name, buf, sizeof buf);
    if (strcmp(buf, norm) == 0)
        return 1;
    for (size_t i = 0; i < g->n_aliases; i++) {
        normalize(g->aliases[i], buf, sizeof buf);
        if (strcmp(buf, norm) == 0)
            return 1;
    }
    return 0;
}

static int read_gpu(const struct pp_ynode *m, const char *path, const char *file,
                    const struct effset *file_eff, const struct effset *fallback,
                    struct pp_gpu *g, struct pp_diag *d)
{
    if (m->kind != PP_Y_MAP)
        return pp_ynode_error(m, PP_EPARSE, path, d, "expected a GPU entry (a mapping)");
    int rc = pp_ymap_check(m, path, gpu_keys, d);
    if (rc)
        return rc;
    char p[300];
    const struct pp_ynode *v;
    const char *text;
    if ((rc = pp_yneed(m, path, "name", &v, d)))
        return rc;
    join(p, sizeof p, path, "name");
    if ((rc = pp_ystr(v, p, &text, d)))
        return rc;
    char norm[256];
    normalize(text, norm, sizeof norm);
    if (!*norm)
        return pp_ynode_error(v, PP_EINVAL, p, d, "a GPU name needs a letter or digit, got '%s'",
                              text);
    g->name = pp_xstrdup(text);
    g->file = pp_xstrdup(file);
    if ((v = pp_ymap_get(m, "description"))) {
        join(p, sizeof p, path, "description");
        if ((rc = pp_ystr(v, p, &text, d)))
            return rc;
        g->description = pp_xstrdup(text);
    }
    if ((v = pp_ymap_get(m, "aliases"))) {
        join(p, sizeof p, path, "aliases");
        if (v->kind != PP_Y_SEQ)
            return pp_ynode_error(v, PP_EPARSE, p, d, "expected a list of names");
        g->aliases = pp_xcalloc(v->n ? v->n : 1, sizeof *g->aliases);
        for (size_t i = 0; i < v->n; i++) {
            char ip[352];
            snprintf(ip, sizeof ip, "%s[%zu]", p, i);
            if ((rc = pp_ystr(v->kids[i], ip, &text, d)))
                return rc;
            g->aliases[g->n_aliases++] = pp_xstrdup(text);
        }
    }
    for (size_t i = 0; i < N_FIELDS; i++) {
        v = pp_ymap_get(m, fields[i].key);
        if (!v) {
            if (fields[i].required)
                return pp_ynode_error(m, PP_EPARSE, path, d, "missing key '%s' (GPU '%s')",
                                      fields[i].key, g->name);
            continue;
        }
        join(p, sizeof p, path, fields[i].key);
        double x;
        const char *src;
        if ((rc = read_valued(v, p, 0, 0, fields[i].integer, &x, &src, d)))
            return rc;
        set_field(g, i, x * fields[i].scale);
        add_source(g, fields[i].key, src);
    }
    struct effset own;
    memset(&own, 0, sizeof own);
    if ((v = pp_ymap_get(m, "efficiency"))) {
        join(p, sizeof p, path, "efficiency");
        if (v->kind != PP_Y_MAP)
            return pp_ynode_error(v, PP_EPARSE, p, d, "expected a mapping of efficiency factors");
        if ((rc = read_eff(v, p, &own, d)))
            return rc;
    }
    /* The entry's own factor, else its file's, else the built-in default. */
    for (int i = 0; i < PP_GPU_EFF_N; i++) {
        const struct effset *from = own.set[i]                    ? &own
                                    : file_eff && file_eff->set[i] ? file_eff
                                    : fallback && fallback->set[i] ? fallback
                                                                   : NULL;
        if (!from)
            return pp_ynode_error(m, PP_EPARSE, path, d,
                                  "GPU '%s' has no efficiency.%s (give it in the entry or in a "
                                  "top-level 'efficiency:' block)",
                                  g->name, pp_gpu_eff_keys[i]);
        *eff_slot(&g->eff, i) = from->v[i];
        char key[64];
        snprintf(key, sizeof key, "efficiency.%s", pp_gpu_eff_keys[i]);
        add_source(g, key, from->src[i]);
    }
    return 0;
}

/* Parse with `fallback` (may be NULL) supplying efficiency factors the file
 * leaves out. The fallback's source strings must outlive the call only. */
static int parse_cat(const char *buf, size_t len, const char *file, const struct effset *fallback,
                     struct effset *top_out, struct pp_ydoc **doc_out, struct pp_gpucat **out,
                     struct pp_diag *d)
{
    struct pp_ydoc *doc;
    int rc = pp_ydoc_parse(buf, len, file, &doc, d);
    if (rc)
        return rc;
    struct pp_gpucat *cat = pp_xcalloc(1, sizeof *cat);
    struct effset top;
    memset(&top, 0, sizeof top);
    const struct pp_ynode *root = doc->root, *gl = NULL, *ef;
    if (!root || root->kind != PP_Y_MAP) {
        rc = root ? pp_ynode_error(root, PP_EPARSE, "", d,
                                   "expected a catalogue: a mapping with 'gpus:'")
                  : pp_diag_set(d, PP_EPARSE, file, 0, 0,
                                "empty GPU catalogue: expected a mapping with 'gpus:'");
        goto fail;
    }
    if ((rc = pp_ymap_check(root, "", top_keys, d)) ||
        (rc = pp_yneed(root, "", "gpus", &gl, d)))
        goto fail;
    if ((ef = pp_ymap_get(root, "efficiency"))) {
        if (ef->kind != PP_Y_MAP) {
            rc = pp_ynode_error(ef, PP_EPARSE, "efficiency", d,
                                "expected a mapping of efficiency factors");
            goto fail;
        }
        if ((rc = read_eff(ef, "efficiency", &top, d)))
            goto fail;
    }
    if (gl->kind != PP_Y_SEQ || gl->n == 0) {
        rc = pp_ynode_error(gl, PP_EPARSE, "gpus", d, "expected a non-empty list of GPUs");
        goto fail;
    }
    if (gl->n > MAX_GPUS) {
        rc = pp_ynode_error(gl, PP_ENOMEM, "gpus", d, "more than %d GPUs", MAX_GPUS);
        goto fail;
    }
    cat->gpus = pp_xcalloc(gl->n, sizeof *cat->gpus);
    for (size_t i = 0; i < gl->n; i++) {
        char p[64];
        snprintf(p, sizeof p, "gpus[%zu]", i);
        rc = read_gpu(gl->kids[i], p, file, &top, fallback, &cat->gpus[cat->n], d);
        cat->n++;
        if (rc)
            goto fail;
        /* One name per GPU inside a file: a repeat is a copy-paste slip. */
        for (size_t j = 0; j + 1 < cat->n; j++) {
            struct pp_gpu *g = &cat->gpus[cat->n - 1];
            char norm[256];
            normalize(g->name, norm, sizeof norm);
            int clash = gpu_matches(&cat->gpus[j], norm);
            for (size_t a = 0; !clash && a < g->n_aliases; a++) {
                normalize(g->aliases[a], norm, sizeof norm);
                clash = gpu_matches(&cat->gpus[j], norm);
            }
            if (clash) {
                rc = pp_ynode_error(gl->kids[i], PP_EINVAL, p, d,
                                    "GPU '%s' repeats the name or an alias of '%s' (gpus[%zu])",
                                    g->name, cat->gpus[j].name, j);
                goto fail;
            }
        }
    }
    if (top_out)
        *top_out = top;
    if (doc_out)
        *doc_out = doc;
    else
        pp_ydoc_free(doc);
    *out = cat;
    return 0;
fail:
    pp_gpucat_free(cat);
    pp_ydoc_free(doc);
    return rc;
}

int pp_gpucat_parse(const char *buf, size_t len, const char *file, struct pp_gpucat **out,
                    struct pp_diag *d)
{
    return parse_cat(buf, len, file, NULL, NULL, NULL, out, d);
}

/* The built-in catalogue, its top-level efficiency block and the parsed
 * document the block's source strings point into. */
static int load_builtin(struct effset *top, struct pp_ydoc **doc, struct pp_gpucat **out,
                        struct pp_diag *d)
{
    return parse_cat(pp_gpucat_yaml, strlen(pp_gpucat_yaml), BUILTIN_NAME, NULL, top, doc, out,
                     d);
}

int pp_gpucat_builtin(struct pp_gpucat **out, struct pp_diag *d)
{
    return load_builtin(NULL, NULL, out, d);
}

int pp_gpucat_load(const char *user_file, struct pp_gpucat **out, struct pp_diag *d)
{
    struct effset top;
    struct pp_ydoc *bdoc = NULL;
    struct pp_gpucat *base;
    int rc = load_builtin(&top, &bdoc, &base, d);
    if (rc)
        return rc;
    if (!user_file) {
        pp_ydoc_free(bdoc);
        *out = base;
        return 0;
    }
    char *buf;
    size_t len;
    struct pp_gpucat *user = NULL;
    rc = pp_read_file(user_file, MAX_CATALOGUE_BYTES, &buf, &len, d);
    if (rc == 0) {
        rc = parse_cat(buf, len, user_file, &top, NULL, NULL, &user, d);
        free(buf);
    }
    pp_ydoc_free(bdoc);
    if (rc) {
        pp_gpucat_free(base);
        return rc;
    }
    /* The user's entries first; a built-in one they rename or alias is dropped. */
    struct pp_gpucat *cat = pp_xcalloc(1, sizeof *cat);
    cat->gpus = pp_xcalloc(user->n + base->n, sizeof *cat->gpus);
    for (size_t i = 0; i < user->n; i++)
        cat->gpus[cat->n++] = user->gpus[i];
    for (size_t i = 0; i < base->n; i++) {
        struct pp_gpu *b = &base->gpus[i];
        int replaced = 0;
        char norm[256];
        for (size_t j = 0; j < user->n && !replaced; j++) {
            normalize(b->name, norm, sizeof norm);
            replaced = gpu_matches(&user->gpus[j], norm);
            for (size_t a = 0; !replaced && a < b->n_aliases; a++) {
                normalize(b->aliases[a], norm, sizeof norm);
                replaced = gpu_matches(&user->gpus[j], norm);
            }
        }
        if (replaced)
            gpu_clear(b);
        else
            cat->gpus[cat->n++] = *b;
    }
    free(user->gpus);
    free(user);
    free(base->gpus);
    free(base);
    *out = cat;
    return 0;
}

int pp_gpucat_find(const struct pp_gpucat *cat, const char *name, const struct pp_gpu **out,
                   struct pp_diag *d)
{
    char norm[256];
    normalize(name, norm, sizeof norm);
    for (size_t i = 0; i < cat->n && *norm; i++)
        if (gpu_matches(&cat->gpus[i], norm)) {
            *out = &cat->gpus[i];
            return 0;
        }
    /* The closest name or alias by edit distance on the normalised spelling. */
    const struct pp_gpu *best = NULL;
    size_t best_d = (size_t)-1;
    size_t limit = strlen(norm) / 3 + 1;
    for (size_t i = 0; i < cat->n; i++) {
        const struct pp_gpu *g = &cat->gpus[i];
        for (size_t a = 0; a <= g->n_aliases; a++) {
            char cand[256];
            normalize(a == 0 ? g->name : g->aliases[a - 1], cand, sizeof cand);
            size_t dist = pp_edit_distance(norm, cand);
            /* "a100" is a prefix of several entries: name the first. */
            if (dist > limit && *norm && strncmp(cand, norm, strlen(norm)) == 0)
                dist = limit;
            if (dist <= limit && dist < best_d) {
                best = g;
                best_d = dist;
            }
        }
    }
    struct pp_buf names;
    pp_buf_init(&names);
    for (size_t i = 0; i < cat->n; i++)
        pp_buf_printf(&names, "%s%s", i ? ", " : "", cat->gpus[i].name);
    char hint[300] = "";
    if (best)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", best->name);
    pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                "unknown GPU '%s'%s; the catalogue has %s (add your own with --gpu-catalogue "
                "FILE)",
                name, hint, names.data ? names.data : "nothing");
    pp_buf_free(&names);
    return -PP_EINVAL;
}
