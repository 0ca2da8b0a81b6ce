/* pdgraph.c - PipeDream's profile format (graph.txt): reader and writer.
 *
 * Grammar and pre-processing follow msr-fiddle/pipedream graph/graph.py and
 * optimizer/optimizer_graph_hierarchical.py (pipedream-optimizer.md §1-2). The
 * reader is stricter than PipeDream's: every number, key and edge is checked and
 * reported with file:line:col, since a typo there silently skews every plan.
 * The topological order is Kahn's algorithm, ties broken by file order. */
#include "pdgraph.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "xalloc.h"
#include "yamlutil.h"

/* An edge as written: endpoints are slices of the input until resolved. */
struct gedge {
    const char *src, *dst;
    size_t src_len, dst_len;
    unsigned line, src_col, dst_col;
    size_t s, t; /* resolved node indices */
};

struct gparse {
    const char *file;
    struct pp_pdnode *nodes;
    size_t n_nodes, cap_nodes;
    struct gedge *edges;
    size_t n_edges, cap_edges;
    size_t *table; /* open addressing: node index + 1, 0 = empty */
    size_t table_mask;
};

/* libyaml and editors count columns in characters; do the same for UTF-8 text. */
static unsigned col_of(const char *line_start, const char *p)
{
    unsigned c = 1;
    for (const char *q = line_start; q < p; q++)
        if (((unsigned char)*q & 0xC0) != 0x80)
            c++;
    return c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next " -- " separator in [p, e), or NULL. */
static const char *find_sep(const char *p, const char *e)
{
    for (; e - p >= 4; p++)
        if (p[0] == ' ' && p[1] == '-' && p[2] == '-' && p[3] == ' ')
            return p;
    return NULL;
}

static int starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* Printable per YAML 1.1 (what libyaml accepts), so every name and description
 * can be written back out; also rejects invalid UTF-8. Returns the offending byte
 * or NULL. */
static const char *bad_char(const char *p, const char *e)
{
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t') || c == 0x7F)
                return p;
            p++;
            continue;
        }
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (n == 0 || c > 0xF4 || (size_t)(e - p) < n)
            return p;
        uint32_t cp = c & (0x3F >> (n - 1));
        for (size_t i = 1; i < n; i++) {
            if (((unsigned char)p[i] & 0xC0) != 0x80)
                return p;
            cp = (cp << 6) | ((unsigned char)p[i] & 0x3F);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
            (cp >= 0x80 && cp < 0xA0 && cp != 0x85) || cp == 0xFFFE || cp == 0xFFFF)
            return p;
        p += n;
    }
    return NULL;
}

