/* xformer.c - shape checks, the closed forms (parameters, Korthikanti et al.'s
 * activation memory, Narayanan et al.'s FLOPs) and the assembly of the three
 * layer kinds (xformer.h; op lists in xformer_ops.c, writers in
 * xformer_write.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "xformer_int.h"

const char *const pp_xf_pass_names[PP_XF_NPASS] = {"forward", "backward_input",
                                                   "backward_weight"};
const char *const pp_xf_dtype_names[3] = {"bf16", "fp16", "fp8"};
const char *const pp_xf_recompute_names[3] = {"none", "selective", "full"};

/* Sizes past these are valid requests ppsim does not take on (exit 3). */
#define MAX_HIDDEN 10000000
#define MAX_LAYERS 10000000
#define MAX_SEQ 100000000
#define MAX_VOCAB 1000000000
#define MAX_MICROBATCH 1000000

int64_t pp_xf_padded_vocab(int64_t vocab, int64_t tp)
{
    int64_t mult = 128 * (tp > 0 ? tp : 1);
    return (vocab + mult - 1) / mult * mult;
}

static int size_ok(const char *flag, int64_t v, int64_t max, struct pp_diag *d)
{
    if (v <= 0)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "%s must be a positive integer, got %lld",
                           flag, (long long)v);
    if (v > max)
        return pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "%s %lld is more than ppsim's limit of %lld",
                           flag, (long long)v, (long long)max);
    return 0;
}

int pp_xf_check(const struct pp_xf_shape *s, const struct pp_gpu *gpu, struct pp_diag *d)
{
    int rc;
    if ((rc = size_ok("--hidden", s->hidden, MAX_HIDDEN, d)) ||
        (rc = size_ok("--layers", s->layers, MAX_LAYERS, d)) ||
        (rc = size_ok("--heads", s->heads, MAX_HIDDEN, d)) ||
        (rc = size_ok("--kv-heads", s->kv_heads, MAX_HIDDEN, d)) ||
        (rc = size_ok("--ffn", s->ffn, 16 * (int64_t)MAX_HIDDEN, d)) ||
        (rc = size_ok("--seq", s->seq, MAX_SEQ, d)) ||
        (rc = size_ok("--vocab", s->vocab, MAX_VOCAB, d)) ||
        (rc = size_ok("--microbatch", s->microbatch, MAX_MICROBATCH, d)) ||
        (rc = size_ok("--tp", s->tp, 1024, d)))
        return rc;
    if (s->hidden % s->heads)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "--heads %lld does not divide --hidden %lld (the head size would be "
                           "%.4g)",
                           (long long)s->heads, (long long)s->hidden,
                           (double)s->hidden / (double)s->heads);
    if (s->kv_heads > s->heads || s->heads % s->kv_heads)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "--kv-heads %lld does not divide --heads %lld (each key/value head "
                           "serves a whole group of query heads)",
                           (long long)s->kv_heads, (long long)s->heads);
    if (s->heads % s->tp)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "--tp %lld does not divide --heads %lld (tensor parallelism gives "
                           "each rank whole attention heads)",
                           (long long)s->tp, (long long)s->heads);
    if (s->kv_heads % s->tp)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "--tp %lld does not divide --kv-heads %lld (each rank needs whole "
                           "key/value heads; replicated KV heads are not modelled)",
                           (long long)s->tp, (long long)s->kv_heads);
    if (s->ffn % s->tp)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "--tp %lld does not divide --ffn %lld (the MLP is split column-wise "
                           "across the tensor-parallel ranks)",
                           (long long)s->tp, (long long)s->ffn);
    if (!gpu)
        return 0;
    if (s->tp > gpu->scaleup_gpus)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "--tp %lld is more than the %d GPUs of one %s scale-up (NVLink) "
                           "domain; tensor parallelism stays inside it",
                           (long long)s->tp, gpu->scaleup_gpus, gpu->name);
    if (s->dtype == PP_XF_FP8 && !(gpu->fp8_flops > 0))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "--dtype fp8: %s has no FP8 tensor cores (its catalogue entry gives "
                           "no fp8_tflops)",
                           gpu->name);
    return 0;
}

