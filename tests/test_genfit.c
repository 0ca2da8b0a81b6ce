/* test_genfit.c - the generator calibration (genfit.h): reading the profile
 * CSV (split selection, fallback, every refusal with file:line:col), the
 * prediction of a measured layer, the fit on times the generator itself made
 * from known factors (recovered exactly), pinning at a bound, factors the
 * data cannot identify, and the catalogue entry read back. */
#include <gsl/gsl_errno.h>

#include "buf.h"
#include "diag.h"
#include "genfit.h"
#include "gpucat.h"
#include "testutil.h"

static char msg[1024];

#define HEADER                                                                                  \
    "layer,kind,hidden,heads,ffn,seq,microbatch_size,vocab,dtype,split_method,forward_ms,"     \
    "backward_input_ms,backward_weight_ms,backward_ms,activation_bytes,output_bytes,"          \
    "parameter_bytes,repeats,rank,torch_version,gpu_name,driver\n"
#define SHAPE "4096,32,16384,2048,1,32000,bf16"
#define TAIL ",1,1,1,30,0,2.11,NVIDIA H200,580\n"

static const struct pp_gpu *h200(struct pp_gpucat **cat)
{
    struct pp_diag d;
    const struct pp_gpu *g = NULL;
    CU_ASSERT_FATAL(pp_gpucat_builtin(cat, &d) == 0);
    CU_ASSERT_FATAL(pp_gpucat_find(*cat, "H200", &g, &d) == 0);
    return g;
}

static int parse(const char *text, enum pp_gf_method m, struct pp_gf_data *g)
{
    struct pp_diag d;
    int rc = pp_gf_parse(text, strlen(text), "p.csv", m, 1, g, &d);
    if (rc)
        pp_diag_format(&d, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg, "(parsed)");
    return rc;
}

static void test_parse_select(void)
{
    const char *csv = HEADER
        "embed,embed," SHAPE ",autograd,0.08,0,0.30,0.36" TAIL
        "embed,embed," SHAPE ",pipelining,0.08,0,0.36,0.36" TAIL
        "block.0,block," SHAPE ",autograd,1.4,1.7,3.0,3.3" TAIL
        "block.0,block," SHAPE ",pipelining,1.4,1.69,1.4,3.3" TAIL
        "head,head," SHAPE ",autograd,1.2,1.1,1.8,2.1" TAIL;
    struct pp_gf_data g = {NULL, 0};
    CHECK_INT(parse(csv, PP_GF_PIPELINING, &g), 0);
    CHECK_INT(g.n, 3);
    /* file order kept; the head has no pipelining row: autograd, flagged */
    CHECK_STR(g.rows[0].layer, "embed");
    CHECK_INT(g.rows[0].method, PP_GF_PIPELINING);
    CHECK_INT(g.rows[0].line, 3);
    CHECK_CLOSE(g.rows[0].meas_ms[PP_GF_BW], 0.36, 0);
    CHECK_STR(g.rows[1].layer, "block.0");
    CHECK_INT(g.rows[1].kind, PP_GF_BLOCK);
    CHECK_CLOSE(g.rows[1].meas_ms[PP_GF_BI], 1.69, 0);
    CHECK_INT(g.rows[1].fallback, 0);
    CHECK_STR(g.rows[2].layer, "head");
    CHECK_INT(g.rows[2].method, PP_GF_AUTOGRAD);
    CHECK_INT(g.rows[2].fallback, 1);
    CHECK_STR(g.rows[2].gpu_name, "NVIDIA H200");
    CHECK_INT(g.rows[1].shape.hidden, 4096);
    CHECK_INT(g.rows[1].shape.heads, 32);
    CHECK_INT(g.rows[1].shape.kv_heads, 32);
    CHECK_INT(g.rows[1].shape.flash_attention, 1);
    CHECK_INT(g.rows[1].shape.fp32_grads, 0);
    /* the embedding measured no input gradient: that time is not compared */
    CHECK_INT(pp_gf_obs_used(&g.rows[0], PP_GF_BI), 0);
    CHECK_INT(pp_gf_obs_used(&g.rows[1], PP_GF_BI), 1);
    pp_gf_data_free(&g);

    CHECK_INT(parse(csv, PP_GF_AUTOGRAD, &g), 0);
    CHECK_INT(g.n, 3);
    CHECK_INT(g.rows[0].method, PP_GF_AUTOGRAD);
    CHECK_CLOSE(g.rows[1].meas_ms[PP_GF_BW], 3.0, 0);
    CHECK_INT(g.rows[2].fallback, 0);
    pp_gf_data_free(&g);
}

