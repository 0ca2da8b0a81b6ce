/* objective.c - the seed paper's synthetic objectives (pipedream-theory.md §1.1, §5 E2-E5).
 *
 * The data follow the authors' release (vectozavr/randomized-pipedream,
 * src/objectives/quadratic.py and logistic.py) in distribution, not draw for
 * draw: they sample with numpy's default_rng, we with one GSL mt19937 stream
 * seeded by spec.seed, so X, w_true and y differ numerically from theirs (the
 * NESTEROV Hessian is exact either way). Draw order: X (row by row; for
 * NESTEROV the Gaussian matrix Z that is orthonormalised), then w_true, then
 * the LOGISTIC labels. GSL's mt19937 keeps the low 32 bits of the seed and maps
 * seed 0 to its default 4357.
 *
 * The least-squares targets carry no label noise (the paper's runs use none),
 * so f* = 0 in exact arithmetic; we still solve for it, as the paper's code
 * does, so that f - f* is measured against the same floating-point f. */
#include "objective.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* n*d cap: X alone is 4 GB of doubles at the cap. */
#define OBJ_MAX_ENTRIES 5e8
/* Newton stops at this gradient norm (the header promises 1e-12). */
#define OBJ_NEWTON_TOL 1e-12
#define OBJ_NEWTON_ITERS 200
/* Below this squared Newton decrement the full step is taken without a line
 * search: the predicted decrease is under f's rounding, so Armijo would only
 * compare noise, and the iterate is deep inside Newton's quadratic region. */
#define OBJ_NEWTON_FULLSTEP_DEC 1e-12

struct pp_objective {
    enum pp_obj_kind kind;
    int dim, examples, batch_rows, blocks;
    int64_t batches;
    double l2;        /* 0 unless LOGISTIC */
    double noise_std;
    double *X;        /* examples x dim, row-major: a batch's block is a strided submatrix */
    double *y;
    double *w_true;
    double *w_star;   /* the minimiser behind fstar */
    size_t *first;    /* blocks + 1 offsets into w */
    double fstar, smooth;
};

/* Test hook: the minimiser behind pp_objective_fstar (not in objective.h). */
const double *pp_objective_argmin_for_tests(const struct pp_objective *o);

/* ---- scalar pieces of the loss ---------------------------------------------------- */

static double sigmoid(double a)
{
    if (a >= 0)
        return 1.0 / (1.0 + exp(-a));
    double e = exp(a);
    return e / (1.0 + e);
}

/* loss of one row at activation a; log(1+e^a) - y a written so it never overflows */
static double row_loss(enum pp_obj_kind kind, double a, double y)
{
    if (kind != PP_OBJ_LOGISTIC)
        return 0.5 * (a - y) * (a - y);
    return fmax(a, 0.0) + log1p(exp(-fabs(a))) - y * a;
}

static double row_dloss(enum pp_obj_kind kind, double a, double y)
{
    return kind == PP_OBJ_LOGISTIC ? sigmoid(a) - y : a - y;
}

/* ---- accessors ---------------------------------------------------------------------- */

int pp_objective_dim(const struct pp_objective *o) { return o->dim; }
int pp_objective_blocks(const struct pp_objective *o) { return o->blocks; }
int64_t pp_objective_batches(const struct pp_objective *o) { return o->batches; }
int pp_objective_batch_rows(const struct pp_objective *o) { return o->batch_rows; }
size_t pp_objective_block_first(const struct pp_objective *o, int block) { return o->first[block]; }
size_t pp_objective_block_len(const struct pp_objective *o, int block)
{
    return o->first[block + 1] - o->first[block];
}
double pp_objective_fstar(const struct pp_objective *o) { return o->fstar; }
double pp_objective_smoothness(const struct pp_objective *o) { return o->smooth; }
const double *pp_objective_argmin_for_tests(const struct pp_objective *o) { return o->w_star; }

/* ---- full objective ------------------------------------------------------------------- */

/* Row by row rather than one dgemv into a buffer: the same flops, no scratch,
 * so f can be evaluated through a const pointer from several places at once. */
double pp_objective_value(const struct pp_objective *o, const double *w)
{
    const int d = o->dim;
    double sum = 0.0;
    for (int r = 0; r < o->examples; r++)
        sum += row_loss(o->kind, cblas_ddot(d, o->X + (size_t)r * d, 1, w, 1), o->y[r]);
    double f = sum / o->examples;
    if (o->l2 > 0)
        f += 0.5 * o->l2 * cblas_ddot(d, w, 1, w, 1);
    return f;
}

