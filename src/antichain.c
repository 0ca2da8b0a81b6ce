/* antichain.c - enumerate PipeDream's antichain DAG (pipedream-optimizer.md §2).
 *
 * Sets of graph nodes are bitsets; antichains are found by a hash of their
 * sorted member lists. Everything here is linear in the number of states
 * times the graph's width, except the state-ancestor bitsets (states^2 bits),
 * which the DP needs anyway. */
#include "antichain.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "pdgraph.h"
#include "xalloc.h"

#define BIT_SET(b, i) ((b)[(i) >> 6] |= (uint64_t)1 << ((i) & 63))
#define BIT_CLR(b, i) ((b)[(i) >> 6] &= ~((uint64_t)1 << ((i) & 63)))

/* A growable pool of size_t lists. */
struct lists {
    size_t *items;
    size_t n_items, cap_items;
    size_t *first; /* list k is items[first[k] .. first[k+1]) */
    size_t n, cap_first;
};

static void lists_push(struct lists *l, const size_t *v, size_t n)
{
    l->items = pp_xgrow(l->items, &l->cap_items, l->n_items + n, sizeof *l->items);
    if (n) /* v may be NULL for an empty antichain */
        memcpy(l->items + l->n_items, v, n * sizeof *v);
    l->n_items += n;
    l->first = pp_xgrow(l->first, &l->cap_first, l->n + 2, sizeof *l->first);
    if (l->n == 0)
        l->first[0] = 0;
    l->first[++l->n] = l->n_items;
}

struct builder {
    const struct pp_pdgraph *g;
    size_t wn;               /* words per node bitset */
    uint64_t *anc, *desc;    /* per node, strict */
    uint64_t *extra;         /* per node x: ancestors whose output outlives x */
    struct lists x, aug;     /* per state: the antichain (list order) and augmented */
    struct lists key;        /* per state: the antichain's members sorted (its identity) */
    struct lists next;       /* per state: successor states in discovery order */
    size_t *table;           /* state id + 1 by sorted-antichain hash */
    size_t table_mask;
    size_t *sorted;          /* scratch */
};

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t hash_list(const size_t *v, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)v[i]) * 0x100000001b3ull + (h >> 29);
    return h;
}

/* Is the antichain with sorted members v[0..n) state k? */
static int same_set(const struct builder *b, size_t k, const size_t *v, size_t n)
{
    size_t first = b->key.first[k];
    return b->key.first[k + 1] - first == n && memcmp(b->key.items + first, v, n * sizeof *v) == 0;
}

static void table_grow(struct builder *b);

/* Slot of the antichain with sorted members v[0..n): the state's id + 1, or 0. */
static size_t *find(struct builder *b, const size_t *v, size_t n)
{
    size_t i = (size_t)hash_list(v, n) & b->table_mask;
    while (b->table[i] && !same_set(b, b->table[i] - 1, v, n))
        i = (i + 1) & b->table_mask;
    return &b->table[i];
}

static void table_grow(struct builder *b)
{
    size_t cap = b->table ? 2 * (b->table_mask + 1) : 1024;
    free(b->table);
    b->table = pp_xcalloc(cap, sizeof *b->table);
    b->table_mask = cap - 1;
    for (size_t k = 0; k < b->key.n; k++)
        *find(b, b->key.items + b->key.first[k], b->key.first[k + 1] - b->key.first[k]) = k + 1;
}

/* Ancestor and descendant bitsets, and extra[x] (PipeDream's augment_antichain
 * for one member: ancestors p of x with an output read outside anc(x) + {x}). */
