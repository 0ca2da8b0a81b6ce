/* schedcsv_write.c - write a plan as PyTorch's pipelining schedule CSV
 * (schedcsv.h; schedules.md §4). The compute+comms form replays PyTorch's own
 * lowering passes (schedules.py _add_reduce_grad, _add_send_recv) so that the
 * send/receive placement is the one its runtime would use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "schedcsv.h"
#include "schedule.h"
#include "xalloc.h"

const char *pp_schedcsv_action(const struct pp_op *op, char *buf, size_t len)
{
    switch ((enum pp_op_kind)op->kind) {
    case PP_OP_F: snprintf(buf, len, "%dF%d", op->piece, op->mb); break;
    case PP_OP_B: snprintf(buf, len, "%dB%d", op->piece, op->mb); break;
    case PP_OP_BI: snprintf(buf, len, "%dI%d", op->piece, op->mb); break;
    case PP_OP_BW: snprintf(buf, len, "%dW%d", op->piece, op->mb); break;
    case PP_OP_FB:
        snprintf(buf, len, "(%dF%d;%dB%d)OVERLAP_F_B", op->piece, op->mb, op->piece2, op->mb2);
        break;
    case PP_OP_OPTIM: snprintf(buf, len, "OPTIM"); break;
    case PP_OP_ALLREDUCE: snprintf(buf, len, "ALLREDUCE"); break;
    case PP_OP_KIND_COUNT: snprintf(buf, len, "?"); break;
    }
    return buf;
}

/* What the format cannot say, refused rather than written wrongly. */
static int check_expressible(const struct pp_plan *plan, struct pp_diag *d)
{
    const char *name = pp_schedule_name(plan->kind);
    if (plan->copies != 1)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "%s holds two model copies (bidirectional); PyTorch's schedule CSV "
                           "maps each stage to one rank and cannot express it", name);
    if (plan->weights != PP_WEIGHTS_FLUSH)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "%s keeps several weight versions and never flushes; PyTorch's "
                           "schedule CSV describes one flushing iteration", name);
    if (plan->wrap_dep_every)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "the Zero Bubble wrap-around quirk is not expressible in PyTorch's "
                           "schedule CSV");
    for (int dv = 0; dv < plan->n_devices; dv++) {
        size_t a = plan->dev_first[dv], e = plan->dev_first[dv + 1], n_opt = 0;
        for (size_t o = a; o < e; o++)
            n_opt += plan->ops[o].kind == PP_OP_OPTIM;
        if (n_opt != 1 || plan->ops[e - 1].kind != PP_OP_OPTIM)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                               "%s: device %d does not end with its one optimizer step; "
                               "PyTorch's schedule CSV describes one flushing iteration",
                               name, dv);
    }
    return 0;
}

static int is_compute(const struct pp_op *op)
{
    return op->kind != PP_OP_OPTIM && op->kind != PP_OP_ALLREDUCE;
}

static void cell(struct pp_buf *row, const char *text)
{
    if (row->len)
        pp_buf_append(row, ",", 1);
    pp_buf_puts(row, text);
}

/* One entry of a rank's lowered list: a plan op, or REDUCE_GRAD of a stage. */
struct item {
    int64_t op; /* -1: REDUCE_GRAD */
    int32_t stage;
};

/* _add_reduce_grad: REDUCE_GRAD right after the action that completes a
 * stage's m-th backward (B or W, the halves of an OVERLAP_F_B included). */
static struct item *reduce_grad_lists(const struct pp_plan *plan, size_t *first)
{
    int64_t m = plan->n_microbatches;
    struct item *it = pp_xmalloc((plan->n_ops + (size_t)plan->n_pieces + 1) * sizeof *it);
    int64_t *cnt = pp_xcalloc((size_t)plan->n_pieces, sizeof *cnt);
    size_t n = 0;
    for (int dv = 0; dv < plan->n_devices; dv++) {
        first[dv] = n;
        for (size_t o = plan->dev_first[dv]; o < plan->dev_first[dv + 1]; o++) {
            const struct pp_op *op = &plan->ops[o];
            if (!is_compute(op))
                continue;
            it[n++] = (struct item){(int64_t)o, -1};
            int bwd = op->kind == PP_OP_FB ? op->piece2
                      : op->kind == PP_OP_B || op->kind == PP_OP_BW ? op->piece
                                                                    : -1;
            if (bwd >= 0 && ++cnt[bwd] == m)
                it[n++] = (struct item){-1, bwd};
        }
    }
    first[plan->n_devices] = n;
    free(cnt);
    return it;
}

/* Placed outputs per (stage, mb): the forward, the input gradient (I or B). */
enum { P_F = 1, P_BI = 2 };

struct lower {
    const struct pp_plan *plan;
    uint8_t *placed;
    struct pp_buf *rows;
};

/* _add_send_recv's _ready_to_schedule: an F needs its input (stage 0, a local
 * F of the previous stage, or a RECV_F, which the sender's rank put here when
 * it placed that F); an I or B needs the next stage's I or B likewise. */
