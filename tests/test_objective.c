/* test_objective.c - the synthetic objectives of pipedream-theory.md §1.1 and §5 (E2-E5). */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "diag.h"
#include "objective.h"
#include "testutil.h"

/* test hook in objective.c: the minimiser behind pp_objective_fstar */
const double *pp_objective_argmin_for_tests(const struct pp_objective *o);

static struct pp_objective_spec spec_of(enum pp_obj_kind kind, int dim, int examples, int batch)
{
    struct pp_objective_spec s = {kind, dim, examples, batch, 0.0, 0.0, 0.0, 1};
    if (kind == PP_OBJ_NESTEROV)
        s.mu = 0.01;
    if (kind == PP_OBJ_LOGISTIC)
        s.l2 = 1e-4;
    return s;
}

static struct pp_objective *make(const struct pp_objective_spec *s, int blocks)
{
    struct pp_diag dg = {0};
    struct pp_objective *o = NULL;
    int rc = pp_objective_create(s, blocks, &o, &dg);
    char m[700];
    snprintf(m, sizeof m, "pp_objective_create: rc %d: %s", rc, dg.msg);
    pp_check_impl(rc == 0 && o, __LINE__, __FILE__, m);
    return o;
}

/* X recovered through the public forward kernel: forward with w_block = e_j
 * adds column j of the batch's rows. X is n x d row-major. */
static double *extract_X(const struct pp_objective *o)
{
    const int d = pp_objective_dim(o), rows = pp_objective_batch_rows(o);
    const int64_t nb = pp_objective_batches(o);
    double *X = calloc((size_t)nb * rows * d, sizeof *X), *e = calloc((size_t)d, sizeof *e);
    double *act = calloc((size_t)rows, sizeof *act);
    for (int s = 0; s < pp_objective_blocks(o); s++) {
        size_t f = pp_objective_block_first(o, s), len = pp_objective_block_len(o, s);
        for (size_t j = 0; j < len; j++) {
            memset(e, 0, sizeof *e * len);
            e[j] = 1.0;
            for (int64_t b = 0; b < nb; b++) {
                memset(act, 0, sizeof *act * rows);
                pp_objective_forward(o, b, s, e, act);
                for (int r = 0; r < rows; r++)
                    X[((size_t)b * rows + r) * d + f + j] = act[r];
            }
        }
    }
    free(e);
    free(act);
    return X;
}

static void random_w(double *w, int d, unsigned long seed, double scale)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    for (int j = 0; j < d; j++)
        w[j] = scale * (2.0 * gsl_rng_uniform(r) - 1.0);
    gsl_rng_free(r);
}

static double norm2(const double *v, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++)
        s += v[j] * v[j];
    return sqrt(s);
}

/* §1.1: make_stage_slices cuts w into contiguous slices of floor(d/S) or
 * floor(d/S)+1 coordinates, the first d mod S slices being the larger. */
static void test_block_sizes(void)
{
    struct pp_objective_spec s = spec_of(PP_OBJ_QUADRATIC, 512, 4, 1);
    struct pp_objective *o = make(&s, 16);
    if (!o)
        return;
    CHECK_INT(pp_objective_blocks(o), 16);
    for (int b = 0; b < 16; b++) {
        CHECK_INT(pp_objective_block_first(o, b), 32 * b);
        CHECK_INT(pp_objective_block_len(o, b), 32);
    }
    pp_objective_free(o);

    o = make(&s, 7); /* 512 = 7 * 73 + 1 */
    if (!o)
        return;
    CHECK_INT(pp_objective_block_len(o, 0), 74);
    for (int b = 1; b < 7; b++) {
        CHECK_INT(pp_objective_block_len(o, b), 73);
        CHECK_INT(pp_objective_block_first(o, b), 74 + 73 * (b - 1));
    }
    CHECK_INT(pp_objective_block_first(o, 6) + pp_objective_block_len(o, 6), 512);
    pp_objective_free(o);

    s.dim = 10; /* 10 = 3 * 3 + 1 */
    o = make(&s, 3);
    if (!o)
        return;
    CHECK_INT(pp_objective_block_len(o, 0), 4);
    CHECK_INT(pp_objective_block_len(o, 1), 3);
    CHECK_INT(pp_objective_block_len(o, 2), 3);
    CHECK_INT(pp_objective_batches(o), 4);
    CHECK_INT(pp_objective_batch_rows(o), 1);
    pp_objective_free(o);
}

