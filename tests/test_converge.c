/* test_converge.c - stale block-SGD replays (converge.h) against
 * pipedream-theory.md §1.4 (weight stashing), §3.1 (RPD; "with all three set
 * to PD's sequences, RPD reproduces PD exactly"), §3.4 (step-size tuning),
 * §4.1 (LocalSGD: replicas, barrier, averaging; timeline lengths) and §4.2
 * (simulated time, fixed-time budget). Hand loops below use
 * pp_objective_gradient or the kernels directly, never the engine. */
#include "testutil.h"

#include <gsl/gsl_rng.h>

#include "converge.h"
#include "objective.h"
#include "simutil.h"
#include "wtrace.h"

#define MS 1000000 /* ns per unit step */

/* ---- helpers ----------------------------------------------------------------- */

static struct pp_objective *make_obj(enum pp_obj_kind kind, int dim, int n, int batch, int blocks,
                                     double noise, uint64_t seed)
{
    struct pp_objective_spec sp = {0};
    sp.kind = kind;
    sp.dim = dim;
    sp.examples = n;
    sp.batch = batch;
    sp.mu = 0.01;
    sp.l2 = kind == PP_OBJ_LOGISTIC ? 1e-2 : 0;
    sp.noise_std = noise;
    sp.seed = seed;
    struct pp_objective *o = NULL;
    struct pp_diag d;
    if (pp_objective_create(&sp, blocks, &o, &d) != 0)
        fprintf(stderr, "objective: %s\n", d.msg);
    return o;
}

