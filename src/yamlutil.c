/* yamlutil.c - libyaml events -> located node tree, and strict scalar getters.
 * See yamlutil.h for what is refused and why. */
#include "yamlutil.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "buf.h"
#include "diag.h"
#include "nameset.h"
#include "xalloc.h"

#define MAX_FILE_BYTES ((size_t)256 << 20)

static void node_free(struct pp_ynode *n)
{
    if (!n)
        return;
    size_t kids = n->kind == PP_Y_MAP ? 2 * n->n : n->n;
    for (size_t i = 0; i < kids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

void pp_ydoc_free(struct pp_ydoc *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    for (size_t i = 0; i < doc->n_extra; i++)
        free(doc->extra_files[i]);
    free(doc->extra_files);
    free(doc->file);
    free(doc);
}

/* libyaml counts columns in characters, after the byte-order mark; its reader
 * errors carry only a byte offset. */
static void offset_to_linecol(const char *buf, size_t len, size_t off, unsigned *line,
                              unsigned *col)
{
    unsigned l = 1, c = 1;
    size_t i = len >= 3 && off >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    for (; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* libyaml ends a stream without a final newline on a line of its own; a
 * position past the text is reported where the text ends. */
static void clamp_mark(const char *buf, size_t len, size_t *line, size_t *col)
{
    unsigned el, ec;
    offset_to_linecol(buf, len, len, &el, &ec);
    if (*line > el || (*line == el && *col > ec)) {
        *line = el;
        *col = ec;
    }
}

static int reader_error(yaml_parser_t *p, const char *buf, size_t len, const char *file,
                        struct pp_diag *d)
{
    unsigned line, col;
    const char *problem = p->problem ? p->problem : "unreadable text";
    size_t off = p->problem_offset;
    int v = p->problem_value;
    if (strcmp(problem, "invalid trailing UTF-8 octet") == 0 && off > 0 && off < len) {
        /* libyaml names the octet that breaks the sequence; the sequence (often
         * one Latin-1 letter) starts earlier, and that is where to look. */
        size_t lead = off - 1;
        while (lead > 0 && ((unsigned char)buf[lead] & 0xC0) == 0x80)
            lead--;
        offset_to_linecol(buf, len, lead, &line, &col);
        return pp_diag_set(d, PP_EPARSE, file, line, col,
                           "not valid UTF-8 text: invalid trailing UTF-8 octet: byte 0x%02x "
                           "is followed by 0x%02x (save the file as UTF-8)",
                           (unsigned)(unsigned char)buf[lead], (unsigned)(unsigned char)buf[off]);
    }
    offset_to_linecol(buf, len, off, &line, &col);
    if (v == -1 && off < len)
        v = (unsigned char)buf[off];
    if (v == -1)
        return pp_diag_set(d, PP_EPARSE, file, line, col, "not valid UTF-8 text: %s", problem);
    /* Past ASCII, libyaml's value is a decoded code point, not a byte. */
    int decoded = strcmp(problem, "invalid Unicode character") == 0 ||
                  strcmp(problem, "control characters are not allowed") == 0;
    if (decoded && v >= 0x80)
        return pp_diag_set(d, PP_EPARSE, file, line, col, "not valid UTF-8 text: %s (U+%04X)",
                           problem, (unsigned)v);
    return pp_diag_set(d, PP_EPARSE, file, line, col, "not valid UTF-8 text: %s (byte 0x%02x)",
                       problem, (unsigned)v & 0xFF);
}

static int parser_error(yaml_parser_t *p, const char *buf, size_t len, const char *file,
                        struct pp_diag *d)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR)
        return reader_error(p, buf, len, file, d);
    size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
    clamp_mark(buf, len, &line, &col);
    if (p->context) {
        size_t cl = p->context_mark.line + 1, cc = p->context_mark.column + 1;
        clamp_mark(buf, len, &cl, &cc);
        return pp_diag_set(d, PP_EPARSE, file, (unsigned)line, (unsigned)col,
                           "malformed YAML: %s (%s at line %zu, column %zu)", problem,
                           p->context, cl, cc);
    }
    return pp_diag_set(d, PP_EPARSE, file, (unsigned)line, (unsigned)col, "malformed YAML: %s",
                       problem);
}

struct builder {
    struct pp_ynode *stack[PP_YAML_MAX_DEPTH + 1];
    size_t cap[PP_YAML_MAX_DEPTH + 1];   /* allocated kid slots */
    size_t count[PP_YAML_MAX_DEPTH + 1]; /* filled kid slots (maps: keys and values) */
    struct pp_nameset keys[PP_YAML_MAX_DEPTH + 1]; /* open mappings' keys (nameset.h) */
    int depth;
    size_t nodes;
};

/* Key i of a mapping under construction: its pairs so far, keys scalars. */
static const char *pair_key(const void *map, size_t i)
{
    return ((const struct pp_ynode *)map)->kids[2 * i]->value;
}

/* Store n under the open collection. The node is reachable from the root even
 * when a check then fails, so the caller frees everything from the root. */
static int attach(struct builder *b, struct pp_ynode *n, const char *file, struct pp_diag *d)
{
    if (b->depth == 0)
        return 0;
    int top = b->depth - 1;
    struct pp_ynode *parent = b->stack[top];
    size_t idx = b->count[top];
    parent->kids = pp_xgrow(parent->kids, &b->cap[top], idx + 1, sizeof *parent->kids);
    parent->kids[idx] = n;
    b->count[top] = idx + 1;
    if (parent->kind == PP_Y_SEQ) {
        parent->n = idx + 1;
        return 0;
    }
    if (idx % 2 == 1)
        return 0;
    /* Count the pair as soon as its key arrives, with the value slot empty, so
     * that freeing after an error in the value (or in this key) frees the key. */
    parent->kids = pp_xgrow(parent->kids, &b->cap[top], idx + 2, sizeof *parent->kids);
    parent->kids[idx + 1] = NULL;
    parent->n = idx / 2 + 1;
    if (n->kind != PP_Y_SCALAR)
        return pp_diag_set(d, PP_EPARSE, file, n->line, n->col,
                           "mapping keys must be plain scalars");
    size_t first = pp_nameset_add(&b->keys[top], pair_key, parent, idx / 2);
    if (first != SIZE_MAX)
        return pp_diag_set(d, PP_EPARSE, file, n->line, n->col,
                           "duplicate key '%s' (first at line %u)", n->value,
                           parent->kids[2 * first]->line);
    return 0;
}

static struct pp_ynode *new_node(enum pp_ykind kind, const char *file, const yaml_mark_t *m)
{
    struct pp_ynode *n = pp_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->file = file;
    n->line = (unsigned)m->line + 1;
    n->col = (unsigned)m->column + 1;
    return n;
}

static int refuse_anchor_tag(const yaml_event_t *ev, const char *file, struct pp_diag *d)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    int implicit = 1;
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        implicit = ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        implicit = ev->data.mapping_start.implicit;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        implicit = ev->data.sequence_start.implicit;
    }
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    if (anchor)
        return pp_diag_set(d, PP_EPARSE, file, line, col,
                           "YAML anchors and aliases are not supported (anchor '&%s')",
                           (const char *)anchor);
    if (tag && !implicit)
        return pp_diag_set(d, PP_EPARSE, file, line, col, "YAML tags are not supported (tag '%s')",
                           (const char *)tag);
    return 0;
}

