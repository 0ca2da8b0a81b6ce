/* sweep.c - grids, filters and one configuration's CSV row (sweep.h). */
#include "sweep.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"
#include "trace.h"
#include "xalloc.h"
#include "yamlutil.h"

static const char *const effective_cols[] = {"schedule", "stages", "chunks", "microbatches",
                                             "microbatch_size", "devices", "data_parallel", NULL};

void pp_sweep_free(struct pp_sweep *s)
{
    for (size_t a = 0; a < s->n_axes; a++) {
        for (size_t v = 0; v < s->axes[a].n_values; v++)
            free(s->axes[a].values[v]);
        free(s->axes[a].values);
        free(s->axes[a].key);
    }
    free(s->axes);
    for (size_t w = 0; w < s->n_where; w++) {
        free(s->where[w].lhs);
        free(s->where[w].rhs);
        free(s->where[w].text);
        free(s->where[w].file);
    }
    free(s->where);
    memset(s, 0, sizeof *s);
}

static char *trimmed(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return pp_xstrndup(p, n);
}

static int new_axis(struct pp_sweep *s, const char *key, struct pp_diag *d)
{
    char why[256];
    if (!*key)
        return pp_diag_set(d, PP_EPARSE, "--grid", 0, 0, "empty key");
    if (pp_scenario_key_check(key, why, sizeof why))
        return pp_diag_set(d, PP_EPARSE, "--grid", 0, 0, "%s", why);
    for (size_t a = 0; a < s->n_axes; a++)
        if (strcmp(s->axes[a].key, key) == 0)
            return pp_diag_set(d, PP_EPARSE, "--grid", 0, 0, "%s is swept twice", key);
    s->axes = pp_xrealloc(s->axes, (s->n_axes + 1) * sizeof *s->axes);
    struct pp_sweep_axis *ax = &s->axes[s->n_axes++];
    memset(ax, 0, sizeof *ax);
    ax->key = pp_xstrdup(key);
    return 0;
}

static void add_value(struct pp_sweep_axis *ax, char *v)
{
    ax->values = pp_xrealloc(ax->values, (ax->n_values + 1) * sizeof *ax->values);
    ax->values[ax->n_values++] = v;
}

int pp_sweep_add_grid(struct pp_sweep *s, const char *arg, struct pp_diag *d)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return pp_diag_set(d, PP_EPARSE, "--grid", 0, 0,
                           "expected KEY=V1,V2,..., got '%s'", arg);
    char *key = trimmed(arg, (size_t)(eq - arg));
    int rc = new_axis(s, key, d);
    free(key);
    if (rc)
        return rc;
    struct pp_sweep_axis *ax = &s->axes[s->n_axes - 1];
    const char *p = eq + 1, *start = p;
    int depth = 0;
    char quote = 0;
    for (;; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            else if (!*p)
                return pp_diag_set(d, PP_EPARSE, "--grid", 0, 0, "%s: unterminated quote",
                                   ax->key);
            continue;
        }
        if (*p == '"' || *p == '\'')
            quote = *p;
        else if (*p == '[' || *p == '{')
            depth++;
        else if ((*p == ']' || *p == '}') && depth > 0)
            depth--;
        else if ((*p == ',' && depth == 0) || !*p) {
            char *v = trimmed(start, (size_t)(p - start));
            if (!*v) {
                free(v);
                return pp_diag_set(d, PP_EPARSE, "--grid", 0, 0, "%s: empty value in '%s'",
                                   ax->key, eq + 1);
            }
            add_value(ax, v);
            start = p + 1;
            if (!*p)
                break;
        }
    }
    return 0;
}

