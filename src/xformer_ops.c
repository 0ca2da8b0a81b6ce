/* xformer_ops.c - the kernels of one embedding, block and LM head, per GPU
 * and microbatch, and their roofline times (docs/costmodel.md §Time).
 *
 * The op lists follow Megatron-LM's GPT with its fused kernels (LayerNorm,
 * bias+GeLU, bias+dropout+residual, scale+mask+softmax). Byte counts are what
 * each kernel reads and writes in HBM; FLOPs are 2mnk per GEMM. Tensor
 * parallelism splits the GEMMs (Megatron's column/row-parallel pairs); the
 * collectives sit where Megatron puts them: an all-reduce after each
 * row-parallel GEMM in the forward (a reduce-scatter with sequence
 * parallelism, plus an all-gather before each column-parallel GEMM), and in
 * the backward the input-gradient all-reduce (reduce-scatter) runs beside the
 * weight-gradient GEMM, the sequence-parallel input all-gather beside the
 * input-gradient GEMM (Megatron's async TP communication). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "xformer_int.h"

void pp_xf_dims_init(struct pp_xf_dims *x, const struct pp_xf_shape *s)
{
    memset(x, 0, sizeof *x);
    x->h = (double)s->hidden;
    x->a = (double)s->heads;
    x->kv = (double)s->kv_heads;
    x->d = x->h / x->a;
    x->hk = x->kv * x->d;
    x->f = (double)s->ffn;
    x->s = (double)s->seq;
    x->b = (double)s->microbatch;
    x->t = (double)s->tp;
    x->V = (double)s->vocab;
    x->sp = s->sequence_parallel && s->tp > 1;
    x->ts = x->sp ? x->t : 1;
    x->act = 2;
    x->fp8 = s->dtype == PP_XF_FP8;
    x->gin = x->fp8 ? 1 : 2;
    /* The weight-gradient GEMM accumulates into the gradient buffer (beta = 1):
     * fp32 main grads are read and written, 4 + 4 bytes. */
    x->wgrad_c = s->fp32_grads ? 8 : 4;
    x->flash = s->flash_attention;
    x->causal = s->causal;
    x->overlap = s->tp_overlap;
}

static struct pp_xf_op *push(struct pp_xf_layer *L, const char *name, enum pp_xf_pass pass,
                             enum pp_xf_opkind kind)
{
    L->ops = pp_xrealloc(L->ops, (L->n_ops + 1) * sizeof *L->ops);
    struct pp_xf_op *o = &L->ops[L->n_ops++];
    memset(o, 0, sizeof *o);
    o->name = name;
    o->pass = pass;
    o->kind = kind;
    o->overlap_op = -1;
    o->batch = 1;
    o->wave = 1;
    return o;
}

/* C[m,n] (+)= A[m,k] B[k,n], `batch` times; c_bytes per output element.
 * With fp8, `cast` 16-bit elements are first converted to 8 bits (read 2,
 * write 1) by their own kernel, as Transformer Engine runs it; attention GEMMs
 * (`b16`) stay in 16 bits. Returns the GEMM's index. */
static int gemm(const struct pp_xf_dims *x, struct pp_xf_layer *L, const char *name,
                enum pp_xf_pass pass, double m, double n, double k, double batch, double c_bytes,
                double cast, int b16)
{
    if (x->fp8 && cast > 0 && !b16)
        push(L, "fp8_cast", pass, PP_XF_ELEM)->bytes = 3 * cast;
    struct pp_xf_op *o = push(L, name, pass, PP_XF_GEMM);
    o->m = m;
    o->n = n;
    o->k = k;
    o->batch = batch;
    o->b16 = b16 || !x->fp8;
    o->flops = 2 * m * n * k * batch;
    o->bytes = batch * ((o->b16 ? 2 : x->gin) * (m * k + k * n) + c_bytes * m * n);
    return (int)(L->n_ops - 1);
}

static void elem(struct pp_xf_layer *L, const char *name, enum pp_xf_pass pass, double bytes)
{
    push(L, name, pass, PP_XF_ELEM)->bytes = bytes;
}

/* A TP collective over `tensor` bytes: factor 2 all-reduce, 1 all-gather or
 * reduce-scatter. Nothing to do without tensor parallelism. */
static struct pp_xf_op *coll(const struct pp_xf_dims *x, struct pp_xf_layer *L, const char *name,
                             enum pp_xf_pass pass, double tensor, int factor, int overlap_op)
{
    if (x->t <= 1)
        return NULL;
    struct pp_xf_op *o = push(L, name, pass, PP_XF_COMM);
    o->comm_bytes = tensor;
    o->comm_factor = factor;
    o->overlap_op = x->overlap ? overlap_op : -1;
    return o;
}