/* Unit-time replay (F = B = 1 ms, free communication: the paper's model, §1.2). */
static struct pp_sim_result *unit_sim(enum pp_schedule_kind k, struct pp_sched_params sp,
                                      struct pp_plan **plan)
{
    struct pp_costmodel *cm = uniform_model((size_t)sp.stages, 1, 1, 0, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_sim_result *r = NULL;
    struct pp_diag d;
    struct pp_sim_config cfg = {0};
    cfg.record_spans = 1;
    sp.chunks = 1;
    *plan = NULL;
    int rc = pp_partition_balanced(cm, (size_t)sp.stages, &part, &d);
    if (rc == 0)
        rc = pp_plan_build(k, &sp, plan, &d);
    if (rc == 0)
        rc = pp_sim_run(*plan, part, &cfg, &r, &d);
    if (rc)
        fprintf(stderr, "unit_sim(%s): %s\n", pp_schedule_name(k), d.msg);
    pp_partition_free(part);
    free_model(cm);
    return r;
}

static struct pp_wtrace *unit_trace(enum pp_schedule_kind k, struct pp_sched_params sp,
                                    int iterations, int64_t batch_mb)
{
    struct pp_plan *plan = NULL;
    struct pp_sim_result *r = unit_sim(k, sp, &plan);
    struct pp_wtrace *t = NULL;
    if (r) {
        struct pp_wtrace_opts wo = {PP_WCONV_PAPER, iterations, batch_mb};
        struct pp_diag d;
        if (pp_wtrace_build(plan, r, &wo, &t, &d) != 0)
            fprintf(stderr, "wtrace: %s\n", d.msg);
    }
    pp_sim_result_free(r);
    pp_plan_free(plan);
    return t;
}

static struct pp_sched_params params(int S, int64_t N)
{
    struct pp_sched_params sp = {0};
    sp.stages = S;
    sp.chunks = 1;
    sp.microbatches = N;
    return sp;
}

static int run(const struct pp_objective *o, const struct pp_cv_method *m,
               const struct pp_cv_opts *opts, struct pp_cv_result *res)
{
    struct pp_diag d;
    int rc = pp_cv_run(o, m, opts, res, &d);
    if (rc)
        fprintf(stderr, "pp_cv_run: %s\n", d.msg);
    return rc;
}

static double max_rel_diff(const double *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fmax(fabs(b[i]), 1e-300);
        double r = fabs(a[i] - b[i]) / fmax(den, 1.0);
        if (!(r <= worst))
            worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}

/* The gradient of block s of batch b's loss at w, through the kernels in block
 * order (for hand loops over multi-batch data). */
static void batch_grad(const struct pp_objective *o, int64_t b, const double *w, double *g)
{
    int S = pp_objective_blocks(o);
    size_t rows = (size_t)pp_objective_batch_rows(o);
    double *act = calloc(rows, sizeof *act), *gout = calloc(rows, sizeof *gout);
    for (int i = 0; i < S; i++)
        pp_objective_forward(o, b, i, w + pp_objective_block_first(o, i), act);
    pp_objective_output_grad(o, b, act, gout);
    for (int i = 0; i < S; i++) {
        size_t f = pp_objective_block_first(o, i);
        pp_objective_block_grad(o, b, i, w + f, gout, g + f, NULL);
    }
    free(act);
    free(gout);
}

/* ---- §3.1: exact-mode RPD reproduces PD ----------------------------------------- */

static void check_exact_equals_pd(int S, double noise)
{
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 8 * S, 40, 5, S, noise, 11);
    struct pp_wtrace *t = unit_trace(PP_SCHED_PIPEDREAM, params(S, 10 * S), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(t->sem, PP_WSEM_IMMEDIATE);
    size_t dim = (size_t)pp_objective_dim(o);
    double *wpd = calloc(dim, sizeof *wpd), *wrpd = calloc(dim, sizeof *wrpd);
    struct pp_cv_opts op = {0};
    op.gamma = 0.02;
    op.log_updates = 1;
    op.noise_seed = 5;
    op.w_final = wpd;
    struct pp_cv_method pd = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_method rpd = {PP_CV_RPD, t, PP_RPD_EXACT, 0, 0, 0};
    struct pp_cv_result a, b;
    CU_ASSERT_EQUAL_FATAL(run(o, &pd, &op, &a), 0);
    op.w_final = wrpd;
    CU_ASSERT_EQUAL_FATAL(run(o, &rpd, &op, &b), 0);
    /* one update per B: N * S of them (§1.2) */
    CHECK_INT(a.n_updates, 10 * S * S);
    CHECK_INT(b.n_updates, a.n_updates);
    CHECK_INT(b.by_update.n, a.by_update.n);
    /* every iterate, bit for bit */
    int same = a.by_update.n == b.by_update.n;
    for (size_t k = 0; same && k < a.by_update.n; k++)
        same = a.by_update.pt[k].value == b.by_update.pt[k].value &&
               a.by_update.pt[k].updates == b.by_update.pt[k].updates &&
               a.by_update.pt[k].time_ms == b.by_update.pt[k].time_ms;
    CU_ASSERT(same);
    CU_ASSERT(memcmp(wpd, wrpd, dim * sizeof *wpd) == 0);
    CU_ASSERT(a.final_value < a.initial_value);
    /* the exact delays are PD's: tau_max = floor(S(2S-1)/2) in steady state
     * (§2.3 table: 14 at S = 4, 60 at S = 8); the start-up transient is larger
     * (16 at S = 4, issue 6 §1), never smaller */
    CU_ASSERT(b.max_delay >= (S * (2 * S - 1)) / 2);
    CHECK_INT(b.max_delay, pp_cv_trace_max_delay(t, 0));
    pp_cv_result_free(&a);
    pp_cv_result_free(&b);
    free(wpd);
    free(wrpd);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

static void test_rpd_exact_equals_pd(void)
{
    check_exact_equals_pd(4, 0);
    check_exact_equals_pd(8, 0);
    check_exact_equals_pd(4, 0.3); /* the noise stream is consumed in the same order */
    check_exact_equals_pd(8, 0.3);
}

/* The budget cuts both the same way: only ops that end by the budget (a unit
 * op keyed at step 30 runs in the 31st step, past a 30-step budget). */
static void test_rpd_exact_budget(void)
{
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 16, 20, 5, 4, 0, 3);
    struct pp_wtrace *t = unit_trace(PP_SCHED_PIPEDREAM, params(4, 40), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct pp_cv_opts op = {0};
    op.gamma = 0.05;
    op.budget_ms = 30;
    struct pp_cv_method pd = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_method rpd = {PP_CV_RPD, t, PP_RPD_EXACT, 0, 0, 0};
    struct pp_cv_result a, b;
    CU_ASSERT_EQUAL_FATAL(run(o, &pd, &op, &a), 0);
    CU_ASSERT_EQUAL_FATAL(run(o, &rpd, &op, &b), 0);
    int64_t want = 0;
    for (size_t k = 0; k < t->n_ev; k++)
        want += t->ev[k].kind == PP_WEV_GRAD && t->ev[k].end_ns <= 30 * (pp_time)MS;
    CHECK_INT(a.n_updates, want);
    CHECK_INT(b.n_updates, want);
    CU_ASSERT(a.final_value == b.final_value);
    CHECK_CLOSE(a.final_time_ms, 29, 0); /* the last update's key: step 29 */
    pp_cv_result_free(&a);
    pp_cv_result_free(&b);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

/* ---- §3.1: RPD against a hand loop keeping every iterate ----------------------- */

/* One batch, so the batch gradient is pp_objective_gradient; the reference
 * keeps the full history w^0..w^K and draws in the documented order. */
static void check_rpd_hand(enum pp_rpd_delays mode, int64_t delta)
{
    const int S = 3, K = 300;
    struct pp_objective *o = make_obj(PP_OBJ_LOGISTIC, 12, 10, 10, S, 0, 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    size_t dim = 12;
    double *hist = calloc((size_t)(K + 1) * dim, sizeof *hist), *z = calloc(dim, sizeof *z);
    double *g = calloc(dim, sizeof *g), *vals = calloc((size_t)K + 1, sizeof *vals);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 99);
    const double gamma = 0.5, fstar = pp_objective_fstar(o);
    vals[0] = pp_objective_value(o, hist) - fstar;
    for (int k = 0; k < K; k++) {
        int s = (int)gsl_rng_uniform_int(rng, S);
        (void)gsl_rng_uniform_int(rng, 1); /* m ~ U{0} */
        int64_t cap = k < delta ? k : delta;
        for (int i = 0; i < S; i++) {
            int64_t di = mode == PP_RPD_UNIFORM ? (int64_t)gsl_rng_uniform_int(rng, (unsigned long)cap + 1)
                         : mode == PP_RPD_MAX   ? cap
                                                : 0;
            size_t f = pp_objective_block_first(o, i), len = pp_objective_block_len(o, i);
            memcpy(z + f, hist + (size_t)(k - di) * dim + f, len * sizeof *z);
        }
        pp_objective_gradient(o, z, g);
        double *wn = hist + (size_t)(k + 1) * dim;
        memcpy(wn, hist + (size_t)k * dim, dim * sizeof *wn);
        size_t f = pp_objective_block_first(o, s), len = pp_objective_block_len(o, s);
        for (size_t j = 0; j < len; j++)
            wn[f + j] -= gamma * g[f + j];
        vals[k + 1] = pp_objective_value(o, wn) - fstar;
    }
    double *w = calloc(dim, sizeof *w);
    struct pp_cv_opts op = {0};
    op.gamma = gamma;
    op.log_updates = 1;
    op.w_final = w;
    struct pp_cv_method m = {PP_CV_RPD, NULL, mode, delta, K, 99};
    struct pp_cv_result res;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &res), 0);
    CHECK_INT(res.n_updates, K);
    CHECK_INT(res.by_update.n, K + 1);
    double worst = 0;
    for (size_t k = 0; k < res.by_update.n && k <= (size_t)K; k++) {
        double dv = fabs(res.by_update.pt[k].value - vals[k]) / fmax(fabs(vals[k]), 1e-300);
        if (dv > worst)
            worst = dv;
    }
    CU_ASSERT(worst <= 1e-12);
    CU_ASSERT(max_rel_diff(w, hist + (size_t)K * dim, dim) <= 1e-12);
    CU_ASSERT(isnan(res.by_update.pt[1].time_ms));
    if (mode == PP_RPD_MAX)
        CHECK_INT(res.max_delay, delta);
    if (mode == PP_RPD_ZERO)
        CHECK_INT(res.max_delay, 0);
    pp_cv_result_free(&res);
    gsl_rng_free(rng);
    free(hist);
    free(z);
    free(g);
    free(vals);
    free(w);
    pp_objective_free(o);
}

static void test_rpd_zero_is_block_sgd(void) { check_rpd_hand(PP_RPD_ZERO, 0); }

static void test_rpd_stale_hand(void)
{
    check_rpd_hand(PP_RPD_UNIFORM, 7);
    check_rpd_hand(PP_RPD_MAX, 7);
    check_rpd_hand(PP_RPD_UNIFORM, 1);
}

/* ---- §4.1: LocalSGD ----------------------------------------------------------- */

/* R replicas, rounds of R*H microbatches, replica mb mod R, no staleness inside
 * a replica (each local step is w_r -= gamma grad f_b(w_r)), then the mean. */
static void check_localsgd_hand(int S, int R, int H, int64_t N)
{
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 4 * S, 30, 5, S, 0, 21);
    struct pp_sched_params sp = params(S, N);
    sp.local_replicas = R;
    sp.local_steps = H;
    struct pp_wtrace *t = unit_trace(PP_SCHED_LOCALSGD, sp, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(t->sem, PP_WSEM_LOCAL);
    size_t dim = (size_t)pp_objective_dim(o);
    const double gamma = 0.05;
    double *w = calloc((size_t)R * dim, sizeof *w), *g = calloc(dim, sizeof *g);
    double *mean = calloc(dim, sizeof *mean);
    for (int64_t r0 = 0; r0 < N; r0 += (int64_t)R * H) {
        for (int64_t mb = r0; mb < r0 + (int64_t)R * H && mb < N; mb++) {
            double *wr = w + (size_t)(mb % R) * dim;
            batch_grad(o, mb, wr, g);
            for (size_t j = 0; j < dim; j++)
                wr[j] -= gamma * g[j];
        }
        memcpy(mean, w, dim * sizeof *mean);
        for (int q = 1; q < R; q++)
            for (size_t j = 0; j < dim; j++)
                mean[j] += w[(size_t)q * dim + j];
        for (size_t j = 0; j < dim; j++)
            mean[j] /= R;
        for (int q = 0; q < R; q++)
            memcpy(w + (size_t)q * dim, mean, dim * sizeof *mean);
    }
    double *got = calloc(dim, sizeof *got);
    struct pp_cv_opts op = {0};
    op.gamma = gamma;
    op.w_final = got;
    op.log_steps = 1;
    op.step_ms = 1;
    struct pp_cv_method m = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_result res;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &res), 0);
    CHECK_INT(res.n_updates, N * S);
    CU_ASSERT(max_rel_diff(got, mean, dim) <= 1e-12);
    /* one point per time step plus the start (§4.2) */
    CHECK_INT(res.by_step.n, t->makespan_ns / MS + 1);
    CHECK_CLOSE(res.final_value, pp_objective_value(o, mean) - pp_objective_fstar(o), 1e-12);
    pp_cv_result_free(&res);
    free(w);
    free(g);
    free(mean);
    free(got);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

