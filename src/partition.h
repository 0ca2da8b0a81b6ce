/* partition.h - cutting the layer list into contiguous pieces (stage 2).
 *
 * The model is cut into stages x chunks pieces in model order; piece k later
 * runs on the device the schedule's placement gives it. `balanced` minimises
 * the largest piece compute time (forward + full backward) exactly, by dynamic
 * programming over prefix sums. The PipeDream DP over antichains is issue 4. */
#ifndef PP_PARTITION_H
#define PP_PARTITION_H

#include <stddef.h>

struct pp_costmodel;
struct pp_diag;

struct pp_piece {
    size_t first_layer, n_layers;
    double forward_ms, backward_input_ms, backward_weight_ms;
    double fused_backward_ms;   /* the backward as one op: per layer fused, else BI + BW */
    int split_backward;         /* every layer gave backward_input/weight */
    double activation_bytes;    /* sum over its layers, per microbatch */
    double bw_activation_bytes; /* part still held between B_input and B_weight */
    double output_bytes;        /* crosses the cut after this piece (0 for the last) */
    double input_bytes;         /* what crossed the cut before it (0 for the first) */
    double max_layer_activation_bytes; /* one layer's, rebuilt during recomputation */
    double recompute_activation_bytes; /* kept under selective recomputation */
    double recompute_forward_ms;       /* forward work selective recomputation repeats */
    int has_selective;          /* every layer gave the two recompute_* values */
    double parameter_bytes;
};

struct pp_partition {
    struct pp_piece *pieces;
    size_t n_pieces;
};

/* Split into n_pieces contiguous non-empty pieces minimising the largest
 * forward+backward time; ties go to the earliest cut positions. */
int pp_partition_balanced(const struct pp_costmodel *cm, size_t n_pieces,
                          struct pp_partition **out, struct pp_diag *d);
/* Use the given layer counts (n_counts pieces; they must sum to the layer count). */
int pp_partition_explicit(const struct pp_costmodel *cm, const size_t *counts, size_t n_counts,
                          struct pp_partition **out, struct pp_diag *d);
void pp_partition_free(struct pp_partition *p);

#endif
