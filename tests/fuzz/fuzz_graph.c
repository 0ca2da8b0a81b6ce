/* fuzz_graph.c - PipeDream's graph.txt: the planner's reader
 * (pp_pdgraph_parse, then the three graph reductions and the optimizer-output
 * writer, read back) and the cost model's (pp_costmodel_parse_graph, then the
 * YAML round trip). A parsed graph's topological order must be a permutation
 * of its kept nodes that every kept edge follows. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "costmodel.h"
#include "diag.h"
#include "fuzz.h"
#include "pdgraph.h"

static void check_topo(const struct pp_pdgraph *g)
{
    size_t n = g->n_nodes;
    size_t *pos = malloc((n ? n : 1) * sizeof *pos);
    if (!pos)
        abort();
    for (size_t v = 0; v < n; v++)
        pos[v] = SIZE_MAX;
    for (size_t k = 0; k < g->n_kept; k++) {
        size_t v = g->topo[k];
        if (v >= n || g->nodes[v].removed || pos[v] != SIZE_MAX)
            pp_fuzz_fail("graph", "topo is not a permutation of the kept nodes");
        pos[v] = k;
    }
    for (size_t v = 0; v < n; v++)
        for (size_t j = g->succ_first[v]; j < g->succ_first[v + 1]; j++)
            if (pos[v] == SIZE_MAX || pos[g->succ[j]] == SIZE_MAX || pos[v] >= pos[g->succ[j]])
                pp_fuzz_fail("graph", "a kept edge goes against the topological order");
    free(pos);
}

static void reduce(size_t (*op)(const struct pp_pdgraph *, struct pp_pdgraph **),
                   const struct pp_pdgraph *g)
{
    struct pp_pdgraph *r = NULL;
    op(g, &r);
    if (!r)
        pp_fuzz_fail("graph", "a reduction returned no graph");
    check_topo(r);
    pp_pdgraph_free(r);
}

int pp_fuzz_graph(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct pp_pdgraph *g = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_pdgraph_parse(buf, size, PP_FUZZ_FILE, &g, &d);
    if (rc == 0) {
        check_topo(g);
        reduce(pp_pdgraph_collapse_branches, g);
        reduce(pp_pdgraph_merge_parallel, g);
        reduce(pp_pdgraph_absorb_into_joins, g);
        size_t *stage = calloc(g->n_nodes ? g->n_nodes : 1, sizeof *stage);
        if (!stage)
            abort();
        struct pp_buf b;
        pp_buf_init(&b);
        pp_pdgraph_write(&b, g, stage);
        struct pp_pdgraph *back = NULL;
        if (pp_pdgraph_parse(b.data ? b.data : "", b.len, "<written>", &back, &d) != 0) {
            char line[1024];
            pp_fuzz_fail("graph", pp_diag_format(&d, line, sizeof line));
        }
        pp_pdgraph_free(back);
        pp_buf_free(&b);
        free(stage);
        pp_pdgraph_free(g);
    } else {
        if (g)
            pp_fuzz_fail("graph", "a failed parse returned a graph");
        pp_fuzz_check_error(rc, &d, "graph");
    }

    struct pp_costmodel *cm = NULL;
    struct pp_diag d2 = {{0}, 0, 0, {0}};
    int rc2 = pp_costmodel_parse_graph(buf, size, PP_FUZZ_FILE, &cm, &d2);
    if ((rc2 == 0) != (rc == 0))
        pp_fuzz_fail("graph", "the cost model and the planner disagree on whether it parses");
    if (rc2 == 0) {
        if (cm->n_layers)
            pp_fuzz_costmodel_roundtrip(cm, "graph");
        pp_costmodel_free(cm);
    }
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_graph)