static void test_localsgd_hand(void)
{
    check_localsgd_hand(4, 4, 2, 32);
    check_localsgd_hand(4, 4, 3, 30); /* a short last round */
    check_localsgd_hand(4, 2, 3, 24);
}

/* R = 1: one replica, F(s, i) waits for B(s, i-1): PD with noam = 1 runs the
 * same events in the same order (§1.3, §4.1), so the runs agree bit for bit. */
static void test_localsgd_r1_is_naive_pd(void)
{
    const int S = 4;
    const int64_t N = 12;
    struct pp_objective *o = make_obj(PP_OBJ_LOGISTIC, 16, 20, 5, S, 0.2, 4);
    struct pp_sched_params sl = params(S, N), sp = params(S, N);
    sl.local_replicas = 1;
    sl.local_steps = 3;
    sp.noam = 1;
    struct pp_wtrace *tl = unit_trace(PP_SCHED_LOCALSGD, sl, 1, 0);
    struct pp_wtrace *tp = unit_trace(PP_SCHED_PIPEDREAM, sp, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tp);
    struct pp_cv_opts op = {0};
    op.gamma = 0.3;
    op.log_updates = 1;
    op.log_steps = 1;
    op.noise_seed = 8;
    struct pp_cv_method ml = {PP_CV_TRACE, tl, 0, 0, 0, 0}, mp = {PP_CV_TRACE, tp, 0, 0, 0, 0};
    struct pp_cv_result a, b;
    CU_ASSERT_EQUAL_FATAL(run(o, &ml, &op, &a), 0);
    CU_ASSERT_EQUAL_FATAL(run(o, &mp, &op, &b), 0);
    CHECK_INT(a.by_update.n, b.by_update.n);
    int same = a.by_update.n == b.by_update.n;
    for (size_t k = 0; same && k < a.by_update.n; k++)
        same = a.by_update.pt[k].value == b.by_update.pt[k].value;
    CU_ASSERT(same);
    CU_ASSERT(a.final_value < a.initial_value);
    /* naive model parallelism takes 2S steps per microbatch (§1.3) */
    CHECK_CLOSE(b.by_step.pt[b.by_step.n - 1].time_ms, 2 * S * N - 1, 0);
    pp_cv_result_free(&a);
    pp_cv_result_free(&b);
    pp_wtrace_free(tl);
    pp_wtrace_free(tp);
    pp_objective_free(o);
}

