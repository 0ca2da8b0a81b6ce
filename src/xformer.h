/* xformer.h - per-layer costs of a GPT-style transformer from its shape
 * (`ppsim model transformer`; formulas and sources in docs/costmodel.md).
 *
 * The model is the embedding, `layers` identical blocks (pre-LayerNorm
 * attention + MLP, Megatron-LM's GPT) and the LM head with the cross-entropy
 * loss. Every cost is per GPU and per microbatch: with tensor parallelism t the
 * GEMMs and the block parameters are split t ways and the TP collectives are
 * part of the layer's time.
 *
 * Times come from an op list (xformer_ops.c): each GEMM, attention kernel,
 * element-wise kernel and collective of the forward, input-gradient and
 * weight-gradient passes, timed on a roofline
 *     max(flops / (peak x gemm efficiency x wave quantization),
 *         bytes / (HBM bandwidth x memory efficiency))
 * and collectives on the ring formula over the scale-up link. Activation
 * memory follows Korthikanti et al. 2022 (Table 2), parameters and optimizer
 * state the usual mixed-precision Adam accounting. */
#ifndef PP_XFORMER_H
#define PP_XFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "gpucat.h"

struct pp_diag;
struct pp_buf;

enum pp_xf_dtype { PP_XF_BF16, PP_XF_FP16, PP_XF_FP8 };
enum pp_xf_recompute { PP_XF_RECOMPUTE_NONE, PP_XF_RECOMPUTE_SELECTIVE, PP_XF_RECOMPUTE_FULL };

struct pp_xf_shape {
    int64_t hidden, layers, heads, kv_heads; /* kv_heads = heads: plain multi-head attention */
    int64_t ffn;                             /* MLP width; 4 x hidden in GPT */
    int64_t seq, vocab, microbatch;
    int64_t tp;                              /* tensor-parallel degree t */
    enum pp_xf_dtype dtype;
    int flash_attention;     /* fused attention: no s x s tensors kept or streamed */
    int causal;              /* flash attention skips the masked half (GPT: 1) */
    enum pp_xf_recompute recompute;
    int sequence_parallel;   /* Korthikanti et al. Sec. 4.2.2 */
    int fp32_grads;          /* gradients accumulated in fp32 (Megatron's main_grad): 18 B/param */
    int tp_overlap;          /* backward TP collectives run beside a GEMM (Megatron's async
                              * all-reduce / reduce-scatter and all-gather redo) */
};

/* The vocabulary Megatron-LM pads to (--make-vocab-size-divisible-by 128,
 * times t) so each TP rank gets an equal, aligned slice. */
int64_t pp_xf_padded_vocab(int64_t vocab, int64_t tp);

/* Check a shape: positive sizes, heads | hidden, kv_heads | heads, t | heads,
 * t | kv_heads, t | ffn, t within the GPU's scale-up domain, the dtype on the
 * GPU. One-line message naming the flag; -PP_EINVAL. gpu may be NULL. */
int pp_xf_check(const struct pp_xf_shape *s, const struct pp_gpu *gpu, struct pp_diag *d);

/* --- closed forms (docs/costmodel.md; the tests check them against the papers) --- */

/* Parameters of the whole model (all TP ranks): blocks with biases and
 * LayerNorms, word + learned position embeddings, final LayerNorm; the LM head
 * is tied to the word embedding. kv_dim = kv_heads x head size. */
double pp_xf_param_count(int64_t hidden, int64_t layers, int64_t ffn, int64_t kv_dim,
                         int64_t vocab, int64_t seq);
/* Korthikanti et al. 2022 Table 2, bytes per layer and microbatch, 16-bit
 * activations, no flash attention: none = sbh(10 + 24/t + 5as/(ht)); sequence
 * parallel sbh(34/t + 5as/(ht)); selective sbh(10 + 24/t); both sbh(34/t).
 * Exact for ffn = 4h and kv_heads = heads; the generator's general form
 * (pp_xf_block_activation_bytes) reduces to these. */
double pp_xf_korthikanti_bytes(double s, double b, double h, double a, double t, int seq_par,
                               int selective);
