/* csvtab.c - RFC 4180 reader (see csvtab.h for what is accepted). One pass
 * over the bytes; fields are copied out so the table owns its strings. */
#include "csvtab.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "nameset.h"
#include "xalloc.h"
#include "yamlutil.h"

#define MAX_CSV_BYTES ((size_t)256 << 20)

struct parser {
    const char *p, *end;
    unsigned line, col;
    const char *file;
    struct pp_diag *d;
};

/* Advance one byte, keeping line and character column (UTF-8 continuation
 * bytes do not start a column). */
static void step(struct parser *ps)
{
    unsigned char c = (unsigned char)*ps->p++;
    if (c == '\n') {
        ps->line++;
        ps->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        ps->col++;
    }
}

struct row {
    char **f;
    struct pp_csvpos *pos;
    size_t n, cap;
};

static void row_push(struct row *r, struct pp_buf *field, struct pp_csvpos at)
{
    size_t cap = r->cap;
    r->f = pp_xgrow(r->f, &r->cap, r->n + 1, sizeof *r->f);
    r->pos = pp_xgrow(r->pos, &cap, r->n + 1, sizeof *r->pos);
    r->f[r->n] = pp_xstrndup(field->data ? field->data : "", field->len);
    r->pos[r->n] = at;
    r->n++;
    field->len = 0;
}

