/* xformer_write.c - the generated model as ppsim per-layer YAML (with a
 * comment header that says where every number comes from) and as JSON. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "xformer_int.h"

static const char *const kind_names[] = {"gemm", "attention", "elementwise", "collective"};

static void model_name(char *out, size_t len, const struct pp_xf_model *m)
{
    const struct pp_xf_shape *s = &m->shape;
    snprintf(out, len, "gpt-h%lld-l%lld-s%lld-b%lld-tp%lld-%s%s%s%s%s-%s", (long long)s->hidden,
             (long long)s->layers, (long long)s->seq, (long long)s->microbatch, (long long)s->tp,
             pp_xf_dtype_names[s->dtype], s->sequence_parallel && s->tp > 1 ? "-sp" : "",
             s->flash_attention ? "-flash" : "",
             s->recompute != PP_XF_RECOMPUTE_NONE ? "-rc-" : "",
             s->recompute != PP_XF_RECOMPUTE_NONE ? pp_xf_recompute_names[s->recompute] : "",
             m->gpu->name);
}

static void num(struct pp_buf *b, const char *key, double v)
{
    pp_buf_printf(b, ", %s: ", key);
    pp_buf_double(b, v);
}

static void yaml_fields(struct pp_buf *b, const struct pp_xf_model *m, const struct pp_xf_layer *L)
{
    num(b, "forward_ms", L->pass_ms[PP_XF_F]);
    num(b, "backward_input_ms", L->pass_ms[PP_XF_BI]);
    num(b, "backward_weight_ms", L->pass_ms[PP_XF_BW]);
    num(b, "activation_bytes", L->activation_bytes);
    num(b, "backward_weight_activation_bytes", L->bw_activation_bytes);
    num(b, "output_bytes", L->output_bytes);
    num(b, "parameter_bytes", L->parameter_bytes);
    if (m->shape.recompute != PP_XF_RECOMPUTE_NONE) {
        num(b, "recompute_activation_bytes", L->recompute_activation_bytes);
        num(b, "recompute_forward_ms", L->recompute_forward_ms);
    }
}

static void layer_comment(struct pp_buf *b, const char *what, const struct pp_xf_layer *L)
{
    pp_buf_printf(b,
                  "#   %-6s F %.4g ms (TP comm %.3g), B_input %.4g ms (TP comm %.3g), B_weight "
                  "%.4g ms; GEMM+attention GFLOP F/B_in/B_w %.5g/%.5g/%.5g; optimizer step "
                  "%.4g ms\n",
                  what, L->pass_ms[PP_XF_F], L->pass_comm_ms[PP_XF_F], L->pass_ms[PP_XF_BI],
                  L->pass_comm_ms[PP_XF_BI], L->pass_ms[PP_XF_BW], L->pass_flops[PP_XF_F] / 1e9,
                  L->pass_flops[PP_XF_BI] / 1e9, L->pass_flops[PP_XF_BW] / 1e9,
                  L->optimizer_step_ms);
}

void pp_xf_write_yaml(struct pp_buf *b, const struct pp_xf_model *m, const char *command)
{
    const struct pp_xf_shape *s = &m->shape;
    const struct pp_gpu *g = m->gpu;
    const struct pp_gpu_eff *e = &m->eff;
    char name[256];
    model_name(name, sizeof name, m);
    pp_buf_puts(b, "# ppsim per-layer cost model from `ppsim model transformer` (formulas and\n"
                   "# sources: docs/costmodel.md). Regenerate it rather than edit it.\n");
    if (command)
        pp_buf_printf(b, "# command: %s\n", command);
    pp_buf_printf(b,
                  "# shape: hidden %lld, layers %lld, heads %lld, kv heads %lld, ffn %lld, "
                  "seq %lld, vocab %lld",
                  (long long)s->hidden, (long long)s->layers, (long long)s->heads,
                  (long long)s->kv_heads, (long long)s->ffn, (long long)s->seq,
                  (long long)s->vocab);
    if (m->vocab_given != s->vocab)
        pp_buf_printf(b, " (%lld padded to a multiple of 128 x tp, as Megatron-LM does)",
                      (long long)m->vocab_given);
    pp_buf_printf(b,
                  ",\n#   microbatch %lld, %s, tp %lld, sequence parallel %s, flash attention "
                  "%s, recompute %s\n",
                  (long long)s->microbatch, pp_xf_dtype_names[s->dtype], (long long)s->tp,
                  s->sequence_parallel && s->tp > 1 ? "on" : "off",
                  s->flash_attention ? "on" : "off", pp_xf_recompute_names[s->recompute]);
    pp_buf_printf(b,
                  "# gpu: %s (%s): %s peak %.6g TFLOP/s dense, HBM %.6g GB/s, scale-up %.6g "
                  "GB/s per direction x %d GPUs, network %.6g GB/s per GPU, %d SMs\n",
                  g->name, g->file, pp_xf_dtype_names[s->dtype], m->peak_flops / 1e12,
                  g->hbm_bytes_per_s / 1e9, g->scaleup_bytes_per_s / 1e9, g->scaleup_gpus,
                  g->network_bytes_per_s / 1e9, g->sm_count);
    pp_buf_printf(b,
                  "# efficiency: gemm %.6g (x wave quantization), memory %.6g, collective "
                  "%.6g, network %.6g, attention %.6g, collective latency %.6g us, op overhead "
                  "%.6g us\n",
                  e->gemm, e->memory, e->collective, e->network, e->attention,
                  e->collective_latency_us, e->op_overhead_us);
    pp_buf_puts(b, "# per GPU and microbatch:\n");
    layer_comment(b, "embed", &m->embed);
    layer_comment(b, "block", &m->block);
    layer_comment(b, "head", &m->head);
    if (s->recompute != PP_XF_RECOMPUTE_NONE)
        pp_buf_printf(b,
                      "#   block recompute: %.4g ms repeated, %.6g bytes kept\n",
                      m->block.recompute_forward_ms, m->block.recompute_activation_bytes);
    pp_buf_printf(b,
                  "# parameters: %.6g in the model (tied LM head counted once); per GPU: block "
                  "%.6g, embed %.6g, head %.6g (the tied copy Megatron keeps on the last stage)\n",
                  m->params_total, m->block.parameters, m->embed.parameters, m->head.parameters);
    double per = m->weight_bytes_per_param + m->grad_bytes_per_param +
                 m->optimizer_bytes_per_param;
    pp_buf_printf(b,
                  "# training: mixed-precision Adam, %.0f bytes per parameter (%.0f weight + "
                  "%.0f gradient%s + 12 fp32 master, m, v); in a scenario:\n"
                  "#   training: {optimizer_state_bytes_per_parameter_byte: %.6g, "
                  "gradient_bytes_per_parameter_byte: %.6g,\n"
                  "#              optimizer_step_ms: [per stage: the optimizer step of its "
                  "layers, above]}\n",
                  per, m->weight_bytes_per_param, m->grad_bytes_per_param,
                  m->grad_bytes_per_param == 4 ? " in fp32" : "",
                  m->optimizer_bytes_per_param / m->weight_bytes_per_param,
                  m->grad_bytes_per_param / m->weight_bytes_per_param);
    if (s->recompute != PP_XF_RECOMPUTE_NONE)
        pp_buf_printf(b,
                      "# recompute %s: the recompute_* keys hold Megatron's per-layer %s; "
                      "apply them with\n#   pipeline.recompute: selective (ppsim's `full` "
                      "keeps one checkpoint per pipeline piece instead)\n",
                      pp_xf_recompute_names[s->recompute],
                      s->recompute == PP_XF_RECOMPUTE_FULL
                          ? "checkpointing (keep each block's input, redo its forward)"
                          : "recomputation (drop and redo the attention scores)");
    pp_buf_printf(b,
                  "# pipeline link: output_bytes is the whole s x b x h activation; a stage of "
                  "%lld GPUs sends it\n#   over its %lld NICs: link.bandwidth_bytes_per_s = "
                  "%lld x %.6g GB/s x %.6g = %.6g\n",
                  (long long)s->tp, (long long)s->tp, (long long)s->tp,
                  g->network_bytes_per_s / 1e9, e->network,
                  (double)s->tp * g->network_bytes_per_s * e->network);
    pp_buf_printf(b, "name: %s\n", name);
    /* The catalogue the GPU came from (a user's --gpu-catalogue or the
     * built-in one), escaped as JSON, which YAML's double quotes accept. */
    pp_buf_printf(b, "source: \"ppsim model transformer: roofline op list on %s (", g->name);
    struct pp_buf q;
    pp_buf_init(&q);
    int builtin = !g->file || strcmp(g->file, PP_GPUCAT_BUILTIN_FILE) == 0;
    pp_buf_json_str(&q, builtin ? "models/gpus.yaml" : g->file);
    pp_buf_append(b, q.data + 1, q.len - 2); /* without its own quotes */
    pp_buf_free(&q);
    pp_buf_puts(b, "), activations from Korthikanti et al. 2022 Table 2; docs/costmodel.md\"\n");
    pp_buf_puts(b, "layers:\n  - {name: embed");
    yaml_fields(b, m, &m->embed);
    pp_buf_printf(b, "}\n  - uniform: {count: %lld, name: block", (long long)s->layers);
    yaml_fields(b, m, &m->block);
    pp_buf_puts(b, "}\n  - {name: head");
    yaml_fields(b, m, &m->head);
    pp_buf_puts(b, "}\n");
}