/* §5 E3: "tridiagonal" kind, Hessian (1/n) X^T X = T + mu I exactly (T: 2 on
 * the diagonal, -1 off it), mu = 0.01, d = 512, n = 600, batch 5 -> 120 batches.
 * L ~ 4.01 is the top eigenvalue of T + mu I = 2 - 2 cos(d pi / (d + 1)) + mu. */
static void test_nesterov_hessian_and_L(void)
{
    struct pp_objective_spec s = spec_of(PP_OBJ_NESTEROV, 512, 600, 5);
    struct pp_objective *o = make(&s, 16);
    if (!o)
        return;
    const int d = 512, n = 600;
    CHECK_INT(pp_objective_batches(o), 120);
    double *X = extract_X(o), worst = 0.0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j <= i; j++) {
            double h = 0.0;
            for (int r = 0; r < n; r++)
                h += X[(size_t)r * d + i] * X[(size_t)r * d + j];
            h /= n;
            double want = i == j ? 2.0 + 0.01 : (i == j + 1 ? -1.0 : 0.0);
            worst = fmax(worst, fabs(h - want));
        }
    CHECK_CLOSE(worst, 0.0, 1e-9);
    double L = 2.0 - 2.0 * cos(d * M_PI / (d + 1)) + 0.01;
    CHECK_CLOSE(pp_objective_smoothness(o), L, 1e-9);
    CHECK_CLOSE(round(pp_objective_smoothness(o) * 100) / 100, 4.01, 1e-12);
    /* y = X w_true: the minimum is 0, and E3's curves start near 5e2:
     * f(0) = w_true^T (T + mu I) w_true / 2, about tr(T + mu I) / 2 = 514.6 */
    CHECK_CLOSE(pp_objective_fstar(o), 0.0, 1e-20);
    double *w = calloc(d, sizeof *w);
    double f0 = pp_objective_value(o, w);
    pp_check_impl(f0 > 350 && f0 < 700, __LINE__, __FILE__, "E3: f(0) - f* is not near 5e2");
    free(w);
    free(X);
    pp_objective_free(o);
}

/* L for the other kinds, against an eigen-solve of the Gram matrix here:
 * least squares lambda_max(X^T X / n); logistic lambda_max(X^T X) / (4n) + l2. */
static void check_L(const struct pp_objective_spec *s, int blocks)
{
    struct pp_objective *o = make(s, blocks);
    if (!o)
        return;
    const int d = s->dim, n = s->examples;
    double *X = extract_X(o);
    gsl_matrix *G = gsl_matrix_alloc(d, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double h = 0.0;
            for (int r = 0; r < n; r++)
                h += X[(size_t)r * d + i] * X[(size_t)r * d + j];
            gsl_matrix_set(G, i, j, h / n);
        }
    gsl_vector *ev = gsl_vector_alloc(d);
    gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(d);
    gsl_eigen_symm(G, ev, ws);
    double lmax = gsl_vector_max(ev);
    double want = s->kind == PP_OBJ_LOGISTIC ? lmax / 4 + s->l2 : lmax;
    CHECK_CLOSE(pp_objective_smoothness(o), want, 1e-10);
    gsl_eigen_symm_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(G);
    free(X);
    pp_objective_free(o);
}

static void test_smoothness_other_kinds(void)
{
    struct pp_objective_spec s = spec_of(PP_OBJ_QUADRATIC, 40, 60, 6);
    check_L(&s, 4);
    s.examples = 12; /* n < d: L from X X^T */
    check_L(&s, 4);
    s = spec_of(PP_OBJ_LOGISTIC, 40, 60, 6);
    check_L(&s, 4);
}

/* §5 E2: X and w_true standard normal, y = X w_true, so f* = 0; for n >= d
 * (least squares) and n < d (minimum-norm solution) alike. */
static void test_quadratic_fstar_zero(void)
{
    const int ns[] = {600, 200};
    for (int k = 0; k < 2; k++) {
        struct pp_objective_spec s = spec_of(PP_OBJ_QUADRATIC, 512, ns[k], 10);
        struct pp_objective *o = make(&s, 8);
        if (!o)
            continue;
        CHECK_CLOSE(pp_objective_fstar(o), 0.0, 1e-20);
        pp_check_impl(pp_objective_fstar(o) >= 0, __LINE__, __FILE__, "f* < 0");
        double *w = calloc(512, sizeof *w);
        pp_check_impl(pp_objective_value(o, w) > 100, __LINE__, __FILE__, "f(0) too small");
        free(w);
        pp_objective_free(o);
    }
}