void pp_objective_gradient(const struct pp_objective *o, const double *w, double *g)
{
    const int d = o->dim;
    memset(g, 0, sizeof *g * (size_t)d);
    for (int r = 0; r < o->examples; r++) {
        const double *xr = o->X + (size_t)r * d;
        double c = row_dloss(o->kind, cblas_ddot(d, xr, 1, w, 1), o->y[r]) / o->examples;
        cblas_daxpy(d, c, xr, 1, g, 1);
    }
    if (o->l2 > 0)
        cblas_daxpy(d, o->l2, w, 1, g, 1);
}

/* ---- pipeline kernels (hot: no allocation, one BLAS call each) ---------------------- */

static const double *batch_block(const struct pp_objective *o, int64_t batch, int block)
{
    int64_t b = batch % o->batches;
    if (b < 0)
        b += o->batches;
    return o->X + (size_t)b * (size_t)o->batch_rows * (size_t)o->dim + o->first[block];
}

static const double *batch_labels(const struct pp_objective *o, int64_t batch)
{
    int64_t b = batch % o->batches;
    if (b < 0)
        b += o->batches;
    return o->y + (size_t)b * (size_t)o->batch_rows;
}

void pp_objective_forward(const struct pp_objective *o, int64_t batch, int block,
                          const double *w_block, double *act)
{
    cblas_dgemv(CblasRowMajor, CblasNoTrans, o->batch_rows, (int)pp_objective_block_len(o, block),
                1.0, batch_block(o, batch, block), o->dim, w_block, 1, 1.0, act, 1);
}

void pp_objective_output_grad(const struct pp_objective *o, int64_t batch, const double *act,
                              double *gout)
{
    const double *yb = batch_labels(o, batch);
    for (int r = 0; r < o->batch_rows; r++)
        gout[r] = row_dloss(o->kind, act[r], yb[r]) / o->batch_rows;
}

void pp_objective_block_grad(const struct pp_objective *o, int64_t batch, int block,
                             const double *w_block, const double *gout, double *g_block,
                             gsl_rng *rng)
{
    const int len = (int)pp_objective_block_len(o, block);
    cblas_dgemv(CblasRowMajor, CblasTrans, o->batch_rows, len, 1.0, batch_block(o, batch, block),
                o->dim, gout, 1, 0.0, g_block, 1);
    if (o->l2 > 0)
        cblas_daxpy(len, o->l2, w_block, 1, g_block, 1);
    if (o->noise_std > 0 && rng)
        for (int j = 0; j < len; j++)
            g_block[j] += gsl_ran_gaussian(rng, o->noise_std);
}

/* ---- validation ------------------------------------------------------------------------ */

static int check_finite(const char *name, double v, struct pp_diag *d)
{
    if (isfinite(v))
        return 0;
    return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "objective: %s = %g is not a finite number", name,
                       v);
}

static int check_spec(const struct pp_objective_spec *s, int blocks, struct pp_diag *d)
{
    int rc;
    if (s->kind != PP_OBJ_QUADRATIC && s->kind != PP_OBJ_NESTEROV && s->kind != PP_OBJ_LOGISTIC)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "objective: kind = %d is not a known objective",
                           (int)s->kind);
    if (blocks < 1)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "objective: blocks = %d must be at least 1",
                           blocks);
    if (s->dim < blocks)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "objective: dim = %d is less than the %d blocks (every stage needs a "
                           "coordinate)", s->dim, blocks);
    if (s->examples < 1)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "objective: examples = %d must be at least 1",
                           s->examples);
    if (s->batch < 1 || s->examples % s->batch != 0)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "objective: batch = %d must be a positive divisor of examples = %d",
                           s->batch, s->examples);
    if ((rc = check_finite("mu", s->mu, d)) || (rc = check_finite("l2", s->l2, d)) ||
        (rc = check_finite("noise_std", s->noise_std, d)))
        return rc;
    if (s->kind == PP_OBJ_NESTEROV && !(s->mu > 0))
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "objective: mu = %g must be > 0 for the nesterov objective", s->mu);
    if (s->l2 < 0)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "objective: l2 = %g must be >= 0", s->l2);
    if (s->noise_std < 0)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "objective: noise_std = %g must be >= 0",
                           s->noise_std);
    if (s->kind == PP_OBJ_NESTEROV && s->examples < s->dim)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "objective: examples = %d is less than dim = %d; the nesterov Hessian "
                           "(1/n) X^T X = T + mu I needs n >= d", s->examples, s->dim);
    if ((double)s->dim * (double)s->examples > OBJ_MAX_ENTRIES)
        return pp_diag_set(d, PP_ENOMEM, NULL, 0, 0,
                           "objective: dim * examples = %d * %d exceeds the %.0e-entry cap on the "
                           "data matrix", s->dim, s->examples, OBJ_MAX_ENTRIES);
    return 0;
}

