/* costmodel_graph.c - PipeDream's profile graph -> ppsim cost model.
 *
 * The graph (pdgraph.c) is linearised in its topological order; a layer's
 * output_bytes is everything that crosses a cut placed right after it, i.e. the
 * outputs of earlier layers still waiting for a later reader (skip connections
 * included). */
#include "costmodel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdgraph.h"
#include "xalloc.h"

static int cmp_edge(const void *a, const void *b)
{
    const struct pp_edge *x = a, *y = b;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return x->dst < y->dst ? -1 : x->dst > y->dst;
}

/* Linearise g in `order` (kept nodes, a topological order). */
static void build_model(struct pp_pdgraph *g, const size_t *order, struct pp_costmodel *cm)
{
    size_t n = g->n_nodes, kept = g->n_kept;
    size_t *pos = pp_xmalloc((n ? n : 1) * sizeof *pos);
    for (size_t k = 0; k < kept; k++)
        pos[order[k]] = k;
    cm->n_layers = kept;
    cm->layers = pp_xcalloc(kept, sizeof *cm->layers);
    cm->edges = pp_xmalloc((g->n_edges ? g->n_edges : 1) * sizeof *cm->edges);
    /* last_use[k]: the furthest layer reading layer k's output. */
    size_t *last_use = pp_xmalloc(kept * sizeof *last_use);
    for (size_t k = 0; k < kept; k++) {
        size_t v = order[k];
        struct pp_pdnode *nd = &g->nodes[v];
        struct pp_layer *L = &cm->layers[k];
        L->name = pp_xstrdup(nd->id);
        L->desc = nd->desc ? pp_xstrdup(nd->desc) : NULL;
        L->forward_ms = nd->fwd_ms;
        L->backward_input_ms = nd->bwd_ms;
        L->activation_bytes = L->bw_activation_bytes = nd->act_bytes;
        L->parameter_bytes = nd->par_bytes;
        L->line = nd->line;
        L->col = nd->col;
        last_use[k] = k;
        for (size_t j = g->succ_first[v]; j < g->succ_first[v + 1]; j++) {
            size_t t = pos[g->succ[j]];
            cm->edges[cm->n_edges].src = k;
            cm->edges[cm->n_edges++].dst = t;
            if (t > last_use[k])
                last_use[k] = t;
        }
    }
    qsort(cm->edges, cm->n_edges, sizeof *cm->edges, cmp_edge);
    /* Sweep the cuts: a layer's output is live from itself up to its last reader.
     * Lists of layers whose last reader is k are threaded through next[]. */
    size_t *head = pos, *next = pp_xmalloc(kept * sizeof *next);
    for (size_t k = 0; k < kept; k++)
        head[k] = SIZE_MAX;
    long double live_bytes = 0;
    size_t live = 0;
    for (size_t k = 0; k < kept; k++) {
        for (size_t i = head[k]; i != SIZE_MAX; i = next[i]) {
            live_bytes -= cm->layers[i].activation_bytes;
            live--;
        }
        if (last_use[k] > k) {
            live_bytes += cm->layers[k].activation_bytes;
            live++;
            next[k] = head[last_use[k]];
            head[last_use[k]] = k;
        }
        /* Exactly zero when nothing crosses, whatever rounding left behind. */
        if (live == 0)
            live_bytes = 0;
        cm->layers[k].output_bytes = live_bytes > 0 ? (double)live_bytes : 0;
    }
    free(next);
    free(last_use);
    free(pos);
}

int pp_costmodel_parse_graph(const char *buf, size_t len, const char *file,
                             struct pp_costmodel **out, struct pp_diag *d)
{
    struct pp_pdgraph *g;
    int rc = pp_pdgraph_parse(buf, len, file, &g, d);
    if (rc)
        return rc;
    struct pp_costmodel *cm = pp_xcalloc(1, sizeof *cm);
    build_model(g, g->topo, cm);
    pp_pdgraph_free(g);
    cm->format = PP_MODEL_PIPEDREAM_GRAPH;
    cm->source = pp_xstrdup(file);
    *out = cm;
    return 0;
}

struct pp_costmodel *pp_costmodel_from_pdgraph(struct pp_pdgraph *g, const size_t *order)
{
    struct pp_costmodel *cm = pp_xcalloc(1, sizeof *cm);
    build_model(g, order ? order : g->topo, cm);
    cm->format = PP_MODEL_PIPEDREAM_GRAPH;
    cm->source = pp_xstrdup(g->file ? g->file : "");
    return cm;
}