double pp_xf_param_count(int64_t hidden, int64_t layers, int64_t ffn, int64_t kv_dim,
                         int64_t vocab, int64_t seq)
{
    double h = (double)hidden, f = (double)ffn, hk = (double)kv_dim;
    /* QKV weight + bias, projection weight + bias, fc1 and fc2 weights +
     * biases, two LayerNorms (gamma, beta): 12h^2 + 13h when f = 4h, hk = h. */
    double block = h * (h + 2 * hk) + (h + 2 * hk) + h * h + h + 2 * h * f + f + h + 4 * h;
    return (double)layers * block + (double)vocab * h + (double)seq * h + 2 * h;
}

double pp_xf_korthikanti_bytes(double s, double b, double h, double a, double t, int seq_par,
                               int selective)
{
    double per = seq_par ? 34.0 / t : 10.0 + 24.0 / t;
    if (!selective)
        per += 5.0 * a * s / (h * t);
    return s * b * h * per;
}

double pp_xf_narayanan_flops(double B, double s, double l, double h, double V)
{
    return 96.0 * B * s * l * h * h * (1.0 + s / (6.0 * h) + V / (16.0 * l * h));
}

/* Bytes a block keeps per microbatch (Korthikanti et al. 2022 Sec. 4.1,
 * generalised to an FFN width f and kv_heads): the LayerNorm inputs, the QKV
 * and fc1 inputs and the two dropout masks are replicated across the TP ranks
 * (10 sbh) unless sequence parallelism splits them; Q, K, V, the projection
 * input and GeLU's input and output are split (sb(4h + 4hk + 4f)/t); the
 * attention scores add 5 b (a/t) s^2 unless a fused kernel never stores them. */
static double block_activation(const struct pp_xf_dims *x, int selective)
{
    double sb = x->s * x->b;
    double repl = 10 * sb * x->h / x->ts;
    double split = sb * (4 * x->h + 4 * x->hk + 4 * x->f) / x->t;
    double scores = x->flash ? 4 * x->b * x->a / x->t * x->s /* fp32 log-sum-exp */
                             : 5 * x->b * x->a / x->t * x->s * x->s;
    return repl + split + (selective && !x->flash ? 0 : scores);
}

/* What the four weight-gradient GEMMs read after the input gradients are done
 * (Zero Bubble's M_W = 32 sbh without TP): their inputs and output gradients. */
static double block_bw_activation(const struct pp_xf_dims *x)
{
    double sb = x->s * x->b, h = x->h, t = x->t, ts = x->ts;
    double inputs = 2 * sb * h / ts + 2 * sb * h / t + 2 * sb * h / ts + 2 * sb * x->f / t;
    double grads = 2 * sb * (h + 2 * x->hk) / t + 2 * sb * h + 2 * sb * x->f / t + 2 * sb * h;
    return inputs + grads;
}

static void finish_layer(const struct pp_xf_model *m, struct pp_xf_layer *L, double act,
                         double bw_act, double rec_act, double out_bytes, double params)
{
    pp_xf_time_layer(m, L);
    L->activation_bytes = act;
    L->bw_activation_bytes = fmin(bw_act, act);
    L->recompute_activation_bytes = fmin(rec_act, act);
    L->output_bytes = out_bytes;
    L->parameters = params;
    L->parameter_bytes = params * m->weight_bytes_per_param;
    L->optimizer_step_ms = params * m->optimizer_traffic_bytes_per_param /
                           (m->gpu->hbm_bytes_per_s * m->eff.memory) * 1e3;
}