/* A YAML value back to the flow text --set parses. */
static void flow_text(struct pp_buf *b, const struct pp_ynode *n)
{
    size_t i;
    switch (n->kind) {
    case PP_Y_SCALAR:
        if (n->quoted)
            pp_buf_json_str(b, n->value);
        else
            pp_buf_puts(b, n->value);
        break;
    case PP_Y_SEQ:
        pp_buf_puts(b, "[");
        for (i = 0; i < n->n; i++) {
            if (i)
                pp_buf_puts(b, ", ");
            flow_text(b, n->kids[i]);
        }
        pp_buf_puts(b, "]");
        break;
    case PP_Y_MAP:
        pp_buf_puts(b, "{");
        for (i = 0; i < n->n; i++) {
            if (i)
                pp_buf_puts(b, ", ");
            flow_text(b, n->kids[2 * i]);
            pp_buf_puts(b, ": ");
            flow_text(b, n->kids[2 * i + 1]);
        }
        pp_buf_puts(b, "}");
        break;
    }
}

int pp_sweep_add_yaml(struct pp_sweep *s, const struct pp_ynode *sw, struct pp_diag *d)
{
    static const char *const keys[] = {"grid", "where", NULL};
    int rc = pp_ymap_check(sw, "sweep", keys, d);
    const struct pp_ynode *grid = pp_ymap_get(sw, "grid"), *where = pp_ymap_get(sw, "where");
    if (rc == 0 && (!grid || grid->kind != PP_Y_MAP || grid->n == 0))
        rc = pp_ynode_error(grid ? grid : sw, PP_EPARSE, "sweep.grid", d,
                            "expected a mapping of scenario keys to value lists");
    for (size_t i = 0; rc == 0 && i < grid->n; i++) {
        const struct pp_ynode *k = grid->kids[2 * i], *v = grid->kids[2 * i + 1];
        struct pp_diag sub = {{0}, 0, 0, {0}};
        if ((rc = new_axis(s, k->value, &sub))) {
            rc = pp_ynode_error(k, PP_EPARSE, "sweep.grid", d, "%s", sub.msg);
            break;
        }
        struct pp_sweep_axis *ax = &s->axes[s->n_axes - 1];
        size_t n = v->kind == PP_Y_SEQ ? v->n : 1;
        if (n == 0)
            rc = pp_ynode_error(v, PP_EPARSE, "sweep.grid", d, "%s: empty list of values",
                                k->value);
        for (size_t j = 0; rc == 0 && j < n; j++) {
            struct pp_buf b;
            pp_buf_init(&b);
            flow_text(&b, v->kind == PP_Y_SEQ ? v->kids[j] : v);
            add_value(ax, b.data);
        }
    }
    if (rc == 0 && where) {
        if (where->kind != PP_Y_SEQ)
            return pp_ynode_error(where, PP_EPARSE, "sweep.where", d,
                                  "expected a list of filters such as \"microbatches >= stages\"");
        for (size_t i = 0; rc == 0 && i < where->n; i++) {
            struct pp_diag sub = {{0}, 0, 0, {0}};
            const struct pp_ynode *f = where->kids[i];
            if (f->kind != PP_Y_SCALAR || pp_sweep_add_where(s, f->value, &sub)) {
                rc = pp_ynode_error(f, PP_EPARSE, "sweep.where", d, "%s",
                                    sub.msg[0] ? sub.msg : "expected a filter string");
            } else if (f->line) { /* pp_sweep_check's errors point here */
                struct pp_sweep_where *w = &s->where[s->n_where - 1];
                w->file = pp_xstrdup(f->file);
                w->line = f->line;
                w->col = f->col;
            }
        }
    }
    return rc;
}

