/* sched_v.c - schedules with split backward over two or more chunks per
 * device: ZB-V (schedules.md §2.9; Zero Bubble's greedy is in sched_zbv.c,
 * PyTorch's fixed order here), V-Half and V-Min (§2.10; sched_vmem.c), and
 * PyTorch's ScheduleInterleavedZeroBubble (§4), the ZB1P-style schedule on
 * looped placement. */
#include "sched_v.h"

#include <stdlib.h>

#include "diag.h"
#include "schedule.h"
#include "xalloc.h"

void pp_v_place(struct pp_plan *plan)
{
    int p = plan->n_devices;
    for (int k = 0; k < plan->n_pieces; k++)
        plan->piece_device[k] = k < p ? k : 2 * p - 1 - k;
}

const char *pp_v_two_chunks(const struct pp_sched_params *p, const char **key)
{
    if (p->chunks != 2) {
        *key = "chunks";
        return "V-shaped schedules run exactly two model chunks per device (chunks: 2): "
               "device i holds pieces i and 2p-1-i";
    }
    if (p->microbatches < 1) {
        *key = "microbatches";
        return "needs at least one microbatch";
    }
    return NULL;
}

/* PyTorch ScheduleZBVZeroBubble._calculate_single_rank_operations (§2.9):
 * rank r (chunks c0 = r, c1 = 2p-1-r) runs 2(p-r)-1 F(c0), r [F(c1), F(c0)],
 * p-r [F(c1), I(c1), W(c1)], the steady [F(c0), I(c0), W(c0), F(c1), I(c1),
 * W(c1)] groups, then r [I(c0), I(c1)], p-r [I(c0), W(c0)] and the last W's. */
void pp_zbv_push_pytorch(const struct pp_sched_params *p, struct pp_plan *plan)
{
    int np = p->stages;
    int64_t m = p->microbatches, n = 2 * (int64_t)np - 1 > m ? 2 * (int64_t)np - 1 : m;
    pp_v_place(plan);
    for (int r = 0; r < np; r++) {
        int c0 = r, c1 = 2 * np - 1 - r;
        int64_t f0 = 0, f1 = 0, b0 = 0, b1 = 0;
        /* PyTorch runs max(2p-1, m) microbatches and blanks those >= m. */
#define OP(kind, piece, mb)                                                                  \
    do {                                                                                     \
        int64_t mb_ = (mb);                                                                  \
        if (mb_ < m)                                                                         \
            pp_plan_push(plan, r, kind, piece, mb_);                                         \
    } while (0)
        for (int i = 0; i < 2 * (np - r) - 1; i++)
            OP(PP_OP_F, c0, f0++);
        for (int i = 0; i < r; i++) {
            OP(PP_OP_F, c1, f1++);
            OP(PP_OP_F, c0, f0++);
        }
        for (int i = 0; i < np - r; i++) {
            OP(PP_OP_F, c1, f1++);
            OP(PP_OP_BI, c1, b1);
            OP(PP_OP_BW, c1, b1);
            b1++;
        }
        while (f1 < f0 || f0 < n) {
            if (f0 < n)
                OP(PP_OP_F, c0, f0++);
            OP(PP_OP_BI, c0, b0);
            OP(PP_OP_BW, c0, b0);
            b0++;
            OP(PP_OP_F, c1, f1++);
            OP(PP_OP_BI, c1, b1);
            OP(PP_OP_BW, c1, b1);
            b1++;
        }
        int64_t w0 = b0, w1 = b1;
        for (int i = 0; i < r; i++) {
            OP(PP_OP_BI, c0, b0++);
            OP(PP_OP_BI, c1, b1++);
        }
        for (int i = 0; i < np - r; i++) {
            OP(PP_OP_BI, c0, b0++);
            OP(PP_OP_BW, c0, w0++);
        }
        while (w1 < b1)
            OP(PP_OP_BW, c1, w1++);
        while (w0 < b0)
            OP(PP_OP_BW, c0, w0++);
#undef OP
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
    }
}

/* ZB-V. The greedy plans with the p2p latency T_comm, which the schedule
 * parameters do not carry yet: it plans as if transfers were free (the
 * engine still charges them when it replays). */
