/* converge_int.h - pieces shared by converge.c (trace replays),
 * converge_rpd.c (RPD) and converge_tune.c. Not a public interface. */
#ifndef PP_CONVERGE_INT_H
#define PP_CONVERGE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "converge.h"

/* What every run needs to evaluate and log f - f*. */
struct pp_cv_ctx {
    const struct pp_objective *o;
    const struct pp_cv_opts *opts;
    struct pp_cv_result *res;
    size_t dim;
    int blocks;
    double fstar;
    double threshold; /* diverged above this */
    int64_t every;    /* per-update log stride, >= 1 */
};

/* Fill ctx, check opts and set res->initial_value from w0 (NULL = zeros). */
int pp_cv_begin(struct pp_cv_ctx *c, const struct pp_objective *o, const struct pp_cv_opts *opts,
                struct pp_cv_result *res, const double *w0, struct pp_diag *d);
/* f(w) - f*; marks res->diverged and returns the value when it diverges. */
double pp_cv_eval(struct pp_cv_ctx *c, const double *w);
void pp_cv_curve_push(struct pp_cv_curve *cv, int64_t updates, double time_ms, double value);
/* w[j] -= gamma * g[j]: the one SGD step every method shares, so replays that
 * feed the same numbers agree bit for bit. */
void pp_cv_sgd_step(double *w, double gamma, const double *g, size_t n);

/* In-flight microbatch state keyed by microbatch id: a small open-addressing
 * map to pooled slots, so memory follows the in-flight count, not N. */
struct pp_cv_slot {
    int64_t mb;
    int reads, grads;
    double *dbl;   /* n_dbl doubles */
    int64_t *ints; /* n_int int64s */
};

struct pp_cv_slots {
    size_t n_dbl, n_int;
    struct pp_cv_slot **all; /* every slot ever made */
    size_t n_all, cap_all;
    struct pp_cv_slot **free_list;
    size_t n_free;
    int64_t *keys; /* open addressing, -1 = empty */
    struct pp_cv_slot **vals;
    size_t cap, n;
};

void pp_cv_slots_init(struct pp_cv_slots *s, size_t n_dbl, size_t n_int);
void pp_cv_slots_free(struct pp_cv_slots *s);
struct pp_cv_slot *pp_cv_slots_find(const struct pp_cv_slots *s, int64_t mb);
/* A zeroed slot for mb (which must not be present). */
struct pp_cv_slot *pp_cv_slots_add(struct pp_cv_slots *s, int64_t mb);
void pp_cv_slots_release(struct pp_cv_slots *s, struct pp_cv_slot *slot);
size_t pp_cv_slots_bytes(const struct pp_cv_slots *s);

int pp_cv_run_rpd(const struct pp_objective *o, const struct pp_cv_method *m,
                  const struct pp_cv_opts *opts, struct pp_cv_result *out, struct pp_diag *d);

#endif