/* ---- synchronous pipelines: gradient accumulation ------------------------------ */

/* M microbatches per flush, `iters` flushes: w -= gamma * mean_m grad f_{b(m)}(w). */
static void check_sync_hand(enum pp_schedule_kind kind, int S, int64_t M, int iters)
{
    struct pp_objective *o = make_obj(PP_OBJ_LOGISTIC, 4 * S, 40, 5, S, 0, 17);
    struct pp_wtrace *t = unit_trace(kind, params(S, M), iters, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(t->sem, PP_WSEM_ACCUMULATE);
    size_t dim = (size_t)pp_objective_dim(o);
    const double gamma = 0.4;
    double *w = calloc(dim, sizeof *w), *g = calloc(dim, sizeof *g), *acc = calloc(dim, sizeof *acc);
    for (int q = 0; q < iters; q++) {
        memset(acc, 0, dim * sizeof *acc);
        for (int64_t m = 0; m < M; m++) {
            batch_grad(o, q * M + m, w, g);
            for (size_t j = 0; j < dim; j++)
                acc[j] += g[j];
        }
        for (size_t j = 0; j < dim; j++)
            w[j] -= gamma * (acc[j] / (double)M);
    }
    double *got = calloc(dim, sizeof *got);
    struct pp_cv_opts op = {0};
    op.gamma = gamma;
    op.w_final = got;
    op.log_updates = 1;
    struct pp_cv_method m = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_result res;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &res), 0);
    CHECK_INT(res.n_updates, (int64_t)iters * S); /* one APPLY per block per flush */
    CU_ASSERT(max_rel_diff(got, w, dim) <= 1e-12);
    /* every update of flush q lands at its end: q+1 makespans */
    CHECK_CLOSE(res.by_update.pt[res.by_update.n - 1].time_ms, (double)t->makespan_ns / MS, 0);
    pp_cv_result_free(&res);
    free(w);
    free(g);
    free(acc);
    free(got);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

static void test_sync_one_microbatch_is_sgd(void)
{
    /* one microbatch per batch: plain minibatch SGD over the cyclic batches */
    check_sync_hand(PP_SCHED_GPIPE, 4, 1, 10);
    /* and with one batch of all the data it is full-gradient descent */
    const int S = 3;
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 9, 6, 6, S, 0, 2);
    struct pp_wtrace *t = unit_trace(PP_SCHED_1F1B, params(S, 1), 5, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    double w[9] = {0}, g[9], got[9];
    for (int q = 0; q < 5; q++) {
        pp_objective_gradient(o, w, g);
        for (int j = 0; j < 9; j++)
            w[j] -= 0.1 * g[j];
    }
    struct pp_cv_opts op = {0};
    op.gamma = 0.1;
    op.w_final = got;
    struct pp_cv_method m = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_result res;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &res), 0);
    CU_ASSERT(max_rel_diff(got, w, 9) <= 1e-12);
    pp_cv_result_free(&res);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

static void test_sync_accumulation_mean(void)
{
    check_sync_hand(PP_SCHED_GPIPE, 4, 4, 3);
    check_sync_hand(PP_SCHED_1F1B, 4, 6, 2);
    check_sync_hand(PP_SCHED_1F1B, 8, 3, 2);
}

/* ---- PipeDream-2BW: batch b reads version max(b-1, 0) -------------------------- */

static void test_double_buffered(void)
{
    const int S = 4;
    const int64_t M = 4, N = 16;
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 16, 20, 5, S, 0, 9);
    struct pp_wtrace *t = unit_trace(PP_SCHED_PIPEDREAM_2BW, params(S, N), 1, M);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(t->sem, PP_WSEM_DOUBLE);
    size_t dim = 16;
    double ver[5][16] = {{0}}, g[16], acc[16];
    const double gamma = 0.05;
    for (int64_t b = 0; b < N / M; b++) {
        const double *z = ver[b > 0 ? b - 1 : 0];
        memset(acc, 0, sizeof acc);
        for (int64_t m = b * M; m < (b + 1) * M; m++) {
            batch_grad(o, m, z, g);
            for (size_t j = 0; j < dim; j++)
                acc[j] += g[j];
        }
        for (size_t j = 0; j < dim; j++)
            ver[b + 1][j] = ver[b][j] - gamma * (acc[j] / (double)M);
    }
    double got[16];
    struct pp_cv_opts op = {0};
    op.gamma = gamma;
    op.w_final = got;
    struct pp_cv_method m = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_result res;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &res), 0);
    CHECK_INT(res.n_updates, (N / M) * S);
    CU_ASSERT(max_rel_diff(got, ver[N / M], dim) <= 1e-12);
    pp_cv_result_free(&res);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

/* ---- logging ------------------------------------------------------------------- */

/* One batch (the full gradient at a stale point) and a small step: f falls at
 * every time step of PD's replay. */