/* ---- data ------------------------------------------------------------------------------- */

static void fill_gaussian(double *v, size_t len, gsl_rng *rng)
{
    for (size_t i = 0; i < len; i++)
        v[i] = gsl_ran_gaussian(rng, 1.0);
}

static void set_targets_linear(struct pp_objective *o)
{
    gsl_matrix_const_view X = gsl_matrix_const_view_array(o->X, (size_t)o->examples, (size_t)o->dim);
    gsl_vector_const_view w = gsl_vector_const_view_array(o->w_true, (size_t)o->dim);
    gsl_vector_view y = gsl_vector_view_array(o->y, (size_t)o->examples);
    gsl_blas_dgemv(CblasNoTrans, 1.0, &X.matrix, &w.vector, 0.0, &y.vector);
}

/* X = sqrt(n) Q C^T with Q the orthonormal n x d factor of a Gaussian matrix and
 * C C^T = T + mu I (Cholesky), so (1/n) X^T X = C Q^T Q C^T = T + mu I exactly
 * up to rounding (pipedream-theory.md §5 E3, the release's "tridiagonal" kind).
 * Q is applied column by column so memory stays n x d, never n x n. */
static int make_nesterov(struct pp_objective *o, double mu, gsl_rng *rng, struct pp_diag *d)
{
    const size_t n = (size_t)o->examples, dd = (size_t)o->dim;
    int rc = 0;
    gsl_matrix *C = gsl_matrix_calloc(dd, dd), *Z = gsl_matrix_alloc(n, dd);
    gsl_vector *tau = gsl_vector_alloc(dd), *v = gsl_vector_alloc(n);
    if (!C || !Z || !tau || !v) {
        rc = pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "objective: out of memory building the nesterov data");
        goto out;
    }
    for (size_t i = 0; i < dd; i++) {
        gsl_matrix_set(C, i, i, 2.0 + mu);
        if (i + 1 < dd) {
            gsl_matrix_set(C, i, i + 1, -1.0);
            gsl_matrix_set(C, i + 1, i, -1.0);
        }
    }
    fill_gaussian(Z->data, n * dd, rng);
    if (gsl_linalg_cholesky_decomp1(C) || gsl_linalg_QR_decomp(Z, tau)) {
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                         "objective: factorising the nesterov data failed (mu = %g)", mu);
        goto out;
    }
    const double scale = sqrt((double)n);
    for (size_t j = 0; j < dd; j++) {
        /* column j of C^T is row j of the lower factor C, entries 0..j */
        gsl_vector_set_zero(v);
        for (size_t i = 0; i <= j; i++)
            gsl_vector_set(v, i, gsl_matrix_get(C, j, i));
        gsl_linalg_QR_Qvec(Z, tau, v);
        for (size_t r = 0; r < n; r++)
            o->X[r * dd + j] = scale * gsl_vector_get(v, r);
    }
    fill_gaussian(o->w_true, dd, rng);
    set_targets_linear(o);
out:
    gsl_matrix_free(C);
    gsl_matrix_free(Z);
    gsl_vector_free(tau);
    gsl_vector_free(v);
    return rc;
}

static int make_data(struct pp_objective *o, double mu, gsl_rng *rng, struct pp_diag *d)
{
    const size_t n = (size_t)o->examples, dd = (size_t)o->dim;
    if (o->kind == PP_OBJ_NESTEROV)
        return make_nesterov(o, mu, rng, d);
    fill_gaussian(o->X, n * dd, rng);
    fill_gaussian(o->w_true, dd, rng);
    set_targets_linear(o);
    if (o->kind == PP_OBJ_LOGISTIC)
        for (size_t r = 0; r < n; r++)
            o->y[r] = (double)gsl_ran_bernoulli(rng, sigmoid(o->y[r]));
    return 0;
}

