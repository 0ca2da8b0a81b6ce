/* converge.h - stale block-SGD in simulated time: PipeDream, Randomized
 * PipeDream, LocalSGD and synchronous pipelines on the seed paper's synthetic
 * objectives (pipedream-theory.md §1.4, §1.5, §3.1, §3.4, §4).
 *
 * Every method walks the weight events of a replayed timeline (wtrace.h) or,
 * for RPD, draws its own (stage, batch, delays). Blocks are the objective's
 * S blocks = the trace's pieces. Microbatch m uses data batch m mod
 * n_batches (the paper feeds batches in a fixed cyclic order, §5). Weights
 * start at zero unless opts.w0 is given. Nothing here prints.
 *
 * Trace methods (pp_cv_run with a trace):
 *   IMMEDIATE (PD)  READ(i,m): act_m += X_b[:, i] w_i and stash w_i; once all
 *                   S blocks are read, g_out_m = output_grad(act_m). GRAD(s,m):
 *                   g = block_grad(stashed w_s, g_out_m) (+ noise) and
 *                   w_s -= gamma g at once: one block update (§1.4).
 *   LOCAL           the same on replica ev.replica (= mb mod R); AVERAGE sets
 *                   every replica to the replicas' mean. Each GRAD is one block
 *                   update; f is evaluated at the mean of the replicas (§4.1).
 *   ACCUMULATE      GRAD adds g into block s's accumulator; APPLY(s) does
 *                   w_s -= gamma * (sum / GRADs accumulated), i.e. the mean over
 *                   the batch's microbatches (gradient accumulation). Each APPLY
 *                   is one block update.
 *   DOUBLE (2BW)    as ACCUMULATE, but READ reads the version ev.version (the
 *                   number of batches applied to that block); the last 4
 *                   versions of each block are kept.
 * A microbatch's state (activation, output gradient, stashed weights) is freed
 * after its last GRAD: memory O(in-flight * (rows + d) + R d).
 *
 * RPD (pp_cv_run with method PP_CV_RPD, §3.1): for k = 0..K-1, s ~ U{0..S-1},
 * m ~ U{0..n_batches-1}, per-block delays d_i, z_i = w_i^(k - d_i), g =
 * grad_{w_s} f_m(z) through the same kernels (forward of blocks 0..S-1 at z in
 * that order, output_grad, block_grad of s at z_s), w_s -= gamma g. Only an
 * undo log of the last delta updates is kept (O(delta d / S + d) memory).
 * Draw order from the mt19937 stream seeded with method.seed, per iteration:
 *   s = gsl_rng_uniform_int(S); m = gsl_rng_uniform_int(n_batches);
 *   UNIFORM only: d_i = gsl_rng_uniform_int(min(delta, k) + 1) for i = 0..S-1.
 * Gradient noise uses a second stream (opts.noise_seed) so that EXACT mode
 * consumes noise in exactly PD's order: EXACT-mode RPD driven by an IMMEDIATE
 * trace reproduces PD bit for bit (the kernels are called in the same order on
 * the same values).
 *
 * Curves hold f(w) - f* (f over all n examples, pp_objective_value). */
#ifndef PP_CONVERGE_H
#define PP_CONVERGE_H

#include <stddef.h>
#include <stdint.h>

#include "evq.h"

struct pp_objective;
struct pp_wtrace;
struct pp_diag;

enum pp_cv_method_kind {
    PP_CV_TRACE, /* replay a trace; PD / LocalSGD / sync / 2BW by trace->sem */
    PP_CV_RPD,   /* Randomized PipeDream */
};

enum pp_rpd_delays {
    PP_RPD_UNIFORM, /* d_i ~ U{0..min(delta, k)} independently per block (the paper's runs) */
    PP_RPD_MAX,     /* d_i = min(delta, k) */
    PP_RPD_ZERO,    /* d_i = 0: plain randomized block-coordinate SGD */
    PP_RPD_EXACT,   /* (s, m, delays) of each GRAD of an IMMEDIATE trace, in trace
                     * order: d_i = k - j_k^(i), j = GRADs before READ(i, m) (§2.1) */
};

struct pp_cv_method {
    enum pp_cv_method_kind kind;
    /* PP_CV_TRACE, and PP_CV_RPD with PP_RPD_EXACT (must be IMMEDIATE). Events
     * that end after opts.budget_ms are not applied. */
    const struct pp_wtrace *trace;
    /* PP_CV_RPD */
    enum pp_rpd_delays delays;
    int64_t delta;      /* delay bound >= 0 (ignored by ZERO and EXACT) */
    int64_t iterations; /* K block updates; EXACT: 0 = every GRAD within the budget,
                         * else at most this many */
    uint64_t seed;      /* the (s, m, d) stream; unused by EXACT */
};

