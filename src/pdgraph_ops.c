/* pdgraph_ops.c - what the planner does to a PipeDream graph besides reading
 * it: collapse branch chains, and write the stage-annotated graph back. */
#include "pdgraph.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "xalloc.h"

/* Python's repr() of a float (the optimizer writes activation_size with "%s"):
 * shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16 with at
 * least one decimal, scientific ("1e+16", "2.5e-05") otherwise. */
static void py_float_repr(struct pp_buf *b, double x)
{
    char s[40];
    if (x == 0) {
        pp_buf_puts(b, x < 0 || (1 / x) < 0 ? "-0.0" : "0.0");
        return;
    }
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*e", prec - 1, x);
        if (strtod(s, NULL) == x)
            break;
    }
    const char *p = s;
    if (*p == '-') {
        pp_buf_puts(b, "-");
        p++;
    }
    char digits[20];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int e = atoi(p + 1), decpt = e + 1;
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            pp_buf_puts(b, "0.");
            for (int i = 0; i < -decpt; i++)
                pp_buf_puts(b, "0");
            pp_buf_append(b, digits, nd);
        } else if ((size_t)decpt >= nd) {
            pp_buf_append(b, digits, nd);
            for (size_t i = nd; i < (size_t)decpt; i++)
                pp_buf_puts(b, "0");
            pp_buf_puts(b, ".0");
        } else {
            pp_buf_append(b, digits, (size_t)decpt);
            pp_buf_puts(b, ".");
            pp_buf_append(b, digits + decpt, nd - (size_t)decpt);
        }
        return;
    }
    pp_buf_append(b, digits, 1);
    if (nd > 1) {
        pp_buf_puts(b, ".");
        pp_buf_append(b, digits + 1, nd - 1);
    }
    pp_buf_printf(b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
}

static void write_node(struct pp_buf *b, const struct pp_pdnode *nd, int zero, size_t stage)
{
    pp_buf_printf(b, "%s -- %s -- forward_compute_time=%.3f, backward_compute_time=%.3f, "
                     "activation_size=",
                  nd->id, nd->desc, zero ? 0.0 : nd->fwd_ms, zero ? 0.0 : nd->bwd_ms);
    py_float_repr(b, zero ? 0.0 : nd->act_bytes);
    pp_buf_printf(b, ", parameter_size=%.3f", zero ? 0.0 : nd->par_bytes);
    if (stage != SIZE_MAX)
        pp_buf_printf(b, " -- stage_id=%zu", stage);
    pp_buf_puts(b, "\n");
}

void pp_pdgraph_write(struct pp_buf *b, const struct pp_pdgraph *g, const size_t *stage)
{
    /* The optimizer removes Input sources and re-attaches them at the end, so
     * they come last, zeroed, in stage 0; their edges come after the others. */
    for (size_t v = 0; v < g->n_nodes; v++)
        if (!g->nodes[v].removed)
            write_node(b, &g->nodes[v], 0, stage[v]);
    for (size_t v = 0; v < g->n_nodes; v++)
        if (g->nodes[v].removed == PP_PD_INPUT)
            write_node(b, &g->nodes[v], 1, 0);
    /* Edge lines grouped by target (in node order), sources in file order. */
    size_t *first = pp_xcalloc(g->n_nodes + 1, sizeof *first);
    size_t *src = pp_xmalloc((g->n_raw_edges ? g->n_raw_edges : 1) * sizeof *src);
    for (size_t i = 0; i < g->n_raw_edges; i++)
        first[g->raw_edges[i][1] + 1]++;
    for (size_t v = 0; v < g->n_nodes; v++)
        first[v + 1] += first[v];
    size_t *fill = pp_xmalloc((g->n_nodes ? g->n_nodes : 1) * sizeof *fill);
    memcpy(fill, first, g->n_nodes * sizeof *fill);
    for (size_t i = 0; i < g->n_raw_edges; i++)
        src[fill[g->raw_edges[i][1]]++] = g->raw_edges[i][0];
    for (size_t v = 0; v < g->n_nodes; v++) {
        if (g->nodes[v].removed)
            continue;
        for (int pass = 0; pass < 2; pass++)
            for (size_t k = first[v]; k < first[v + 1]; k++) {
                enum pp_pdremoved r = g->nodes[src[k]].removed;
                if ((pass == 0 && r == PP_PD_KEPT) || (pass == 1 && r == PP_PD_INPUT))
                    pp_buf_printf(b, "\t%s -- %s\n", g->nodes[src[k]].id, g->nodes[v].id);
            }
    }
    free(fill);
    free(src);
    free(first);
}