/* The minimiser behind f* has a vanishing gradient, and f(w*) is f*, for every
 * kind: least squares n >= d and n < d, Nesterov, logistic through both the
 * d x d Newton system (n >= d) and the Woodbury n x n one (n < d; E5's shape),
 * and logistic with l2 = 0 on non-separable data (n >> d). */
static void test_gradient_at_minimiser(void)
{
    struct pp_objective_spec specs[6] = {
        spec_of(PP_OBJ_QUADRATIC, 64, 120, 6), spec_of(PP_OBJ_QUADRATIC, 64, 30, 6),
        spec_of(PP_OBJ_NESTEROV, 64, 80, 8),   spec_of(PP_OBJ_LOGISTIC, 64, 120, 6),
        spec_of(PP_OBJ_LOGISTIC, 512, 50, 1),  spec_of(PP_OBJ_LOGISTIC, 10, 2000, 5),
    };
    specs[5].l2 = 0.0;
    for (int k = 0; k < 6; k++) {
        struct pp_objective *o = make(&specs[k], 4);
        if (!o)
            continue;
        const int d = specs[k].dim;
        const double *ws = pp_objective_argmin_for_tests(o);
        double *g = calloc(d, sizeof *g);
        pp_objective_gradient(o, ws, g);
        char m[200];
        snprintf(m, sizeof m, "spec %d: |grad f(w*)| = %g", k, norm2(g, d));
        pp_check_impl(norm2(g, d) < 1e-8, __LINE__, __FILE__, m);
        CHECK_CLOSE(pp_objective_value(o, ws), pp_objective_fstar(o), 0.0);
        free(g);
        pp_objective_free(o);
    }
}

/* Central differences against pp_objective_gradient at a random point. */
static void test_gradient_finite_differences(void)
{
    const enum pp_obj_kind kinds[] = {PP_OBJ_QUADRATIC, PP_OBJ_NESTEROV, PP_OBJ_LOGISTIC};
    for (int k = 0; k < 3; k++) {
        struct pp_objective_spec s = spec_of(kinds[k], 30, 40, 5);
        if (kinds[k] == PP_OBJ_LOGISTIC)
            s.l2 = 0.05; /* large enough that the L2 term shows */
        struct pp_objective *o = make(&s, 3);
        if (!o)
            continue;
        double w[30], g[30];
        random_w(w, 30, 7, 0.3);
        pp_objective_gradient(o, w, g);
        for (int j = 0; j < 30; j++) {
            const double h = 1e-5, wj = w[j];
            w[j] = wj + h;
            double fp = pp_objective_value(o, w);
            w[j] = wj - h;
            double fm = pp_objective_value(o, w);
            w[j] = wj;
            CHECK_CLOSE(g[j], (fp - fm) / (2 * h), 1e-6);
        }
        pp_objective_free(o);
    }
}

/* §1.1: a_{s+1} = a_s + X_b[:, s] w_s from a_1 = 0, loss on a_{S+1}, block
 * gradient X_b[:, s]^T g_out (+ l2 w_s). With every block at the same w the
 * mean over the batches of the block gradients is the full gradient. */
static void test_kernels_compose_to_gradient(void)
{
    const enum pp_obj_kind kinds[] = {PP_OBJ_QUADRATIC, PP_OBJ_NESTEROV, PP_OBJ_LOGISTIC};
    for (int k = 0; k < 3; k++) {
        struct pp_objective_spec s = spec_of(kinds[k], 50, 60, 6);
        if (kinds[k] == PP_OBJ_LOGISTIC)
            s.l2 = 0.05;
        const int S = 7, d = 50;
        struct pp_objective *o = make(&s, S);
        if (!o)
            continue;
        double w[50], want[50], got[50] = {0}, gb[50], act[6], gout[6];
        random_w(w, d, 11, 0.5);
        pp_objective_gradient(o, w, want);
        const int64_t nb = pp_objective_batches(o);
        for (int64_t b = 0; b < nb; b++) {
            memset(act, 0, sizeof act);
            for (int st = 0; st < S; st++)
                pp_objective_forward(o, b, st, w + pp_objective_block_first(o, st), act);
            pp_objective_output_grad(o, b, act, gout);
            for (int st = 0; st < S; st++) {
                size_t f = pp_objective_block_first(o, st), len = pp_objective_block_len(o, st);
                pp_objective_block_grad(o, b, st, w + f, gout, gb, NULL);
                for (size_t j = 0; j < len; j++)
                    got[f + j] += gb[j] / (double)nb;
            }
        }
        for (int j = 0; j < d; j++)
            CHECK_CLOSE(got[j], want[j], 1e-10);
        pp_objective_free(o);
    }
}