/* One logged point. value = f(w) - f* (at the replicas' mean for LOCAL). */
struct pp_cv_point {
    int64_t updates; /* block updates applied so far */
    double time_ms;  /* see pp_cv_opts; NaN where the method has no time (RPD
                      * other than EXACT) */
    double value;
};

struct pp_cv_curve {
    struct pp_cv_point *pt;
    size_t n, cap;
};

struct pp_cv_opts {
    double gamma;           /* step size, finite and > 0 */
    const double *w0;       /* [dim] starting point, or NULL: zeros (the paper) */
    double *w_final;        /* [dim] or NULL: receives the final weights (the
                             * replicas' mean under LOCAL) */
    uint64_t noise_seed;    /* mt19937 seed of the gradient-noise stream (used only
                             * when the objective has noise_std > 0) */
    double budget_ms;       /* trace methods: apply only events that end by the budget;
                             * <= 0 or infinite: the whole trace */
    /* Per-update curve: a point before the first update (updates 0), then after
     * every log_every-th update (0 or 1 = every update) and after the last one.
     * time_ms = the update's key time (the GRAD's, or the APPLY's). */
    int log_updates;
    int64_t log_every;
    /* Per-time-step curve (trace methods only). step_ms <= 0: a point at time 0
     * before any event, then one after the last event of each distinct key time
     * tau (time_ms = tau). step_ms > 0: a point at every t = j * step_ms,
     * j = 0, 1, ..., holding the state after every event with key < t and every
     * APPLY / AVERAGE with key = t (a sync at a step boundary closes that step),
     * up to the first t that holds every applied event. For a unit-time trace
     * with step_ms = 1 point j is the state after j steps: the paper's
     * objective_trace[j], "logged after every time step" (§4.2); a timeline of
     * T steps gives T + 1 points. */
    int log_steps;
    double step_ms;
    /* A run diverges when f - f* is not finite or exceeds diverge_factor *
     * (f(w0) - f*) (1 when that gap is 0); 0 = 1e6. It is checked wherever f is
     * evaluated (logged points and the end); the run stops there. */
    double diverge_factor;
};

struct pp_cv_result {
    struct pp_cv_curve by_update; /* empty unless opts.log_updates */
    struct pp_cv_curve by_step;   /* empty unless opts.log_steps (trace methods) */
    double initial_value;         /* f(w0) - f* */
    double final_value;           /* f - f* after the last applied update (the last
                                   * value computed when diverged) */
    int64_t n_updates;            /* block updates applied */
    double final_time_ms;         /* key time of the last applied event (NaN for RPD
                                   * other than EXACT) */
    int diverged;                 /* 1: stopped early, see opts.diverge_factor */
    int64_t max_delay;            /* RPD: the largest delay used (EXACT: measured) */
    /* Peak bytes of the run's working state (weights, replicas, accumulators,
     * microbatch slots, RPD undo log), curves excluded. It depends on S, d,
     * in-flight microbatches and delta, never on K or the trace length (RPD's
     * per-block index rings start at 2 delta / S + 16 entries and double only
     * when the draws crowd one block). */
    size_t state_bytes;
};

/* Run one method at one step size. On success *out is filled (release with
 * pp_cv_result_free). Fails with -PP_EINVAL on a non-finite or non-positive
 * gamma, a negative delta, a trace whose pieces differ from the objective's
 * blocks, EXACT without an IMMEDIATE trace, or a malformed trace (a GRAD before
 * the microbatch's forwards, a 2BW version no longer kept). A run that diverges
 * is a success with out->diverged = 1. */
int pp_cv_run(const struct pp_objective *o, const struct pp_cv_method *m,
              const struct pp_cv_opts *opts, struct pp_cv_result *out, struct pp_diag *d);
void pp_cv_result_free(struct pp_cv_result *r);

/* EXACT mode's delay bound for an IMMEDIATE trace: the largest k - j_k^(i)
 * over updates with key <= budget_ms (<= 0: all), start-up included. O(events)
 * time, O(in-flight * S) memory; stops at a malformed event. */
int64_t pp_cv_trace_max_delay(const struct pp_wtrace *t, double budget_ms);

/* splitmix64 of seed ^ salt: derive independent per-method / per-gamma seeds
 * from one scenario seed. */
uint64_t pp_cv_seed_mix(uint64_t seed, uint64_t salt);