static void test_pd_monotone_small_step(void)
{
    const int S = 4;
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 16, 24, 24, S, 0, 13);
    struct pp_wtrace *t = unit_trace(PP_SCHED_PIPEDREAM, params(S, 40), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct pp_cv_opts op = {0};
    op.gamma = 1.0 / (64 * pp_objective_smoothness(o));
    op.log_steps = 1;
    op.step_ms = 1;
    struct pp_cv_method m = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_result res;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &res), 0);
    /* PD's timeline is 2N + 2S - 2 steps (§1.3): that many points after the start */
    CHECK_INT(res.by_step.n, 2 * 40 + 2 * S - 2 + 1);
    int mono = 1;
    for (size_t k = 1; k < res.by_step.n; k++)
        mono &= res.by_step.pt[k].value <= res.by_step.pt[k - 1].value;
    CU_ASSERT(mono);
    CU_ASSERT(res.final_value < 0.9 * res.initial_value);
    for (size_t k = 0; k < res.by_step.n; k++)
        CHECK_CLOSE(res.by_step.pt[k].time_ms, (double)k, 0);
    /* nothing is updated before the first B, at step S (§1.3's table, 0-based) */
    CHECK_INT(res.by_step.pt[S].updates, 0);
    CHECK_INT(res.by_step.pt[S + 1].updates, 1);
    /* distinct-key mode: one point per step too, at the step's key, plus the start */
    struct pp_cv_result r2;
    op.step_ms = 0;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &r2), 0);
    CHECK_INT(r2.by_step.n, res.by_step.n);
    for (size_t k = 1; k < r2.by_step.n; k++) {
        CHECK_CLOSE(r2.by_step.pt[k].time_ms, (double)(k - 1), 0);
        CU_ASSERT(r2.by_step.pt[k].value == res.by_step.pt[k].value);
    }
    /* every 7th update plus the last */
    struct pp_cv_result r3;
    op.log_steps = 0;
    op.log_updates = 1;
    op.log_every = 7;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &r3), 0);
    CHECK_INT(r3.n_updates, 160);
    CHECK_INT(r3.by_update.n, 1 + 160 / 7 + 1);
    CHECK_INT(r3.by_update.pt[1].updates, 7);
    CHECK_INT(r3.by_update.pt[r3.by_update.n - 1].updates, 160);
    CU_ASSERT(r3.final_value == res.final_value);
    CHECK_INT(r3.by_step.n, 0);
    pp_cv_result_free(&res);
    pp_cv_result_free(&r2);
    pp_cv_result_free(&r3);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

static void test_divergence(void)
{
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 16, 20, 5, 4, 0, 3);
    struct pp_wtrace *t = unit_trace(PP_SCHED_PIPEDREAM, params(4, 200), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct pp_cv_opts op = {0};
    op.gamma = 50.0 / pp_objective_smoothness(o);
    op.log_steps = 1;
    struct pp_cv_method m = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_result res;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &res), 0);
    CU_ASSERT(res.diverged);
    CU_ASSERT(res.n_updates < 800); /* stopped early */
    CU_ASSERT(!(res.final_value <= 1e6 * res.initial_value));
    pp_cv_result_free(&res);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