static void contract(const struct pp_pdgraph *g, const size_t *rep, int sum_outputs,
                     const char *what, struct pp_pdgraph **out);

/* Chain heads: one input, coming from a node with several outputs. A chain
 * grows while its tail has one output whose reader has one input. The chain
 * becomes its tail, whose output is the only one leaving it. */
size_t pp_pdgraph_collapse_branches(const struct pp_pdgraph *g, struct pp_pdgraph **out)
{
    size_t n = g->n_nodes, folded = 0;
    size_t *rep = pp_xmalloc((n ? n : 1) * sizeof *rep);
    for (size_t v = 0; v < n; v++)
        rep[v] = SIZE_MAX;
#define INDEG(v) (g->pred_first[(v) + 1] - g->pred_first[v])
#define OUTDEG(v) (g->succ_first[(v) + 1] - g->succ_first[v])
    for (size_t k = 0; k < g->n_kept; k++) {
        size_t v = g->topo[k];
        if (rep[v] != SIZE_MAX)
            continue;
        rep[v] = v;
        if (INDEG(v) != 1 || OUTDEG(g->pred[g->pred_first[v]]) < 2)
            continue;
        size_t cur = v;
        while (OUTDEG(cur) == 1 && INDEG(g->succ[g->succ_first[cur]]) == 1) {
            cur = g->succ[g->succ_first[cur]];
            folded++;
        }
        for (size_t u = v;; u = g->succ[g->succ_first[u]]) {
            rep[u] = cur;
            if (u == cur)
                break;
        }
    }
#undef INDEG
#undef OUTDEG
    contract(g, rep, 0, "Branch", out);
    free(rep);
    return folded;
}

/* The graph with every node v replaced by rep[v] (rep[rep[v]] == rep[v]):
 * times and weights add up; the output is the sum of the members' outputs
 * (sum_outputs: they all cross a cut after the group) or the representative's
 * own (the others are read inside the group only). */
static void contract(const struct pp_pdgraph *g, const size_t *rep, int sum_outputs,
                     const char *what, struct pp_pdgraph **out)
{
    size_t n = g->n_nodes;
    struct pp_pdgraph *c = pp_xcalloc(1, sizeof *c);
    c->file = pp_xstrdup(g->file);
    c->nodes = pp_xcalloc(n ? n : 1, sizeof *c->nodes);
    size_t *newidx = pp_xmalloc((n ? n : 1) * sizeof *newidx);
    size_t *n_members = pp_xcalloc(n ? n : 1, sizeof *n_members);
    size_t *n_grouped = pp_xcalloc(n ? n : 1, sizeof *n_grouped);
    for (size_t v = 0; v < n; v++)
        if (!g->nodes[v].removed) {
            n_members[rep[v]] += g->nodes[v].members ? g->nodes[v].n_members : 1;
            n_grouped[rep[v]]++;
        }
    for (size_t v = 0; v < n; v++) {
        newidx[v] = SIZE_MAX;
        if (g->nodes[v].removed || rep[v] != v)
            continue;
        struct pp_pdnode *nd = &c->nodes[c->n_nodes];
        newidx[v] = c->n_nodes++;
        *nd = g->nodes[v];
        nd->members = pp_xmalloc(n_members[v] * sizeof *nd->members);
        nd->n_members = 0;
        nd->fwd_ms = nd->bwd_ms = nd->par_bytes = 0;
        if (sum_outputs)
            nd->act_bytes = 0;
        struct pp_buf id, desc;
        pp_buf_init(&id);
        pp_buf_init(&desc);
        pp_buf_puts(&id, g->nodes[v].id);
        if (n_grouped[v] > 1) {
            pp_buf_printf(&id, "+%zu", n_grouped[v] - 1);
            pp_buf_printf(&desc, "%s of %zu: %s", what, n_grouped[v], g->nodes[v].desc);
        } else {
            pp_buf_puts(&desc, g->nodes[v].desc);
        }
        nd->id = id.data;
        nd->desc = desc.data;
    }
    for (size_t v = 0; v < n; v++) {
        if (g->nodes[v].removed)
            continue;
        struct pp_pdnode *nd = &c->nodes[newidx[rep[v]]];
        const struct pp_pdnode *o = &g->nodes[v];
        nd->fwd_ms += o->fwd_ms;
        nd->bwd_ms += o->bwd_ms;
        nd->par_bytes += o->par_bytes;
        if (sum_outputs)
            nd->act_bytes += o->act_bytes;
        if (o->members) {
            memcpy(nd->members + nd->n_members, o->members, o->n_members * sizeof *o->members);
            nd->n_members += o->n_members;
        } else {
            nd->members[nd->n_members++] = v;
        }
    }
    /* Edges between groups in order, each pair once. */
    size_t (*ends)[2] = pp_xmalloc((g->n_edges ? g->n_edges : 1) * sizeof *ends);
    size_t ne = 0, cap = 16;
    while (cap < 2 * g->n_edges)
        cap *= 2;
    size_t *seen = pp_xcalloc(cap, sizeof *seen);
    for (size_t v = 0; v < n; v++) {
        if (g->nodes[v].removed)
            continue;
        for (size_t k = g->succ_first[v]; k < g->succ_first[v + 1]; k++) {
            size_t s = newidx[rep[v]], t = newidx[rep[g->succ[k]]];
            if (s == t)
                continue;
            size_t h = (size_t)((s * 0x9E3779B97F4A7C15ull) ^ (t * 0xC2B2AE3D27D4EB4Full)) & (cap - 1);
            int dup = 0;
            while (seen[h] && !dup) {
                dup = ends[seen[h] - 1][0] == s && ends[seen[h] - 1][1] == t;
                h = (h + 1) & (cap - 1);
            }
            if (dup)
                continue;
            ends[ne][0] = s;
            ends[ne][1] = t;
            seen[h] = ++ne;
        }
    }
    struct pp_diag d;
    /* Callers only group nodes so that no cycle can appear. */
    pp_pdgraph_set_edges(c, (const size_t(*)[2])ends, ne, &d);
    free(seen);
    free(ends);
    free(newidx);
    free(n_members);
    free(n_grouped);
    *out = c;
}

