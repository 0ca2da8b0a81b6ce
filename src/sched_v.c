/* sched_v.c - schedules with split backward over two or more chunks per
 * device: ZB-V (schedules.md §2.9; builders in sched_zbv.c), V-Half and V-Min
 * (§2.10; sched_vmem.c), and PyTorch's ScheduleInterleavedZeroBubble (§4),
 * the ZB1P-style schedule on looped placement. */
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

/* ZB-V. The greedy plans with the p2p latency T_comm, which the schedule
 * parameters do not carry yet: it plans as if transfers were free (the
 * engine still charges them when it replays). */
int pp_sched_zb_v(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    if (p->pytorch_order) {
        pp_zbv_push_pytorch(p, plan);
        return 0;
    }
    return pp_zbv_push(p, 0.0, plan, NULL, d);
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