static int half_ready(const struct lower *L, int kind, int s, int mb)
{
    int np = L->plan->n_pieces;
    size_t m = (size_t)L->plan->n_microbatches;
    if (kind == PP_OP_F)
        return s == 0 || (L->placed[(size_t)(s - 1) * m + (size_t)mb] & P_F);
    if (kind == PP_OP_B || kind == PP_OP_BI)
        return s == np - 1 || (L->placed[(size_t)(s + 1) * m + (size_t)mb] & P_BI);
    return 1;
}

/* Place a half: mark it and, when its consumer stage sits on another rank,
 * add SEND here and RECV on the consumer's rank (_has_comms, _get_comms). */
static void place_half(struct lower *L, int dv, int kind, int s, int mb)
{
    const struct pp_plan *plan = L->plan;
    size_t m = (size_t)plan->n_microbatches;
    char t[64];
    if (kind == PP_OP_F) {
        L->placed[(size_t)s * m + (size_t)mb] |= P_F;
        if (s != plan->n_pieces - 1 && plan->piece_device[s + 1] != dv) {
            snprintf(t, sizeof t, "%dSEND_F%d", s, mb);
            cell(&L->rows[dv], t);
            snprintf(t, sizeof t, "%dRECV_F%d", s + 1, mb);
            cell(&L->rows[plan->piece_device[s + 1]], t);
        }
    } else if (kind == PP_OP_B || kind == PP_OP_BI) {
        L->placed[(size_t)s * m + (size_t)mb] |= P_BI;
        if (s != 0 && plan->piece_device[s - 1] != dv) {
            snprintf(t, sizeof t, "%dSEND_B%d", s, mb);
            cell(&L->rows[dv], t);
            snprintf(t, sizeof t, "%dRECV_B%d", s - 1, mb);
            cell(&L->rows[plan->piece_device[s - 1]], t);
        }
    }
}

/* _add_send_recv: in rounds, each rank in order places its next action once
 * all of its halves are ready. */
static int lower_comms(const struct pp_plan *plan, struct pp_buf *rows, struct pp_diag *d)
{
    int nd = plan->n_devices;
    size_t *first = pp_xmalloc(((size_t)nd + 1) * sizeof *first);
    struct item *it = reduce_grad_lists(plan, first);
    size_t *pos = pp_xmalloc((size_t)nd * sizeof *pos);
    size_t cells = (size_t)plan->n_pieces * (size_t)plan->n_microbatches;
    struct lower L = {plan, pp_xcalloc(cells ? cells : 1, 1), rows};
    int left = 0, rc = 0;
    for (int dv = 0; dv < nd; dv++) {
        pos[dv] = first[dv];
        left += pos[dv] < first[dv + 1];
    }
    char t[96];
    while (left > 0) {
        int progress = 0;
        for (int dv = 0; dv < nd; dv++) {
            if (pos[dv] == first[dv + 1])
                continue;
            const struct item *x = &it[pos[dv]];
            if (x->op < 0) {
                snprintf(t, sizeof t, "%dREDUCE_GRAD", x->stage);
                cell(&rows[dv], t);
            } else {
                const struct pp_op *op = &plan->ops[x->op];
                int fb = op->kind == PP_OP_FB;
                int k0 = fb ? PP_OP_F : op->kind;
                if (!half_ready(&L, k0, op->piece, op->mb) ||
                    (fb && !half_ready(&L, PP_OP_B, op->piece2, op->mb2)))
                    continue;
                cell(&rows[dv], pp_schedcsv_action(op, t, sizeof t));
                place_half(&L, dv, k0, op->piece, op->mb);
                if (fb)
                    place_half(&L, dv, PP_OP_B, op->piece2, op->mb2);
            }
            if (++pos[dv] == first[dv + 1])
                left--;
            progress = 1;
        }
        if (!progress) {
            rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                             "cannot place sends and receives: the schedule deadlocks");
            break;
        }
    }
    free(L.placed);
    free(pos);
    free(it);
    free(first);
    return rc;
}

int pp_schedcsv_write(const struct pp_plan *plan, int with_comms, struct pp_buf *out,
                      struct pp_diag *d)
{
    int rc = pp_plan_validate(plan, d);
    if (rc == 0)
        rc = check_expressible(plan, d);
    if (rc)
        return rc;
    int nd = plan->n_devices;
    struct pp_buf *rows = pp_xcalloc((size_t)nd, sizeof *rows);
    for (int dv = 0; dv < nd; dv++)
        pp_buf_init(&rows[dv]);
    if (with_comms) {
        rc = lower_comms(plan, rows, d);
    } else {
        char t[96];
        for (int dv = 0; dv < nd; dv++)
            for (size_t o = plan->dev_first[dv]; o < plan->dev_first[dv + 1]; o++)
                if (is_compute(&plan->ops[o]))
                    cell(&rows[dv], pp_schedcsv_action(&plan->ops[o], t, sizeof t));
    }
    for (int dv = 0; dv < nd; dv++) {
        if (rc == 0) {
            pp_buf_append(out, rows[dv].data ? rows[dv].data : "", rows[dv].len);
            pp_buf_append(out, "\n", 1);
        }
        pp_buf_free(&rows[dv]);
    }
    free(rows);
    return rc;
}