static uint64_t hash_slice(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Slot for id: either holding a node with that id, or the empty slot to fill. */
static size_t *lookup(struct gparse *g, const char *id, size_t n)
{
    size_t i = (size_t)hash_slice(id, n) & g->table_mask;
    for (;;) {
        size_t *slot = &g->table[i];
        if (*slot == 0)
            return slot;
        const char *other = g->nodes[*slot - 1].id;
        if (strlen(other) == n && memcmp(other, id, n) == 0)
            return slot;
        i = (i + 1) & g->table_mask;
    }
}

static void table_grow(struct gparse *g)
{
    size_t cap = g->table ? 2 * (g->table_mask + 1) : 1024;
    free(g->table);
    g->table = pp_xcalloc(cap, sizeof *g->table);
    g->table_mask = cap - 1;
    for (size_t k = 0; k < g->n_nodes; k++)
        *lookup(g, g->nodes[k].id, strlen(g->nodes[k].id)) = k + 1;
}

static const char *const meta_keys[] = {"forward_compute_time", "backward_compute_time",
                                        "activation_size", "parameter_size", NULL};

/* One number of a node line; [p, e) is the value text. */
static int parse_number(struct gparse *g, const char *ls, unsigned line, const char *key,
                        const char *p, const char *e, double *out, struct pp_diag *d)
{
    char tmp[80];
    size_t n = (size_t)(e - p);
    unsigned col = col_of(ls, p);
    if (n == 0)
        return pp_diag_set(d, PP_EPARSE, g->file, line, col, "%s: missing number", key);
    if (n >= sizeof tmp)
        return pp_diag_set(d, PP_EPARSE, g->file, line, col, "%s: bad number '%.*s...'", key,
                           20, p);
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    int r = pp_parse_decimal(tmp, out);
    if (r == 1) {
        const char *t = tmp + (tmp[0] == '+' || tmp[0] == '-');
        /* Python's float() takes these, so name the real problem. */
        if (strcmp(t, "nan") == 0 || strcmp(t, "NaN") == 0 || strcmp(t, "inf") == 0 ||
            strcmp(t, "Infinity") == 0 || strcmp(t, "infinity") == 0 || strcmp(t, "Inf") == 0)
            return pp_diag_set(d, PP_EPARSE, g->file, line, col,
                               "%s: non-finite number '%s'", key, tmp);
        return pp_diag_set(d, PP_EPARSE, g->file, line, col, "%s: bad number '%s'", key, tmp);
    }
    if (r == 2)
        return pp_diag_set(d, PP_EPARSE, g->file, line, col,
                           "%s: number '%s' is out of range", key, tmp);
    if (*out < 0)
        return pp_diag_set(d, PP_EPARSE, g->file, line, col, "%s: must be >= 0, got '%s'", key,
                           tmp);
    if (*out == 0)
        *out = 0; /* no -0 in the output */
    return 0;
}

/* "[a; b; c]": a multi-output module; PipeDream sums the sizes. */
static int parse_size_list(struct gparse *g, const char *ls, unsigned line, const char *p,
                           const char *e, double *out, struct pp_diag *d)
{
    const char *key = "activation_size";
    if (e - p < 2 || e[-1] != ']')
        return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, p),
                           "%s: unterminated list (expected ']')", key);
    const char *q = p + 1, *end = e - 1;
    double sum = 0;
    for (;;) {
        const char *semi = memchr(q, ';', (size_t)(end - q));
        const char *item_end = semi ? semi : end;
        const char *a = q, *b = item_end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        double v;
        int rc = parse_number(g, ls, line, key, a, b, &v, d);
        if (rc)
            return rc;
        sum += v;
        if (!semi)
            break;
        q = semi + 1;
    }
    *out = sum;
    return 0;
}

/* "forward_compute_time=F, backward_compute_time=B, activation_size=A, parameter_size=P"
 * in any order, each key exactly once. */
static int parse_metadata(struct gparse *g, const char *ls, unsigned line, const char *p,
                          const char *e, struct pp_pdnode *nd, struct pp_diag *d)
{
    double vals[4] = {0, 0, 0, 0};
    int seen[4] = {0, 0, 0, 0};
    const char *item = p;
    for (;;) {
        const char *comma = NULL;
        for (const char *q = item; q + 1 < e; q++)
            if (q[0] == ',' && q[1] == ' ') {
                comma = q;
                break;
            }
        const char *item_end = comma ? comma : e;
        const char *eq = memchr(item, '=', (size_t)(item_end - item));
        if (!eq)
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, item),
                               "malformed metadata '%.*s': expected key=value",
                               (int)(item_end - item > 60 ? 60 : item_end - item), item);
        int k = -1;
        for (int i = 0; meta_keys[i]; i++)
            if ((size_t)(eq - item) == strlen(meta_keys[i]) &&
                memcmp(item, meta_keys[i], (size_t)(eq - item)) == 0)
                k = i;
        if (k < 0) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(eq - item > 60 ? 60 : eq - item), item);
            const char *s = pp_suggest(key, meta_keys);
            if (s)
                return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, item),
                                   "unknown metadata key '%s' (did you mean '%s'?)", key, s);
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, item),
                               "unknown metadata key '%s'", key);
        }
        if (seen[k])
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, item),
                               "duplicate metadata key '%s'", meta_keys[k]);
        seen[k] = 1;
        int rc;
        if (k == 2 && eq + 1 < item_end && eq[1] == '[')
            rc = parse_size_list(g, ls, line, eq + 1, item_end, &vals[k], d);
        else
            rc = parse_number(g, ls, line, meta_keys[k], eq + 1, item_end, &vals[k], d);
        if (rc)
            return rc;
        if (!comma)
            break;
        item = comma + 2;
    }
    for (int i = 0; i < 4; i++)
        if (!seen[i])
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, p),
                               "missing metadata key '%s'", meta_keys[i]);
    nd->fwd_ms = vals[0];
    nd->bwd_ms = vals[1];
    nd->act_bytes = vals[2];
    nd->par_bytes = vals[3];
    return 0;
}

