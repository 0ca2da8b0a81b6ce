/* cmd_model.c - `ppsim model show|export FILE`: inspect a cost model or convert
 * one (e.g. a PipeDream graph.txt) to ppsim's per-layer YAML;
 * `ppsim model transformer ...`: generate one from a transformer's shape and a
 * GPU (xformer.h); `ppsim model gpus`: list the GPU catalogue (gpucat.h). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "costmodel.h"
#include "diag.h"
#include "gpucat.h"
#include "xformer.h"
#include "yamlutil.h"

static const char usage[] =
    "Usage: ppsim model show FILE\n"
    "       ppsim model export FILE [-o OUT.yaml]\n"
    "       ppsim model transformer --hidden H --layers L --heads A --seq S --vocab V\n"
    "                               --microbatch B --gpu NAME [...]   (see its --help)\n"
    "       ppsim model gpus [--gpu-catalogue FILE] [--sources]\n"
    "Read a cost model (ppsim per-layer YAML or PipeDream graph.txt).\n"
    "  show     print one line per layer and the totals\n"
    "  export   write it as ppsim per-layer YAML (graph.txt is linearised in\n"
    "           topological order; output_bytes = bytes crossing a cut after the layer)\n"
    "  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
    "  -h, --help          show this help\n";

static void show(struct pp_buf *b, const struct pp_costmodel *cm)
{
    double f = 0, bi = 0, bw = 0, act = 0, par = 0;
    pp_buf_printf(b, "%-6s %-24s %11s %11s %11s %14s %14s %14s\n", "layer", "name", "fwd ms",
                  "bwd-in ms", "bwd-w ms", "act bytes", "out bytes", "param bytes");
    for (size_t i = 0; i < cm->n_layers; i++) {
        const struct pp_layer *l = &cm->layers[i];
        pp_buf_printf(b, "%-6zu %-24.24s %11.6g %11.6g %11.6g %14.6g %14.6g %14.6g\n", i, l->name,
                      l->forward_ms, l->backward_input_ms, l->backward_weight_ms,
                      l->activation_bytes, l->output_bytes, l->parameter_bytes);
        f += l->forward_ms;
        bi += l->backward_input_ms;
        bw += l->backward_weight_ms;
        act += l->activation_bytes;
        par += l->parameter_bytes;
    }
    pp_buf_printf(b, "%-6s %-24s %11.6g %11.6g %11.6g %14.6g %14s %14.6g\n", "total",
                  cm->source ? cm->source : "", f, bi, bw, act, "", par);
}

static const char xf_usage[] =
    "Usage: ppsim model transformer --hidden H --layers L --heads A [--kv-heads K]\n"
    "         [--ffn F] --seq S --vocab V --microbatch B [--dtype bf16|fp16|fp8] [--tp T]\n"
    "         [--flash-attention on|off] [--recompute none|selective|full]\n"
    "         [--sequence-parallel] --gpu NAME [--gpu-catalogue FILE] [-o FILE]\n"
    "Write a ppsim per-layer cost model (embedding, L blocks, LM head + loss) of a\n"
    "GPT-style transformer on one GPU of a tensor-parallel group, per microbatch.\n"
    "Formulas and sources: docs/costmodel.md.\n"
    "  --hidden H, --layers L, --heads A   model width, depth, attention heads\n"
    "  --kv-heads K          key/value heads (grouped-query attention; default A)\n"
    "  --ffn F               MLP width (default 4H)\n"
    "  --seq S, --vocab V    sequence length; vocabulary (padded to a multiple of\n"
    "                        128 x T as Megatron-LM does)\n"
    "  --microbatch B        sequences per microbatch\n"
    "  --dtype D             bf16 (default), fp16, fp8 (GEMMs in fp8, the rest 16-bit)\n"
    "  --tp T                tensor-parallel degree (default 1): divides A, K and F\n"
    "  --flash-attention on|off   fused attention kernel (default off)\n"
    "  --recompute M         none (default), selective (redo the attention scores) or\n"
    "                        full (keep each block's input, redo its forward): the\n"
    "                        recompute_* keys; apply with pipeline.recompute: selective\n"
    "  --sequence-parallel   Korthikanti et al.'s sequence parallelism (with T > 1)\n"
    "  --fp32-grads on|off   gradients accumulated in fp32 (default on, Megatron: 18\n"
    "                        bytes/parameter with Adam; off: 16)\n"
    "  --tp-overlap on|off   count the backward TP collectives only where they outlast\n"
    "                        the GEMM they run beside (Megatron's async TP communication);\n"
    "                        default off: charged in full (docs/costmodel.md says why)\n"
    "  --gpu NAME            a GPU of the catalogue (ppsim model gpus)\n"
    "  --gpu-catalogue FILE  extra GPUs; an entry named like a built-in replaces it\n"
    "  --gemm-efficiency X, --memory-efficiency X, --collective-efficiency X,\n"
    "  --network-efficiency X, --attention-efficiency X   override the GPU's factors\n"
    "                        (fractions of peak in (0, 1])\n"
    "  --collective-latency-us X, --op-overhead-us X   override the fixed costs\n"
    "  -f, --format FMT      yaml (default: the cost model) or json (with op lists)\n"
    "  -o, --output FILE     write to FILE (atomically) instead of stdout\n"
    "  -h, --help            show this help\n"
    "Exit status: 0 ok, 1 bad shape or unknown GPU, 2 usage, 3 sizes past ppsim's limits.\n";

static const char gpus_usage[] =
    "Usage: ppsim model gpus [--gpu-catalogue FILE] [--sources]\n"
    "List the GPU catalogue (models/gpus.yaml, built in, plus FILE's entries).\n"
    "  --sources   also print where every number comes from\n";

/* A whole number for a size flag: malformed text is a usage error, a
 * non-positive value is checked later with the shape (exit 1). */
