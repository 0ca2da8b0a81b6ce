/* genfit.c - the profile CSV reader, the generator's prediction of a measured
 * layer and the calibrated catalogue entry (genfit.h; the fit is genfit_fit.c). */
#include "genfit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csvtab.h"
#include "diag.h"
#include "xalloc.h"
#include "yamlutil.h"

const char *const pp_gf_method_names[2] = {"pipelining", "autograd"};
const char *const pp_gf_kind_names[3] = {"embed", "block", "head"};
const char *const pp_gf_obs_names[PP_GF_NOBS] = {"forward", "backward_input", "backward_weight",
                                                 "backward"};
const char *const pp_gf_param_names[PP_GF_N] = {"gemm", "memory", "op_overhead_us", "attention"};
/* enum pp_xf_dtype order */
static const char *const dtype_names[3] = {"bf16", "fp16", "fp8"};

#define MAX_PROFILE_BYTES ((size_t)64 << 20)
/* Layers one fit takes: each is rebuilt by the generator at every evaluation. */
#define MAX_ROWS 20000
/* Sizes past this are typos, not shapes; pp_xf_check has the real limits. */
#define MAX_SIZE 1e12

enum col {
    C_LAYER, C_KIND, C_HIDDEN, C_HEADS, C_FFN, C_SEQ, C_MB, C_VOCAB, C_DTYPE, C_SPLIT, C_F, C_BI,
    C_BW, C_B, C_RANK, N_COLS
};
static const char *const col_names[N_COLS] = {
    "layer", "kind", "hidden", "heads", "ffn", "seq", "microbatch_size", "vocab", "dtype",
    "split_method", "forward_ms", "backward_input_ms", "backward_weight_ms", "backward_ms", "rank",
};

struct parser {
    const struct pp_csvtab *t;
    int col[N_COLS];
    int gpu_col; /* optional */
    struct pp_diag *d;
};

#define cell_error(p, code, row, c, ...)                                                     \
    pp_csvtab_cell_error((p)->t, (row), (size_t)(p)->col[c], (code), (p)->d, __VA_ARGS__)

static const char *cell(const struct parser *p, size_t row, int c)
{
    return pp_csvtab_cell(p->t, row, (size_t)p->col[c]);
}

static int get_num(const struct parser *p, size_t row, int c, double *out)
{
    if (pp_parse_decimal(cell(p, row, c), out) == 0)
        return 0;
    return cell_error(p, PP_EPARSE, row, c, "expected a number, got '%s'", cell(p, row, c));
}

static int get_int(const struct parser *p, size_t row, int c, double lo, int64_t *out)
{
    double v;
    int rc = get_num(p, row, c, &v);
    if (rc)
        return rc;
    if (v != floor(v))
        return cell_error(p, PP_EPARSE, row, c, "expected an integer, got '%s'", cell(p, row, c));
    if (v < lo)
        return cell_error(p, PP_EPARSE, row, c, "must be >= %.0f, got '%s'", lo, cell(p, row, c));
    if (v > MAX_SIZE)
        return cell_error(p, PP_ENOMEM, row, c, "more than the limit of %.0f, got '%s'", MAX_SIZE,
                          cell(p, row, c));
    *out = (int64_t)v;
    return 0;
}

/* A time in ms: > 0, or >= 0 where `zero_ok` (a split part PyTorch skips). */
static int get_time(const struct parser *p, size_t row, int c, int zero_ok, double *out)
{
    int rc = get_num(p, row, c, out);
    if (rc)
        return rc;
    if (zero_ok ? *out < 0 : !(*out > 0))
        return cell_error(p, PP_EPARSE, row, c, "must be %s ms, got '%s'", zero_ok ? ">= 0" : "> 0",
                          cell(p, row, c));
    return 0;
}

/* The index of the cell's word in `words` (n of them), or a refusal with a
 * "did you mean". */
