/* costmodel.h - per-layer compute, memory and communication costs (stage 1).
 *
 * A cost model is a list of layers in execution order. Two readers fill it:
 * ppsim's own per-layer YAML (costmodel_yaml.c) and PipeDream's profile format
 * graph.txt (costmodel_graph.c, grammar in pipedream-optimizer.md §1). A graph
 * is linearised in topological order; its edges are kept for the planner, and
 * each layer's output_bytes becomes the bytes that cross a cut placed after it. */
#ifndef PP_COSTMODEL_H
#define PP_COSTMODEL_H

#include <stddef.h>

struct pp_diag;

struct pp_layer {
    char *name;
    char *desc;                 /* free text (PipeDream's module repr); may be NULL */
    double forward_ms;
    /* Full backward = backward_input_ms + backward_weight_ms. A layer given only
     * `backward_ms` has split_backward = 0 and its whole time in backward_input_ms. */
    double backward_input_ms;
    double backward_weight_ms;
    int split_backward;
    /* The backward as one op (GPipe, 1F1B...), measured apart from its two
     * halves: a split backward pays its host and autograd work twice. 0 with
     * has_fused = 0: backward_input_ms + backward_weight_ms. */
    double fused_backward_ms;
    int has_fused;
    double activation_bytes;    /* kept per microbatch from F to the end of backward */
    double bw_activation_bytes; /* the part B_weight still needs after B_input (ZB's M_W) */
    double output_bytes;        /* sent downstream when a cut follows this layer */
    double parameter_bytes;
    /* Selective recomputation (Korthikanti et al. 2022): activations still kept
     * and forward time repeated before backward; has_recompute = both given. */
    double recompute_activation_bytes;
    double recompute_forward_ms;
    int has_recompute;
    unsigned line, col;         /* where it was defined (0 = unknown) */
};

struct pp_edge {
    size_t src, dst; /* layer indices, src < dst in the stored order */
};

enum pp_model_format { PP_MODEL_YAML, PP_MODEL_PIPEDREAM_GRAPH };

struct pp_costmodel {
    struct pp_layer *layers;
    size_t n_layers;
    struct pp_edge *edges; /* graph imports only; empty for per-layer YAML */
    size_t n_edges;
    enum pp_model_format format;
    char *source;          /* file name it came from */
    char *name;            /* YAML `name:`; NULL when not given (graph imports) */
};

/* Read a cost model, choosing the reader by content: a file whose first
 * non-blank line matches "ID -- DESC -- forward_compute_time=" is a PipeDream
 * graph, anything else is YAML. On success *out is owned (pp_costmodel_free). */
int pp_costmodel_load(const char *path, struct pp_costmodel **out, struct pp_diag *d);

/* ppsim per-layer YAML from a buffer (len bytes, no NUL needed). */
int pp_costmodel_parse_yaml(const char *buf, size_t len, const char *file,
                            struct pp_costmodel **out, struct pp_diag *d);

/* The YAML reader's entry point for an already parsed node: a mapping with
 * `layers:` and/or `uniform:` (and optional `name`, `source`), or a sequence of
 * layers. Scenarios use it for inline models. */
struct pp_ynode;
int pp_costmodel_from_node(const struct pp_ynode *node, const char *path, const char *file,
                           struct pp_costmodel **out, struct pp_diag *d);

/* PipeDream graph.txt from a buffer. Applies PipeDream's pre-processing: sources
 * whose description starts with "Input" are dropped (their outputs become free
 * inputs), and so are sinks whose description starts with "__getitem__". */
int pp_costmodel_parse_graph(const char *buf, size_t len, const char *file,
                             struct pp_costmodel **out, struct pp_diag *d);

void pp_costmodel_free(struct pp_costmodel *cm);

/* Linearise a PipeDream graph in `order` (its kept nodes in a topological
 * order; NULL = g->topo), recomputing each layer's output_bytes for that order.
 * Used to make a planner's stages contiguous. */
struct pp_pdgraph;
struct pp_costmodel *pp_costmodel_from_pdgraph(struct pp_pdgraph *g, const size_t *order);

/* Write cm in ppsim's per-layer YAML (round-trips through the YAML reader). */
struct pp_buf;
void pp_costmodel_write_yaml(struct pp_buf *b, const struct pp_costmodel *cm);

/* Totals over layers [first, last) for the stage split. */
double pp_costmodel_compute_ms(const struct pp_costmodel *cm, size_t first, size_t last);

#endif