static void expect_error(const char *csv, const char *want)
{
    struct pp_gf_data g = {NULL, 0};
    CU_ASSERT(parse(csv, PP_GF_PIPELINING, &g) != 0);
    CHECK_STR(msg, want);
    CHECK_INT(g.n, 0);
    pp_gf_data_free(&g);
}

static void test_parse_errors(void)
{
    /* the misspelt header field's position */
    expect_error("layer,kind,hidden,heads,ffn,seq,microbatch_size,vocab,dtype,split_method,"
                 "forwrd_ms,backward_input_ms,backward_weight_ms,backward_ms,rank\n"
                 "embed,embed," SHAPE ",pipelining,1,0,1,1,0\n",
                 "p.csv:1:74: error: no column 'forward_ms' (did you mean 'forwrd_ms'?); the "
                 "profile CSV of tools/gpu/profile.py has it");
    expect_error(HEADER "block.0,block," SHAPE ",pipelining,0,1,1,2" TAIL,
                 "p.csv:2:58: error: column 'forward_ms': must be > 0 ms, got '0'");
    expect_error(HEADER "block.0,block," SHAPE ",pipelining,1,-1,1,2" TAIL,
                 "p.csv:2:60: error: column 'backward_input_ms': must be >= 0 ms, got '-1'");
    expect_error(HEADER "block.0,blok," SHAPE ",pipelining,1,1,1,2" TAIL,
                 "p.csv:2:9: error: column 'kind': unknown layer kind 'blok' (did you mean "
                 "'block'?)");
    expect_error(HEADER "block.0,block,4096,30,16384,2048,1,32000,bf16,pipelining,1,1,1,2" TAIL,
                 "p.csv:2:20: error: column 'heads': 30 heads do not divide hidden 4096 (the "
                 "head size would be 136.5)");
    expect_error(HEADER "block.0,block,4096,32,16384,2048,1,32000,fp32,pipelining,1,1,1,2" TAIL,
                 "p.csv:2:42: error: column 'dtype': 'fp32' is not a dtype the generator models "
                 "(bf16, fp16, fp8)");
    expect_error(HEADER "block.0,block," SHAPE ",pipelining,1,1,1,2" TAIL
                        "block.0,block," SHAPE ",pipelining,1,1,1,2" TAIL,
                 "p.csv:3:47: error: column 'split_method': layer 'block.0' of rank 0 is timed "
                 "with 'pipelining' twice (also on line 2)");
    expect_error(HEADER "block.0,block," SHAPE ",pipelinin,1,1,1,2" TAIL,
                 "p.csv:2:47: error: column 'split_method': unknown split method 'pipelinin' "
                 "(did you mean 'pipelining'?)");
    expect_error(HEADER, "p.csv: error: no layers: the CSV has a header but no rows");
}

static void test_predict(void)
{
    struct pp_gpucat *cat;
    const struct pp_gpu *gpu = h200(&cat);
    struct pp_gf_data g = {NULL, 0};
    CHECK_INT(parse(HEADER "embed,embed," SHAPE ",pipelining,0.08,0,0.36,0.36" TAIL
                           "block.0,block," SHAPE ",pipelining,1.4,1.69,1.4,3.3" TAIL,
                    PP_GF_PIPELINING, &g),
              0);
    struct pp_xf_model m;
    struct pp_diag d;
    CU_ASSERT_FATAL(pp_xf_build(&g.rows[0].shape, gpu, NULL, &m, &d) == 0);
    double p[PP_GF_NOBS];
    CHECK_INT(pp_gf_predict(&g.rows[0], gpu, &gpu->eff, p, &d), 0);
    CHECK_CLOSE(p[PP_GF_F], m.embed.pass_ms[PP_XF_F], 0);
    /* no input gradient measured: all of the generator's backward is W */
    CHECK_CLOSE(p[PP_GF_BI], 0, 0);
    CHECK_CLOSE(p[PP_GF_BW], m.embed.pass_ms[PP_XF_BI] + m.embed.pass_ms[PP_XF_BW], 1e-15);
    CHECK_INT(pp_gf_predict(&g.rows[1], gpu, &gpu->eff, p, &d), 0);
    CHECK_CLOSE(p[PP_GF_BI], m.block.pass_ms[PP_XF_BI], 0);
    CHECK_CLOSE(p[PP_GF_BW], m.block.pass_ms[PP_XF_BW], 0);
    CHECK_CLOSE(p[PP_GF_B], p[PP_GF_BI] + p[PP_GF_BW], 0);
    pp_xf_free(&m);
    pp_gf_data_free(&g);
    pp_gpucat_free(cat);
}