static void jkey(struct pp_buf *b, int *first, const char *key)
{
    pp_buf_printf(b, "%s\"%s\": ", *first ? "" : ", ", key);
    *first = 0;
}

static void jnum(struct pp_buf *b, int *first, const char *key, double v)
{
    jkey(b, first, key);
    pp_buf_double(b, v);
}

static void jstr(struct pp_buf *b, int *first, const char *key, const char *v)
{
    jkey(b, first, key);
    pp_buf_json_str(b, v);
}

static void json_layer(struct pp_buf *b, const struct pp_xf_model *m, const struct pp_xf_layer *L,
                       long long count)
{
    int f = 1;
    pp_buf_puts(b, "{");
    jstr(b, &f, "name", L->kind);
    jnum(b, &f, "count", (double)count);
    jnum(b, &f, "forward_ms", L->pass_ms[PP_XF_F]);
    jnum(b, &f, "backward_input_ms", L->pass_ms[PP_XF_BI]);
    jnum(b, &f, "backward_weight_ms", L->pass_ms[PP_XF_BW]);
    jnum(b, &f, "recompute_forward_ms", L->recompute_forward_ms);
    jnum(b, &f, "activation_bytes", L->activation_bytes);
    jnum(b, &f, "backward_weight_activation_bytes", L->bw_activation_bytes);
    jnum(b, &f, "recompute_activation_bytes", L->recompute_activation_bytes);
    jnum(b, &f, "output_bytes", L->output_bytes);
    jnum(b, &f, "parameters", L->parameters);
    jnum(b, &f, "parameter_bytes", L->parameter_bytes);
    jnum(b, &f, "optimizer_step_ms", L->optimizer_step_ms);
    jnum(b, &f, "forward_flops", L->pass_flops[PP_XF_F]);
    jnum(b, &f, "backward_input_flops", L->pass_flops[PP_XF_BI]);
    jnum(b, &f, "backward_weight_flops", L->pass_flops[PP_XF_BW]);
    jnum(b, &f, "recompute_flops", L->recompute_flops);
    jnum(b, &f, "forward_tp_comm_ms", L->pass_comm_ms[PP_XF_F]);
    jnum(b, &f, "backward_input_tp_comm_ms", L->pass_comm_ms[PP_XF_BI]);
    jkey(b, &f, "ops");
    pp_buf_puts(b, "[");
    for (size_t i = 0; i < L->n_ops; i++) {
        const struct pp_xf_op *o = &L->ops[i];
        int g = 1;
        pp_buf_puts(b, i ? ",\n      {" : "\n      {");
        jstr(b, &g, "name", o->name);
        jstr(b, &g, "pass", pp_xf_pass_names[o->pass]);
        jstr(b, &g, "kind", kind_names[o->kind]);
        if (o->kind == PP_XF_GEMM) {
            jnum(b, &g, "m", o->m);
            jnum(b, &g, "n", o->n);
            jnum(b, &g, "k", o->k);
            jnum(b, &g, "batch", o->batch);
            jnum(b, &g, "wave_efficiency", o->wave);
        }
        if (o->kind == PP_XF_COMM) {
            jnum(b, &g, "tensor_bytes", o->comm_bytes);
            jstr(b, &g, "collective",
                 o->comm_factor == 2 ? "all-reduce" : "all-gather/reduce-scatter");
            if (o->overlap_op >= 0)
                jstr(b, &g, "overlaps", L->ops[o->overlap_op].name);
        }
        jnum(b, &g, "flops", o->flops);
        jnum(b, &g, "bytes", o->bytes);
        jnum(b, &g, "ms", o->ms);
        if (o->recomputed) {
            jkey(b, &g, "selective_recompute");
            pp_buf_puts(b, "true");
        }
        pp_buf_puts(b, "}");
    }
    pp_buf_puts(b, "]}");
    (void)m;
}