int pp_sched_zb_v(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    if (p->pytorch_order) {
        pp_zbv_push_pytorch(p, plan);
        return 0;
    }
    return pp_zbv_push(p, p->comm_latency_ms, plan, NULL, d);
}

const char *pp_sched_zb_v_check(const struct pp_sched_params *p, const char **key)
{
    return pp_v_two_chunks(p, key);
}

int pp_sched_v_half(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    return pp_vmem_push(p, 1, plan, d);
}

const char *pp_sched_v_half_check(const struct pp_sched_params *p, const char **key)
{
    return pp_v_two_chunks(p, key);
}

int pp_sched_v_min(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    return pp_vmem_push(p, 0, plan, d);
}

const char *pp_sched_v_min_check(const struct pp_sched_params *p, const char **key)
{
    return pp_v_two_chunks(p, key);
}

/* PyTorch ScheduleInterleavedZeroBubble._calculate_single_rank_operations via
 * _get_1f1b_rank_ops(enable_zero_bubble=True): rank r warms up with
 * (v-1)*mpr + (p-1-r) forwards (mpr = microbatches per round), then pairs
 * [F, I]; after its first r pairs every I is followed by the oldest pending
 * W; the cool-down runs the remaining I's the same way, then the last W's.
 * A step's local chunk advances every mpr steps, backwards counting down. */
int pp_sched_interleaved_zb(const struct pp_sched_params *p, struct pp_plan *plan,
                            struct pp_diag *d)
{
    (void)d;
    int np = p->stages, v = p->chunks;
    int64_t m = p->microbatches, rounds = m / np > 1 ? m / np : 1, mpr = m / rounds;
    int64_t total_mb = m * v;
    int64_t *fcnt = pp_xcalloc((size_t)v, sizeof *fcnt), *bcnt = pp_xcalloc((size_t)v, sizeof *bcnt),
            *wcnt = pp_xcalloc((size_t)v, sizeof *wcnt);
    for (int r = 0; r < np; r++) {
        int64_t warm = (v - 1) * mpr + (np - 1 - r);
        if (warm > total_mb)
            warm = total_mb;
        int64_t steady = total_mb - warm, total = warm + steady + warm;
        for (int c = 0; c < v; c++)
            fcnt[c] = bcnt[c] = wcnt[c] = 0;
#define FWD_CHUNK(step) ((int)(((step) / mpr) % v))
#define BWD_CHUNK(step) (v - 1 - (int)((((step) - warm) / mpr) % v))
        int64_t nw = 0; /* W's placed; W k belongs to the backward of step warm + k */
        for (int64_t op = 0; op < total; op++) {
            if (op < warm + steady) {
                int c = FWD_CHUNK(op);
                pp_plan_push(plan, r, PP_OP_F, c * np + r, fcnt[c]++);
            }
            if (op >= warm) {
                int c = BWD_CHUNK(op);
                pp_plan_push(plan, r, PP_OP_BI, c * np + r, bcnt[c]++);
                if (op - warm >= r) {
                    int cw = BWD_CHUNK(warm + nw);
                    pp_plan_push(plan, r, PP_OP_BW, cw * np + r, wcnt[cw]++);
                    nw++;
                }
            }
        }
        for (; nw < total_mb; nw++) {
            int cw = BWD_CHUNK(warm + nw);
            pp_plan_push(plan, r, PP_OP_BW, cw * np + r, wcnt[cw]++);
        }
#undef FWD_CHUNK
#undef BWD_CHUNK
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
    }
    free(fcnt);
    free(bcnt);
    free(wcnt);
    return 0;
}

const char *pp_sched_interleaved_zb_check(const struct pp_sched_params *p, const char **key)
{
    if (p->chunks < 2) {
        *key = "chunks";
        return "interleaved-zb runs two or more model chunks per device (looped placement)";
    }
    if (p->microbatches < 1) {
        *key = "microbatches";
        return "needs at least one microbatch";
    }
    int64_t rounds = p->microbatches / p->stages > 1 ? p->microbatches / p->stages : 1;
    if (p->microbatches % rounds != 0) {
        *key = "microbatches";
        return "PyTorch's interleaved zero bubble schedule needs the microbatches to be a "
               "multiple of the number of rounds, max(1, microbatches / stages)";
    }
    return NULL;
}