/* "batch is taken modulo pp_objective_batches": the data cycle in a fixed
 * order (§5: batches fed cyclically without shuffling). */
static void test_batch_modulo(void)
{
    struct pp_objective_spec s = spec_of(PP_OBJ_QUADRATIC, 12, 20, 4);
    struct pp_objective *o = make(&s, 2);
    if (!o)
        return;
    double w[6] = {1, -2, 3, 0.5, 0.25, -1}, a[4] = {0}, b[4] = {0}, c[4] = {0};
    pp_objective_forward(o, 2, 1, w, a);
    pp_objective_forward(o, 2 + 5 * 3, 1, w, b);
    pp_objective_forward(o, 2 - 5, 1, w, c);
    CHECK_INT(memcmp(a, b, sizeof a), 0);
    CHECK_INT(memcmp(a, c, sizeof a), 0);
    pp_objective_free(o);
}

/* §5 E5: Gaussian gradient noise, std 0.5, on every block-gradient coordinate;
 * none when rng is NULL. */
static void test_gradient_noise(void)
{
    struct pp_objective_spec s = spec_of(PP_OBJ_LOGISTIC, 64, 40, 4);
    s.noise_std = 0.5;
    struct pp_objective *o = make(&s, 2);
    s.noise_std = 0.0;
    struct pp_objective *clean = make(&s, 2);
    if (!o || !clean)
        goto out;
    double w[32], act[4] = {0}, gout[4], g0[32], g1[32], g2[32];
    random_w(w, 32, 3, 0.1);
    pp_objective_forward(o, 1, 1, w, act);
    pp_objective_output_grad(o, 1, act, gout);
    pp_objective_block_grad(clean, 1, 1, w, gout, g0, NULL);
    pp_objective_block_grad(o, 1, 1, w, gout, g1, NULL);
    CHECK_INT(memcmp(g0, g1, sizeof g0), 0); /* rng NULL: no noise */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    pp_objective_block_grad(clean, 1, 1, w, gout, g2, rng);
    CHECK_INT(memcmp(g0, g2, sizeof g0), 0); /* noise_std 0: no noise */
    double sum = 0, sum2 = 0;
    const int draws = 2000;
    for (int t = 0; t < draws; t++) {
        pp_objective_block_grad(o, 1, 1, w, gout, g1, rng);
        for (int j = 0; j < 32; j++) {
            double e = g1[j] - g0[j];
            sum += e;
            sum2 += e * e;
        }
    }
    gsl_rng_free(rng);
    const double cnt = draws * 32.0, mean = sum / cnt;
    const double sd = sqrt(sum2 / cnt - mean * mean);
    /* 64000 draws: the standard errors are 0.002 (mean) and 0.0014 (std); the
     * stream is seeded, so the bounds (about 4 standard errors) cannot flake */
    CHECK_CLOSE(mean, 0.0, 0.008);
    CHECK_CLOSE(sd, 0.5, 0.005);
out:
    pp_objective_free(o);
    pp_objective_free(clean);
}

/* Same spec and seed -> the same data bit for bit; another seed -> other data. */
static void test_determinism(void)
{
    const enum pp_obj_kind kinds[] = {PP_OBJ_QUADRATIC, PP_OBJ_NESTEROV, PP_OBJ_LOGISTIC};
    for (int k = 0; k < 3; k++) {
        struct pp_objective_spec s = spec_of(kinds[k], 40, 50, 5);
        struct pp_objective *a = make(&s, 4), *b = make(&s, 4);
        s.seed = 2;
        struct pp_objective *c = make(&s, 4);
        if (a && b && c) {
            double w[40];
            random_w(w, 40, 9, 1.0);
            double fa = pp_objective_value(a, w), fb = pp_objective_value(b, w);
            double fc = pp_objective_value(c, w);
            CHECK_INT(memcmp(&fa, &fb, sizeof fa), 0);
            pp_check_impl(memcmp(&fa, &fc, sizeof fa) != 0, __LINE__, __FILE__,
                          "seeds 1 and 2 gave the same f(w)");
            double sa = pp_objective_fstar(a), sb = pp_objective_fstar(b);
            double la = pp_objective_smoothness(a), lb = pp_objective_smoothness(b);
            CHECK_INT(memcmp(&sa, &sb, sizeof sa), 0);
            CHECK_INT(memcmp(&la, &lb, sizeof la), 0);
        }
        pp_objective_free(a);
        pp_objective_free(b);
        pp_objective_free(c);
    }
}