int pp_sweep_add_where(struct pp_sweep *s, const char *expr, struct pp_diag *d)
{
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">"};
    static const enum pp_where_op kinds[] = {PP_WHERE_EQ, PP_WHERE_NE, PP_WHERE_LE,
                                             PP_WHERE_GE, PP_WHERE_LT, PP_WHERE_GT};
    for (int k = 0; k < 6; k++) {
        const char *at = strstr(expr, ops[k]);
        if (!at)
            continue;
        char *lhs = trimmed(expr, (size_t)(at - expr));
        char *rhs = trimmed(at + strlen(ops[k]), strlen(at + strlen(ops[k])));
        /* "a => b" is not "a =" > "b": an operand holds no operator characters */
        if (!*lhs || !*rhs || strpbrk(lhs, "=!<>") || strpbrk(rhs, "=!<>")) {
            free(lhs);
            free(rhs);
            break;
        }
        s->where = pp_xrealloc(s->where, (s->n_where + 1) * sizeof *s->where);
        s->where[s->n_where++] =
            (struct pp_sweep_where){lhs, rhs, kinds[k], pp_xstrdup(expr), NULL, 0, 0};
        return 0;
    }
    return pp_diag_set(d, PP_EPARSE, "--where", 0, 0,
                       "expected 'KEY OP VALUE' with OP one of == != < <= > >=, got '%s'", expr);
}

static int is_name(const struct pp_sweep *s, const char *x)
{
    for (size_t a = 0; a < s->n_axes; a++)
        if (strcmp(s->axes[a].key, x) == 0)
            return 1;
    for (int k = 0; effective_cols[k]; k++)
        if (strcmp(effective_cols[k], x) == 0)
            return 1;
    return 0;
}

/* " (did you mean 'X'?)" for a word close to a swept key or a column, else "". */
static void name_hint(const struct pp_sweep *s, const char *word, char *out, size_t len)
{
    const char **names = pp_xcalloc(s->n_axes + 8, sizeof *names);
    size_t n = 0;
    for (size_t a = 0; a < s->n_axes; a++)
        names[n++] = s->axes[a].key;
    for (int k = 0; effective_cols[k]; k++)
        names[n++] = effective_cols[k];
    const char *best = pp_suggest(word, names);
    if (best)
        snprintf(out, len, " (did you mean '%s'?)", best);
    else if (len)
        out[0] = '\0';
    free(names);
}