static void node_sets(struct builder *b)
{
    const struct pp_pdgraph *g = b->g;
    size_t n = g->n_nodes, wn = b->wn;
    b->anc = pp_xcalloc(n * wn > 0 ? n * wn : 1, sizeof *b->anc);
    b->desc = pp_xcalloc(n * wn > 0 ? n * wn : 1, sizeof *b->desc);
    b->extra = pp_xcalloc(n * wn > 0 ? n * wn : 1, sizeof *b->extra);
    for (size_t k = 0; k < g->n_kept; k++) {
        size_t v = g->topo[k];
        uint64_t *av = b->anc + v * wn;
        for (size_t e = g->pred_first[v]; e < g->pred_first[v + 1]; e++) {
            size_t p = g->pred[e];
            const uint64_t *ap = b->anc + p * wn;
            for (size_t w = 0; w < wn; w++)
                av[w] |= ap[w];
            BIT_SET(av, p);
        }
    }
    for (size_t k = g->n_kept; k-- > 0;) {
        size_t v = g->topo[k];
        uint64_t *dv = b->desc + v * wn;
        for (size_t e = g->succ_first[v]; e < g->succ_first[v + 1]; e++) {
            size_t s = g->succ[e];
            const uint64_t *ds = b->desc + s * wn;
            for (size_t w = 0; w < wn; w++)
                dv[w] |= ds[w];
            BIT_SET(dv, s);
        }
    }
    for (size_t x = 0; x < n; x++) {
        const uint64_t *ax = b->anc + x * wn;
        for (size_t w = 0; w < wn; w++)
            for (uint64_t m = ax[w]; m; m &= m - 1) {
                size_t p = w * 64 + (size_t)__builtin_ctzll(m);
                for (size_t e = g->succ_first[p]; e < g->succ_first[p + 1]; e++) {
                    size_t s = g->succ[e];
                    if (s != x && !pp_bit(ax, s)) {
                        BIT_SET(b->extra + x * wn, p);
                        break;
                    }
                }
            }
    }
}

/* Add state with antichain v[0..n) (list order kept); returns its id. */
static size_t add_state(struct builder *b, const size_t *v, size_t n, uint64_t *scratch, int *is_new)
{
    memcpy(b->sorted, v, n * sizeof *v);
    qsort(b->sorted, n, sizeof *v, cmp_size);
    size_t *slot = find(b, b->sorted, n);
    if (*slot) {
        *is_new = 0;
        return *slot - 1;
    }
    *is_new = 1;
    size_t id = b->x.n;
    lists_push(&b->x, v, n);
    lists_push(&b->key, b->sorted, n);
    *slot = id + 1;
    /* The augmented list: extra nodes (file order) then the antichain. */
    size_t wn = b->wn;
    memset(scratch, 0, wn * sizeof *scratch);
    for (size_t i = 0; i < n; i++)
        for (size_t w = 0; w < wn; w++)
            scratch[w] |= b->extra[v[i] * wn + w];
    size_t m = 0;
    for (size_t w = 0; w < wn; w++)
        for (uint64_t bits = scratch[w]; bits; bits &= bits - 1)
            b->sorted[m++] = w * 64 + (size_t)__builtin_ctzll(bits);
    memcpy(b->sorted + m, v, n * sizeof *v);
    lists_push(&b->aug, b->sorted, m + n);
    if (b->x.n * 2 > b->table_mask + 1)
        table_grow(b);
    return id;
}

int pp_antichains_build(const struct pp_pdgraph *g, size_t max_states, struct pp_antichains **out,
                        struct pp_diag *d)
{
    struct builder b;
    memset(&b, 0, sizeof b);
    b.g = g;
    size_t n = g->n_nodes, wn = (n + 63) / 64;
    b.wn = wn ? wn : 1;
    wn = b.wn;
    node_sets(&b);
    b.sorted = pp_xmalloc((n + 1) * sizeof *b.sorted);
    table_grow(&b);
    uint64_t *augbits = pp_xcalloc(wn, sizeof *augbits);
    uint64_t *scratch = pp_xcalloc(wn, sizeof *scratch);
    size_t *cand = pp_xmalloc((n + 1) * sizeof *cand), *keep = pp_xmalloc((n + 1) * sizeof *keep);
    size_t *succ_ids = NULL, n_succ = 0, cap_succ = 0;