static int parse_node_line(struct gparse *g, const char *ls, unsigned line, const char *p,
                           const char *e, struct pp_diag *d)
{
    const char *s1 = find_sep(p, e);
    const char *s2 = s1 ? find_sep(s1 + 4, e) : NULL;
    if (!s1 || !s2 || s1 == p)
        return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, p),
                           "malformed node line: expected 'ID -- DESC -- "
                           "forward_compute_time=..., backward_compute_time=..., "
                           "activation_size=..., parameter_size=...'");
    const char *s3 = find_sep(s2 + 4, e);
    const char *meta_end = s3 ? s3 : e;
    if (s3) {
        /* The optimizer's output format adds "-- stage_id=K"; the value is not used. */
        const char *v = s3 + 4;
        if (find_sep(v, e))
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, find_sep(v, e) + 1),
                               "malformed node line: too many ' -- ' fields");
        if (!starts_with(v, (size_t)(e - v), "stage_id="))
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, v),
                               "unknown metadata key '%.*s': expected stage_id=K",
                               (int)(e - v > 40 ? 40 : e - v), v);
        double k;
        int rc = parse_number(g, ls, line, "stage_id", v + 9, e, &k, d);
        if (rc)
            return rc;
        if (k != floor(k))
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, v + 9),
                               "stage_id: expected an integer, got '%.*s'", (int)(e - v - 9),
                               v + 9);
    }
    struct pp_pdnode nd;
    memset(&nd, 0, sizeof nd);
    int rc = parse_metadata(g, ls, line, s2 + 4, meta_end, &nd, d);
    if (rc)
        return rc;

    size_t id_len = (size_t)(s1 - p);
    if (g->n_nodes + 1 > (g->table_mask + 1) / 2)
        table_grow(g);
    size_t *slot = lookup(g, p, id_len);
    if (*slot)
        return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, p),
                           "duplicate node id '%.*s' (first at line %u)", (int)id_len, p,
                           g->nodes[*slot - 1].line);
    nd.id = pp_xstrndup(p, id_len);
    nd.desc = pp_xstrndup(s1 + 4, (size_t)(s2 - s1 - 4));
    nd.line = line;
    nd.col = col_of(ls, p);
    g->nodes = pp_xgrow(g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes);
    g->nodes[g->n_nodes] = nd;
    *slot = ++g->n_nodes;
    return 0;
}

static int parse_edge_line(struct gparse *g, const char *ls, unsigned line, const char *p,
                           const char *e, struct pp_diag *d)
{
    const char *s = find_sep(p, e);
    if (!s || s == p || s + 4 == e || find_sep(s + 4, e))
        return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, p),
                           "malformed edge line: expected '<TAB>SRC -- DST'");
    struct gedge ed;
    memset(&ed, 0, sizeof ed);
    ed.src = p;
    ed.src_len = (size_t)(s - p);
    ed.dst = s + 4;
    ed.dst_len = (size_t)(e - s - 4);
    ed.line = line;
    ed.src_col = col_of(ls, p);
    ed.dst_col = col_of(ls, s + 4);
    if (ed.src_len == ed.dst_len && memcmp(ed.src, ed.dst, ed.src_len) == 0)
        return pp_diag_set(d, PP_EPARSE, g->file, line, ed.dst_col,
                           "self-loop: edge from node '%.*s' to itself", (int)ed.src_len, p);
    g->edges = pp_xgrow(g->edges, &g->cap_edges, g->n_edges + 1, sizeof *g->edges);
    g->edges[g->n_edges++] = ed;
    return 0;
}

