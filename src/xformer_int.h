/* xformer_int.h - what the xformer_*.c files share (not a public API). */
#ifndef PP_XFORMER_INT_H
#define PP_XFORMER_INT_H

#include "xformer.h"

/* GEMM output tile assumed for wave quantization: CUTLASS/cuBLAS's large
 * 16-bit tensor-core tile (256 x 128) on A100/H100-class GPUs. */
#define PP_XF_TILE_M 256.0
#define PP_XF_TILE_N 128.0

/* The sizes the op builders use, as doubles, per GPU. */
struct pp_xf_dims {
    double h, a, kv, d, hk, f, s, b, t, V;
    double ts;    /* the split of the non-tensor-parallel region: t with SP, else 1 */
    double act;   /* bytes of a stored activation element (16-bit) */
    double gin;   /* bytes of a GEMM input element (1 for fp8, else 2) */
    double wgrad_c; /* bytes read + written per weight-gradient element */
    int fp8, flash, causal, sp, overlap;
};

void pp_xf_dims_init(struct pp_xf_dims *x, const struct pp_xf_shape *s);

/* Fill the op lists of the three layer kinds (xformer_ops.c) and time them. */
void pp_xf_ops_embed(const struct pp_xf_dims *x, struct pp_xf_layer *L);
void pp_xf_ops_block(const struct pp_xf_dims *x, struct pp_xf_layer *L);
void pp_xf_ops_head(const struct pp_xf_dims *x, struct pp_xf_layer *L);
void pp_xf_time_layer(const struct pp_xf_model *m, struct pp_xf_layer *L);

/* The pass names used in YAML comments and JSON. */
extern const char *const pp_xf_pass_names[PP_XF_NPASS];
extern const char *const pp_xf_dtype_names[3];
extern const char *const pp_xf_recompute_names[3];

#endif
