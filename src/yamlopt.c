/* yamlopt.c - schema helpers shared by the scenario and its sections:
 * optional keys with defaults, required keys, word lists (yamlutil.h). */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "yamlutil.h"

/* The child at `key`, which must be a mapping when present; `required` reports
 * its absence at the parent. */
int pp_yget_map(const struct pp_ynode *parent, const char *key, const char *const *allowed,
                int required, const struct pp_ynode **out, struct pp_diag *d)
{
    *out = pp_ymap_get(parent, key);
    if (!*out) {
        if (required)
            return pp_ynode_error(parent, PP_EPARSE, "", d, "missing key '%s'", key);
        return 0;
    }
    return pp_ymap_check(*out, key, allowed, d);
}

int pp_yneed(const struct pp_ynode *map, const char *path, const char *key,
             const struct pp_ynode **out, struct pp_diag *d)
{
    *out = pp_ymap_get(map, key);
    if (!*out)
        return pp_ynode_error(map, PP_EPARSE, path, d, "missing key '%s'", key);
    return 0;
}

/* An optional number >= 0; `positive` also refuses 0 (the default stands for
 * "unlimited" or "infinite" there, so an explicit 0 is a mistake). */
int pp_yopt_num(const struct pp_ynode *map, const char *key, const char *path, int positive,
                double *out, struct pp_diag *d)
{
    const struct pp_ynode *v = pp_ymap_get(map, key);
    if (!v)
        return 0;
    int rc = pp_ynum_nonneg(v, path, out, d);
    if (rc == 0 && positive && *out == 0)
        return pp_ynode_error(v, PP_EPARSE, path, d, "must be > 0, got '%s'%s", v->value,
                              positive == 2 ? " (leave it out for no limit)" : "");
    return rc;
}

int pp_yopt_int(const struct pp_ynode *map, const char *key, const char *path, int64_t lo,
                int64_t hi, int64_t *out, struct pp_diag *d)
{
    const struct pp_ynode *v = pp_ymap_get(map, key);
    return v ? pp_yint(v, path, lo, hi, out, d) : 0;
}

int pp_yopt_count(const struct pp_ynode *map, const char *key, const char *path, int64_t lo,
                  int64_t hi, int64_t *out, struct pp_diag *d)
{
    const struct pp_ynode *v = pp_ymap_get(map, key);
    return v ? pp_ycount(v, path, lo, hi, out, d) : 0;
}

/* An optional word from `words` at map[key]; *out = its index (unchanged if
 * absent). */
int pp_yopt_word(const struct pp_ynode *map, const char *key, const char *path,
                 const char *const *words, int *out, struct pp_diag *d)
{
    const struct pp_ynode *v = pp_ymap_get(map, key);
    if (!v)
        return 0;
    const char *w;
    int rc = pp_ystr(v, path, &w, d);
    if (rc)
        return rc;
    for (int i = 0; words[i]; i++)
        if (strcmp(words[i], w) == 0) {
            *out = i;
            return 0;
        }
    char known[200] = "", hint[80] = "";
    size_t m = 0;
    for (int i = 0; words[i] && m < sizeof known; i++)
        m += (size_t)snprintf(known + m, sizeof known - m, "%s%s", i ? ", " : "", words[i]);
    const char *sug = pp_suggest(w, words);
    if (sug)
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", sug);
    return pp_ynode_error(v, PP_EPARSE, path, d, "expected one of %s, got '%s'%s", known, w, hint);
}

/* A scalar is a JSON number when it reads as a decimal number and was not
 * quoted, true/false when it is one, else a string. */
void pp_ynode_json(struct pp_buf *b, const struct pp_ynode *n)
{
    double x;
    if (!n) {
        pp_buf_puts(b, "null");
        return;
    }
    switch (n->kind) {
    case PP_Y_SCALAR:
        if (!n->quoted && pp_parse_decimal(n->value, &x) == 0)
            pp_buf_double(b, x);
        else if (!n->quoted && (strcmp(n->value, "true") == 0 || strcmp(n->value, "false") == 0))
            pp_buf_puts(b, n->value);
        else
            pp_buf_json_str(b, n->value);
        break;
    case PP_Y_SEQ:
        pp_buf_puts(b, "[");
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                pp_buf_puts(b, ", ");
            pp_ynode_json(b, n->kids[i]);
        }
        pp_buf_puts(b, "]");
        break;
    case PP_Y_MAP:
        pp_buf_puts(b, "{");
        for (size_t i = 0; i < n->n; i++) {
            if (i)
                pp_buf_puts(b, ", ");
            pp_buf_json_str(b, n->kids[2 * i]->value ? n->kids[2 * i]->value : "");
            pp_buf_puts(b, ": ");
            pp_ynode_json(b, n->kids[2 * i + 1]);
        }
        pp_buf_puts(b, "}");
        break;
    }
}