static int build(yaml_parser_t *p, const char *buf, size_t len, const char *file,
                 struct pp_ynode **root, struct pp_diag *d)
{
    struct builder b;
    memset(&b, 0, sizeof b);
    yaml_event_t ev;
    int docs = 0, rc = 0, done = 0;
    struct pp_ynode *top = NULL;

    while (!done) {
        if (!yaml_parser_parse(p, &ev)) {
            rc = parser_error(p, buf, len, file, d);
            break;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1;
        unsigned col = (unsigned)ev.start_mark.column + 1;
        struct pp_ynode *n = NULL;
        rc = refuse_anchor_tag(&ev, file, d);
        if (rc == 0) {
            switch (ev.type) {
            case YAML_STREAM_END_EVENT:
                done = 1;
                break;
            case YAML_DOCUMENT_START_EVENT:
                if (++docs > 1)
                    rc = pp_diag_set(d, PP_EPARSE, file, line, col,
                                     "expected a single YAML document, found a second one");
                break;
            case YAML_ALIAS_EVENT:
                rc = pp_diag_set(d, PP_EPARSE, file, line, col,
                                 "YAML anchors and aliases are not supported (alias '*%s')",
                                 (const char *)ev.data.alias.anchor);
                break;
            case YAML_SCALAR_EVENT:
                n = new_node(PP_Y_SCALAR, file, &ev.start_mark);
                n->value = pp_xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
                n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
                break;
            case YAML_MAPPING_START_EVENT:
            case YAML_SEQUENCE_START_EVENT:
                n = new_node(ev.type == YAML_MAPPING_START_EVENT ? PP_Y_MAP : PP_Y_SEQ, file,
                             &ev.start_mark);
                break;
            case YAML_MAPPING_END_EVENT:
            case YAML_SEQUENCE_END_EVENT:
                if (b.depth > 0)
                    pp_nameset_free(&b.keys[--b.depth]);
                break;
            default:
                break;
            }
        }
        yaml_event_delete(&ev);
        if (rc == 0 && n) {
            if (++b.nodes > PP_YAML_MAX_NODES) {
                rc = pp_diag_set(d, PP_ENOMEM, file, line, col,
                                 "document has more than %u nodes", PP_YAML_MAX_NODES);
                node_free(n);
                n = NULL;
            } else {
                if (!top)
                    top = n;
                rc = attach(&b, n, file, d);
            }
            if (rc == 0 && n && n->kind != PP_Y_SCALAR) {
                if (b.depth >= PP_YAML_MAX_DEPTH) {
                    /* No ppsim file nests this deep: malformed input (exit 1),
                     * not a size ppsim could take on with more memory. */
                    rc = pp_diag_set(d, PP_EPARSE, file, line, col,
                                     "document is nested more than %d levels deep",
                                     PP_YAML_MAX_DEPTH);
                } else {
                    b.stack[b.depth] = n;
                    b.cap[b.depth] = b.count[b.depth] = 0;
                    pp_nameset_free(&b.keys[b.depth]);
                    b.depth++;
                }
            }
        }
        if (rc)
            break;
    }
    for (int k = 0; k <= PP_YAML_MAX_DEPTH; k++)
        pp_nameset_free(&b.keys[k]);
    if (rc) {
        node_free(top);
        return rc;
    }
    *root = top;
    return 0;
}

int pp_ydoc_parse(const char *buf, size_t len, const char *file, struct pp_ydoc **out,
                  struct pp_diag *d)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return pp_diag_set(d, PP_ENOMEM, file, 0, 0, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    struct pp_ydoc *doc = pp_xcalloc(1, sizeof *doc);
    doc->file = pp_xstrdup(file);
    int rc = build(&p, buf, len, doc->file, &doc->root, d);
    yaml_parser_delete(&p);
    if (rc) {
        pp_ydoc_free(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int pp_ydoc_load(const char *path, struct pp_ydoc **out, struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_FILE_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_ydoc_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, out, d);
    free(buf);
    return rc;
}

/* Override nodes have no line: positions inside VALUE would read as positions
 * in a file called "--set KEY=VALUE". */
static void retarget_file(struct pp_ynode *n, const char *file)
{
    n->file = file;
    n->line = n->col = 0;
    size_t kids = n->kind == PP_Y_MAP ? 2 * n->n : n->n;
    for (size_t i = 0; i < kids; i++)
        retarget_file(n->kids[i], file);
}

int pp_ydoc_set(struct pp_ydoc *doc, const char *assignment, struct pp_diag *d)
{
    const char *eq = strchr(assignment, '=');
    char label[300];
    snprintf(label, sizeof label, "--set %s", assignment);
    if (!eq || eq == assignment)
        return pp_diag_set(d, PP_EPARSE, label, 0, 0, "expected KEY.PATH=VALUE");
    for (const char *c = assignment; c < eq; c++)
        if (*c == '.' && (c == assignment || c + 1 == eq || c[1] == '.'))
            return pp_diag_set(d, PP_EPARSE, label, 0, 0, "empty component in key path '%.*s'",
                               (int)(eq - assignment), assignment);

    struct pp_ydoc *val;
    int rc = pp_ydoc_parse(eq + 1, strlen(eq + 1), label, &val, d);
    if (rc)
        return rc;
    if (!val->root) { /* "key=" : an empty value, kept as an empty plain scalar */
        yaml_mark_t m = {0, 0, 0};
        val->root = new_node(PP_Y_SCALAR, label, &m);
        val->root->value = pp_xstrdup("");
    }
    doc->extra_files = pp_xrealloc(doc->extra_files, (doc->n_extra + 1) * sizeof(char *));
    char *owned = pp_xstrdup(label);
    doc->extra_files[doc->n_extra++] = owned;
    struct pp_ynode *newval = val->root;
    val->root = NULL;
    pp_ydoc_free(val);
    retarget_file(newval, owned);

    if (!doc->root) {
        yaml_mark_t m = {0, 0, 0};
        doc->root = new_node(PP_Y_MAP, owned, &m);
    }
    struct pp_ynode *cur = doc->root;
    const char *comp = assignment;
    for (;;) {
        const char *dot = memchr(comp, '.', (size_t)(eq - comp));
        const char *end = dot ? dot : eq;
        size_t klen = (size_t)(end - comp);
        if (cur->kind != PP_Y_MAP) {
            node_free(newval);
            if (comp == assignment)
                return pp_diag_set(d, PP_EPARSE, label, 0, 0,
                                   "the document's top level is not a mapping");
            return pp_diag_set(d, PP_EPARSE, label, 0, 0, "'%.*s' is not a mapping",
                               (int)(comp - assignment - 1), assignment);
        }
        struct pp_ynode **slot = NULL;
        for (size_t i = 0; i < cur->n; i++)
            if (strlen(cur->kids[2 * i]->value) == klen &&
                memcmp(cur->kids[2 * i]->value, comp, klen) == 0)
                slot = &cur->kids[2 * i + 1];
        if (!slot) {
            yaml_mark_t m = {0, 0, 0};
            struct pp_ynode *k = new_node(PP_Y_SCALAR, owned, &m);
            k->value = pp_xstrndup(comp, klen);
            k->line = k->col = 0;
            cur->kids = pp_xrealloc(cur->kids, (2 * cur->n + 2) * sizeof *cur->kids);
            cur->kids[2 * cur->n] = k;
            cur->kids[2 * cur->n + 1] = NULL;
            slot = &cur->kids[2 * cur->n + 1];
            cur->n++;
            if (dot) {
                *slot = new_node(PP_Y_MAP, owned, &m);
                (*slot)->line = (*slot)->col = 0;
            }
        }
        if (!dot) {
            node_free(*slot);
            *slot = newval;
            return 0;
        }
        cur = *slot;
        comp = dot + 1;
    }
}

const struct pp_ynode *pp_ymap_get(const struct pp_ynode *m, const char *key)
{
    if (!m || m->kind != PP_Y_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->kids[2 * i]->value, key) == 0)
            return m->kids[2 * i + 1];
    return NULL;
}

static const char *kind_name(const struct pp_ynode *n)
{
    switch (n->kind) {
    case PP_Y_SCALAR: /* "key:" and nothing after it, often a truncated file */
        return n->value[0] || n->quoted ? "a scalar" : "an empty value";
    case PP_Y_MAP: return "a mapping";
    case PP_Y_SEQ: return "a list";
    }
    return "?";
}

int pp_ynode_error(const struct pp_ynode *n, int code, const char *path, struct pp_diag *d,
                   const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        return pp_diag_set(d, code, n->file, n->line, n->col, "%s: %s", path, msg);
    return pp_diag_set(d, code, n->file, n->line, n->col, "%s", msg);
}

int pp_ymap_check(const struct pp_ynode *m, const char *path, const char *const *allowed,
                  struct pp_diag *d)
{
    if (m->kind != PP_Y_MAP)
        return pp_ynode_error(m, PP_EPARSE, path, d, "expected a mapping, got %s", kind_name(m));
    for (size_t i = 0; i < m->n; i++) {
        const struct pp_ynode *k = m->kids[2 * i];
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k->value) == 0)
                known = 1;
        if (known)
            continue;
        const char *s = pp_suggest(k->value, allowed);
        char full[300];
        snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", k->value);
        if (s)
            return pp_diag_set(d, PP_EPARSE, k->file, k->line, k->col,
                               "unknown key '%s' (did you mean '%s'?)", full, s);
        return pp_diag_set(d, PP_EPARSE, k->file, k->line, k->col, "unknown key '%s'", full);
    }
    return 0;
}