/* The output all-reduce (reduce-scatter under SP) of a row-parallel GEMM. */
static void row_out(const struct pp_xf_dims *x, struct pp_xf_layer *L, const char *name,
                    double tensor)
{
    coll(x, L, name, PP_XF_F, tensor, x->sp ? 1 : 2, -1);
}

void pp_xf_ops_embed(const struct pp_xf_dims *x, struct pp_xf_layer *L)
{
    double sbh = x->s * x->b * x->h, ts = x->ts, A = x->act;
    /* Vocab-parallel lookup: every rank writes the whole s x b x h output (rows
     * outside its vocabulary slice are zero), then the ranks sum them. */
    elem(L, "embedding_lookup", PP_XF_F, 2 * A * sbh);
    row_out(x, L, x->sp ? "embedding_reduce_scatter" : "embedding_all_reduce", A * sbh);
    elem(L, "position_add", PP_XF_F, 3 * A * sbh / ts);
    elem(L, "embedding_dropout", PP_XF_F, (2 * A + 1) * sbh / ts);

    elem(L, "embedding_dropout_bwd", PP_XF_BI, (2 * A + 1) * sbh / ts);
    /* The adjoint of the reduce-scatter: the full gradient for the lookup. */
    if (x->sp)
        coll(x, L, "embedding_grad_all_gather", PP_XF_BI, A * sbh, 1, -1);

    /* Dense embedding backward: zero the V/t x h gradient, scatter-add the s x b
     * rows, then accumulate it into the (fp32) main gradient. */
    double vh = x->V * x->h / x->t;
    elem(L, "embedding_wgrad", PP_XF_BW, A * vh + 3 * A * sbh + (A + x->wgrad_c) * vh);
    elem(L, "position_wgrad", PP_XF_BW, A * sbh / ts + x->wgrad_c * x->s * x->h);
}

