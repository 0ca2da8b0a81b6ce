/* pdgraph.h - PipeDream's profile graph (graph.txt) as written, for the planner.
 *
 * Grammar and pre-processing: pipedream-optimizer.md §1-2. The reader keeps the
 * file's node and edge order because PipeDream's antichain enumeration (and so
 * its state order) depends on it. The cost model (costmodel.h) linearises this
 * graph; the planner (antichain.h, pdplan.h) works on it directly. */
#ifndef PP_PDGRAPH_H
#define PP_PDGRAPH_H

#include <stddef.h>

struct pp_diag;
struct pp_buf;

enum pp_pdremoved {
    PP_PD_KEPT = 0,
    PP_PD_INPUT = 1,   /* a source whose description starts with "Input" */
    PP_PD_GETITEM = 2, /* a sink whose description starts with "__getitem__" */
};

struct pp_pdnode {
    char *id;
    char *desc;
    double fwd_ms, bwd_ms;
    double act_bytes; /* output size; a list "[a; b]" is summed, as PipeDream does */
    double par_bytes;
    unsigned line, col;
    enum pp_pdremoved removed;
    /* Nodes folded into this one by pp_pdgraph_collapse_branches (members[0] is
     * itself); NULL for ordinary nodes. Indices into the original graph. */
    size_t *members;
    size_t n_members;
};

struct pp_pdgraph {
    char *file;
    struct pp_pdnode *nodes; /* file order */
    size_t n_nodes;
    /* Kept edges (both ends kept, duplicates dropped) in file order, as CSR:
     * successors of v are succ[succ_first[v] .. succ_first[v+1]). */
    size_t *succ_first, *succ;
    size_t *pred_first, *pred;
    size_t n_edges;
    size_t *topo;   /* kept nodes in topological order, ties by file order */
    size_t (*raw_edges)[2]; /* every edge line as written (for the writer) */
    size_t n_raw_edges;
    size_t n_kept;
};

/* Parse graph.txt from a buffer. Rejects malformed lines, unknown or missing
 * metadata, undeclared nodes, self-loops and cycles, each with file:line:col. */
int pp_pdgraph_parse(const char *buf, size_t len, const char *file, struct pp_pdgraph **out,
                     struct pp_diag *d);
int pp_pdgraph_load(const char *path, struct pp_pdgraph **out, struct pp_diag *d);
void pp_pdgraph_free(struct pp_pdgraph *g);

/* Install the kept edges (pairs of node indices, in order) as the CSR arrays and
 * compute the topological order; fails on a cycle. For builders of graphs. */
int pp_pdgraph_set_edges(struct pp_pdgraph *g, const size_t (*ends)[2], size_t ne,
                         struct pp_diag *d);

/* A copy where every maximal chain of single-input/single-output nodes that
 * starts on a branch (its head's predecessor has several outputs) is one node:
 * times and weights add up, the output is the chain's last. PipeDream needs
 * this for Inception and NASNet (its compress_graph_branches.py); fewer cut
 * points inside branches, far fewer antichains. Returns the number folded. */
size_t pp_pdgraph_collapse_branches(const struct pp_pdgraph *g, struct pp_pdgraph **out);

/* A copy where siblings with the same single writer and the same single reader
 * are one node (outputs summed). Returns the number folded. */
size_t pp_pdgraph_merge_parallel(const struct pp_pdgraph *g, struct pp_pdgraph **out);

/* A copy where each node whose only reader is a join (a node with several
 * inputs) is part of that join. Coarser; for graphs still too wide after
 * series-parallel reduction. Returns the number folded. */
size_t pp_pdgraph_absorb_into_joins(const struct pp_pdgraph *g, struct pp_pdgraph **out);

/* PipeDream's optimizer output (gpus=N.txt): every node line with
 * " -- stage_id=K" (stage[v] for node v, SIZE_MAX = none), Input nodes last
 * with stage 0, __getitem__ sinks left out; numbers as Python prints them. */
void pp_pdgraph_write(struct pp_buf *b, const struct pp_pdgraph *g, const size_t *stage);

#endif