/* Rows of `shapes` (embed, block, head each) whose times the generator makes
 * with `eff`: a fit must give eff back. */
static void synth(const struct pp_gpu *gpu, const struct pp_gpu_eff *eff, const char *const *shapes,
                  int n_shapes, int kinds_mask, struct pp_gf_data *g)
{
    static const char *const kinds[3] = {"embed", "block", "head"};
    struct pp_buf b;
    pp_buf_init(&b);
    pp_buf_puts(&b, HEADER);
    for (int s = 0; s < n_shapes; s++)
        for (int k = 0; k < 3; k++) {
            if (!(kinds_mask & (1 << k)))
                continue;
            struct pp_gf_row r;
            memset(&r, 0, sizeof r);
            struct pp_gf_data one = {NULL, 0};
            struct pp_buf row;
            pp_buf_init(&row);
            pp_buf_printf(&row, HEADER "%s,%s,%s,pipelining,1,%d,1,1" TAIL, kinds[k], kinds[k],
                          shapes[s], k == 0 ? 0 : 1);
            CU_ASSERT_FATAL(parse(row.data, PP_GF_PIPELINING, &one) == 0);
            double p[PP_GF_NOBS];
            struct pp_diag d;
            CU_ASSERT_FATAL(pp_gf_predict(&one.rows[0], gpu, eff, p, &d) == 0);
            pp_buf_printf(&b, "%s.%d,%s,%s,pipelining,%.17g,%.17g,%.17g,%.17g" TAIL, kinds[k], s,
                          kinds[k], shapes[s], p[PP_GF_F], p[PP_GF_BI], p[PP_GF_BW], p[PP_GF_B]);
            pp_gf_data_free(&one);
            pp_buf_free(&row);
        }
    CU_ASSERT_FATAL(parse(b.data, PP_GF_PIPELINING, g) == 0);
    pp_buf_free(&b);
}

static const char *const two_shapes[2] = {SHAPE, "1024,16,4096,1024,2,32000,bf16"};