void pp_xf_ops_block(const struct pp_xf_dims *x, struct pp_xf_layer *L)
{
    const double h = x->h, f = x->f, s = x->s, b = x->b, t = x->t, ts = x->ts, A = x->act;
    const double sb = s * b, sbh = sb * h, qkv_n = (h + 2 * x->hk) / t;
    const double heads = b * x->a / t, sc = heads * s * s; /* score elements per GPU */
    const char *gather = "sp_all_gather";
    const char *rowc = x->sp ? "tp_reduce_scatter" : "tp_all_reduce";

    /* ---- forward ---- */
    elem(L, "layernorm1", PP_XF_F, 2 * A * sbh / ts);
    if (x->sp)
        coll(x, L, gather, PP_XF_F, A * sbh, 1, -1);
    gemm(x, L, "qkv", PP_XF_F, sb, qkv_n, h, 1, A, sb * h + h * qkv_n, 0);
    if (x->flash) {
        struct pp_xf_op *o = push(L, "flash_attention", PP_XF_F, PP_XF_ATTN);
        o->flops = 4 * b * s * s * h / t * (x->causal ? 0.5 : 1.0);
        o->bytes = A * sb * (qkv_n + h / t) + 4 * heads * s;
    } else {
        int i = gemm(x, L, "attention_scores", PP_XF_F, s, s, x->d, heads, A, 0, 1);
        L->ops[i].recomputed = 1;
        elem(L, "softmax", PP_XF_F, 2 * A * sc);
        L->ops[L->n_ops - 1].recomputed = 1;
        elem(L, "attention_dropout", PP_XF_F, (2 * A + 1) * sc);
        L->ops[L->n_ops - 1].recomputed = 1;
        i = gemm(x, L, "attention_values", PP_XF_F, s, x->d, s, heads, A, 0, 1);
        L->ops[i].recomputed = 1;
    }
    gemm(x, L, "attention_proj", PP_XF_F, sb, h, h / t, 1, A, sbh / t + h * h / t, 0);
    row_out(x, L, rowc, A * sbh);
    elem(L, "bias_dropout_add", PP_XF_F, (3 * A + 1) * sbh / ts);
    elem(L, "layernorm2", PP_XF_F, 2 * A * sbh / ts);
    if (x->sp)
        coll(x, L, gather, PP_XF_F, A * sbh, 1, -1);
    gemm(x, L, "fc1", PP_XF_F, sb, f / t, h, 1, A, sbh + h * f / t, 0);
    elem(L, "bias_gelu", PP_XF_F, 2 * A * sb * f / t);
    gemm(x, L, "fc2", PP_XF_F, sb, h, f / t, 1, A, sb * f / t + h * f / t, 0);
    row_out(x, L, rowc, A * sbh);
    elem(L, "bias_dropout_add", PP_XF_F, (3 * A + 1) * sbh / ts);

    /* ---- weight gradients (their indices are the overlap targets below) ---- */
    int w_qkv = gemm(x, L, "qkv_wgrad", PP_XF_BW, h, qkv_n, sb, 1, x->wgrad_c, 0, 0);
    gemm(x, L, "attention_proj_wgrad", PP_XF_BW, h / t, h, sb, 1, x->wgrad_c, 0, 0);
    int w_fc1 = gemm(x, L, "fc1_wgrad", PP_XF_BW, h, f / t, sb, 1, x->wgrad_c, 0, 0);
    gemm(x, L, "fc2_wgrad", PP_XF_BW, f / t, h, sb, 1, x->wgrad_c, 0, 0);
    /* Bias gradients (column sums of the output gradients) and LayerNorm's
     * gamma/beta gradients. */
    elem(L, "bias_layernorm_grads", PP_XF_BW,
         A * sb * (qkv_n + f / t) + 2 * A * sbh / ts + 2 * 2 * A * sbh / ts);

    /* ---- input gradients, in backward order ---- */
    elem(L, "bias_dropout_add_bwd", PP_XF_BI, (2 * A + 1) * sbh / ts);
    if (x->sp) /* the adjoint of fc2's reduce-scatter: needed before fc2's dgrad */
        coll(x, L, "sp_grad_all_gather", PP_XF_BI, A * sbh, 1, -1);
    gemm(x, L, "fc2_dgrad", PP_XF_BI, sb, f / t, h, 1, A, sbh, 0);
    elem(L, "gelu_bwd", PP_XF_BI, 3 * A * sb * f / t);
    int d_fc1 = gemm(x, L, "fc1_dgrad", PP_XF_BI, sb, h, f / t, 1, A, sb * f / t, 0);
    if (x->sp) /* re-gather LayerNorm2's output for fc1's weight gradient */
        coll(x, L, "sp_all_gather_redo", PP_XF_BI, A * sbh, 1, d_fc1);
    coll(x, L, x->sp ? "tp_grad_reduce_scatter" : "tp_grad_all_reduce", PP_XF_BI, A * sbh,
         x->sp ? 1 : 2, w_fc1);
    elem(L, "layernorm2_bwd", PP_XF_BI, 4 * A * sbh / ts);
    elem(L, "bias_dropout_add_bwd", PP_XF_BI, (2 * A + 1) * sbh / ts);
    if (x->sp)
        coll(x, L, "sp_grad_all_gather", PP_XF_BI, A * sbh, 1, -1);
    gemm(x, L, "attention_proj_dgrad", PP_XF_BI, sb, h / t, h, 1, A, sbh, 0);
    if (x->flash) {
        /* FlashAttention-2's backward recomputes S = QK^T and P, then dV, dP, dQ
         * and dK: five matmuls of the forward's two sizes, 2.5 x its FLOPs. */
        struct pp_xf_op *o = push(L, "flash_attention_bwd", PP_XF_BI, PP_XF_ATTN);
        o->flops = 2.5 * 4 * b * s * s * h / t * (x->causal ? 0.5 : 1.0);
        o->bytes = 2 * A * sb * (qkv_n + 2 * h / t) + 4 * heads * s;
    } else {
        gemm(x, L, "attention_values_dgrad_p", PP_XF_BI, s, s, x->d, heads, A, 0, 1);
        gemm(x, L, "attention_values_dgrad_v", PP_XF_BI, s, x->d, s, heads, A, 0, 1);
        elem(L, "attention_dropout_bwd", PP_XF_BI, (2 * A + 1) * sc);
        elem(L, "softmax_bwd", PP_XF_BI, 3 * A * sc);
        gemm(x, L, "attention_scores_dgrad_q", PP_XF_BI, s, x->d, s, heads, A, 0, 1);
        gemm(x, L, "attention_scores_dgrad_k", PP_XF_BI, s, x->d, s, heads, A, 0, 1);
    }
    int d_qkv = gemm(x, L, "qkv_dgrad", PP_XF_BI, sb, h, qkv_n, 1, A, sb * qkv_n, 0);
    if (x->sp)
        coll(x, L, "sp_all_gather_redo", PP_XF_BI, A * sbh, 1, d_qkv);
    coll(x, L, x->sp ? "tp_grad_reduce_scatter" : "tp_grad_all_reduce", PP_XF_BI, A * sbh,
         x->sp ? 1 : 2, w_qkv);
    elem(L, "layernorm1_bwd", PP_XF_BI, 4 * A * sbh / ts);
}

