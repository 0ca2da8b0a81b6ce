/* converge_spec.c - parse a scenario's `converge:` section (converge_spec.h). */
#include "converge_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "xalloc.h"
#include "yamlutil.h"

/* the cap scenarios and pp_ydoc_load have */
#define MAX_FILE_BYTES ((size_t)256 << 20)

/* objective.c's cap on the data matrix (OBJ_MAX_ENTRIES), checked here so the
 * error points at the key. */
#define CV_MAX_DATA_ENTRIES 5e8

static const char *const section_keys[] = {"objective", "budget_ms", "select", "seed",
                                           "step_ms", "stages", "methods", NULL};
static const char *const objective_keys[] = {"kind", "dim", "examples", "batch", "mu",
                                             "l2", "noise_std", "seed", NULL};
static const char *const method_keys[] = {"method", "label", "gamma", "gamma_exp", "noam",
                                          "local_replicas", "local_steps", "schedule",
                                          "batch_microbatches", "delays", "delta",
                                          "iterations", NULL};
static const char *const kinds[] = {"quadratic", "nesterov", "logistic", NULL};
static const char *const methods[] = {"pd", "rpd", "localsgd", "sync", NULL};
static const char *const selects[] = {"best", "stable", NULL};
static const char *const delay_words[] = {"uniform", "max", "zero", "exact", NULL};

const char *pp_cvm_name(enum pp_cvm m)
{
    return methods[m];
}

void pp_cv_spec_free(struct pp_cv_spec *s)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n_methods; k++)
        free(s->methods[k].label);
    free(s->methods);
    free(s->stages);
    free(s->file);
    free(s);
}

static int read_objective(const struct pp_ynode *sec, struct pp_objective_spec *o,
                          struct pp_diag *d)
{
    const struct pp_ynode *m, *v;
    int rc = pp_yget_map(sec, "objective", objective_keys, 1, &m, d);
    int kind = 0;
    int64_t x;
    if (rc == 0 && (rc = pp_yneed(m, "converge.objective", "kind", &v, d)) == 0)
        rc = pp_yopt_word(m, "kind", "converge.objective.kind", kinds, &kind, d);
    o->kind = (enum pp_obj_kind)kind;
    static const char *const ints[] = {"dim", "examples", "batch"};
    int *dst[] = {&o->dim, &o->examples, &o->batch};
    for (int k = 0; k < 3 && rc == 0; k++) {
        char path[64];
        snprintf(path, sizeof path, "converge.objective.%s", ints[k]);
        if ((rc = pp_yneed(m, "converge.objective", ints[k], &v, d)) == 0 &&
            (rc = pp_ycount(v, path, 1, 100000000, &x, d)) == 0)
            *dst[k] = (int)x;
    }
    o->mu = 0.01;
    o->l2 = 0;
    if (rc == 0)
        rc = pp_yopt_num(m, "mu", "converge.objective.mu", 1, &o->mu, d);
    if (rc == 0)
        rc = pp_yopt_num(m, "l2", "converge.objective.l2", 0, &o->l2, d);
    if (rc == 0)
        rc = pp_yopt_num(m, "noise_std", "converge.objective.noise_std", 0, &o->noise_std, d);
    x = 1;
    if (rc == 0)
        rc = pp_yopt_int(m, "seed", "converge.objective.seed", 0, INT64_MAX, &x, d);
    o->seed = (uint64_t)x;
    if (rc == 0 && o->examples % o->batch != 0)
        rc = pp_ynode_error(pp_ymap_get(m, "batch"), PP_EPARSE, "converge.objective.batch", d,
                            "%d does not divide examples (%d)", o->batch, o->examples);
    /* pp_objective_create refuses these too, but without a place in the file. */
    if (rc == 0 && o->kind == PP_OBJ_NESTEROV && o->examples < o->dim)
        rc = pp_ynode_error(pp_ymap_get(m, "examples"), PP_EINVAL, "converge.objective.examples",
                            d, "%d is less than dim (%d); the nesterov Hessian needs examples >= "
                            "dim", o->examples, o->dim);
    if (rc == 0 && (double)o->dim * o->examples > CV_MAX_DATA_ENTRIES)
        rc = pp_ynode_error(pp_ymap_get(m, "examples"), PP_ENOMEM, "converge.objective", d,
                            "dim x examples = %d x %d, more than the limit of %.0f entries of "
                            "data", o->dim, o->examples, CV_MAX_DATA_ENTRIES);
    return rc;
}