/* ---- L ------------------------------------------------------------------------------------ */

/* lambda_max(X^T X), from the smaller of the two Gram matrices (X^T X and X X^T
 * share their nonzero spectrum), so the cost is O(n d min(n, d)). */
static int gram_top_eigenvalue(const struct pp_objective *o, double *out, struct pp_diag *d)
{
    const size_t n = (size_t)o->examples, dd = (size_t)o->dim, m = n < dd ? n : dd;
    int rc = 0;
    gsl_matrix *G = gsl_matrix_alloc(m, m);
    gsl_vector *eval = gsl_vector_alloc(m);
    gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(m);
    if (!G || !eval || !ws) {
        rc = pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "objective: out of memory computing L");
        goto out;
    }
    gsl_matrix_const_view X = gsl_matrix_const_view_array(o->X, n, dd);
    gsl_blas_dsyrk(CblasLower, n >= dd ? CblasTrans : CblasNoTrans, 1.0, &X.matrix, 0.0, G);
    if (gsl_eigen_symm(G, eval, ws)) {
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "objective: the eigenvalue solver failed on X^T X");
        goto out;
    }
    *out = gsl_vector_max(eval);
out:
    gsl_matrix_free(G);
    gsl_vector_free(eval);
    if (ws)
        gsl_eigen_symm_free(ws);
    return rc;
}

/* ---- f* for least squares --------------------------------------------------------------- */

static int r_is_singular(const gsl_matrix *QR, size_t k)
{
    double big = 0.0, small = INFINITY;
    for (size_t i = 0; i < k; i++) {
        double a = fabs(gsl_matrix_get(QR, i, i));
        big = fmax(big, a);
        small = fmin(small, a);
    }
    return !(small > 1e-13 * big);
}

/* Householder QR rather than Cholesky of the normal equations: it does not
 * square X's condition number, which matters for QUADRATIC with n near d.
 * n >= d: the least-squares solution. n < d: the minimum-norm solution of the
 * (consistent) system X w = y from the QR of X^T: X = R^T Q1^T, w = Q1 R^-T y. */
static int lsq_minimiser(struct pp_objective *o, struct pp_diag *d)
{
    const size_t n = (size_t)o->examples, dd = (size_t)o->dim, k = n < dd ? n : dd;
    int rc = 0;
    gsl_matrix *A = n >= dd ? gsl_matrix_alloc(n, dd) : gsl_matrix_alloc(dd, n);
    gsl_vector *tau = gsl_vector_alloc(k), *res = gsl_vector_alloc(n), *v = gsl_vector_alloc(dd);
    if (!A || !tau || !res || !v) {
        rc = pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "objective: out of memory solving for f*");
        goto out;
    }
    gsl_matrix_const_view X = gsl_matrix_const_view_array(o->X, n, dd);
    gsl_vector_const_view y = gsl_vector_const_view_array(o->y, n);
    if (n >= dd)
        gsl_matrix_memcpy(A, &X.matrix);
    else
        gsl_matrix_transpose_memcpy(A, &X.matrix);
    if (gsl_linalg_QR_decomp(A, tau) || r_is_singular(A, k)) {
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                         "objective: the data matrix is numerically rank deficient (dim = %zu, "
                         "examples = %zu); try another seed", dd, n);
        goto out;
    }
    if (n >= dd) {
        gsl_linalg_QR_lssolve(A, tau, &y.vector, v, res);
    } else {
        gsl_vector_set_zero(v);
        gsl_vector_view z = gsl_vector_subvector(v, 0, n);
        gsl_vector_memcpy(&z.vector, &y.vector);
        gsl_matrix_const_view R = gsl_matrix_const_submatrix(A, 0, 0, n, n);
        gsl_blas_dtrsv(CblasUpper, CblasTrans, CblasNonUnit, &R.matrix, &z.vector);
        gsl_linalg_QR_Qvec(A, tau, v);
    }
    memcpy(o->w_star, v->data, sizeof(double) * dd);
out:
    gsl_matrix_free(A);
    gsl_vector_free(tau);
    gsl_vector_free(res);
    gsl_vector_free(v);
    return rc;
}