/* A filter's error at its sweep: entry, or on --where. */
static int where_error(const struct pp_sweep_where *f, struct pp_diag *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int where_error(const struct pp_sweep_where *f, struct pp_diag *d, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (f->file)
        return pp_diag_set(d, PP_EPARSE, f->file, f->line, f->col, "sweep.where: %s", msg);
    return pp_diag_set(d, PP_EPARSE, "--where", 0, 0, "%s", msg);
}

int pp_sweep_check(const struct pp_sweep *s, struct pp_diag *d)
{
    if (s->n_axes == 0)
        return pp_diag_set(d, PP_EPARSE, NULL, 0, 0,
                           "empty grid: give --grid KEY=V1,V2,... or a sweep: block");
    for (size_t w = 0; w < s->n_where; w++) {
        const struct pp_sweep_where *f = &s->where[w];
        const char *side[2] = {f->lhs, f->rhs};
        int names = 0;
        for (int k = 0; k < 2; k++) {
            double x;
            int known = is_name(s, side[k]);
            names += known;
            /* a dotted word that is no axis is a typo, not a literal */
            if (!known && strchr(side[k], '.') && pp_parse_decimal(side[k], &x) != 0)
                return where_error(f, d,
                                   "'%s' in '%s' is not a swept key (sweep it, or use a column: "
                                   "schedule, stages, chunks, microbatches, microbatch_size, "
                                   "devices, data_parallel)",
                                   side[k], f->text);
            /* A word ordered against a number is a typo: it would drop every row. */
            char hint[128];
            if (!known && f->op != PP_WHERE_EQ && f->op != PP_WHERE_NE &&
                pp_parse_decimal(side[k], &x) != 0) {
                name_hint(s, side[k], hint, sizeof hint);
                return where_error(f, d,
                                   "'%s' in '%s' is not a number, a swept key or a column%s",
                                   side[k], f->text, hint);
            }
        }
        if (names == 0) {
            char hint[128];
            name_hint(s, f->lhs, hint, sizeof hint);
            if (!hint[0])
                name_hint(s, f->rhs, hint, sizeof hint);
            return where_error(f, d, "'%s' names no swept key or column%s", f->text, hint);
        }
    }
    return 0;
}

uint64_t pp_sweep_size(const struct pp_sweep *s)
{
    uint64_t n = 1;
    for (size_t a = 0; a < s->n_axes; a++) {
        n *= s->axes[a].n_values;
        if (n > PP_SWEEP_MAX)
            return (uint64_t)PP_SWEEP_MAX + 1;
    }
    return n;
}

/* Value index of axis a in configuration c: the last axis varies fastest. */
static size_t value_of(const struct pp_sweep *s, uint64_t c, size_t a)
{
    for (size_t b = s->n_axes; b-- > a + 1;)
        c /= s->axes[b].n_values;
    return (size_t)(c % s->axes[a].n_values);
}

void pp_sweep_csv_header(struct pp_buf *b, const struct pp_sweep *s)
{
    pp_buf_puts(b, "config");
    for (size_t a = 0; a < s->n_axes; a++) {
        pp_buf_puts(b, ",");
        pp_buf_csv_str(b, s->axes[a].key);
    }
    pp_buf_puts(b, ",schedule,stages,chunks,microbatches,microbatch_size,devices,data_parallel,"
                   "status,iteration_time_ms,throughput_samples_per_s,"
                   "steady_throughput_samples_per_s,bubble_fraction,bubble_megatron,"
                   "bubble_gpipe,zb_bubble_rate,ideal_ms,analytic_iteration_ms,"
                   "peak_memory_bytes,peak_activation_bytes,max_peak_inflight,message\n");
}

/* The scenario key behind each effective column, in effective_cols order. */
static const char *const effective_keys[] = {"pipeline.schedule", "pipeline.stages",
                                             "pipeline.chunks", "pipeline.microbatches",
                                             "pipeline.microbatch_size", "cluster.devices",
                                             "pipeline.data_parallel", NULL};

static const char *axis_value(const struct pp_sweep *s, uint64_t c, const char *key)
{
    for (size_t a = 0; a < s->n_axes; a++)
        if (strcmp(s->axes[a].key, key) == 0)
            return s->axes[a].values[value_of(s, c, a)];
    return NULL;
}

/* An operand's text: an axis value, an effective column (of the parsed
 * configuration; of an unparsable one, its axis value or the base
 * scenario's), or the literal. */
static const char *operand(const struct pp_sweep *s, uint64_t c, const struct pp_scenario *sc,
                           const struct pp_scenario *base, const char *name, char *tmp,
                           size_t tmp_len)
{
    const char *v = axis_value(s, c, name);
    if (v)
        return v;
    for (int k = 0; effective_cols[k]; k++) {
        if (strcmp(effective_cols[k], name) != 0)
            continue;
        if (!sc && (v = axis_value(s, c, effective_keys[k])))
            return v;
        if (!sc)
            sc = base;
        if (!sc)
            return NULL;
        double x[] = {0, sc->stages, sc->chunks, (double)sc->microbatches, sc->microbatch_size,
                      sc->devices, sc->data_parallel};
        if (k == 0)
            return pp_schedule_name(sc->schedule);
        snprintf(tmp, tmp_len, "%.17g", x[k]);
        return tmp;
    }
    return name;
}

/* 1 keep, 0 drop, -1 cannot tell (an effective column of an invalid scenario). */
static int where_keeps(const struct pp_sweep *s, uint64_t c, const struct pp_scenario *sc,
                       const struct pp_scenario *base)
{
    for (size_t w = 0; w < s->n_where; w++) {
        const struct pp_sweep_where *f = &s->where[w];
        char t1[64], t2[64];
        const char *l = operand(s, c, sc, base, f->lhs, t1, sizeof t1);
        const char *r = operand(s, c, sc, base, f->rhs, t2, sizeof t2);
        if (!l || !r)
            return -1;
        double x, y;
        int cmp, numeric = pp_parse_decimal(l, &x) == 0 && pp_parse_decimal(r, &y) == 0;
        if (numeric)
            cmp = x < y ? -1 : x > y;
        else
            cmp = strcmp(l, r) < 0 ? -1 : strcmp(l, r) > 0;
        int ok;
        switch (f->op) {
        case PP_WHERE_EQ:
            ok = cmp == 0;
            break;
        case PP_WHERE_NE:
            ok = cmp != 0;
            break;
        case PP_WHERE_LT:
            ok = numeric && cmp < 0;
            break;
        case PP_WHERE_LE:
            ok = numeric && cmp <= 0;
            break;
        case PP_WHERE_GT:
            ok = numeric && cmp > 0;
            break;
        default:
            ok = numeric && cmp >= 0;
            break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static void num(struct pp_buf *b, double x)
{
    pp_buf_puts(b, ",");
    if (isfinite(x))
        pp_buf_double(b, x);
}

static void results(struct pp_buf *b, const struct pp_run *r)
{
    double peak = 0, act = 0;
    int inflight = 0;
    for (int dv = 0; dv < r->res->n_devices; dv++) {
        peak = fmax(peak, r->res->dev[dv].peak_memory_bytes);
        act = fmax(act, r->res->dev[dv].peak_activation_bytes);
        if (r->res->dev[dv].peak_inflight > inflight)
            inflight = r->res->dev[dv].peak_inflight;
    }
    pp_buf_puts(b, r->fits_memory ? ",ok" : ",infeasible");
    num(b, r->iteration_time_ms);
    num(b, r->throughput_samples_per_s);
    num(b, r->steady_throughput_samples_per_s);
    num(b, r->bubble_fraction);
    num(b, r->bubble_megatron);
    num(b, r->bubble_gpipe);
    num(b, r->zb_bubble_rate);
    num(b, r->ideal_ms);
    num(b, r->analytic.iteration_ms > 0 ? r->analytic.iteration_ms : NAN); /* no closed form */
    num(b, peak);
    num(b, act);
    pp_buf_printf(b, ",%d,", inflight);
    if (!r->fits_memory)
        pp_buf_csv_str(b, r->infeasible_reason);
}

/* The base --set overrides plus one "KEY=VALUE" per axis for configuration c. */
struct config_sets {
    const char **sets;
    char **owned;
    size_t n;
};

static void config_sets_make(const struct pp_sweep_job *job, uint64_t c, struct config_sets *cs)
{
    const struct pp_sweep *s = job->sweep;
    cs->n = job->n_base_sets + s->n_axes;
    cs->sets = pp_xcalloc(cs->n + 1, sizeof *cs->sets);
    cs->owned = pp_xcalloc(s->n_axes + 1, sizeof *cs->owned);
    for (size_t i = 0; i < job->n_base_sets; i++)
        cs->sets[i] = job->base_sets[i];
    for (size_t a = 0; a < s->n_axes; a++) {
        const char *v = s->axes[a].values[value_of(s, c, a)];
        size_t n = strlen(s->axes[a].key) + strlen(v) + 2;
        cs->owned[a] = pp_xmalloc(n);
        snprintf(cs->owned[a], n, "%s=%s", s->axes[a].key, v);
        cs->sets[job->n_base_sets + a] = cs->owned[a];
    }
}

static void config_sets_free(struct config_sets *cs, const struct pp_sweep *s)
{
    for (size_t a = 0; a < s->n_axes; a++)
        free(cs->owned[a]);
    free(cs->owned);
    free(cs->sets);
}

void pp_sweep_describe(const struct pp_sweep *s, uint64_t c, struct pp_buf *b)
{
    for (size_t a = 0; a < s->n_axes; a++)
        pp_buf_printf(b, "%s%s=%s", a ? ", " : "", s->axes[a].key,
                      s->axes[a].values[value_of(s, c, a)]);
}

static void fill_stat(struct pp_sweep_stat *st, const struct pp_run *r)
{
    st->status = r->fits_memory ? PP_SWEEP_OK : PP_SWEEP_INFEASIBLE;
    st->throughput_samples_per_s = r->throughput_samples_per_s;
    st->iteration_time_ms = r->iteration_time_ms;
    st->peak_memory_bytes = 0;
    for (int dv = 0; dv < r->res->n_devices; dv++)
        st->peak_memory_bytes = fmax(st->peak_memory_bytes, r->res->dev[dv].peak_memory_bytes);
}

void pp_sweep_row(const struct pp_sweep_job *job, uint64_t c, struct pp_buf *b,
                  struct pp_sweep_stat *st)
{
    const struct pp_sweep *s = job->sweep;
    struct config_sets cs;
    config_sets_make(job, c, &cs);
    const char **sets = cs.sets;
    size_t n_sets = cs.n;
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_scenario *sc = NULL;
    struct pp_run *run = NULL;
    int rc = pp_scenario_parse(job->buf, job->len, job->file, sets, n_sets, &sc, &d);
    int kept = where_keeps(s, c, rc == 0 ? sc : NULL, job->base) != 0;
    memset(st, 0, sizeof *st);
    st->status = kept ? PP_SWEEP_INVALID : PP_SWEEP_DROPPED;
    if (kept && rc == 0)
        rc = pp_run_scenario(sc, 0, &run, &d);
    if (kept) {
        pp_buf_printf(b, "%llu", (unsigned long long)c);
        for (size_t a = 0; a < s->n_axes; a++) {
            pp_buf_puts(b, ",");
            pp_buf_csv_str(b, s->axes[a].values[value_of(s, c, a)]);
        }
        if (rc == 0) {
            pp_buf_printf(b, ",%s,%d,%d,%lld,", pp_schedule_name(sc->schedule), sc->stages,
                          sc->chunks, (long long)sc->microbatches);
            pp_buf_double(b, sc->microbatch_size);
            pp_buf_printf(b, ",%d,%d", sc->devices, run->data_parallel);
            results(b, run);
            fill_stat(st, run);
        } else {
            char msg[900];
            /* too large for --max-memory is a valid configuration that cannot run */
            int too_big = rc == -PP_EINFEASIBLE;
            if (too_big)
                st->status = PP_SWEEP_INFEASIBLE;
            pp_buf_puts(b, too_big ? ",,,,,,,,infeasible,,,,,,,,,,,,," : ",,,,,,,,invalid,,,,,,,,,,,,,");
            pp_buf_csv_str(b, pp_diag_format(&d, msg, sizeof msg));
        }
        pp_buf_puts(b, "\n");
    }
    pp_run_free(run);
    pp_scenario_free(sc);
    config_sets_free(&cs, s);
}

int pp_sweep_trace_run(const struct pp_sweep_job *job, uint64_t c, struct pp_trace *tr,
                       const struct pp_trace_opts *opts, struct pp_diag *d)
{
    const struct pp_sweep *s = job->sweep;
    struct config_sets cs;
    config_sets_make(job, c, &cs);
    const char **sets = cs.sets;
    size_t n_sets = cs.n;
    struct pp_scenario *sc = NULL;
    struct pp_run *run = NULL;
    struct pp_buf label;
    pp_buf_init(&label);
    pp_buf_printf(&label, "config %llu: ", (unsigned long long)c);
    pp_sweep_describe(s, c, &label);
    int rc = pp_scenario_parse(job->buf, job->len, job->file, sets, n_sets, &sc, d);
    if (rc == 0)
        rc = pp_run_scenario(sc, 1, &run, d);
    if (rc == 0)
        rc = pp_trace_add_run(tr, run, (int)c, label.data, opts, d);
    pp_buf_free(&label);
    pp_run_free(run);
    pp_scenario_free(sc);
    config_sets_free(&cs, s);
    return rc;
}
