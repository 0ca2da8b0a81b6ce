/* objective.h - the seed paper's synthetic objectives as a pipeline of S
 * linear stages (pipedream-theory.md §1.1, §5).
 *
 * The parameter vector w (dim d) is cut into S contiguous near-equal blocks
 * (sizes floor(d/S) or floor(d/S)+1, the larger ones first). The data are n
 * examples in fixed batches of `batch` rows (batch b = rows [b*batch,
 * (b+1)*batch)). The "activation" a pipeline carries for a batch is the
 * partial sum a_{s+1} = a_s + X_b[:, block s] w_s (a_1 = 0); the loss is taken
 * on a_{S+1}; the block gradient is X_b[:, s]^T g_out (+ the L2 term), and
 * the gradient passed back is g_out itself. So staleness is the only thing the
 * pipeline changes.
 *
 *   least squares   f(w) = 1/(2n) ||X w - y||^2
 *   logistic        f(w) = 1/n sum_r [log(1 + e^{a_r}) - y_r a_r] + l2/2 ||w||^2,
 *                   y_r in {0, 1} drawn Bernoulli(sigmoid(x_r . w_true))
 *
 * Everything random comes from one GSL mt19937 stream seeded by spec.seed, so
 * the same spec gives the same data bit for bit. */
#ifndef PP_OBJECTIVE_H
#define PP_OBJECTIVE_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

/* gsl_rng is an anonymous-struct typedef in <gsl/gsl_rng.h>, so it cannot be
 * forward-declared: a `typedef struct gsl_rng gsl_rng;` here would clash with
 * it in every file that includes both. */
struct pp_diag;

enum pp_obj_kind {
    PP_OBJ_QUADRATIC,  /* least squares, X and w_true standard normal, y = X w_true (f* = 0) */
    PP_OBJ_NESTEROV,   /* least squares whose Hessian (1/n) X^T X is exactly Nesterov's
                        * tridiagonal T (2 on the diagonal, -1 off it) + mu I */
    PP_OBJ_LOGISTIC,   /* L2-regularised logistic regression, Bernoulli labels */
};

struct pp_objective_spec {
    enum pp_obj_kind kind;
    int dim;           /* d >= blocks */
    int examples;      /* n >= 1 */
    int batch;         /* rows per microbatch; must divide n */
    double mu;         /* NESTEROV: the shift mu > 0 (paper: 0.01); ignored by other kinds */
    double l2;         /* LOGISTIC: the regulariser >= 0 (paper: 1e-4); ignored by other kinds */
    double noise_std;  /* Gaussian noise added to every block-gradient coordinate (0 = none) */
    uint64_t seed;
};

struct pp_objective;

/* Build the data, f* and L (cost O(n d min(n, d)); *out is NULL on failure).
 * -PP_EINVAL for d < blocks, n < 1, a batch that does not divide n, mu <= 0 for
 * NESTEROV, n < d for NESTEROV (the exact Hessian needs it), negative or
 * non-finite parameters, and LOGISTIC with l2 = 0 when Newton finds no
 * minimiser (separable labels); -PP_ENOMEM when d * n > 5e8 or memory runs out. */
int pp_objective_create(const struct pp_objective_spec *spec, int blocks,
                        struct pp_objective **out, struct pp_diag *d);
void pp_objective_free(struct pp_objective *o);

int pp_objective_dim(const struct pp_objective *o);
int pp_objective_blocks(const struct pp_objective *o);
int64_t pp_objective_batches(const struct pp_objective *o);  /* n / batch */
int pp_objective_batch_rows(const struct pp_objective *o);
size_t pp_objective_block_first(const struct pp_objective *o, int block);
size_t pp_objective_block_len(const struct pp_objective *o, int block);

/* f over all n examples at w[dim]. */
double pp_objective_value(const struct pp_objective *o, const double *w);
/* The minimum f* (exact solve for least squares, Newton to 1e-12 for logistic)
 * and the smoothness constant L of f (largest Hessian eigenvalue bound). */
double pp_objective_fstar(const struct pp_objective *o);
double pp_objective_smoothness(const struct pp_objective *o);
/* The full gradient of f at w (for tests and the bound's G estimate). */
void pp_objective_gradient(const struct pp_objective *o, const double *w, double *g);

/* --- the pipeline kernels; `batch` is taken modulo pp_objective_batches --- */
/* act[rows] += X_b[:, block] w_block  (w_block has block_len entries) */
void pp_objective_forward(const struct pp_objective *o, int64_t batch, int block,
                          const double *w_block, double *act);
/* gout[rows] = d loss_b / d a at a = act, divided by the rows (mean loss). */
void pp_objective_output_grad(const struct pp_objective *o, int64_t batch, const double *act,
                              double *gout);
/* g_block = X_b[:, block]^T gout + l2 * w_block (+ N(0, noise_std^2) per
 * coordinate drawn from rng when noise_std > 0 and rng is not NULL). w_block is
 * the version the forward read (weight stashing). */
void pp_objective_block_grad(const struct pp_objective *o, int64_t batch, int block,
                             const double *w_block, const double *gout, double *g_block,
                             gsl_rng *rng);

#endif