/* ---- f* for logistic: damped Newton --------------------------------------------------- */

struct newton_ws {
    gsl_matrix *B;  /* n x d: rows of X scaled by sqrt(p(1-p)/n) */
    gsl_matrix *H;  /* d x d Hessian, or n x n for the Woodbury form */
    gsl_vector *g, *s, *wt, *t;
    int woodbury;
};

/* Newton direction s = -H^{-1} g with H = B^T B + l2 I. When n < d and l2 > 0
 * the n x n system of the Woodbury identity is solved instead:
 * H^{-1} g = (g - B^T (l2 I + B B^T)^{-1} B g) / l2. */
static int newton_direction(const struct pp_objective *o, const double *w, struct newton_ws *ws)
{
    const int n = o->examples, d = o->dim;
    const double l2 = o->l2;
    for (int r = 0; r < n; r++) {
        const double *xr = o->X + (size_t)r * d;
        double p = sigmoid(cblas_ddot(d, xr, 1, w, 1));
        double c = sqrt(p * (1.0 - p) / n);
        double *br = ws->B->data + (size_t)r * d;
        for (int j = 0; j < d; j++)
            br[j] = c * xr[j];
    }
    gsl_blas_dsyrk(CblasLower, ws->woodbury ? CblasNoTrans : CblasTrans, 1.0, ws->B, 0.0, ws->H);
    for (size_t i = 0; i < ws->H->size1; i++)
        *gsl_matrix_ptr(ws->H, i, i) += l2;
    if (gsl_linalg_cholesky_decomp1(ws->H))
        return -1;
    if (!ws->woodbury) {
        gsl_vector_memcpy(ws->s, ws->g);
        gsl_linalg_cholesky_svx(ws->H, ws->s);
    } else {
        gsl_blas_dgemv(CblasNoTrans, 1.0, ws->B, ws->g, 0.0, ws->t);
        gsl_linalg_cholesky_svx(ws->H, ws->t);
        gsl_vector_memcpy(ws->s, ws->g);
        gsl_blas_dgemv(CblasTrans, -1.0, ws->B, ws->t, 1.0, ws->s);
        gsl_vector_scale(ws->s, 1.0 / l2);
    }
    gsl_vector_scale(ws->s, -1.0);
    return 0;
}

/* With l2 > 0 f is strongly convex and Newton with Armijo backtracking from 0
 * converges. With l2 = 0 a minimiser exists only when the labels are not
 * linearly separable (separable is the rule for n < 2d). On separable data
 * either the Hessian degenerates (always when n < d) or the iteration limit is
 * hit, and we report -PP_EINVAL rather than a bogus f*; or Newton runs out along
 * the separating direction until the gradient is below 1e-12, and then f* is
 * within about 1e-12 of the infimum 0, which is as good for f - f*. */
static int logistic_minimiser(struct pp_objective *o, struct pp_diag *d)
{
    const size_t n = (size_t)o->examples, dd = (size_t)o->dim;
    struct newton_ws ws = {0};
    ws.woodbury = n < dd && o->l2 > 0;
    const size_t m = ws.woodbury ? n : dd;
    int rc = 0, it;
    double gnorm = INFINITY;
    ws.B = gsl_matrix_alloc(n, dd);
    ws.H = gsl_matrix_alloc(m, m);
    ws.g = gsl_vector_alloc(dd);
    ws.s = gsl_vector_alloc(dd);
    ws.wt = gsl_vector_alloc(dd);
    ws.t = gsl_vector_alloc(n);
    if (!ws.B || !ws.H || !ws.g || !ws.s || !ws.wt || !ws.t) {
        rc = pp_diag_set(d, PP_ENOMEM, NULL, 0, 0, "objective: out of memory solving for f*");
        goto out;
    }
    double *w = o->w_star;
    memset(w, 0, sizeof *w * dd);
    double f = pp_objective_value(o, w);
    for (it = 0; it < OBJ_NEWTON_ITERS; it++) {
        pp_objective_gradient(o, w, ws.g->data);
        gnorm = gsl_blas_dnrm2(ws.g);
        if (gnorm <= OBJ_NEWTON_TOL || newton_direction(o, w, &ws))
            break;
        double dec, step = 1.0, ft = f;
        gsl_blas_ddot(ws.g, ws.s, &dec);
        dec = -dec;
        if (!(dec > 0))
            break;
        for (; step > 1e-12; step *= 0.5) {
            for (size_t j = 0; j < dd; j++)
                ws.wt->data[j] = w[j] + step * ws.s->data[j];
            ft = pp_objective_value(o, ws.wt->data);
            if (dec <= OBJ_NEWTON_FULLSTEP_DEC || ft <= f - 1e-4 * step * dec)
                break;
        }
        if (!(step > 1e-12))
            break;
        memcpy(w, ws.wt->data, sizeof *w * dd);
        f = ft;
    }
    if (!(gnorm <= OBJ_NEWTON_TOL)) {
        rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                         "objective: Newton's method found no logistic minimiser with l2 = %g "
                         "(gradient norm %.3g after %d iterations)%s", o->l2, gnorm, it,
                         o->l2 > 0 ? "" : "; the labels are probably linearly separable, so set "
                                          "l2 > 0");
    }