static void row_clear(struct row *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

/* Read one record into r. *eof is set when no record was left. Blank lines
 * are skipped before the record. */
static int read_record(struct parser *ps, struct row *r, struct pp_buf *field, int *eof)
{
    row_clear(r);
    while (ps->p < ps->end && (*ps->p == '\n' || (*ps->p == '\r' && ps->p + 1 < ps->end &&
                                                    ps->p[1] == '\n')))
        step(ps);
    if (ps->p >= ps->end) {
        *eof = 1;
        return 0;
    }
    *eof = 0;
    for (;;) {
        struct pp_csvpos at = {ps->line, ps->col};
        field->len = 0;
        if (ps->p < ps->end && *ps->p == '"') {
            step(ps);
            for (;;) {
                if (ps->p >= ps->end)
                    return pp_diag_set(ps->d, PP_EPARSE, ps->file, at.line, at.col,
                                       "unterminated quoted field");
                if (*ps->p == '"') {
                    if (ps->p + 1 < ps->end && ps->p[1] == '"') {
                        pp_buf_append(field, "\"", 1);
                        step(ps);
                        step(ps);
                        continue;
                    }
                    step(ps);
                    break;
                }
                if (*ps->p == '\0')
                    return pp_diag_set(ps->d, PP_EPARSE, ps->file, ps->line, ps->col,
                                       "NUL byte in CSV text");
                pp_buf_append(field, ps->p, 1);
                step(ps);
            }
            if (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' &&
                !(*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n'))
                return pp_diag_set(ps->d, PP_EPARSE, ps->file, ps->line, ps->col,
                                   "unexpected text after a closing quote (quote the whole "
                                   "field and double inner quotes)");
        } else {
            while (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' &&
                   !(*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n')) {
                if (*ps->p == '"')
                    return pp_diag_set(ps->d, PP_EPARSE, ps->file, ps->line, ps->col,
                                       "quote inside an unquoted field (quote the whole "
                                       "field and double inner quotes)");
                if (*ps->p == '\0')
                    return pp_diag_set(ps->d, PP_EPARSE, ps->file, ps->line, ps->col,
                                       "NUL byte in CSV text");
                pp_buf_append(field, ps->p, 1);
                step(ps);
            }
        }
        row_push(r, field, at);
        if (ps->p >= ps->end)
            return 0;
        if (*ps->p == ',') {
            step(ps);
            continue;
        }
        if (*ps->p == '\r')
            step(ps);
        step(ps); /* '\n' */
        return 0;
    }
}

static const char *header_name(const void *ctx, size_t i)
{
    return ((const struct pp_csvtab *)ctx)->header[i];
}

int pp_csvtab_parse(const char *buf, size_t len, const char *file, struct pp_csvtab **out,
                    struct pp_diag *d)
{
    struct parser ps = {buf, buf + len, 1, 1, file, d};
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        ps.p += 3;
    struct pp_csvtab *t = pp_xcalloc(1, sizeof *t);
    t->file = pp_xstrdup(file);
    struct row r = {0};
    struct pp_buf field;
    pp_buf_init(&field);
    int eof, rc = read_record(&ps, &r, &field, &eof);
    if (rc == 0 && eof)
        rc = pp_diag_set(d, PP_EPARSE, file, 0, 0, "empty CSV: expected a header row");
    if (rc == 0) {
        t->n_cols = r.n;
        t->header = pp_xmalloc(r.n * sizeof *t->header);
        for (size_t i = 0; i < r.n; i++) {
            t->header[i] = r.f[i];
            r.f[i] = NULL;
        }
        struct pp_nameset names = {0};
        for (size_t i = 0; i < t->n_cols && rc == 0; i++) {
            size_t j;
            if (!t->header[i][0])
                rc = pp_diag_set(d, PP_EPARSE, file, r.pos[i].line, r.pos[i].col,
                                 "empty column name in the header (column %zu)", i + 1);
            else if ((j = pp_nameset_add(&names, header_name, t, i)) != SIZE_MAX)
                rc = pp_diag_set(d, PP_EPARSE, file, r.pos[i].line, r.pos[i].col,
                                 "duplicate column name '%s' (also column %zu)",
                                 t->header[i], j + 1);
        }
        pp_nameset_free(&names);
        r.n = 0;
    }
    size_t cap = 0, pcap = 0;
    while (rc == 0) {
        rc = read_record(&ps, &r, &field, &eof);
        if (rc || eof)
            break;
        unsigned line = r.pos[0].line;
        if (r.n != t->n_cols) {
            rc = pp_diag_set(d, PP_EPARSE, file, line, 1,
                             "row has %zu field%s, the header has %zu", r.n, r.n == 1 ? "" : "s",
                             t->n_cols);
            break;
        }
        size_t base = t->n_rows * t->n_cols;
        t->cells = pp_xgrow(t->cells, &cap, base + t->n_cols, sizeof *t->cells);
        t->pos = pp_xgrow(t->pos, &pcap, base + t->n_cols, sizeof *t->pos);
        for (size_t i = 0; i < r.n; i++) {
            t->cells[base + i] = r.f[i];
            t->pos[base + i] = r.pos[i];
        }
        r.n = 0;
        t->n_rows++;
    }
    row_clear(&r);
    free(r.f);
    free(r.pos);
    pp_buf_free(&field);
    if (rc) {
        pp_csvtab_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int pp_csvtab_load(const char *path, struct pp_csvtab **out, struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_CSV_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_csvtab_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, out, d);
    free(buf);
    return rc;
}

void pp_csvtab_free(struct pp_csvtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_cols; i++)
        free(t->header ? t->header[i] : NULL);
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->header);
    free(t->cells);
    free(t->pos);
    free(t->file);
    free(t);
}

int pp_csvtab_col(const struct pp_csvtab *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->header[i], name) == 0)
            return (int)i;
    return -1;
}

int pp_csvtab_need(const struct pp_csvtab *t, const char *name, const char *what,
                   struct pp_diag *d)
{
    int c = pp_csvtab_col(t, name);
    if (c >= 0)
        return c;
    const char **names = pp_xcalloc(t->n_cols + 1, sizeof *names);
    for (size_t i = 0; i < t->n_cols; i++)
        names[i] = t->header[i];
    const char *s = pp_suggest(name, names);
    char hint[300];
    if (s)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", s);
    else
        snprintf(hint, sizeof hint, " (the header has %zu columns: %s%s%s)", t->n_cols,
                 t->n_cols ? t->header[0] : "", t->n_cols > 1 ? ", ..., " : "",
                 t->n_cols > 1 ? t->header[t->n_cols - 1] : "");
    int rc = pp_diag_set(d, PP_EINVAL, t->file, 0, 0, "%s%sno column '%s'%s", what ? what : "",
                         what ? ": " : "", name, hint);
    free(names);
    return rc;
}

const char *pp_csvtab_cell(const struct pp_csvtab *t, size_t row, size_t col)
{
    return t->cells[row * t->n_cols + col];
}

int pp_csvtab_is_number(const struct pp_csvtab *t, size_t row, size_t col)
{
    double v;
    return pp_parse_decimal(pp_csvtab_cell(t, row, col), &v) == 0;
}

int pp_csvtab_number(const struct pp_csvtab *t, size_t row, size_t col, double *out,
                     struct pp_diag *d)
{
    const char *s = pp_csvtab_cell(t, row, col);
    if (pp_parse_decimal(s, out) == 0)
        return 0;
    const struct pp_csvpos *p = &t->pos[row * t->n_cols + col];
    return pp_diag_set(d, PP_EPARSE, t->file, p->line, p->col,
                       "column '%s': expected a number, got '%s'", t->header[col], s);
}

int pp_csvtab_cell_error(const struct pp_csvtab *t, size_t row, size_t col, int code,
                         struct pp_diag *d, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct pp_csvpos *at = &t->pos[row * t->n_cols + col];
    return pp_diag_set(d, code, t->file, at->line, at->col, "column '%s': %s", t->header[col], msg);
}