#define DEG1(f, v) (g->f##_first[(v) + 1] - g->f##_first[v] == 1)

/* Siblings with the same single writer and the same single reader run side
 * by side: one node replaces them. With chain collapsing this is
 * series-parallel reduction. */
size_t pp_pdgraph_merge_parallel(const struct pp_pdgraph *g, struct pp_pdgraph **out)
{
    size_t n = g->n_nodes, folded = 0;
    size_t *rep = pp_xmalloc((n ? n : 1) * sizeof *rep);
    for (size_t v = 0; v < n; v++)
        rep[v] = v;
    for (size_t v = 0; v < n; v++) {
        if (g->nodes[v].removed || rep[v] != v || !DEG1(pred, v) || !DEG1(succ, v))
            continue;
        size_t p = g->pred[g->pred_first[v]], s = g->succ[g->succ_first[v]];
        for (size_t e = g->succ_first[p]; e < g->succ_first[p + 1]; e++) {
            size_t u = g->succ[e];
            if (u > v && rep[u] == u && DEG1(pred, u) && DEG1(succ, u) &&
                g->succ[g->succ_first[u]] == s) {
                rep[u] = v;
                folded++;
            }
        }
    }
    contract(g, rep, 1, "Parallel", out);
    free(rep);
    return folded;
}

/* A node whose only reader is a join (several inputs) becomes part of the
 * join. Contracting an edge whose tail has one output never makes a cycle.
 * Coarse: no cut between a branch's end and its join. For graphs (NASNet)
 * that series-parallel reduction leaves too wide. */
size_t pp_pdgraph_absorb_into_joins(const struct pp_pdgraph *g, struct pp_pdgraph **out)
{
    size_t n = g->n_nodes, folded = 0;
    size_t *rep = pp_xmalloc((n ? n : 1) * sizeof *rep);
    for (size_t v = 0; v < n; v++) {
        rep[v] = v;
        if (!g->nodes[v].removed && DEG1(succ, v)) {
            size_t s = g->succ[g->succ_first[v]];
            if (g->pred_first[s + 1] - g->pred_first[s] >= 2) {
                rep[v] = s;
                folded++;
            }
        }
    }
    /* Follow absorbed joins to their own join (topological order: targets last). */
    for (size_t k = g->n_kept; k-- > 0;) {
        size_t v = g->topo[k];
        rep[v] = rep[rep[v]];
    }
    contract(g, rep, 0, "Joined", out);
    free(rep);
    return folded;
}
#undef DEG1