/* [LO, HI] exponents of a power-of-two grid. */
static int read_grid(const struct pp_ynode *v, const char *path, int *lo, int *hi,
                     struct pp_diag *d)
{
    if (v->kind != PP_Y_SEQ || v->n != 2)
        return pp_ynode_error(v, PP_EPARSE, path, d,
                              "expected [LO, HI], the exponents of 2^LO .. 2^HI");
    int64_t a = 0, b = 0; /* *lo and *hi are written on failure too */
    int rc = pp_yint(v->kids[0], path, -60, 60, &a, d);
    if (rc == 0)
        rc = pp_yint(v->kids[1], path, -60, 60, &b, d);
    if (rc == 0 && (b < a || b - a >= 64))
        rc = pp_ynode_error(v, PP_EPARSE, path, d,
                            "needs LO <= HI and at most 64 step sizes, got [%lld, %lld]",
                            (long long)a, (long long)b);
    *lo = (int)a;
    *hi = (int)b;
    return rc;
}

/* Keys that belong to other methods are refused, not ignored. */
static int only_for(const struct pp_ynode *m, const char *key, enum pp_cvm have, int allowed_mask,
                    const char *path, struct pp_diag *d)
{
    const struct pp_ynode *v = pp_ymap_get(m, key);
    if (!v || (allowed_mask >> have & 1))
        return 0;
    char kp[128];
    snprintf(kp, sizeof kp, "%s.%s", path, key);
    return pp_ynode_error(v, PP_EPARSE, kp, d, "does not apply to method %s", methods[have]);
}

/* "converge.methods[IDX].KEY" into buf: errors name the exact key. */
static const char *kpath(char *buf, size_t n, size_t idx, const char *key)
{
    snprintf(buf, n, "converge.methods[%zu].%s", idx, key);
    return buf;
}