static int get_word(const struct parser *p, size_t row, int c, const char *what,
                    const char *const *words, int n, int *out)
{
    const char *s = cell(p, row, c);
    const char *list[8] = {0};
    for (int i = 0; i < n && i < 7; i++) {
        list[i] = words[i];
        if (strcmp(s, words[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    const char *sug = pp_suggest(s, list);
    char known[200] = "";
    size_t m = 0;
    for (int i = 0; i < n && m < sizeof known; i++)
        m += (size_t)snprintf(known + m, sizeof known - m, "%s%s", i ? ", " : "", words[i]);
    if (sug)
        return cell_error(p, PP_EPARSE, row, c, "unknown %s '%s' (did you mean '%s'?)", what, s,
                          sug);
    return cell_error(p, PP_EPARSE, row, c, "unknown %s '%s' (known: %s)", what, s, known);
}

/* The shape and times of one row. */
static int read_row(const struct parser *p, size_t row, int in_fit, struct pp_gf_row *r)
{
    memset(r, 0, sizeof *r);
    int64_t v[6];
    static const int size_cols[6] = {C_HIDDEN, C_HEADS, C_FFN, C_SEQ, C_MB, C_VOCAB};
    int rc = 0, kind = 0, dtype = 0, method = 0;
    for (int i = 0; i < 6 && rc == 0; i++)
        rc = get_int(p, row, size_cols[i], 1, &v[i]);
    int64_t rank = 0;
    if (rc == 0)
        rc = get_int(p, row, C_RANK, 0, &rank);
    if (rc == 0 && v[0] % v[1])
        rc = cell_error(p, PP_EINVAL, row, C_HEADS,
                        "%lld heads do not divide hidden %lld (the head size would be %.4g)",
                        (long long)v[1], (long long)v[0], (double)v[0] / (double)v[1]);
    if (rc == 0)
        rc = get_word(p, row, C_KIND, "layer kind", pp_gf_kind_names, 3, &kind);
    if (rc == 0) {
        const char *dt = cell(p, row, C_DTYPE);
        for (dtype = 0; dtype < 3 && strcmp(dt, dtype_names[dtype]); dtype++)
            ;
        if (dtype == 3)
            rc = cell_error(p, PP_EPARSE, row, C_DTYPE,
                            "'%s' is not a dtype the generator models (bf16, fp16, fp8)", dt);
    }
    if (rc == 0)
        rc = get_word(p, row, C_SPLIT, "split method", pp_gf_method_names, 2, &method);
    for (int o = 0; o < PP_GF_NOBS && rc == 0; o++)
        rc = get_time(p, row, C_F + o, o == PP_GF_BI || o == PP_GF_BW, &r->meas_ms[o]);
    if (rc)
        return rc;
    const struct pp_csvpos *at = &p->t->pos[row * p->t->n_cols];
    r->file = pp_xstrdup(p->t->file);
    r->line = at->line;
    r->layer = pp_xstrdup(cell(p, row, C_LAYER));
    r->kind = (enum pp_gf_kind)kind;
    r->rank = (long)rank;
    r->gpu_name = pp_xstrdup(p->gpu_col >= 0 ? pp_csvtab_cell(p->t, row, (size_t)p->gpu_col) : "");
    r->method = (enum pp_gf_method)method;
    r->in_fit = in_fit;
    /* The harness's model (tools/gpu/blocks.py) on one GPU: causal SDPA (flash
     * attention on Hopper in 16 bits), no TP, bf16 gradients written by
     * autograd (not accumulated into fp32 main grads). */
    struct pp_xf_shape *s = &r->shape;
    s->hidden = v[0];
    s->heads = s->kv_heads = v[1];
    s->ffn = v[2];
    s->seq = v[3];
    s->microbatch = v[4];
    s->vocab = v[5];
    s->layers = 1;
    s->tp = 1;
    s->dtype = (enum pp_xf_dtype)dtype;
    s->flash_attention = 1;
    s->causal = 1;
    s->recompute = PP_XF_RECOMPUTE_NONE;
    return 0;
}

static void row_free(struct pp_gf_row *r)
{
    free(r->file);
    free(r->layer);
    free(r->gpu_name);
}

void pp_gf_data_free(struct pp_gf_data *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        row_free(&g->rows[i]);
    free(g->rows);
    g->rows = NULL;
    g->n = 0;
}

/* Rows ordered by (rank, layer, method, position in the file): each layer's
 * candidates side by side, in linear-logarithmic time however long the file.
 * The rows sit in one array in file order, so their addresses break ties. */
static int cmp_rows(const void *a, const void *b)
{
    const struct pp_gf_row *x = *(const struct pp_gf_row *const *)a;
    const struct pp_gf_row *y = *(const struct pp_gf_row *const *)b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    int c = strcmp(x->layer, y->layer);
    if (c)
        return c;
    if (x->method != y->method)
        return (int)x->method - (int)y->method;
    return (x > y) - (x < y);
}

/* Line and column of header field `idx` (the header is the first non-blank
 * line after an optional byte-order mark; fields may be quoted). */
static void header_pos(const char *buf, size_t len, size_t idx, unsigned *line, unsigned *col)
{
    size_t i = 0;
    unsigned ln = 1;
    if (len >= 3 && (unsigned char)buf[0] == 0xef && (unsigned char)buf[1] == 0xbb &&
        (unsigned char)buf[2] == 0xbf)
        i = 3;
    while (i < len && (buf[i] == '\n' || buf[i] == '\r')) {
        ln += buf[i] == '\n';
        i++;
    }
    size_t start = i, field = 0;
    int quoted = 0;
    for (; i < len && field < idx; i++) {
        if (buf[i] == '"')
            quoted = !quoted;
        else if (!quoted && buf[i] == ',')
            field++;
        else if (!quoted && (buf[i] == '\n' || buf[i] == '\r'))
            break;
    }
    size_t line_start = start;
    for (size_t k = start; k < i; k++)
        if (buf[k] == '\n') {
            ln++;
            line_start = k + 1;
        }
    *line = ln;
    *col = (unsigned)(i - line_start + 1);
}

/* "file:line:col: no column 'X' (did you mean 'Y'?)" at the misspelt header
 * field, or at the header's first field. */
static int missing_column(const struct pp_csvtab *t, const char *buf, size_t len,
                          const char *name, struct pp_diag *d)
{
    const char **names = pp_xcalloc(t->n_cols + 1, sizeof *names);
    for (size_t i = 0; i < t->n_cols; i++)
        names[i] = t->header[i];
    const char *s = pp_suggest(name, names);
    size_t at = 0;
    for (size_t i = 0; s && i < t->n_cols; i++)
        if (names[i] == s)
            at = i;
    free(names);
    unsigned line, col;
    header_pos(buf, len, at, &line, &col);
    if (s)
        return pp_diag_set(d, PP_EINVAL, t->file, line, col,
                           "no column '%s' (did you mean '%s'?); the profile CSV of "
                           "tools/gpu/profile.py has it",
                           name, s);
    return pp_diag_set(d, PP_EINVAL, t->file, line, col,
                       "no column '%s'; the profile CSV of tools/gpu/profile.py has it (columns "
                       "in tools/gpu/README.md)",
                       name);
}

int pp_gf_parse(const char *buf, size_t len, const char *file, enum pp_gf_method method,
                int in_fit, struct pp_gf_data *into, struct pp_diag *d)
{
    struct pp_csvtab *t;
    int rc = pp_csvtab_parse(buf, len, file, &t, d);
    if (rc)
        return rc;
    struct parser p = {t, {0}, pp_csvtab_col(t, "gpu_name"), d};
    for (int c = 0; c < N_COLS && rc == 0; c++) {
        p.col[c] = pp_csvtab_col(t, col_names[c]);
        if (p.col[c] < 0)
            rc = missing_column(t, buf, len, col_names[c], d);
    }
    if (rc == 0 && t->n_rows == 0)
        rc = pp_diag_set(d, PP_EINVAL, file, 0, 0, "no layers: the CSV has a header but no rows");
    if (rc == 0 && t->n_rows + into->n > 2 * (size_t)MAX_ROWS)
        rc = pp_diag_set(d, PP_ENOMEM, file, 0, 0, "more than %d rows in the fit's inputs",
                         2 * MAX_ROWS);
    struct pp_gf_row *rows = pp_xcalloc(t->n_rows ? t->n_rows : 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < t->n_rows; i++, n++)
        rc = read_row(&p, i, in_fit, &rows[i]);
    struct pp_gf_row **ord = pp_xcalloc(n ? n : 1, sizeof *ord);
    char *keep = pp_xcalloc(n ? n : 1, 1);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            ord[i] = &rows[i];
        qsort(ord, n, sizeof *ord, cmp_rows);
        /* One row per (rank, layer): the requested split, else the other. */
        for (size_t i = 0; rc == 0 && i < n;) {
            size_t j = i;
            while (j < n && ord[j]->rank == ord[i]->rank &&
                   strcmp(ord[j]->layer, ord[i]->layer) == 0)
                j++;
            struct pp_gf_row *pick = NULL;
            for (size_t k = i; k < j; k++) {
                struct pp_gf_row *r = ord[k];
                if (k > i && r->method == ord[k - 1]->method) {
                    rc = cell_error(&p, PP_EINVAL, (size_t)(r - rows), C_SPLIT,
                                    "layer '%s' of rank %ld is timed with '%s' twice (also on line "
                                    "%u)",
                                    r->layer, r->rank, pp_gf_method_names[r->method],
                                    ord[k - 1]->line);
                    break;
                }
                if (r->method == method || !pick)
                    pick = r;
            }
            if (rc == 0) {
                keep[pick - rows] = 1;
                pick->fallback = pick->method != method;
            }
            i = j;
        }
    }
    if (rc == 0) {
        size_t add = 0;
        for (size_t i = 0; i < n; i++)
            add += keep[i];
        into->rows = pp_xrealloc(into->rows, (into->n + add) * sizeof *into->rows);
        for (size_t i = 0; i < n; i++) {
            if (keep[i])
                into->rows[into->n++] = rows[i];
            else
                row_free(&rows[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            row_free(&rows[i]);
    }
    free(ord);
    free(keep);
    free(rows);
    pp_csvtab_free(t);
    return rc;
}

int pp_gf_load(const char *path, enum pp_gf_method method, int in_fit, struct pp_gf_data *into,
               struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_PROFILE_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_gf_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, method, in_fit, into, d);
    free(buf);
    return rc;
}

int pp_gf_obs_used(const struct pp_gf_row *r, int obs)
{
    return r->meas_ms[obs] > 0;
}

int pp_gf_predict(const struct pp_gf_row *r, const struct pp_gpu *gpu,
                  const struct pp_gpu_eff *eff, double out[PP_GF_NOBS], struct pp_diag *d)
{
    struct pp_xf_model m;
    struct pp_diag why = {{0}, 0, 0, {0}};
    int rc = pp_xf_build(&r->shape, gpu, eff, &m, &why);
    if (rc)
        return pp_diag_set(d, -rc, r->file, r->line, 0,
                           "layer '%s': the generator refuses this shape: %s", r->layer, why.msg);
    const struct pp_xf_layer *L = r->kind == PP_GF_EMBED ? &m.embed
                                  : r->kind == PP_GF_BLOCK ? &m.block
                                                           : &m.head;
    double bi = L->pass_ms[PP_XF_BI], bw = L->pass_ms[PP_XF_BW];
    out[PP_GF_F] = L->pass_ms[PP_XF_F];
    out[PP_GF_B] = bi + bw;
    /* No input gradient measured: PyTorch ran the whole backward as W. */
    out[PP_GF_BI] = r->meas_ms[PP_GF_BI] > 0 ? bi : 0;
    out[PP_GF_BW] = r->meas_ms[PP_GF_BI] > 0 ? bw : bi + bw;
    pp_xf_free(&m);
    return 0;
}

/* ---- the calibrated catalogue entry ---- */

static void yq(struct pp_buf *b, const char *s)
{
    pp_buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            pp_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            pp_buf_printf(b, "\\x%02x", c);
        else
            pp_buf_append(b, s, 1);
    }
    pp_buf_puts(b, "\"");
}

/* The source recorded for `key` ("key: source" lines of the entry). */
static const char *source_of(const struct pp_gpu *g, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < g->n_sources; i++)
        if (strncmp(g->sources[i], key, n) == 0 && g->sources[i][n] == ':' &&
            g->sources[i][n + 1] == ' ')
            return g->sources[i] + n + 2;
    return "copied from the GPU catalogue";
}

/* A copied datasheet number: 15 significant digits give back the value the
 * catalogue was read from, so the product with the unit scale is the same. */
static void copied(struct pp_buf *b, const struct pp_gpu *g, const char *key, double v)
{
    pp_buf_printf(b, "    %s: {value: %.15g, source: ", key, v);
    yq(b, source_of(g, key));
    pp_buf_puts(b, "}\n");
}

static double eff_get(const struct pp_gpu_eff *e, int i)
{
    const double v[PP_GPU_EFF_N] = {e->gemm,      e->memory,
                                    e->collective, e->network,
                                    e->attention,  e->collective_latency_us,
                                    e->op_overhead_us};
    return v[i];
}

static int fitted_index(const char *key)
{
    for (int q = 0; q < PP_GF_N; q++)
        if (strcmp(pp_gf_param_names[q], key) == 0)
            return q;
    return -1;
}

void pp_gf_write_catalogue(struct pp_buf *b, const struct pp_gpu *gpu, const char *name,
                           const struct pp_gf_result *r, const char *const *files,
                           const char *header)
{
    for (const char *s = header; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        pp_buf_puts(b, "# ");
        pp_buf_append(b, s, n);
        pp_buf_puts(b, "\n");
        s += n + (e != NULL);
    }
    struct pp_buf from;
    pp_buf_init(&from);
    for (size_t i = 0; files && files[i]; i++)
        pp_buf_printf(&from, "%s%s", i ? ", " : "", files[i]);
    pp_buf_puts(b, "gpus:\n  - name: ");
    yq(b, name);
    pp_buf_puts(b, "\n    description: ");
    struct pp_buf desc;
    pp_buf_init(&desc);
    pp_buf_printf(&desc, "%s; efficiency factors calibrated by ppsim calibrate generator",
                  gpu->description ? gpu->description : gpu->name);
    yq(b, desc.data);
    pp_buf_puts(b, "\n");
    pp_buf_free(&desc);
    copied(b, gpu, "bf16_tflops", gpu->bf16_flops / 1e12);
    copied(b, gpu, "fp16_tflops", gpu->fp16_flops / 1e12);
    if (gpu->fp8_flops > 0)
        copied(b, gpu, "fp8_tflops", gpu->fp8_flops / 1e12);
    copied(b, gpu, "hbm_capacity_gib", gpu->hbm_bytes / 1073741824.0);
    copied(b, gpu, "hbm_bandwidth_gb_per_s", gpu->hbm_bytes_per_s / 1e9);
    copied(b, gpu, "scaleup_bandwidth_gb_per_s", gpu->scaleup_bytes_per_s / 1e9);
    copied(b, gpu, "scaleup_gpus", gpu->scaleup_gpus);
    copied(b, gpu, "network_bandwidth_gb_per_s", gpu->network_bytes_per_s / 1e9);
    copied(b, gpu, "sm_count", gpu->sm_count);
    pp_buf_puts(b, "    efficiency:\n");
    for (int i = 0; i < PP_GPU_EFF_N; i++) {
        const char *key = pp_gpu_eff_keys[i];
        int q = fitted_index(key);
        pp_buf_printf(b, "      %s: {value: ", key);
        pp_buf_double(b, eff_get(&r->eff, i));
        pp_buf_puts(b, ", source: ");
        struct pp_buf src;
        pp_buf_init(&src);
        char skey[64];
        snprintf(skey, sizeof skey, "efficiency.%s", key);
        if (q >= 0 && r->status[q] == PP_GF_FITTED)
            pp_buf_printf(&src, "fitted by ppsim calibrate generator from %s: %.4g +- %.2g "
                                "(1-sigma), %zu measured layer times, RMS relative residual %.2f%%",
                          from.data ? from.data : "", r->value[q], r->sigma[q], r->n_res,
                          r->rms_rel * 100);
        else if (q >= 0 && r->status[q] == PP_GF_PINNED)
            pp_buf_printf(&src, "pinned at its bound by ppsim calibrate generator from %s (%s)",
                          from.data ? from.data : "", r->why[q]);
        else if (q >= 0)
            pp_buf_printf(&src, "%s [not fitted by ppsim calibrate generator: %s]",
                          source_of(gpu, skey), r->why[q]);
        else
            pp_buf_printf(&src, "%s [not fitted by ppsim calibrate generator: no collective "
                                "or network transfer in one-GPU layer timings]",
                          source_of(gpu, skey));
        yq(b, src.data);
        pp_buf_free(&src);
        pp_buf_puts(b, "}\n");
    }
    pp_buf_free(&from);
}