static int parse_int(const char *flag, const char *arg, int64_t *out)
{
    double v;
    if (pp_parse_decimal(arg, &v) != 0 || v != floor(v) || fabs(v) > 9e15)
        return pp_cli_usage("model transformer", "%s: '%s' is not a whole number", flag, arg);
    *out = (int64_t)v;
    return 0;
}

static int parse_onoff(const char *flag, const char *arg, int *out)
{
    if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
        *out = arg[1] == 'n';
        return 0;
    }
    return pp_cli_usage("model transformer", "%s: expected on or off, got '%s'", flag, arg);
}

static int parse_word(const char *flag, const char *arg, const char *const *words, int *out)
{
    for (int i = 0; words[i]; i++)
        if (strcmp(words[i], arg) == 0) {
            *out = i;
            return 0;
        }
    return pp_cli_usage("model transformer", "%s: unknown value '%s'", flag, arg);
}

/* An efficiency override: a fraction of a peak in (0, 1], or a time >= 0. */
static int parse_eff(const char *flag, const char *arg, int is_time, double *out)
{
    double v;
    if (pp_parse_decimal(arg, &v) != 0)
        return pp_cli_usage("model transformer", "%s: '%s' is not a number", flag, arg);
    if (is_time ? v < 0 : !(v > 0 && v <= 1)) {
        fprintf(stderr, "error: --%s must be %s, got %s\n", flag,
                is_time ? ">= 0" : "a fraction in (0, 1]", arg);
        return PP_EXIT_FAIL;
    }
    *out = v;
    return 0;
}