static void test_fit_recovers(void)
{
    gsl_set_error_handler_off();
    struct pp_gpucat *cat;
    const struct pp_gpu *gpu = h200(&cat);
    struct pp_gpu_eff truth = gpu->eff;
    truth.gemm = 0.62;
    truth.memory = 0.71;
    truth.attention = 0.45;
    truth.op_overhead_us = 7.5;
    struct pp_gf_data g = {NULL, 0};
    synth(gpu, &truth, two_shapes, 2, 7, &g);
    struct pp_gf_opts o;
    pp_gf_opts_init(&o);
    struct pp_gf_result *r = NULL;
    struct pp_diag d;
    int rc = pp_gf_fit(&g, gpu, &o, &r, &d);
    if (rc)
        pp_diag_format(&d, msg, sizeof msg);
    CHECK_INT(rc, 0);
    CU_ASSERT_FATAL(r != NULL);
    for (int q = 0; q < PP_GF_N; q++)
        CHECK_INT(r->status[q], PP_GF_FITTED);
    CHECK_CLOSE(r->eff.gemm, 0.62, 1e-7);
    CHECK_CLOSE(r->eff.memory, 0.71, 1e-7);
    CHECK_CLOSE(r->eff.attention, 0.45, 1e-7);
    CHECK_CLOSE(r->eff.op_overhead_us, 7.5, 1e-6);
    CU_ASSERT(r->rms_rel < 1e-8);
    /* the factors it does not fit stay the catalogue's */
    CHECK_CLOSE(r->eff.collective, gpu->eff.collective, 0);
    CHECK_CLOSE(r->eff.collective_latency_us, gpu->eff.collective_latency_us, 0);
    CHECK_INT(r->n_res, 2 * (3 + 4 + 4));
    for (size_t i = 0; i < g.n; i++)
        for (int ob = 0; ob < PP_GF_NOBS; ob++)
            if (pp_gf_obs_used(&g.rows[i], ob))
                CHECK_CLOSE(r->cal[i][ob], g.rows[i].meas_ms[ob], 1e-7);

    /* The entry read back as a catalogue gives the same factors, bit for
     * bit, and the datasheet numbers of the GPU it copies. */
    struct pp_buf b;
    pp_buf_init(&b);
    const char *files[] = {"a.csv", "b\"c.csv", NULL};
    pp_gf_write_catalogue(&b, gpu, "H200 lab", r, files, "line one\nline two");
    const char *head = "# line one\n# line two\ngpus:\n";
    CU_ASSERT(strncmp(b.data, head, strlen(head)) == 0);
    CHECK_CONTAINS(b.data, "fitted by ppsim calibrate generator from a.csv, b\\\"c.csv");
    struct pp_gpucat *back = NULL;
    const struct pp_gpu *bg = NULL;
    CHECK_INT(pp_gpucat_parse(b.data, b.len, "w.yaml", &back, &d), 0);
    CU_ASSERT_FATAL(back != NULL);
    CHECK_INT(pp_gpucat_find(back, "h200-lab", &bg, &d), 0);
    CU_ASSERT_FATAL(bg != NULL);
    CHECK_INT(bg->n_aliases, 0);
    CU_ASSERT(memcmp(&bg->eff, &r->eff, sizeof bg->eff) == 0);
    CU_ASSERT(bg->bf16_flops == gpu->bf16_flops && bg->fp8_flops == gpu->fp8_flops &&
              bg->hbm_bytes == gpu->hbm_bytes && bg->hbm_bytes_per_s == gpu->hbm_bytes_per_s &&
              bg->scaleup_bytes_per_s == gpu->scaleup_bytes_per_s &&
              bg->scaleup_gpus == gpu->scaleup_gpus &&
              bg->network_bytes_per_s == gpu->network_bytes_per_s &&
              bg->sm_count == gpu->sm_count);
    pp_gpucat_free(back);
    pp_buf_free(&b);
    pp_gf_result_free(r);
    pp_gf_data_free(&g);
    pp_gpucat_free(cat);
}

static void test_fit_pins(void)
{
    struct pp_gpucat *cat;
    const struct pp_gpu *gpu = h200(&cat);
    /* memory-bound kernels faster than the HBM peak allows: the fit would
     * want memory efficiency 1.3; it is pinned at 1 and the rest refitted */
    struct pp_gpu_eff truth = gpu->eff;
    truth.gemm = 0.7;
    truth.memory = 1.3;
    truth.op_overhead_us = 5;
    struct pp_gf_data g = {NULL, 0};
    synth(gpu, &truth, two_shapes, 2, 7, &g);
    struct pp_gf_opts o;
    pp_gf_opts_init(&o);
    struct pp_gf_result *r = NULL;
    struct pp_diag d;
    CHECK_INT(pp_gf_fit(&g, gpu, &o, &r, &d), 0);
    CU_ASSERT_FATAL(r != NULL);
    CHECK_INT(r->status[PP_GF_MEMORY], PP_GF_PINNED);
    CHECK_CLOSE(r->eff.memory, 1, 0);
    CHECK_CONTAINS(r->why[PP_GF_MEMORY], "pinned at 1");
    CU_ASSERT(r->eff.gemm > 0 && r->eff.gemm <= 1);
    CU_ASSERT(r->rms_rel > 1e-4); /* the pinned fit cannot be exact */
    pp_gf_result_free(r);

    /* --max-iterations 1 from the catalogue: not converged, an error */
    o.max_iterations = 1;
    r = NULL;
    CHECK_INT(pp_gf_fit(&g, gpu, &o, &r, &d), -PP_EINFEASIBLE);
    CU_ASSERT(r == NULL);
    CHECK_CONTAINS(d.msg, "did not converge after 1 iterations");
    pp_gf_data_free(&g);
    pp_gpucat_free(cat);
}

