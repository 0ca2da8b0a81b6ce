/* schedcsv_int.h - what the CSV importer's files share (schedcsv.c reads and
 * finds deadlocks, schedcsv_check.c checks and builds the plan). Not API. */
#ifndef PP_SCHEDCSV_INT_H
#define PP_SCHEDCSV_INT_H

#include <stddef.h>
#include <stdint.h>

struct pp_diag;
struct pp_plan;
struct pp_schedcsv_expect;

enum pp_act_kind { A_F, A_I, A_B, A_W, A_FB, A_COMM };

/* One non-empty cell. A_FB: (stage, mb) is the forward half, (stage2, mb2)
 * the backward half; otherwise stage2 = mb2 = -1. mb is -1 where a comm
 * action has none. */
struct pp_act {
    uint32_t line, col, off, len; /* where, and the raw text in the buffer */
    int32_t rank, kind;
    int32_t stage, mb, stage2, mb2;
};

struct pp_csvparser {
    const char *buf;
    size_t len;
    const char *file;
    struct pp_diag *d;
    struct pp_act *acts; /* in file order, so rank by rank */
    size_t n, cap;
    uint32_t *row_line;  /* line of each row (rank) */
    size_t rows, row_cap;
};

/* s[0..n) for a message: printable, at most cap-1 bytes, "..." when cut. */
const char *pp_csv_shown(const char *s, size_t n, char *out, size_t cap);

/* After tokenizing: placement, ranges, counts, order, then the plan and its
 * deadlock check. */
int pp_csv_check_build(struct pp_csvparser *p, const struct pp_schedcsv_expect *ex,
                       struct pp_plan **out);

/* A device's state after running the plan in dependency order. */
struct pp_blocked {
    size_t op;      /* first op it cannot run (index into plan->ops); SIZE_MAX: finished */
    int need_kind;  /* PP_OP_F or PP_OP_BI: the output it waits for */
    int need_piece;
    int64_t need_mb;
};

/* Fills b[n_devices]; returns how many devices are blocked, or -1 when an op
 * names a piece or microbatch out of range. */
int pp_plan_blocked(const struct pp_plan *plan, struct pp_blocked *b);
/* What b waits for in action syntax ("1B0"). */
void pp_plan_blocked_need(const struct pp_plan *plan, const struct pp_blocked *b, char *out,
                          size_t len);

#endif