int pp_xf_build(const struct pp_xf_shape *s, const struct pp_gpu *gpu,
                const struct pp_gpu_eff *eff, struct pp_xf_model *out, struct pp_diag *d)
{
    memset(out, 0, sizeof *out);
    int rc = pp_xf_check(s, gpu, d);
    if (rc)
        return rc;
    struct pp_xf_model *m = out;
    m->shape = *s;
    m->vocab_given = s->vocab;
    m->shape.vocab = pp_xf_padded_vocab(s->vocab, s->tp);
    m->gpu = gpu;
    m->eff = eff ? *eff : gpu->eff;
    m->peak16_flops = s->dtype == PP_XF_FP16 ? gpu->fp16_flops : gpu->bf16_flops;
    m->peak_flops = s->dtype == PP_XF_FP8 ? gpu->fp8_flops : m->peak16_flops;

    /* Mixed-precision Adam: 16-bit weights (fp8 training keeps 16-bit weights
     * and casts per GEMM), gradients in fp32 (Megatron's main_grad) or 16-bit,
     * fp32 master weights + Adam's m and v (12 bytes). */
    m->weight_bytes_per_param = 2;
    m->grad_bytes_per_param = s->fp32_grads ? 4 : 2;
    m->optimizer_bytes_per_param = 12;
    /* One step's HBM traffic per parameter: fp16 loss-scale unscale + inf check
     * (read and write the gradient), gradient-norm read, Adam (read grad,
     * master, m, v; write master, m, v), copy master to the 16-bit weight
     * (read 4, write 2), zero the gradient buffer. 50 B for Megatron fp16. */
    double G = m->grad_bytes_per_param;
    m->optimizer_traffic_bytes_per_param =
        (s->dtype == PP_XF_FP16 ? 2 * G : 0) + G + (G + 12) + 12 + (4 + 2) + G;

    struct pp_xf_dims x;
    pp_xf_dims_init(&x, &m->shape);
    double sb = x.s * x.b, sbh = sb * x.h, h = x.h, t = x.t;
    int sel = s->recompute == PP_XF_RECOMPUTE_SELECTIVE;
    int full = s->recompute == PP_XF_RECOMPUTE_FULL;

    /* Embedding: it keeps its dropout mask; recomputation never repeats it. */
    m->embed.kind = "embed";
    pp_xf_ops_embed(&x, &m->embed);
    double emb_act = sbh / x.ts;
    finish_layer(m, &m->embed, emb_act, 2 * sbh / x.ts, emb_act, x.act * sbh,
                 x.V * h / t + x.s * h /* word slice + replicated positions */);

    m->block.kind = "block";
    pp_xf_ops_block(&x, &m->block);
    double act = block_activation(&x, 0);
    /* Full recomputation (Megatron's uniform method, one layer per checkpoint)
     * keeps each block's input; selective keeps all but the score tensors. */
    double rec_act = full ? x.act * sbh / x.ts : sel ? block_activation(&x, 1) : act;
    double hk = x.hk, f = x.f;
    double block_params = (h * (h + 2 * hk) + (h + 2 * hk) + h * h + h * f + f + f * h) / t +
                          h /* projection bias */ + h /* fc2 bias */ + 4 * h /* LayerNorms */;
    finish_layer(m, &m->block, act, block_bw_activation(&x), rec_act, x.act * sbh, block_params);
    if (full) {
        m->block.recompute_forward_ms = m->block.pass_ms[PP_XF_F];
        m->block.recompute_flops = m->block.pass_flops[PP_XF_F];
    } else if (!sel) {
        m->block.recompute_forward_ms = m->block.recompute_flops = 0;
    }

    /* LM head: final LayerNorm and logits inputs, fp32 logits for the loss
     * (Korthikanti et al. Sec. 4.3: 4sbh/t (1 + v/h) with SP). The weight is
     * the word embedding's (tied): Megatron keeps this copy on the last
     * pipeline stage and all-reduces its gradient with the first. */
    m->head.kind = "head";
    pp_xf_ops_head(&x, &m->head);
    double head_act = 4 * sbh / x.ts + 4 * sb * x.V / t;
    finish_layer(m, &m->head, head_act, 2 * sbh / x.ts + 2 * sb * x.V / t, head_act, 0,
                 x.V * h / t + 2 * h);
    m->embed.recompute_forward_ms = m->head.recompute_forward_ms = 0;
    m->embed.recompute_flops = m->head.recompute_flops = 0;

    m->params_total = pp_xf_param_count(s->hidden, s->layers, s->ffn,
                                        s->kv_heads * (s->hidden / s->heads), m->shape.vocab,
                                        s->seq);
    return 0;
}

void pp_xf_free(struct pp_xf_model *m)
{
    if (!m)
        return;
    free(m->embed.ops);
    free(m->block.ops);
    free(m->head.ops);
    m->embed.ops = m->block.ops = m->head.ops = NULL;
}