/* Same seeds, same bytes; another noise seed, another curve. */
static void test_determinism(void)
{
    struct pp_objective *o = make_obj(PP_OBJ_LOGISTIC, 16, 40, 5, 4, 0.5, 1);
    struct pp_wtrace *t = unit_trace(PP_SCHED_PIPEDREAM, params(4, 40), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct pp_cv_opts op = {0};
    op.gamma = 0.1;
    op.log_updates = 1;
    op.log_steps = 1;
    op.noise_seed = 77;
    struct pp_cv_method pd = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_method rp = {PP_CV_RPD, NULL, PP_RPD_UNIFORM, 14, 500, 3};
    const struct pp_cv_method *ms[2] = {&pd, &rp};
    for (int i = 0; i < 2; i++) {
        struct pp_cv_result a, b, c;
        CU_ASSERT_EQUAL_FATAL(run(o, ms[i], &op, &a), 0);
        CU_ASSERT_EQUAL_FATAL(run(o, ms[i], &op, &b), 0);
        CHECK_INT(a.by_update.n, b.by_update.n);
        CHECK_INT(a.by_step.n, b.by_step.n);
        CU_ASSERT(memcmp(a.by_update.pt, b.by_update.pt, a.by_update.n * sizeof *a.by_update.pt) == 0);
        CU_ASSERT(a.by_step.n == 0 ||
                  memcmp(a.by_step.pt, b.by_step.pt, a.by_step.n * sizeof *a.by_step.pt) == 0);
        struct pp_cv_opts o2 = op;
        o2.noise_seed = 78;
        CU_ASSERT_EQUAL_FATAL(run(o, ms[i], &o2, &c), 0);
        CU_ASSERT(c.final_value != a.final_value);
        pp_cv_result_free(&a);
        pp_cv_result_free(&b);
        pp_cv_result_free(&c);
    }
    pp_wtrace_free(t);
    pp_objective_free(o);
}

/* Only the final value asked for: no curve, and working state that does not
 * depend on K (RPD) or on the trace length (PD). */
static void test_memory_independent_of_k(void)
{
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 32, 40, 5, 4, 0, 6);
    struct pp_cv_opts op = {0};
    op.gamma = 0.01;
    struct pp_cv_result a, b;
    struct pp_cv_method m = {PP_CV_RPD, NULL, PP_RPD_MAX, 10, 1000, 1};
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &a), 0);
    m.iterations = 50000;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &b), 0);
    CU_ASSERT(a.by_update.pt == NULL && a.by_update.n == 0 && a.by_step.n == 0);
    CU_ASSERT(b.by_update.pt == NULL && b.by_step.pt == NULL);
    CU_ASSERT(a.state_bytes > 0);
    CHECK_INT(b.state_bytes, a.state_bytes);
    /* delta doubles: the undo log grows by delta * block doubles */
    struct pp_cv_result c;
    m.delta = 20;
    CU_ASSERT_EQUAL_FATAL(run(o, &m, &op, &c), 0);
    CU_ASSERT(c.state_bytes >= a.state_bytes + 10 * 8 * sizeof(double));
    pp_cv_result_free(&a);
    pp_cv_result_free(&b);
    pp_cv_result_free(&c);

    struct pp_wtrace *t1 = unit_trace(PP_SCHED_PIPEDREAM, params(4, 40), 1, 0);
    struct pp_wtrace *t2 = unit_trace(PP_SCHED_PIPEDREAM, params(4, 400), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
    struct pp_cv_method p1 = {PP_CV_TRACE, t1, 0, 0, 0, 0}, p2 = {PP_CV_TRACE, t2, 0, 0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(run(o, &p1, &op, &a), 0);
    CU_ASSERT_EQUAL_FATAL(run(o, &p2, &op, &b), 0);
    CHECK_INT(b.state_bytes, a.state_bytes);
    CHECK_INT(b.n_updates, 1600);
    pp_cv_result_free(&a);
    pp_cv_result_free(&b);
    pp_wtrace_free(t1);
    pp_wtrace_free(t2);
    pp_objective_free(o);
}

static void test_bad_input(void)
{
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 16, 20, 5, 4, 0, 3);
    struct pp_wtrace *t3 = unit_trace(PP_SCHED_PIPEDREAM, params(3, 6), 1, 0);
    struct pp_wtrace *ts = unit_trace(PP_SCHED_GPIPE, params(4, 4), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ts);
    struct pp_cv_opts op = {0};
    struct pp_cv_result r;
    struct pp_diag d;
    struct pp_cv_method m = {PP_CV_RPD, NULL, PP_RPD_UNIFORM, 3, 10, 1};
    op.gamma = NAN;
    CHECK_INT(pp_cv_run(o, &m, &op, &r, &d), -PP_EINVAL);
    op.gamma = -1;
    CHECK_INT(pp_cv_run(o, &m, &op, &r, &d), -PP_EINVAL);
    op.gamma = 0.1;
    m.delta = -1;
    CHECK_INT(pp_cv_run(o, &m, &op, &r, &d), -PP_EINVAL);
    m.delays = PP_RPD_EXACT;
    m.trace = ts; /* exact delays need a pipedream trace */
    CHECK_INT(pp_cv_run(o, &m, &op, &r, &d), -PP_EINVAL);
    struct pp_cv_method tm = {PP_CV_TRACE, t3, 0, 0, 0, 0}; /* 3 pieces, 4 blocks */
    CHECK_INT(pp_cv_run(o, &tm, &op, &r, &d), -PP_EINVAL);
    CU_ASSERT(strstr(d.msg, "3 model pieces") != NULL);
    /* a GRAD before its forwards */
    struct pp_wevent ev[1] = {{.key_ns = 0, .start_ns = 0, .end_ns = MS, .mb = 0, .block = 0,
                               .kind = PP_WEV_GRAD, .version = -1}};
    struct pp_wtrace bad = {.sem = PP_WSEM_IMMEDIATE, .conv = PP_WCONV_PAPER, .n_blocks = 4,
                            .replicas = 1, .n_microbatches = 1, .batch_microbatches = 1,
                            .average_every = 1, .makespan_ns = MS, .ev = ev, .n_ev = 1};
    tm.trace = &bad;
    CHECK_INT(pp_cv_run(o, &tm, &op, &r, &d), -PP_EINVAL);
    CU_ASSERT(strstr(d.msg, "malformed") != NULL);
    pp_wtrace_free(t3);
    pp_wtrace_free(ts);
    pp_objective_free(o);
}

/* ---- §3.4: step-size selection ------------------------------------------------ */

static void test_stable_metrics(void)
{
    /* y = 2^-k: the tail (the last max(10, ceil(0.2 n)) = 10 of 20) halves each
     * point: log slope -ln 2, every step down, total variation = net change */
    double y[20];
    for (int k = 0; k < 20; k++)
        y[k] = ldexp(1.0, -k);
    struct pp_cv_metrics m;
    pp_cv_curve_metrics(y, 20, NULL, &m);
    CHECK_CLOSE(m.tail_log_slope, -log(2.0), 1e-12);
    CHECK_CLOSE(m.up_fraction, 0, 0);
    CHECK_CLOSE(m.max_up_rel, 0, 0);
    CHECK_CLOSE(m.tv_ratio, 1, 1e-12);
    double mean = 0;
    for (int k = 10; k < 20; k++)
        mean += y[k] / 10;
    CHECK_CLOSE(m.tail_mean, mean, 1e-14);
    CU_ASSERT(m.tail_cv > 0.15); /* spread too wide for the authors' 0.15 */
    CU_ASSERT(!m.stable);
    /* a flat tail is stable */
    for (int k = 0; k < 20; k++)
        y[k] = 1.0 + (k < 5 ? 5.0 - k : 0.0);
    pp_cv_curve_metrics(y, 20, NULL, &m);
    CU_ASSERT(m.stable);
    CHECK_CLOSE(m.tail_mean, 1.0, 0);
    /* a saw tooth: half the steps rise */
    for (int k = 0; k < 20; k++)
        y[k] = 1.0 + 0.01 * (k % 2);
    pp_cv_curve_metrics(y, 20, NULL, &m);
    CU_ASSERT(m.up_fraction > 0.45);
    CU_ASSERT(!m.stable);
    /* non-finite or too short: unstable */
    y[3] = NAN;
    pp_cv_curve_metrics(y, 20, NULL, &m);
    CU_ASSERT(!m.stable && isinf(m.tail_mean));
    pp_cv_curve_metrics(y, 2, NULL, &m);
    CU_ASSERT(!m.stable);
}