int pp_parse_decimal(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits)
        return 1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return 1;
    errno = 0;
    double v = strtod(s, NULL);
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
        return 2;
    *out = v;
    return 0;
}

int pp_ynum(const struct pp_ynode *n, const char *path, double *out, struct pp_diag *d)
{
    if (n->kind != PP_Y_SCALAR)
        return pp_ynode_error(n, PP_EPARSE, path, d, "expected a number, got %s", kind_name(n));
    if (n->quoted)
        return pp_ynode_error(n, PP_EPARSE, path, d, "expected a number, got the string \"%s\"",
                              n->value);
    int r = pp_parse_decimal(n->value, out);
    if (r == 2)
        return pp_ynode_error(n, PP_EPARSE, path, d, "number '%s' is out of range", n->value);
    if (r)
        return pp_ynode_error(n, PP_EPARSE, path, d, "expected a decimal number, got '%s'",
                              n->value);
    return 0;
}

int pp_ynum_nonneg(const struct pp_ynode *n, const char *path, double *out, struct pp_diag *d)
{
    int rc = pp_ynum(n, path, out, d);
    if (rc)
        return rc;
    if (*out < 0)
        return pp_ynode_error(n, PP_EPARSE, path, d, "must be >= 0, got '%s'", n->value);
    if (*out == 0)
        *out = 0; /* normalise -0 */
    return 0;
}