void pp_xf_ops_head(const struct pp_xf_dims *x, struct pp_xf_layer *L)
{
    const double h = x->h, t = x->t, ts = x->ts, A = x->act, sb = x->s * x->b;
    const double sbh = sb * h, logits = sb * x->V / t;
    elem(L, "final_layernorm", PP_XF_F, 2 * A * sbh / ts);
    if (x->sp)
        coll(x, L, "sp_all_gather", PP_XF_F, A * sbh, 1, -1);
    gemm(x, L, "logits", PP_XF_F, sb, x->V / t, h, 1, A, sbh + h * x->V / t, 0);
    /* Megatron's vocab-parallel cross-entropy in fp32: cast (2 + 4), max and
     * exp-sum (4 + 4 + 4), target pick; three all-reduces of s x b floats. */
    elem(L, "cross_entropy", PP_XF_F, 18 * logits);
    coll(x, L, "cross_entropy_all_reduces", PP_XF_F, 3 * 4 * sb, 2, -1);

    int w = gemm(x, L, "logits_wgrad", PP_XF_BW, x->V / t, h, sb, 1, x->wgrad_c, 0, 0);
    elem(L, "final_layernorm_grads", PP_XF_BW, 2 * A * sbh / ts);

    /* softmax - one-hot in place (4 + 4), cast to 16 bits (4 + 2). */
    elem(L, "cross_entropy_bwd", PP_XF_BI, 14 * logits);
    int dg = gemm(x, L, "logits_dgrad", PP_XF_BI, sb, h, x->V / t, 1, A, logits, 0);
    if (x->sp)
        coll(x, L, "sp_all_gather_redo", PP_XF_BI, A * sbh, 1, dg);
    coll(x, L, x->sp ? "tp_grad_reduce_scatter" : "tp_grad_all_reduce", PP_XF_BI, A * sbh,
         x->sp ? 1 : 2, w);
    elem(L, "final_layernorm_bwd", PP_XF_BI, 4 * A * sbh / ts);
}

/* The share of the SMs a GEMM's last wave keeps busy: ceil-divided output
 * tiles over the SM count (NVIDIA, "Matrix Multiplication Background User's
 * Guide", wave quantization). */
static double wave_eff(double m, double n, double batch, int sms)
{
    if (sms <= 0)
        return 1;
    double tiles = ceil(m / PP_XF_TILE_M) * ceil(n / PP_XF_TILE_N) * batch;
    double waves = tiles / sms;
    return waves / ceil(waves);
}

void pp_xf_time_layer(const struct pp_xf_model *m, struct pp_xf_layer *L)
{
    const struct pp_gpu_eff *e = &m->eff;
    const struct pp_gpu *g = m->gpu;
    double mem_bw = g->hbm_bytes_per_s * e->memory;
    double t = (double)m->shape.tp, over = e->op_overhead_us * 1e-3;
    for (size_t i = 0; i < L->n_ops; i++) {
        struct pp_xf_op *o = &L->ops[i];
        double mem_ms = o->bytes / mem_bw * 1e3;
        switch (o->kind) {
        case PP_XF_GEMM:
            o->wave = wave_eff(o->m, o->n, o->batch, g->sm_count);
            o->ms = fmax(o->flops / ((o->b16 ? m->peak16_flops : m->peak_flops) * e->gemm *
                                     o->wave) * 1e3,
                         mem_ms) + over;
            break;
        case PP_XF_ATTN:
            o->ms = fmax(o->flops / (m->peak16_flops * e->attention) * 1e3, mem_ms) + over;
            break;
        case PP_XF_ELEM: o->ms = mem_ms + over; break;
        case PP_XF_COMM:
            /* Ring: each GPU sends and receives (t-1)/t of the tensor once per
             * phase; an all-reduce is a reduce-scatter plus an all-gather. */
            o->ms = e->collective_latency_us * 1e-3 +
                    o->comm_factor * (t - 1) / t * o->comm_bytes /
                        (g->scaleup_bytes_per_s * e->collective) * 1e3;
            break;
        }
    }
    memset(L->pass_ms, 0, sizeof L->pass_ms);
    memset(L->pass_flops, 0, sizeof L->pass_flops);
    memset(L->pass_comm_ms, 0, sizeof L->pass_comm_ms);
    L->recompute_forward_ms = L->recompute_flops = 0;
    for (size_t i = 0; i < L->n_ops; i++) {
        const struct pp_xf_op *o = &L->ops[i];
        double ms = o->ms;
        if (o->kind == PP_XF_COMM && o->overlap_op >= 0)
            ms = fmax(0, o->ms - L->ops[o->overlap_op].ms);
        L->pass_ms[o->pass] += ms;
        L->pass_flops[o->pass] += o->flops;
        if (o->kind == PP_XF_COMM)
            L->pass_comm_ms[o->pass] += ms;
        if (o->recomputed) {
            L->recompute_forward_ms += ms;
            L->recompute_flops += o->flops;
        }
    }
}