static void set_run(struct pp_cv_tune_run *r, int e, double final, int diverged, int stable,
                    double tail_mean)
{
    memset(r, 0, sizeof *r);
    r->exponent = e;
    r->gamma = ldexp(1.0, e);
    r->res.final_value = final;
    r->res.diverged = diverged;
    r->metrics.stable = stable;
    r->metrics.tail_mean = tail_mean;
}

static void test_select_constructed(void)
{
    struct pp_cv_tune_run runs[6];
    set_run(&runs[0], -6, 3.0, 0, 1, 1.04);  /* stable, within 5% of 1.0 */
    set_run(&runs[1], -5, 1.0, 0, 1, 1.00);  /* stable, the best stable tail */
    set_run(&runs[2], -4, 1.0, 0, 0, 0.95);  /* ties run 1's final, unstable */
    set_run(&runs[3], -3, 0.5, 0, 0, 0.40);  /* best final, unstable */
    set_run(&runs[4], -2, 0.1, 1, 1, 0.05);  /* diverged: never */
    set_run(&runs[5], -1, INFINITY, 1, 0, INFINITY);
    CHECK_INT(pp_cv_select_run(runs, 6, PP_CV_SELECT_BEST, NULL), 3);
    CHECK_INT(pp_cv_select_run(runs, 3, PP_CV_SELECT_BEST, NULL), 1); /* tie: smaller gamma */
    CHECK_INT(pp_cv_select_run(runs, 6, PP_CV_SELECT_STABLE, NULL), 0);
    runs[0].metrics.tail_mean = 1.06; /* outside 5%: the best stable itself */
    CHECK_INT(pp_cv_select_run(runs, 6, PP_CV_SELECT_STABLE, NULL), 1);
    runs[0].metrics.stable = runs[1].metrics.stable = 0; /* none stable: lowest tail */
    CHECK_INT(pp_cv_select_run(runs, 6, PP_CV_SELECT_STABLE, NULL), 3);
    CHECK_INT(pp_cv_select_run(runs + 4, 2, PP_CV_SELECT_BEST, NULL), -1);
    CHECK_INT(pp_cv_select_run(runs + 4, 2, PP_CV_SELECT_STABLE, NULL), -1);
}

/* A real sweep: the largest steps blow up and are marked, the chosen ones are
 * the grid's lowest final (best) and a stable, non-diverged run. */
static void test_tune_grid(void)
{
    struct pp_objective *o = make_obj(PP_OBJ_QUADRATIC, 16, 20, 5, 4, 0, 3);
    struct pp_wtrace *t = unit_trace(PP_SCHED_PIPEDREAM, params(4, 100), 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct pp_cv_opts op = {0};
    op.step_ms = 1;
    struct pp_cv_method m = {PP_CV_TRACE, t, 0, 0, 0, 0};
    struct pp_cv_tuning tu;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_cv_tune(o, &m, &op, -10, 4, NULL, &tu, &d), 0);
    CHECK_INT(tu.n_runs, 15);
    CU_ASSERT(tu.runs[14].res.diverged); /* gamma = 16 >> 1/L */
    CU_ASSERT(!tu.runs[0].res.diverged);
    CU_ASSERT_FATAL(tu.best >= 0 && tu.stable >= 0);
    for (int i = 0; i < tu.n_runs; i++) {
        CHECK_CLOSE(tu.runs[i].gamma, ldexp(1.0, -10 + i), 0);
        CU_ASSERT(tu.runs[i].res.by_step.n > 0); /* the selection curve is kept */
        if (!tu.runs[i].res.diverged)
            CU_ASSERT(tu.runs[tu.best].res.final_value <= tu.runs[i].res.final_value);
    }
    CU_ASSERT(!tu.runs[tu.best].res.diverged && !tu.runs[tu.stable].res.diverged);
    CU_ASSERT(tu.runs[tu.stable].metrics.stable);
    pp_cv_tuning_free(&tu);
    CHECK_INT(pp_cv_tune(o, &m, &op, 3, 2, NULL, &tu, &d), -PP_EINVAL);
    pp_wtrace_free(t);
    pp_objective_free(o);
}

/* ---- §4.2: fixed-time budget ---------------------------------------------------- */

struct closed_form {
    int S;
    int calls;
};

/* PD's makespan 2N + 2S - 2 steps (§1.3) */
static int pd_closed(void *ctx, int64_t n, pp_time *out, struct pp_diag *d)
{
    (void)d;
    struct closed_form *c = ctx;
    c->calls++;
    *out = (2 * n + 2 * c->S - 2) * (pp_time)MS;
    return 0;
}

struct real_plan {
    enum pp_schedule_kind kind;
    int S, R, H;
};

static int real_makespan(void *ctx, int64_t n, pp_time *out, struct pp_diag *d)
{
    (void)d;
    const struct real_plan *c = ctx;
    struct pp_sched_params sp = params(c->S, n);
    sp.local_replicas = c->R;
    sp.local_steps = c->H;
    struct pp_plan *plan = NULL;
    struct pp_sim_result *r = unit_sim(c->kind, sp, &plan);
    if (!r) {
        pp_plan_free(plan);
        return -PP_EINVAL;
    }
    *out = r->makespan_ns;
    pp_sim_result_free(r);
    pp_plan_free(plan);
    return 0;
}