struct bad_case {
    struct pp_objective_spec spec;
    int blocks, code;
    const char *needle;
};

static void test_validation(void)
{
    const struct pp_objective_spec q = spec_of(PP_OBJ_QUADRATIC, 16, 20, 5);
    const struct pp_objective_spec nes = spec_of(PP_OBJ_NESTEROV, 16, 20, 5);
    const struct pp_objective_spec lg = spec_of(PP_OBJ_LOGISTIC, 16, 20, 5);
    struct bad_case c[] = {
        {q, 0, PP_EINVAL, "blocks = 0"},
        {q, 17, PP_EINVAL, "dim = 16 is less than the 17 blocks"},
        {q, 4, PP_EINVAL, "examples = 0"},
        {q, 4, PP_EINVAL, "batch = 0"},
        {q, 4, PP_EINVAL, "batch = 3 must be a positive divisor of examples = 20"},
        {nes, 4, PP_EINVAL, "mu = 0 must be > 0"},
        {nes, 4, PP_EINVAL, "mu = -0.5 must be > 0"},
        {q, 4, PP_EINVAL, "mu = nan is not a finite number"},
        {lg, 4, PP_EINVAL, "l2 = -1 must be >= 0"},
        {lg, 4, PP_EINVAL, "l2 = inf is not a finite number"},
        {q, 4, PP_EINVAL, "noise_std = -0.1 must be >= 0"},
        {q, 4, PP_EINVAL, "noise_std = nan is not a finite number"},
        {nes, 4, PP_EINVAL, "examples = 10 is less than dim = 16"},
        {q, 4, PP_ENOMEM, "dim * examples = 100000 * 10000 exceeds"},
        {q, 4, PP_EINVAL, "kind = 99"},
        /* n < d with l2 = 0: the labels are separable and no minimiser exists */
        {lg, 4, PP_EINVAL, "no logistic minimiser with l2 = 0"},
    };
    c[2].spec.examples = 0;
    c[3].spec.batch = 0;
    c[4].spec.batch = 3;
    c[5].spec.mu = 0.0;
    c[6].spec.mu = -0.5;
    c[7].spec.mu = NAN;
    c[8].spec.l2 = -1.0;
    c[9].spec.l2 = INFINITY;
    c[10].spec.noise_std = -0.1;
    c[11].spec.noise_std = NAN;
    c[12].spec.examples = 10;
    c[12].spec.batch = 5;
    c[13].spec.dim = 100000;
    c[13].spec.examples = 10000;
    c[14].spec.kind = (enum pp_obj_kind)99;
    c[15].spec.l2 = 0.0;
    c[15].spec.examples = 10;
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        struct pp_diag dg = {0};
        struct pp_objective *o = (struct pp_objective *)&dg; /* must come back NULL */
        int rc = pp_objective_create(&c[k].spec, c[k].blocks, &o, &dg);
        CHECK_INT(rc, -c[k].code);
        pp_check_impl(o == NULL, __LINE__, __FILE__, "out not NULL after a failure");
        CHECK_CONTAINS(dg.msg, c[k].needle);
        CHECK_CONTAINS(dg.msg, "objective: ");
    }
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"block sizes floor(d/S) or +1, larger first (§1.1)", test_block_sizes},
        {"nesterov Hessian T + mu I, L = 4.01 (§5 E3)", test_nesterov_hessian_and_L},
        {"L of least squares and logistic", test_smoothness_other_kinds},
        {"quadratic f* = 0 for y = X w_true (§5 E2)", test_quadratic_fstar_zero},
        {"gradient vanishes at the minimiser", test_gradient_at_minimiser},
        {"gradient vs finite differences", test_gradient_finite_differences},
        {"pipeline kernels compose to the gradient (§1.1)", test_kernels_compose_to_gradient},
        {"batch index taken modulo the batches", test_batch_modulo},
        {"gradient noise std (§5 E5)", test_gradient_noise},
        {"determinism by seed", test_determinism},
        {"validation errors", test_validation},
        {NULL, NULL},
    };
    return pp_test_main("objective", tests);
}