static int read_method(const struct pp_ynode *m, size_t idx, struct pp_cv_method_spec *ms,
                       struct pp_diag *d)
{
    char path[96], kp[128];
    snprintf(path, sizeof path, "converge.methods[%zu]", idx);
    ms->line = m->line;
    ms->col = m->col;
    const struct pp_ynode *v;
    int rc = pp_ymap_check(m, path, method_keys, d), w = 0;
    if (rc == 0 && (rc = pp_yneed(m, path, "method", &v, d)) == 0)
        rc = pp_yopt_word(m, "method", kpath(kp, sizeof kp, idx, "method"), methods, &w, d);
    if (rc)
        return rc;
    ms->method = (enum pp_cvm)w;
    const char *label = methods[w];
    if ((v = pp_ymap_get(m, "label")) && (rc = pp_ystr(v, kpath(kp, sizeof kp, idx, "label"), &label, d)))
        return rc;
    ms->label = pp_xstrdup(label);
    ms->exp_lo = -12;
    ms->exp_hi = 1;
    ms->schedule = PP_SCHED_1F1B;
    ms->delays = PP_RPD_UNIFORM;
    ms->delta = -1;
    const struct pp_ynode *g = pp_ymap_get(m, "gamma"), *ge = pp_ymap_get(m, "gamma_exp");
    if (g && ge)
        return pp_ynode_error(ge, PP_EPARSE, kpath(kp, sizeof kp, idx, "gamma_exp"), d,
                              "give gamma or gamma_exp, not both");
    if (g && (rc = pp_ynum(g, kpath(kp, sizeof kp, idx, "gamma"), &ms->gamma, d)) == 0 &&
        !(ms->gamma > 0))
        rc = pp_ynode_error(g, PP_EPARSE, kp, d, "the step size must be > 0, got '%s'", g->value);
    if (rc == 0 && ge)
        rc = read_grid(ge, kpath(kp, sizeof kp, idx, "gamma_exp"), &ms->exp_lo, &ms->exp_hi, d);
    enum pp_cvm h = ms->method;
    static const struct {
        const char *key;
        int mask;
    } owners[] = {{"noam", 1 << PP_CVM_PD},
                  {"local_replicas", 1 << PP_CVM_LOCALSGD},
                  {"local_steps", 1 << PP_CVM_LOCALSGD},
                  {"schedule", 1 << PP_CVM_SYNC},
                  {"batch_microbatches", 1 << PP_CVM_SYNC},
                  {"delays", 1 << PP_CVM_RPD},
                  {"delta", 1 << PP_CVM_RPD},
                  {"iterations", 1 << PP_CVM_RPD}};
    for (size_t k = 0; k < sizeof owners / sizeof owners[0] && rc == 0; k++)
        rc = only_for(m, owners[k].key, h, owners[k].mask, path, d);
    int64_t x;
    static const char *const counts[] = {"noam", "local_replicas", "local_steps"};
    int *cdst[] = {&ms->noam, &ms->local_replicas, &ms->local_steps};
    for (int k = 0; k < 3 && rc == 0; k++)
        if ((x = 0, rc = pp_yopt_count(m, counts[k], kpath(kp, sizeof kp, idx, counts[k]), 1,
                                     1000000, &x, d)) == 0 && x)
            *cdst[k] = (int)x;
    if ((v = pp_ymap_get(m, "local_replicas"))) {
        ms->replicas_line = v->line;
        ms->replicas_col = v->col;
    }
    if (rc == 0)
        rc = pp_yopt_count(m, "batch_microbatches", kpath(kp, sizeof kp, idx, "batch_microbatches"),
                         1, 1000000, &ms->batch_microbatches, d);
    if (rc == 0 && (v = pp_ymap_get(m, "delta"))) {
        double dv;
        if ((rc = pp_ynum(v, kpath(kp, sizeof kp, idx, "delta"), &dv, d)) == 0 && dv < 0)
            rc = pp_ynode_error(v, PP_EPARSE, kp, d,
                                "the delay bound must be >= 0 block updates, got '%s'", v->value);
        if (rc == 0)
            rc = pp_yint(v, kp, 0, INT64_MAX / 4, &ms->delta, d);
    }
    if (rc == 0)
        rc = pp_yopt_count(m, "iterations", kpath(kp, sizeof kp, idx, "iterations"), 1, 1000000000,
                         &ms->iterations, d);
    int dw = 0;
    if (rc == 0 && (rc = pp_yopt_word(m, "delays", kpath(kp, sizeof kp, idx, "delays"),
                                      delay_words, &dw, d)) == 0)
        ms->delays = (enum pp_rpd_delays)dw;
    if (rc == 0 && (v = pp_ymap_get(m, "schedule"))) {
        const char *name;
        if ((rc = pp_ystr(v, kpath(kp, sizeof kp, idx, "schedule"), &name, d)) == 0) {
            int k = pp_schedule_from_name(name);
            if (k < 0 || k == PP_SCHED_PIPEDREAM || k == PP_SCHED_PIPEDREAM_2BW ||
                k == PP_SCHED_LOCALSGD || k == PP_SCHED_CUSTOM)
                rc = pp_ynode_error(v, PP_EPARSE, kp, d,
                                    "sync needs a flushing schedule (gpipe, 1f1b, "
                                    "interleaved-1f1b, zb-h1, ...), got '%s'",
                                    name);
            else
                ms->schedule = (enum pp_schedule_kind)k;
        }
    }
    return rc;
}