int pp_yint(const struct pp_ynode *n, const char *path, int64_t lo, int64_t hi, int64_t *out,
            struct pp_diag *d)
{
    double v;
    int rc = pp_ynum(n, path, &v, d);
    if (rc)
        return rc;
    if (v != floor(v))
        return pp_ynode_error(n, PP_EPARSE, path, d, "expected an integer, got '%s'", n->value);
    /* 0x1p63 is the first double past INT64_MAX, which (double)hi rounds up to. */
    if (v < (double)lo || v > (double)hi || v >= 0x1p63) {
        if (lo == 1 && v < 1)
            return pp_ynode_error(n, PP_EPARSE, path, d, "must be >= 1, got '%s'", n->value);
        return pp_ynode_error(n, PP_EPARSE, path, d,
                              "must be between %lld and %lld, got '%s'", (long long)lo,
                              (long long)hi, n->value);
    }
    *out = (int64_t)v;
    return 0;
}

int pp_ycount(const struct pp_ynode *n, const char *path, int64_t lo, int64_t hi, int64_t *out,
              struct pp_diag *d)
{
    double v;
    if (n->kind == PP_Y_SCALAR && !n->quoted && pp_parse_decimal(n->value, &v) == 0 &&
        v == floor(v) && v > (double)hi)
        return pp_ynode_error(n, PP_ENOMEM, path, d, "more than the limit of %lld, got '%s'",
                              (long long)hi, n->value);
    return pp_yint(n, path, lo, hi, out, d);
}