out:
    gsl_matrix_free(ws.B);
    gsl_matrix_free(ws.H);
    gsl_vector_free(ws.g);
    gsl_vector_free(ws.s);
    gsl_vector_free(ws.wt);
    gsl_vector_free(ws.t);
    return rc;
}

/* ---- create / free ----------------------------------------------------------------------- */

void pp_objective_free(struct pp_objective *o)
{
    if (!o)
        return;
    free(o->X);
    free(o->y);
    free(o->w_true);
    free(o->w_star);
    free(o->first);
    free(o);
}

int pp_objective_create(const struct pp_objective_spec *spec, int blocks,
                        struct pp_objective **out, struct pp_diag *d)
{
    *out = NULL;
    int rc = check_spec(spec, blocks, d);
    if (rc)
        return rc;
    const size_t n = (size_t)spec->examples, dd = (size_t)spec->dim;
    struct pp_objective *o = calloc(1, sizeof *o);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (o) {
        o->X = malloc(sizeof(double) * n * dd);
        o->y = malloc(sizeof(double) * n);
        o->w_true = malloc(sizeof(double) * dd);
        o->w_star = calloc(dd, sizeof(double));
        o->first = malloc(sizeof(size_t) * ((size_t)blocks + 1));
    }
    if (!o || !rng || !o->X || !o->y || !o->w_true || !o->w_star || !o->first) {
        rc = pp_diag_set(d, PP_ENOMEM, NULL, 0, 0,
                         "objective: out of memory for a %zu x %zu data matrix", n, dd);
        goto fail;
    }
    o->kind = spec->kind;
    o->dim = spec->dim;
    o->examples = spec->examples;
    o->batch_rows = spec->batch;
    o->batches = spec->examples / spec->batch;
    o->blocks = blocks;
    o->l2 = spec->kind == PP_OBJ_LOGISTIC ? spec->l2 : 0.0;
    o->noise_std = spec->noise_std;
    /* make_stage_slices: the first d mod S blocks get the extra coordinate */
    const size_t base = dd / (size_t)blocks, extra = dd % (size_t)blocks;
    o->first[0] = 0;
    for (size_t s = 0; s < (size_t)blocks; s++)
        o->first[s + 1] = o->first[s] + base + (s < extra);

    gsl_rng_set(rng, (unsigned long)spec->seed);
    /* A failed factorisation is an answer here (no minimiser), not a crash:
     * keep GSL's default abort-on-error handler out of the way meanwhile. */
    gsl_error_handler_t *old_handler = gsl_set_error_handler_off();
    double lmax = 0.0;
    if (!(rc = make_data(o, spec->mu, rng, d)) && !(rc = gram_top_eigenvalue(o, &lmax, d)))
        rc = o->kind == PP_OBJ_LOGISTIC ? logistic_minimiser(o, d) : lsq_minimiser(o, d);
    gsl_set_error_handler(old_handler);
    if (rc)
        goto fail;
    /* logistic: the Hessian is X^T diag(p(1-p)) X / n + l2 I and p(1-p) <= 1/4 */
    o->smooth = o->kind == PP_OBJ_LOGISTIC ? lmax / (4.0 * (double)n) + o->l2 : lmax / (double)n;
    o->fstar = pp_objective_value(o, o->w_star);
    gsl_rng_free(rng);
    *out = o;
    return 0;
fail:
    if (rng)
        gsl_rng_free(rng);
    pp_objective_free(o);
    return rc;
}