static int read_section(const struct pp_ynode *root, struct pp_cv_spec *s, struct pp_diag *d)
{
    const struct pp_ynode *sec, *v;
    int rc = pp_yget_map(root, "converge", section_keys, 1, &sec, d);
    if (rc == 0)
        rc = read_objective(sec, &s->objective, d);
    if (rc == 0)
        rc = pp_yopt_num(sec, "budget_ms", "converge.budget_ms", 0, &s->budget_ms, d);
    int sel = PP_CV_SELECT_STABLE;
    if (rc == 0)
        rc = pp_yopt_word(sec, "select", "converge.select", selects, &sel, d);
    s->select = (enum pp_cv_select)sel;
    int64_t seed = 1;
    if (rc == 0)
        rc = pp_yopt_int(sec, "seed", "converge.seed", 0, INT64_MAX, &seed, d);
    s->seed = (uint64_t)seed;
    if (rc == 0)
        rc = pp_yopt_num(sec, "step_ms", "converge.step_ms", 0, &s->step_ms, d);
    if (rc == 0 && (v = pp_ymap_get(sec, "stages"))) {
        if (v->kind != PP_Y_SEQ || v->n == 0)
            return pp_ynode_error(v, PP_EPARSE, "converge.stages", d,
                                  "expected a non-empty list of stage counts");
        s->stages = pp_xcalloc(v->n, sizeof *s->stages);
        s->n_stages = v->n;
        for (size_t k = 0; k < v->n && rc == 0; k++)
            rc = pp_ycount(v->kids[k], "converge.stages", 2, 4096, &s->stages[k], d);
    }
    /* Every stage needs a coordinate; said here, at dim, rather than when the
     * objective is built. A malformed pipeline.stages is the scenario's to report. */
    int64_t most = 0, x;
    for (size_t k = 0; k < s->n_stages; k++)
        most = s->stages[k] > most ? s->stages[k] : most;
    const struct pp_ynode *pl = pp_ymap_get(root, "pipeline");
    if (rc == 0 && !s->n_stages && pl && (v = pp_ymap_get(pl, "stages")) &&
        pp_yint(v, "pipeline.stages", 1, 4096, &x, NULL) == 0)
        most = x;
    if (rc == 0 && most > s->objective.dim)
        rc = pp_ynode_error(pp_ymap_get(pp_ymap_get(sec, "objective"), "dim"), PP_EINVAL,
                            "converge.objective.dim", d,
                            "%d is less than the %lld stages (every stage needs a coordinate)",
                            s->objective.dim, (long long)most);
    if (rc)
        return rc;
    if ((rc = pp_yneed(sec, "converge", "methods", &v, d)))
        return rc;
    if (v->kind != PP_Y_SEQ || v->n == 0)
        return pp_ynode_error(v, PP_EPARSE, "converge.methods", d,
                              "expected a non-empty list of methods");
    s->methods = pp_xcalloc(v->n, sizeof *s->methods);
    for (size_t k = 0; k < v->n && rc == 0; k++) {
        if (v->kids[k]->kind != PP_Y_MAP)
            return pp_ynode_error(v->kids[k], PP_EPARSE, "converge.methods", d,
                                  "each method is a mapping such as {method: pd}");
        rc = read_method(v->kids[k], k, &s->methods[k], d);
        s->n_methods = k + 1;
    }
    return rc;
}

int pp_cv_spec_parse(const char *buf, size_t len, const char *file, const char *const *sets,
                     size_t n_sets, struct pp_cv_spec **out, struct pp_diag *d)
{
    struct pp_ydoc *doc = NULL;
    int rc = pp_ydoc_parse(buf, len, file, &doc, d);
    for (size_t i = 0; i < n_sets && rc == 0; i++)
        rc = pp_ydoc_set(doc, sets[i], d);
    if (rc == 0 && !doc->root)
        rc = pp_diag_set(d, PP_EPARSE, file, 0, 0, "empty scenario");
    struct pp_cv_spec *s = pp_xcalloc(1, sizeof *s);
    s->file = pp_xstrdup(file);
    if (rc == 0)
        rc = read_section(doc->root, s, d);
    /* one block per stage: the objectives' blocks are the pipeline's pieces */
    const struct pp_ynode *pl = rc == 0 ? pp_ymap_get(doc->root, "pipeline") : NULL;
    const struct pp_ynode *ch = pl ? pp_ymap_get(pl, "chunks") : NULL;
    if (ch && ch->kind == PP_Y_SCALAR && strcmp(ch->value, "1") != 0)
        rc = pp_ynode_error(ch, PP_EPARSE, "pipeline.chunks", d,
                            "converge needs one block per stage (chunks 1), got '%s'", ch->value);
    pp_ydoc_free(doc);
    if (rc) {
        pp_cv_spec_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int pp_cv_spec_load(const char *path, const char *const *sets, size_t n_sets,
                    struct pp_cv_spec **out, struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_FILE_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_cv_spec_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, sets, n_sets,
                          out, d);
    free(buf);
    return rc;
}