static int parse_lines(struct gparse *g, const char *text, size_t len, struct pp_diag *d)
{
    const char *p = text, *end = text + len;
    unsigned line = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *ls = p;
        const char *bad = bad_char(ls, le);
        /* A CR is only fine as part of a CRLF line ending. */
        if (bad && !(*bad == '\r' && bad + 1 == le))
            return pp_diag_set(d, PP_EPARSE, g->file, line, col_of(ls, bad),
                               "not a text profile: byte 0x%02x is not printable UTF-8 text",
                               (unsigned)(unsigned char)*bad);
        const char *a = ls, *b = le;
        while (b > a && is_space(b[-1]))
            b--;
        int edge = a < b && *a == '\t';
        while (a < b && is_space(*a))
            a++;
        int rc = 0;
        if (a < b)
            rc = edge ? parse_edge_line(g, ls, line, a, b, d)
                      : parse_node_line(g, ls, line, a, b, d);
        if (rc)
            return rc;
        line++;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* Min-heap of node indices: Kahn's algorithm picks the ready node listed first. */
static void heap_push(size_t *h, size_t *n, size_t v)
{
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *n)
{
    size_t top = h[0], v = h[--*n], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = v;
    return top;
}


/* Some node of a cycle among the nodes Kahn's algorithm could not place: each has
 * an unplaced predecessor, so walking predecessors n times must end on a cycle. */
static int report_cycle(const struct pp_pdgraph *g, const size_t *pos, struct pp_diag *d)
{
    size_t n = g->n_nodes, v = 0;
    while (g->nodes[v].removed || pos[v] != SIZE_MAX)
        v++;
    for (size_t step = 0; step < n; step++) {
        for (size_t k = g->pred_first[v]; k < g->pred_first[v + 1]; k++)
            if (pos[g->pred[k]] == SIZE_MAX) {
                v = g->pred[k];
                break;
            }
    }
    /* Spell the cycle out. path[] holds v's predecessors walking backwards, so
     * forwards the cycle reads v -> path[len-1] -> ... -> path[1] -> v; a long one
     * keeps only the part just before v. */
    size_t path[8], len = 0, u = v;
    do {
        if (len < 8)
            path[len] = u;
        len++;
        for (size_t k = g->pred_first[u]; k < g->pred_first[u + 1]; k++)
            if (pos[g->pred[k]] == SIZE_MAX) {
                u = g->pred[k];
                break;
            }
    } while (u != v && len <= n);
    char msg[300];
    size_t m = (size_t)snprintf(msg, sizeof msg, "'%s' -> %s", g->nodes[v].id,
                                len > 8 ? "... -> " : "");
    for (size_t i = (len < 8 ? len : 8) - 1; i >= 1 && m < sizeof msg; i--)
        m += (size_t)snprintf(msg + m, sizeof msg - m, "'%s' -> ", g->nodes[path[i]].id);
    if (m < sizeof msg)
        snprintf(msg + m, sizeof msg - m, "'%s'", g->nodes[v].id);
    return pp_diag_set(d, PP_EPARSE, g->file, g->nodes[v].line, g->nodes[v].col,
                       "the graph has a cycle through node '%s': %s", g->nodes[v].id, msg);
}

static int order_nodes(struct pp_pdgraph *g, struct pp_diag *d);

/* CSR over the kept edges in file order (the order PipeDream's adjacency lists
 * have, which its antichain enumeration follows). */
static void csr_build(size_t n, const size_t (*ends)[2], size_t ne, int reverse, size_t **first_out,
                      size_t **adj_out)
{
    size_t *first = pp_xcalloc(n + 1, sizeof *first);
    size_t *adj = pp_xmalloc((ne ? ne : 1) * sizeof *adj);
    for (size_t i = 0; i < ne; i++)
        first[ends[i][reverse] + 1]++;
    for (size_t v = 0; v < n; v++)
        first[v + 1] += first[v];
    size_t *fill = pp_xmalloc((n ? n : 1) * sizeof *fill);
    memcpy(fill, first, n * sizeof *fill);
    for (size_t i = 0; i < ne; i++)
        adj[fill[ends[i][reverse]]++] = ends[i][!reverse];
    free(fill);
    *first_out = first;
    *adj_out = adj;
}

int pp_pdgraph_set_edges(struct pp_pdgraph *g, const size_t (*ends)[2], size_t ne,
                         struct pp_diag *d)
{
    g->n_edges = ne;
    csr_build(g->n_nodes, ends, ne, 0, &g->succ_first, &g->succ);
    csr_build(g->n_nodes, ends, ne, 1, &g->pred_first, &g->pred);
    return order_nodes(g, d);
}

/* Topological order of the kept nodes (Kahn, ready nodes by file order) and the
 * cycle check. */
static int order_nodes(struct pp_pdgraph *g, struct pp_diag *d)
{
    size_t n = g->n_nodes, kept = 0, hn = 0;
    size_t *indeg = pp_xcalloc(n ? n : 1, sizeof *indeg);
    size_t *heap = pp_xmalloc((n ? n : 1) * sizeof *heap);
    size_t *pos = pp_xmalloc((n ? n : 1) * sizeof *pos);
    g->topo = pp_xmalloc((n ? n : 1) * sizeof *g->topo);
    for (size_t v = 0; v < n; v++) {
        kept += !g->nodes[v].removed;
        for (size_t k = g->succ_first[v]; k < g->succ_first[v + 1]; k++)
            indeg[g->succ[k]]++;
    }
    for (size_t v = 0; v < n; v++) {
        pos[v] = SIZE_MAX;
        if (!g->nodes[v].removed && indeg[v] == 0)
            heap_push(heap, &hn, v);
    }
    while (hn) {
        size_t v = heap_pop(heap, &hn);
        pos[v] = g->n_kept;
        g->topo[g->n_kept++] = v;
        for (size_t k = g->succ_first[v]; k < g->succ_first[v + 1]; k++)
            if (--indeg[g->succ[k]] == 0)
                heap_push(heap, &hn, g->succ[k]);
    }
    int rc = 0;
    if (kept == 0)
        rc = pp_diag_set(d, PP_EPARSE, g->file, 1, 1,
                         n ? "no layers left after removing Input and __getitem__ nodes"
                           : "no nodes: expected lines 'ID -- DESC -- forward_compute_time=...'");
    else if (g->n_kept < kept)
        rc = report_cycle(g, pos, d);
    free(indeg);
    free(heap);
    free(pos);
    return rc;
}

static int build_graph(struct gparse *p, struct pp_pdgraph *g, struct pp_diag *d)
{
    size_t n = p->n_nodes, ne = p->n_edges;
    if (!p->table)
        table_grow(p); /* edges but no nodes: lookups need a table */
    /* Resolve endpoints; a node may be declared after an edge that names it. */
    for (size_t i = 0; i < ne; i++) {
        struct gedge *ed = &p->edges[i];
        size_t *a = lookup(p, ed->src, ed->src_len), *b = lookup(p, ed->dst, ed->dst_len);
        if (!*a || !*b) {
            int src_bad = !*a;
            return pp_diag_set(d, PP_EPARSE, p->file, ed->line, src_bad ? ed->src_col : ed->dst_col,
                               "edge names undeclared node '%.*s'",
                               (int)(src_bad ? ed->src_len : ed->dst_len),
                               src_bad ? ed->src : ed->dst);
        }
        ed->s = *a - 1;
        ed->t = *b - 1;
    }
    g->nodes = p->nodes;
    g->n_nodes = n;
    g->raw_edges = pp_xmalloc((ne ? ne : 1) * sizeof *g->raw_edges);
    g->n_raw_edges = ne;
    for (size_t i = 0; i < ne; i++) {
        g->raw_edges[i][0] = p->edges[i].s;
        g->raw_edges[i][1] = p->edges[i].t;
    }
    p->nodes = NULL;
    p->n_nodes = 0;
    /* PipeDream's pre-processing (optimizer_graph_hierarchical.py): Input sources
     * go (the data loader is not a layer), then, in one pass, __getitem__ sinks. */
    size_t *indeg = pp_xcalloc(n ? n : 1, sizeof *indeg), *outdeg = pp_xcalloc(n ? n : 1, sizeof *outdeg);
    for (size_t i = 0; i < ne; i++) {
        indeg[p->edges[i].t]++;
        outdeg[p->edges[i].s]++;
    }
    for (size_t v = 0; v < n; v++)
        if (indeg[v] == 0 && starts_with(g->nodes[v].desc, strlen(g->nodes[v].desc), "Input"))
            g->nodes[v].removed = PP_PD_INPUT;
    for (size_t v = 0; v < n; v++)
        if (!g->nodes[v].removed && outdeg[v] == 0 &&
            starts_with(g->nodes[v].desc, strlen(g->nodes[v].desc), "__getitem__"))
            g->nodes[v].removed = PP_PD_GETITEM;
    free(indeg);
    free(outdeg);
    /* Kept edges in file order; a repeated edge counts once. Duplicates are
     * found through a small open-addressing set of (src, dst) pairs. */
    size_t (*ends)[2] = pp_xmalloc((ne ? ne : 1) * sizeof *ends);
    size_t cap = 16;
    while (cap < 2 * ne)
        cap *= 2;
    size_t *seen = pp_xcalloc(cap, sizeof *seen); /* edge index + 1 */
    size_t kept = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t s = p->edges[i].s, t = p->edges[i].t;
        if (g->nodes[s].removed || g->nodes[t].removed)
            continue;
        size_t h = (size_t)((s * 0x9E3779B97F4A7C15ull) ^ (t * 0xC2B2AE3D27D4EB4Full)) & (cap - 1);
        int dup = 0;
        while (seen[h]) {
            size_t j = seen[h] - 1;
            if (ends[j][0] == s && ends[j][1] == t) {
                dup = 1;
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        if (dup)
            continue;
        ends[kept][0] = s;
        ends[kept][1] = t;
        seen[h] = ++kept;
    }
    free(seen);
    int rc = pp_pdgraph_set_edges(g, (const size_t(*)[2])ends, kept, d);
    free(ends);
    return rc;
}

int pp_pdgraph_parse(const char *buf, size_t len, const char *file, struct pp_pdgraph **out,
                     struct pp_diag *d)
{
    struct gparse p;
    memset(&p, 0, sizeof p);
    p.file = file;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    struct pp_pdgraph *g = pp_xcalloc(1, sizeof *g);
    g->file = pp_xstrdup(file);
    int rc = parse_lines(&p, buf, len, d);
    if (rc == 0)
        rc = build_graph(&p, g, d);
    for (size_t i = 0; i < p.n_nodes; i++) {
        free(p.nodes[i].id);
        free(p.nodes[i].desc);
    }
    free(p.nodes);
    free(p.edges);
    free(p.table);
    if (rc) {
        pp_pdgraph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int pp_pdgraph_load(const char *path, struct pp_pdgraph **out, struct pp_diag *d)
{
    char *text;
    size_t len;
    int rc = pp_read_file(path, (size_t)1 << 30, &text, &len, d);
    if (rc)
        return rc;
    rc = pp_pdgraph_parse(text, len, path, out, d);
    free(text);
    return rc;
}

void pp_pdgraph_free(struct pp_pdgraph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].id);
        free(g->nodes[i].desc);
        free(g->nodes[i].members);
    }
    free(g->nodes);
    free(g->succ_first);
    free(g->succ);
    free(g->pred_first);
    free(g->pred);
    free(g->topo);
    free(g->raw_edges);
    free(g->file);
    free(g);
}
