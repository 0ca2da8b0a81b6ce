/* trace_int.h - what trace.c (events) and trace_deps.c (op selection, the
 * dependency graph, transfer matching) share. Not an API. */
#ifndef PP_TRACE_INT_H
#define PP_TRACE_INT_H

#include <stddef.h>
#include <stdint.h>

struct pp_run;
struct pp_plan;
struct pp_trace;
struct pp_trace_opts;
struct pp_diag;

#define PP_TRACE_NONE UINT32_MAX

struct pp_trace_dep {
    uint32_t prod, cons;
    int32_t piece;       /* the producing half's piece (global id) */
    int32_t bytes_piece; /* the piece whose output (or its gradient) crosses; -1 local */
    int64_t mb;
    int8_t backward;     /* a gradient (the consumer's backward half waits) */
    int8_t cross;        /* producer and consumer on different devices */
};

struct pp_trace_ctx {
    const struct pp_run *r;
    const struct pp_plan *plan;
    struct pp_trace *t;
    int pid, n_dev;
    uint8_t *keep;       /* [n_ops] */
    int *op_dev;         /* [n_ops] */
    struct pp_trace_dep *deps;
    size_t n_deps;
    uint32_t *in_first;  /* [n_ops+1]: deps are consumer-major */
    uint32_t *out_first; /* [n_ops+1] CSR of dep ids by producer */
    uint32_t *out_deps;
    uint32_t *tr_dep;    /* [n_transfers]: the dependency each transfer carries */
};

/* keep[] from the iteration range (trace.h). */
void pp_trace_select_ops(struct pp_trace_ctx *c, const struct pp_trace_opts *o);
/* deps, in_first, out_first, out_deps: schedule.h's dependencies. */
int pp_trace_build_deps(struct pp_trace_ctx *c, struct pp_diag *d);
/* tr_dep: the dependency each recorded transfer carries. */
int pp_trace_match_transfers(struct pp_trace_ctx *c, struct pp_diag *d);

#endif