    /* PipeDream starts from the first source in file order. */
    size_t src = SIZE_MAX;
    for (size_t v = 0; v < n && src == SIZE_MAX; v++)
        if (!g->nodes[v].removed && g->pred_first[v] == g->pred_first[v + 1])
            src = v;
    int is_new, rc = 0;
    add_state(&b, &src, 1, scratch, &is_new);
    /* Breadth-first: states are expanded in id order, which is discovery order. */
    for (size_t s = 0; s < b.x.n; s++) {
        size_t a0 = b.aug.first[s], a1 = b.aug.first[s + 1];
        size_t x0 = b.x.first[s], x1 = b.x.first[s + 1];
        memset(augbits, 0, wn * sizeof *augbits);
        for (size_t i = a0; i < a1; i++)
            BIT_SET(augbits, b.aug.items[i]);
        n_succ = 0;
        for (size_t i = a0; i < a1; i++) {
            size_t u = b.aug.items[i];
            for (size_t e = g->succ_first[u]; e < g->succ_first[u + 1]; e++) {
                size_t v = g->succ[e];
                int in_x = 0;
                for (size_t k = x0; k < x1 && !in_x; k++)
                    in_x = b.x.items[k] == v;
                if (in_x)
                    continue;
                const uint64_t *dv = b.desc + v * wn;
                int blocked = 0;
                for (size_t w = 0; w < wn && !blocked; w++)
                    blocked = (dv[w] & augbits[w]) != 0;
                if (blocked)
                    continue;
                /* Replace u by v, then drop members with a descendant among the
                 * members, and repeats (PipeDream's de-augmentation). */
                size_t m = a1 - a0;
                memcpy(cand, b.aug.items + a0, m * sizeof *cand);
                cand[i - a0] = v;
                memcpy(scratch, augbits, wn * sizeof *scratch);
                BIT_CLR(scratch, u);
                BIT_SET(scratch, v);
                size_t nk = 0;
                for (size_t c = 0; c < m; c++) {
                    const uint64_t *dc = b.desc + cand[c] * wn;
                    int drop = 0;
                    for (size_t w = 0; w < wn && !drop; w++)
                        drop = (dc[w] & scratch[w]) != 0;
                    for (size_t k = 0; k < nk && !drop; k++)
                        drop = keep[k] == cand[c];
                    if (!drop)
                        keep[nk++] = cand[c];
                }
                size_t t = add_state(&b, keep, nk, scratch, &is_new);
                if (b.x.n > max_states) {
                    rc = pp_diag_set(d, PP_EINFEASIBLE, g->file, 0, 0,
                                     "more than %zu antichain states", max_states);
                    goto done;
                }
                succ_ids = pp_xgrow(succ_ids, &cap_succ, n_succ + 1, sizeof *succ_ids);
                succ_ids[n_succ++] = t;
            }
        }
        lists_push(&b.next, succ_ids, n_succ);
    }