static int cmd_transformer(int argc, char **argv)
{
    enum {
        O_HIDDEN = 256, O_LAYERS, O_HEADS, O_KV, O_FFN, O_SEQ, O_VOCAB, O_MB, O_DTYPE, O_TP,
        O_FLASH, O_RECOMPUTE, O_SP, O_GRADS, O_OVERLAP, O_GPU, O_CAT, O_EFF0,
    };
    static const struct option opts[] = {
        {"hidden", required_argument, NULL, O_HIDDEN},
        {"layers", required_argument, NULL, O_LAYERS},
        {"heads", required_argument, NULL, O_HEADS},
        {"kv-heads", required_argument, NULL, O_KV},
        {"ffn", required_argument, NULL, O_FFN},
        {"seq", required_argument, NULL, O_SEQ},
        {"vocab", required_argument, NULL, O_VOCAB},
        {"microbatch", required_argument, NULL, O_MB},
        {"dtype", required_argument, NULL, O_DTYPE},
        {"tp", required_argument, NULL, O_TP},
        {"flash-attention", required_argument, NULL, O_FLASH},
        {"recompute", required_argument, NULL, O_RECOMPUTE},
        {"sequence-parallel", no_argument, NULL, O_SP},
        {"fp32-grads", required_argument, NULL, O_GRADS},
        {"tp-overlap", required_argument, NULL, O_OVERLAP},
        {"gpu", required_argument, NULL, O_GPU},
        {"gpu-catalogue", required_argument, NULL, O_CAT},
        {"gemm-efficiency", required_argument, NULL, O_EFF0 + 0},
        {"memory-efficiency", required_argument, NULL, O_EFF0 + 1},
        {"collective-efficiency", required_argument, NULL, O_EFF0 + 2},
        {"network-efficiency", required_argument, NULL, O_EFF0 + 3},
        {"attention-efficiency", required_argument, NULL, O_EFF0 + 4},
        {"collective-latency-us", required_argument, NULL, O_EFF0 + 5},
        {"op-overhead-us", required_argument, NULL, O_EFF0 + 6},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const dtypes[] = {"bf16", "fp16", "fp8", NULL};
    static const char *const recomputes[] = {"none", "selective", "full", NULL};
    static const char *const formats[] = {"yaml", "json", NULL};
    static const char *const required[] = {"--hidden", "--layers", "--heads", "--seq",
                                           "--vocab", "--microbatch", "--gpu"};
    struct pp_xf_shape s;
    memset(&s, 0, sizeof s);
    s.tp = 1;
    s.causal = 1;
    s.fp32_grads = 1;
    s.tp_overlap = 0;
    int given[7] = {0}, kv_given = 0, ffn_given = 0, format = 0, rc, c;
    const char *gpu_name = NULL, *cat_file = NULL, *out_path = NULL;
    double effv[PP_GPU_EFF_N];
    int eff_set[PP_GPU_EFF_N] = {0};
    int dt = 0, rec = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
        rc = 0;
        switch (c) {
        case O_HIDDEN: rc = parse_int("--hidden", optarg, &s.hidden), given[0] = 1; break;
        case O_LAYERS: rc = parse_int("--layers", optarg, &s.layers), given[1] = 1; break;
        case O_HEADS: rc = parse_int("--heads", optarg, &s.heads), given[2] = 1; break;
        case O_SEQ: rc = parse_int("--seq", optarg, &s.seq), given[3] = 1; break;
        case O_VOCAB: rc = parse_int("--vocab", optarg, &s.vocab), given[4] = 1; break;
        case O_MB: rc = parse_int("--microbatch", optarg, &s.microbatch), given[5] = 1; break;
        case O_KV: rc = parse_int("--kv-heads", optarg, &s.kv_heads), kv_given = 1; break;
        case O_FFN: rc = parse_int("--ffn", optarg, &s.ffn), ffn_given = 1; break;
        case O_TP: rc = parse_int("--tp", optarg, &s.tp); break;
        case O_DTYPE: rc = parse_word("--dtype", optarg, dtypes, &dt); break;
        case O_RECOMPUTE: rc = parse_word("--recompute", optarg, recomputes, &rec); break;
        case O_FLASH: rc = parse_onoff("--flash-attention", optarg, &s.flash_attention); break;
        case O_GRADS: rc = parse_onoff("--fp32-grads", optarg, &s.fp32_grads); break;
        case O_OVERLAP: rc = parse_onoff("--tp-overlap", optarg, &s.tp_overlap); break;
        case O_SP: s.sequence_parallel = 1; break;
        case O_GPU: gpu_name = optarg, given[6] = 1; break;
        case O_CAT: cat_file = optarg; break;
        case 'f': rc = parse_word("--format", optarg, formats, &format); break;
        case 'o': out_path = optarg; break;
        case 'h': fputs(xf_usage, stdout); return PP_EXIT_OK;
        default:
            if (c >= O_EFF0 && c < O_EFF0 + PP_GPU_EFF_N) {
                int i = c - O_EFF0;
                rc = parse_eff(opts[17 + i].name, optarg, i >= 5, &effv[i]);
                eff_set[i] = 1;
                break;
            }
            if (optopt)
                return pp_cli_usage("model transformer", "option '-%c' is unknown or needs a value",
                                    optopt);
            return pp_cli_usage("model transformer", "unknown option '%s'", argv[optind - 1]);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return pp_cli_usage("model transformer", "unexpected argument '%s'", argv[optind]);
    for (int i = 0; i < 7; i++)
        if (!given[i])
            return pp_cli_usage("model transformer", "missing %s", required[i]);
    if (!kv_given)
        s.kv_heads = s.heads;
    if (!ffn_given)
        s.ffn = 4 * s.hidden;
    s.dtype = (enum pp_xf_dtype)dt;
    s.recompute = (enum pp_xf_recompute)rec;

    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_gpucat *cat = NULL;
    const struct pp_gpu *gpu;
    if ((rc = pp_gpucat_load(cat_file, &cat, &d)) ||
        (rc = pp_gpucat_find(cat, gpu_name, &gpu, &d))) {
        pp_gpucat_free(cat);
        return pp_cli_fail(&d, rc);
    }
    struct pp_gpu_eff eff = gpu->eff;
    for (int i = 0; i < PP_GPU_EFF_N; i++) {
        if (!eff_set[i])
            continue;
        double *slot[PP_GPU_EFF_N] = {&eff.gemm, &eff.memory, &eff.collective, &eff.network,
                                      &eff.attention, &eff.collective_latency_us,
                                      &eff.op_overhead_us};
        *slot[i] = effv[i];
    }
    struct pp_xf_model m;
    if ((rc = pp_xf_build(&s, gpu, &eff, &m, &d))) {
        pp_gpucat_free(cat);
        return pp_cli_fail(&d, rc);
    }
    /* The command as typed, minus the output file, so the header does not
     * depend on where the model was written. */
    struct pp_buf cmd;
    pp_buf_init(&cmd);
    pp_buf_puts(&cmd, "ppsim model transformer");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--output=", 9) == 0 || (strncmp(argv[i], "-o", 2) == 0))
            continue;
        pp_buf_printf(&cmd, " %s", argv[i]);
    }
    struct pp_buf b;
    pp_buf_init(&b);
    if (format == 1)
        pp_xf_write_json(&b, &m);
    else
        pp_xf_write_yaml(&b, &m, cmd.data);
    int status = pp_cli_emit(&b, out_path);
    pp_buf_free(&b);
    pp_buf_free(&cmd);
    pp_xf_free(&m);
    pp_gpucat_free(cat);
    return status;
}

static int cmd_gpus(int argc, char **argv)
{
    static const struct option opts[] = {
        {"gpu-catalogue", required_argument, NULL, 'c'},
        {"sources", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cat_file = NULL;
    int sources = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'c')
            cat_file = optarg;
        else if (c == 's')
            sources = 1;
        else if (c == 'h') {
            fputs(gpus_usage, stdout);
            return PP_EXIT_OK;
        } else {
            return pp_cli_usage("model gpus", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return pp_cli_usage("model gpus", "unexpected argument '%s'", argv[optind]);
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_gpucat *cat;
    int rc = pp_gpucat_load(cat_file, &cat, &d);
    if (rc)
        return pp_cli_fail(&d, rc);
    struct pp_buf b;
    pp_buf_init(&b);
    pp_buf_printf(&b, "%-10s %9s %9s %9s %8s %9s %12s %9s %5s  %s\n", "gpu", "bf16 TF/s",
                  "fp16 TF/s", "fp8 TF/s", "HBM GiB", "HBM GB/s", "scale-up GB/s", "net GB/s",
                  "SMs", "catalogue");
    for (size_t i = 0; i < cat->n; i++) {
        const struct pp_gpu *g = &cat->gpus[i];
        char fp8[32], up[48];
        if (g->fp8_flops > 0)
            snprintf(fp8, sizeof fp8, "%.6g", g->fp8_flops / 1e12);
        else
            snprintf(fp8, sizeof fp8, "-");
        snprintf(up, sizeof up, "%.6g x%d", g->scaleup_bytes_per_s / 1e9, g->scaleup_gpus);
        pp_buf_printf(&b, "%-10s %9.6g %9.6g %9s %8.6g %9.6g %12s %9.6g %5d  %s\n", g->name,
                      g->bf16_flops / 1e12, g->fp16_flops / 1e12, fp8,
                      g->hbm_bytes / 1073741824.0, g->hbm_bytes_per_s / 1e9, up,
                      g->network_bytes_per_s / 1e9, g->sm_count, g->file);
        for (size_t k = 0; sources && k < g->n_sources; k++)
            pp_buf_printf(&b, "    %s\n", g->sources[k]);
    }
    int status = pp_cli_emit(&b, NULL);
    pp_buf_free(&b);
    pp_gpucat_free(cat);
    return status;
}

int pp_cmd_model(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "transformer") == 0)
        return cmd_transformer(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "gpus") == 0)
        return cmd_gpus(argc - 1, argv + 1);
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
        if (c == 'o') {
            out_path = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return PP_EXIT_OK;
        } else {
            return pp_cli_usage("model", "unknown option '%s'", argv[optind - 1]);
        }
    }
    /* Options may also follow the file: getopt stops at the action word. */
    if (argc - optind < 2)
        return pp_cli_usage("model", "expected 'show FILE', 'export FILE', 'transformer ...' or "
                                     "'gpus'");
    const char *action = argv[optind], *file = argv[optind + 1];
    int rest = optind + 2;
    optind = 0;
    while (rest < argc) {
        if ((strcmp(argv[rest], "-o") == 0 || strcmp(argv[rest], "--output") == 0) &&
            rest + 1 < argc) {
            out_path = argv[rest + 1];
            rest += 2;
        } else {
            return pp_cli_usage("model", "unexpected argument '%s'", argv[rest]);
        }
    }
    if (strcmp(action, "show") != 0 && strcmp(action, "export") != 0)
        return pp_cli_usage("model", "unknown action '%s' (show, export, transformer or gpus)",
                            action);
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_costmodel *cm = NULL;
    int rc = pp_costmodel_load(file, &cm, &d);
    if (rc)
        return pp_cli_fail(&d, rc);
    struct pp_buf b;
    pp_buf_init(&b);
    if (action[0] == 's')
        show(&b, cm);
    else
        pp_costmodel_write_yaml(&b, cm);
    int status = pp_cli_emit(&b, out_path);
    pp_buf_free(&b);
    pp_costmodel_free(cm);
    return status;
}