/* Narayanan et al. 2021 (SC21) Eq. 3: model FLOPs of one iteration of B
 * sequences with full recomputation, 96 B s l h^2 (1 + s/(6h) + V/(16 l h)). */
double pp_xf_narayanan_flops(double B, double s, double l, double h, double V);

/* --- the generated model --- */

enum pp_xf_pass { PP_XF_F, PP_XF_BI, PP_XF_BW, PP_XF_NPASS };
enum pp_xf_opkind { PP_XF_GEMM, PP_XF_ATTN, PP_XF_ELEM, PP_XF_COMM };

/* One kernel of a pass, timed on the roofline. */
struct pp_xf_op {
    const char *name;
    enum pp_xf_pass pass;
    enum pp_xf_opkind kind;
    double m, n, k, batch; /* GEMMs: C[m,n] += A[m,k] B[k,n], `batch` times */
    double flops, bytes;   /* per GPU */
    double comm_bytes;     /* collectives: the tensor reduced/gathered */
    int comm_factor;       /* collectives: 2 all-reduce, 1 all-gather/reduce-scatter */
    int overlap_op;        /* collectives: index of the GEMM they run beside (Megatron's
                            * async TP communication; only the excess shows), -1 = exposed */
    int recomputed;        /* repeated by selective recomputation */
    int b16;               /* runs at the 16-bit peak (attention stays 16-bit under fp8) */
    double wave;           /* wave-quantization efficiency used (GEMMs) */
    double ms;             /* resulting time */
};

struct pp_xf_layer {
    const char *kind; /* "embed", "block", "head" */
    double pass_ms[PP_XF_NPASS];
    double pass_flops[PP_XF_NPASS];   /* GEMM + attention FLOPs per GPU */
    double pass_comm_ms[PP_XF_NPASS]; /* exposed TP collective time inside pass_ms */
    double recompute_forward_ms;      /* repeated before the backward (recompute mode) */
    double recompute_flops;
    double activation_bytes;          /* kept from F to the end of B, no recomputation */
    double bw_activation_bytes;       /* what the weight gradient still needs after B_input */
    double recompute_activation_bytes; /* kept under the chosen recomputation */
    double output_bytes;              /* the activation sent to the next stage */
    double parameters;                /* per GPU */
    double parameter_bytes;           /* per GPU, in the weights' dtype */
    double optimizer_step_ms;         /* mixed-precision Adam step of these parameters */
    struct pp_xf_op *ops;
    size_t n_ops;
};

struct pp_xf_model {
    struct pp_xf_shape shape;   /* as given, vocab padded */
    int64_t vocab_given;
    const struct pp_gpu *gpu;   /* borrowed */
    struct pp_gpu_eff eff;      /* the factors used */
    double peak_flops;          /* of the dtype's GEMMs */
    double peak16_flops;        /* of the 16-bit kernels (attention under fp8) */
    struct pp_xf_layer embed, block, head;
    double params_total;        /* whole model, exact, all TP ranks (pp_xf_param_count) */
    double weight_bytes_per_param, grad_bytes_per_param, optimizer_bytes_per_param;
    double optimizer_traffic_bytes_per_param; /* HBM bytes one Adam step moves per parameter */
};

/* Build the three layer kinds. The model borrows gpu. */
int pp_xf_build(const struct pp_xf_shape *s, const struct pp_gpu *gpu,
                const struct pp_gpu_eff *eff, struct pp_xf_model *out, struct pp_diag *d);
void pp_xf_free(struct pp_xf_model *m);

/* ppsim per-layer YAML (docs/scenario.md "Per-layer cost model"): embed, a
 * `uniform` block of `layers` blocks, head; a comment header with the shape,
 * the GPU, the factors, the suggested training: keys and how to apply the
 * recomputation. `command` (may be NULL) is echoed in the header. */
void pp_xf_write_yaml(struct pp_buf *b, const struct pp_xf_model *m, const char *command);
/* The same as one JSON object, with the op lists and FLOP counts. */
void pp_xf_write_json(struct pp_buf *b, const struct pp_xf_model *m);

#endif