static void test_fit_identifiability(void)
{
    struct pp_gpucat *cat;
    const struct pp_gpu *gpu = h200(&cat);
    struct pp_gpu_eff truth = gpu->eff;
    truth.memory = 0.6;
    truth.op_overhead_us = 4;
    /* Embeddings only: no GEMM, no attention. */
    struct pp_gf_data g = {NULL, 0};
    synth(gpu, &truth, two_shapes, 2, 1, &g);
    struct pp_gf_opts o;
    pp_gf_opts_init(&o);
    struct pp_gf_result *r = NULL;
    struct pp_diag d;
    CHECK_INT(pp_gf_fit(&g, gpu, &o, &r, &d), 0);
    CU_ASSERT_FATAL(r != NULL);
    CHECK_INT(r->status[PP_GF_GEMM], PP_GF_NOT_FITTED);
    CHECK_CONTAINS(r->why[PP_GF_GEMM], "no effect");
    CHECK_INT(r->status[PP_GF_ATTENTION], PP_GF_NOT_FITTED);
    CHECK_CLOSE(r->eff.gemm, gpu->eff.gemm, 0);
    CHECK_CLOSE(r->eff.attention, gpu->eff.attention, 0);
    CHECK_INT(r->status[PP_GF_MEMORY], PP_GF_FITTED);
    CHECK_CLOSE(r->eff.memory, 0.6, 1e-7);
    CHECK_CLOSE(r->eff.op_overhead_us, 4, 1e-6);
    pp_gf_result_free(r);

    /* --params gemm on the same rows: nothing it may fit has an effect */
    o.fit_mask = 1u << PP_GF_GEMM;
    CHECK_INT(pp_gf_fit(&g, gpu, &o, &r, &d), 0);
    CHECK_INT(r->status[PP_GF_GEMM], PP_GF_NOT_FITTED);
    CHECK_CONTAINS(r->why[PP_GF_MEMORY], "not asked for");
    CHECK_CLOSE(r->eff.memory, gpu->eff.memory, 0);
    pp_gf_result_free(r);
    pp_gf_data_free(&g);

    /* One shape's block alone: its backward is the sum of its two parts, so
     * four times span three directions and the fourth factor in priority
     * order is a combination of the others. */
    synth(gpu, &truth, two_shapes, 1, 2, &g);
    pp_gf_opts_init(&o);
    CHECK_INT(pp_gf_fit(&g, gpu, &o, &r, &d), 0);
    CHECK_INT(r->status[PP_GF_ATTENTION], PP_GF_NOT_FITTED);
    CHECK_CONTAINS(r->why[PP_GF_ATTENTION], "not separable");
    CHECK_INT(r->status[PP_GF_GEMM], PP_GF_FITTED);
    pp_gf_result_free(r);
    pp_gf_data_free(&g);

    /* Two times (forward, backward) for two factors: no residual left for a
     * 1-sigma, so the second is not fitted. */
    struct pp_xf_model m;
    CU_ASSERT_FATAL(pp_xf_build(&(struct pp_xf_shape){.hidden = 4096, .layers = 1, .heads = 32,
                                                      .kv_heads = 32, .ffn = 16384, .seq = 2048,
                                                      .vocab = 32000, .microbatch = 1, .tp = 1,
                                                      .flash_attention = 1, .causal = 1},
                                gpu, &truth, &m, &d) == 0);
    char csv[1024];
    snprintf(csv, sizeof csv, HEADER "block.0,block," SHAPE ",pipelining,%.17g,0,0,%.17g" TAIL,
             m.block.pass_ms[PP_XF_F], m.block.pass_ms[PP_XF_BI] + m.block.pass_ms[PP_XF_BW]);
    pp_xf_free(&m);
    CHECK_INT(parse(csv, PP_GF_PIPELINING, &g), 0);
    o.fit_mask = (1u << PP_GF_GEMM) | (1u << PP_GF_OVERHEAD);
    CHECK_INT(pp_gf_fit(&g, gpu, &o, &r, &d), 0);
    CHECK_INT(r->n_res, 2);
    CHECK_INT(r->status[PP_GF_GEMM], PP_GF_FITTED);
    CHECK_INT(r->status[PP_GF_OVERHEAD], PP_GF_NOT_FITTED);
    CHECK_CONTAINS(r->why[PP_GF_OVERHEAD], "too few measured times (2)");
    pp_gf_result_free(r);
    pp_gf_data_free(&g);
    pp_gpucat_free(cat);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"parse_select", test_parse_select},
        {"parse_errors", test_parse_errors},
        {"predict", test_predict},
        {"fit_recovers", test_fit_recovers},
        {"fit_pins", test_fit_pins},
        {"fit_identifiability", test_fit_identifiability},
        {NULL, NULL},
    };
    return pp_test_main("genfit", tests);
}