/* ---- step-size tuning (§3.4) ---------------------------------------------
 * The grid is gamma = 2^a for a = exp_lo..exp_hi inclusive. "best": lowest
 * final value; ties go to the smaller gamma (the authors' min() over the grid
 * in increasing order keeps the first). "stable": the authors' rule, copied
 * from vectozavr/randomized-pipedream notebooks/minibatch_sgd.ipynb (the E3
 * notebook: curve_stability_metrics / select_stable_learning_rate and its
 * stable_lr_kwargs; the same defaults are in
 * notebooks/different_delta_quadratic_multiple_deltas.ipynb). On the selection
 * curve y (by_step for trace methods, by_update for RPD), floored at 1e-16:
 * tail = the last min(n, max(10, ceil(tail_frac n))) points; the run is stable
 * when tail std/mean <= 0.15, the fraction of rising steps <= 0.45, the largest
 * rise / tail mean <= 0.05, total variation / |net change| <= 5 and the
 * least-squares slope of log(tail) per point <= 1e-4; among stable runs, the
 * smallest gamma whose tail mean is within 5% of the best stable tail mean. No
 * stable run: the lowest tail mean. A curve with fewer than 3 points or a
 * non-finite value is unstable. Diverged runs are never selected. */
enum pp_cv_select { PP_CV_SELECT_BEST, PP_CV_SELECT_STABLE };

struct pp_cv_stable_rule {
    double tail_frac;        /* 0.2 */
    int64_t min_tail;        /* 10 */
    double relative_tol;     /* 0.05 */
    double max_tail_cv;      /* 0.15 */
    double max_up_fraction;  /* 0.45 */
    double max_up_rel;       /* 0.05 */
    double max_tv_ratio;     /* 5.0 */
    double max_tail_log_slope; /* 1e-4 */
};
/* The authors' defaults above. */
void pp_cv_stable_rule_default(struct pp_cv_stable_rule *r);

struct pp_cv_metrics {
    int stable;      /* passes every threshold */
    double tail_mean, tail_cv, up_fraction, max_up_rel, tv_ratio, tail_log_slope;
};
/* The stability metrics of one curve of values y[0..n). */
void pp_cv_curve_metrics(const double *y, size_t n, const struct pp_cv_stable_rule *rule,
                         struct pp_cv_metrics *m);

struct pp_cv_tune_run {
    int exponent;             /* gamma = 2^exponent */
    double gamma;
    struct pp_cv_result res;  /* the run (curves as opts asked, plus the selection curve) */
    struct pp_cv_metrics metrics;
};

struct pp_cv_tuning {
    struct pp_cv_tune_run *runs; /* [n_runs], in increasing gamma */
    int n_runs;
    int best;    /* index chosen by PP_CV_SELECT_BEST, -1 when every run diverged */
    int stable;  /* index chosen by PP_CV_SELECT_STABLE, -1 when every run diverged */
};

/* Choose among runs[0..n) (increasing gamma) by `sel`; -1 when all diverged. */
int pp_cv_select_run(const struct pp_cv_tune_run *runs, int n, enum pp_cv_select sel,
                     const struct pp_cv_stable_rule *rule);

/* Run method m for every gamma = 2^a, a = exp_lo..exp_hi (exp_lo <= exp_hi,
 * at most 64 values) with opts (its gamma is ignored). Run a uses noise seed
 * pp_cv_seed_mix(opts.noise_seed, a) and, for RPD, seed pp_cv_seed_mix(m.seed,
 * a): every gamma has its own deterministic streams. The selection curve is
 * logged even when opts does not ask for it (by_step for trace methods, with
 * opts.step_ms; by_update for RPD, with opts.log_every). rule NULL = defaults.
 * Release with pp_cv_tuning_free. */
int pp_cv_tune(const struct pp_objective *o, const struct pp_cv_method *m,
               const struct pp_cv_opts *opts, int exp_lo, int exp_hi,
               const struct pp_cv_stable_rule *rule, struct pp_cv_tuning *out,
               struct pp_diag *d);
void pp_cv_tuning_free(struct pp_cv_tuning *t);

/* ---- fixed-time budget (§4.2) --------------------------------------------
 * makespan(N) must be non-decreasing in N (more microbatches never finish
 * earlier). Find the smallest N = n_step * q (q >= 1) with makespan(N) >=
 * target_ns: the bracket starts at [0, n_step] and doubles its upper end until
 * it reaches the target, then bisects; at most 2 log2(n_max / n_step) + 2
 * calls. n_step <= 0 means 1; n_max <= 0 means 1 << 30. Fails with
 * -PP_EINFEASIBLE when even n_max microbatches stay short of the target, and
 * passes on the callback's error. */
typedef int (*pp_cv_makespan_fn)(void *ctx, int64_t microbatches, pp_time *makespan_ns,
                                 struct pp_diag *d);
int pp_cv_microbatches_for_time(pp_cv_makespan_fn makespan, void *ctx, pp_time target_ns,
                                int64_t n_step, int64_t n_max, int64_t *n_out,
                                struct pp_diag *d);

#endif