void pp_xf_write_json(struct pp_buf *b, const struct pp_xf_model *m)
{
    const struct pp_xf_shape *s = &m->shape;
    const struct pp_gpu *g = m->gpu;
    char name[256];
    model_name(name, sizeof name, m);
    int f = 1;
    pp_buf_puts(b, "{");
    jstr(b, &f, "name", name);
    jkey(b, &f, "shape");
    {
        int k = 1;
        pp_buf_puts(b, "{");
        jnum(b, &k, "hidden", (double)s->hidden);
        jnum(b, &k, "layers", (double)s->layers);
        jnum(b, &k, "heads", (double)s->heads);
        jnum(b, &k, "kv_heads", (double)s->kv_heads);
        jnum(b, &k, "ffn", (double)s->ffn);
        jnum(b, &k, "seq", (double)s->seq);
        jnum(b, &k, "vocab", (double)s->vocab);
        jnum(b, &k, "vocab_given", (double)m->vocab_given);
        jnum(b, &k, "microbatch", (double)s->microbatch);
        jnum(b, &k, "tp", (double)s->tp);
        jstr(b, &k, "dtype", pp_xf_dtype_names[s->dtype]);
        jstr(b, &k, "recompute", pp_xf_recompute_names[s->recompute]);
        jkey(b, &k, "sequence_parallel");
        pp_buf_puts(b, s->sequence_parallel && s->tp > 1 ? "true" : "false");
        jkey(b, &k, "flash_attention");
        pp_buf_puts(b, s->flash_attention ? "true" : "false");
        pp_buf_puts(b, "}");
    }
    jkey(b, &f, "gpu");
    {
        int k = 1;
        pp_buf_puts(b, "{");
        jstr(b, &k, "name", g->name);
        jstr(b, &k, "catalogue", g->file);
        jnum(b, &k, "peak_flops", m->peak_flops);
        jnum(b, &k, "hbm_bytes", g->hbm_bytes);
        jnum(b, &k, "hbm_bytes_per_s", g->hbm_bytes_per_s);
        jnum(b, &k, "scaleup_bytes_per_s", g->scaleup_bytes_per_s);
        jnum(b, &k, "scaleup_gpus", g->scaleup_gpus);
        jnum(b, &k, "network_bytes_per_s", g->network_bytes_per_s);
        jnum(b, &k, "sm_count", g->sm_count);
        jkey(b, &k, "sources");
        pp_buf_puts(b, "[");
        for (size_t i = 0; i < g->n_sources; i++) {
            pp_buf_puts(b, i ? ", " : "");
            pp_buf_json_str(b, g->sources[i]);
        }
        pp_buf_puts(b, "]}");
    }
    jkey(b, &f, "efficiency");
    {
        int k = 1;
        const struct pp_gpu_eff *e = &m->eff;
        pp_buf_puts(b, "{");
        jnum(b, &k, "gemm", e->gemm);
        jnum(b, &k, "memory", e->memory);
        jnum(b, &k, "collective", e->collective);
        jnum(b, &k, "network", e->network);
        jnum(b, &k, "attention", e->attention);
        jnum(b, &k, "collective_latency_us", e->collective_latency_us);
        jnum(b, &k, "op_overhead_us", e->op_overhead_us);
        pp_buf_puts(b, "}");
    }
    jnum(b, &f, "params_total", m->params_total);
    jnum(b, &f, "weight_bytes_per_param", m->weight_bytes_per_param);
    jnum(b, &f, "gradient_bytes_per_param", m->grad_bytes_per_param);
    jnum(b, &f, "optimizer_bytes_per_param", m->optimizer_bytes_per_param);
    jnum(b, &f, "optimizer_traffic_bytes_per_param", m->optimizer_traffic_bytes_per_param);
    jkey(b, &f, "training");
    {
        int k = 1;
        pp_buf_puts(b, "{");
        jnum(b, &k, "optimizer_state_bytes_per_parameter_byte",
             m->optimizer_bytes_per_param / m->weight_bytes_per_param);
        jnum(b, &k, "gradient_bytes_per_parameter_byte",
             m->grad_bytes_per_param / m->weight_bytes_per_param);
        pp_buf_puts(b, "}");
    }
    jnum(b, &f, "stage_link_bytes_per_s",
         (double)s->tp * g->network_bytes_per_s * m->eff.network);
    jkey(b, &f, "layers");
    pp_buf_puts(b, "[\n  ");
    json_layer(b, m, &m->embed, 1);
    pp_buf_puts(b, ",\n  ");
    json_layer(b, m, &m->block, (long long)s->layers);
    pp_buf_puts(b, ",\n  ");
    json_layer(b, m, &m->head, 1);
    pp_buf_puts(b, "]}\n");
}