int pp_ystr(const struct pp_ynode *n, const char *path, const char **out, struct pp_diag *d)
{
    if (n->kind != PP_Y_SCALAR)
        return pp_ynode_error(n, PP_EPARSE, path, d, "expected a string, got %s", kind_name(n));
    if (!n->quoted && (n->value[0] == '\0' || strcmp(n->value, "~") == 0 ||
                       strcmp(n->value, "null") == 0))
        return pp_ynode_error(n, PP_EPARSE, path, d, "expected a string, got an empty value");
    *out = n->value;
    return 0;
}

int pp_ybool(const struct pp_ynode *n, const char *path, int *out, struct pp_diag *d)
{
    if (n->kind == PP_Y_SCALAR && !n->quoted) {
        if (strcmp(n->value, "true") == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(n->value, "false") == 0) {
            *out = 0;
            return 0;
        }
    }
    return pp_ynode_error(n, PP_EPARSE, path, d, "expected true or false, got '%s'",
                          n->kind == PP_Y_SCALAR ? n->value : kind_name(n));
}

size_t pp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 64;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *pp_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t limit = strlen(word) / 3 + 1;
    if (limit > 3)
        limit = 3;
    for (const char *const *c = candidates; *c; c++) {
        size_t dist = pp_edit_distance(word, *c);
        /* A prefix typo ("microbatch" for "microbatches") is also worth naming. */
        if (dist > limit && strncmp(word, *c, strlen(word)) == 0 && strlen(word) >= 4)
            dist = limit;
        if (dist <= limit && dist < best_d) {
            best = *c;
            best_d = dist;
        }
    }
    return best;
}