    {
        size_t ns = b.x.n, sw = (ns + 63) / 64;
        /* PipeDream's topological_sort: DFS from state 0, children in discovery
         * order, reverse post-order. Iterative: stack of (state, next child). */
        size_t *order = pp_xmalloc(ns * sizeof *order), *stack = pp_xmalloc(2 * ns * sizeof *stack);
        unsigned char *mark = pp_xcalloc(ns, 1);
        size_t sp = 0, filled = ns;
        stack[sp++] = 0;
        stack[sp++] = b.next.first[0];
        mark[0] = 1;
        while (sp) {
            size_t st = stack[sp - 2], *it = &stack[sp - 1];
            if (*it < b.next.first[st + 1]) {
                size_t c = b.next.items[(*it)++];
                if (!mark[c]) {
                    mark[c] = 1;
                    stack[sp++] = c;
                    stack[sp++] = b.next.first[c];
                }
            } else {
                order[--filled] = st;
                sp -= 2;
            }
        }
        size_t *pos = stack; /* reuse */
        for (size_t k = 0; k < ns; k++)
            pos[order[k]] = k;

        struct pp_antichains *a = pp_xcalloc(1, sizeof *a);
        a->n_states = ns;
        a->words = sw;
        a->node_words = wn;
        a->compute_s = pp_xmalloc(ns * sizeof(double));
        a->act_bytes = pp_xmalloc(ns * sizeof(double));
        a->par_bytes = pp_xmalloc(ns * sizeof(double));
        a->out_bytes = pp_xmalloc(ns * sizeof(double));
        a->anc = pp_xcalloc(ns * sw > 0 ? ns * sw : 1, sizeof *a->anc);
        a->aug_first = pp_xmalloc((ns + 1) * sizeof *a->aug_first);
        a->aug = pp_xmalloc((b.aug.n_items ? b.aug.n_items : 1) * sizeof *a->aug);
        a->node_anc = b.anc;
        b.anc = NULL;
        size_t fill = 0;
        for (size_t k = 0; k < ns; k++) {
            size_t s = order[k], len = b.aug.first[s + 1] - b.aug.first[s];
            a->aug_first[k] = fill;
            memcpy(a->aug + fill, b.aug.items + b.aug.first[s], len * sizeof *a->aug);
            fill += len;
        }
        a->aug_first[ns] = fill;
        /* State ancestors, in state order: anc(t) = union over parents s of
         * anc(s) + {s}. */
        for (size_t k = 0; k < ns; k++) {
            size_t s = order[k];
            const uint64_t *as = a->anc + k * sw;
            for (size_t e = b.next.first[s]; e < b.next.first[s + 1]; e++) {
                size_t t = pos[b.next.items[e]];
                uint64_t *at = a->anc + t * sw;
                for (size_t w = 0; w < sw; w++)
                    at[w] |= as[w];
                BIT_SET(at, k);
            }
        }
        uint64_t *cl = scratch;
        for (size_t k = 0; k < ns; k++) {
            memset(cl, 0, wn * sizeof *cl);
            pp_antichains_closure(a, k, cl);
            double c = 0, act = 0, par = 0, o = 0;
            for (size_t w = 0; w < wn; w++)
                for (uint64_t m = cl[w]; m; m &= m - 1) {
                    const struct pp_pdnode *nd = &g->nodes[w * 64 + (size_t)__builtin_ctzll(m)];
                    c += (nd->fwd_ms + nd->bwd_ms) / 1000.0;
                    act += nd->act_bytes;
                    par += nd->par_bytes;
                }
            for (size_t i = a->aug_first[k]; i < a->aug_first[k + 1]; i++)
                o += g->nodes[a->aug[i]].act_bytes;
            a->compute_s[k] = c;
            a->act_bytes[k] = act;
            a->par_bytes[k] = par;
            a->out_bytes[k] = o;
        }
        free(order);
        free(stack);
        free(mark);
        *out = a;
    }
done:
    free(succ_ids);
    free(cand);
    free(keep);
    free(augbits);
    free(scratch);
    free(b.sorted);
    free(b.table);
    free(b.anc);
    free(b.desc);
    free(b.extra);
    free(b.x.items);
    free(b.x.first);
    free(b.key.items);
    free(b.key.first);
    free(b.aug.items);
    free(b.aug.first);
    free(b.next.items);
    free(b.next.first);
    return rc;
}

void pp_antichains_closure(const struct pp_antichains *a, size_t s, uint64_t *bits)
{
    size_t wn = a->node_words;
    for (size_t i = a->aug_first[s]; i < a->aug_first[s + 1]; i++) {
        size_t x = a->aug[i];
        const uint64_t *ax = a->node_anc + x * wn;
        for (size_t w = 0; w < wn; w++)
            bits[w] |= ax[w];
        BIT_SET(bits, x);
    }
}

void pp_antichains_free(struct pp_antichains *a)
{
    if (!a)
        return;
    free(a->compute_s);
    free(a->act_bytes);
    free(a->par_bytes);
    free(a->out_bytes);
    free(a->anc);
    free(a->aug_first);
    free(a->aug);
    free(a->node_anc);
    free(a);
}