static void test_fixed_time_closed_form(void)
{
    struct closed_form c = {16, 0};
    struct pp_diag d;
    int64_t n = 0;
    /* E3: budget 1230 steps at S = 16 -> N = 600 (§4.1 table, §5 E3) */
    CHECK_INT(pp_cv_microbatches_for_time(pd_closed, &c, 1230 * (pp_time)MS, 1, 0, &n, &d), 0);
    CHECK_INT(n, 600);
    CU_ASSERT(c.calls <= 2 * 30 + 2);
    CHECK_INT(pp_cv_microbatches_for_time(pd_closed, &c, 1231 * (pp_time)MS, 1, 0, &n, &d), 0);
    CHECK_INT(n, 601);
    /* E5: budget 3180 -> N = 1589 at S = 2, 1527 at S = 64 (§5 E5) */
    c.S = 2;
    CHECK_INT(pp_cv_microbatches_for_time(pd_closed, &c, 3180 * (pp_time)MS, 1, 0, &n, &d), 0);
    CHECK_INT(n, 1589);
    c.S = 64;
    CHECK_INT(pp_cv_microbatches_for_time(pd_closed, &c, 3180 * (pp_time)MS, 1, 0, &n, &d), 0);
    CHECK_INT(n, 1527);
    /* in steps of 16 microbatches: the smallest multiple that reaches it */
    c.S = 16;
    CHECK_INT(pp_cv_microbatches_for_time(pd_closed, &c, 1230 * (pp_time)MS, 16, 0, &n, &d), 0);
    CHECK_INT(n, 608);
    /* too small a cap */
    CHECK_INT(pp_cv_microbatches_for_time(pd_closed, &c, 1230 * (pp_time)MS, 1, 500, &n, &d),
              -PP_EINFEASIBLE);
    /* a target met by one microbatch */
    CHECK_INT(pp_cv_microbatches_for_time(pd_closed, &c, 1, 1, 0, &n, &d), 0);
    CHECK_INT(n, 1);
}

static void test_fixed_time_real_plans(void)
{
    pp_time t;
    struct pp_diag d;
    /* §4.1: N = 600 at S = R = 16: PD 1230, LocalSGD H = 2/5/30 1770/1440/1260 */
    struct real_plan pd = {PP_SCHED_PIPEDREAM, 16, 0, 0};
    CU_ASSERT_EQUAL_FATAL(real_makespan(&pd, 600, &t, &d), 0);
    CHECK_INT(t / MS, 1230);
    const int H[3] = {2, 5, 30};
    const long long want[3] = {1770, 1440, 1260};
    for (int i = 0; i < 3; i++) {
        struct real_plan ls = {PP_SCHED_LOCALSGD, 16, 16, H[i]};
        CU_ASSERT_EQUAL_FATAL(real_makespan(&ls, 600, &t, &d), 0);
        CHECK_INT(t / MS, want[i]);
    }
    int64_t n = 0;
    CHECK_INT(pp_cv_microbatches_for_time(real_makespan, &pd, 1230 * (pp_time)MS, 1, 0, &n, &d), 0);
    CHECK_INT(n, 600);
    /* LocalSGD H = 5 in PD's 1230 steps: the smallest N that reaches it */
    struct real_plan ls = {PP_SCHED_LOCALSGD, 16, 16, 5};
    CHECK_INT(pp_cv_microbatches_for_time(real_makespan, &ls, 1230 * (pp_time)MS, 1, 0, &n, &d), 0);
    pp_time at, below;
    CU_ASSERT_EQUAL_FATAL(real_makespan(&ls, n, &at, &d), 0);
    CU_ASSERT_EQUAL_FATAL(real_makespan(&ls, n - 1, &below, &d), 0);
    CU_ASSERT(at >= 1230 * (pp_time)MS);
    CU_ASSERT(below < 1230 * (pp_time)MS);
    CU_ASSERT(n < 600); /* LocalSGD's bubbles cost microbatches */
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"exact RPD = PD bit for bit, S=4,8 (theory §3.1, §2.1)", test_rpd_exact_equals_pd},
        {"exact RPD and PD under a time budget (theory §4.2)", test_rpd_exact_budget},
        {"RPD zero delays = block-coordinate SGD (theory §3.1)", test_rpd_zero_is_block_sgd},
        {"RPD uniform/max delays = full-history loop (theory §3.1)", test_rpd_stale_hand},
        {"LocalSGD replicas + averaging = hand loop (theory §4.1)", test_localsgd_hand},
        {"LocalSGD R=1 = PD noam=1 (theory §1.3, §4.1)", test_localsgd_r1_is_naive_pd},
        {"sync, 1 microbatch per batch = SGD", test_sync_one_microbatch_is_sgd},
        {"sync gradient accumulation = batch mean", test_sync_accumulation_mean},
        {"2BW reads version b-1 (schedules §2.4)", test_double_buffered},
        {"PD small step: f falls every time step (theory §4.2)", test_pd_monotone_small_step},
        {"divergence marked and stopped", test_divergence},
        {"same seeds, same curve bytes", test_determinism},
        {"final-only runs: state independent of K", test_memory_independent_of_k},
        {"bad input rejected", test_bad_input},
        {"stable-rule metrics (theory §3.4, authors' notebook)", test_stable_metrics},
        {"best / stable selection on a constructed grid (theory §3.4)", test_select_constructed},
        {"power-of-two sweep on PD (theory §3.4)", test_tune_grid},
        {"fixed-time N from 2N+2S-2: 600, 1589, 1527 (theory §4.2, §5)", test_fixed_time_closed_form},
        {"fixed-time N on real plans; LocalSGD 1770/1440/1260 (theory §4.1)", test_fixed_time_real_plans},
        {NULL, NULL},
    };
    return pp_test_main("converge", tests);
}
