/* sched_bidir.c - bidirectional schedules (schedules.md §2.11-2.12):
 *   dualpipe  - DeepSeek-V3's DualPipe (deepseek-ai/DualPipe dualpipe.py
 *               DualPipe.step): two model copies fed from both ends;
 *   dualpipev - its V-shaped cut-in-half (dualpipev.py DualPipeV.step, and
 *               PyTorch ScheduleDualPipeV): one copy, two chunks per device;
 *   chimera   - Chimera (Li & Hoefler, SC'21; Shigangli/Chimera
 *               chimera_pipeline_rank.py): two pipelines in opposite
 *               directions, basic units directly concatenated for m > p.
 *
 * DualPipe and DualPipeV share one per-rank body of eight steps; they differ
 * in how many ranks a "half" has, which rank counts as the middle, and where
 * each phase's ops live. "Phase 0" is the direction that enters at this
 * rank's side of the pipeline first. An overlapped pair (F of one phase with
 * the full backward of the other) is one PP_OP_FB; a backward with zero
 * bubble enabled is BI with its BW queued (FIFO, the reference's
 * WeightGradStore) until a W step pops it. */
#include <stdlib.h>

#include "diag.h"
#include "sched_v.h"
#include "schedule.h"
#include "xalloc.h"

struct dual_rank {
    struct pp_plan *plan;
    int dev;
    int piece[2];           /* per phase */
    int64_t base[2];        /* per phase: first microbatch id */
    int64_t f[2], b[2];     /* per phase: next forward / backward microbatch */
    int64_t *wq;            /* pending W: piece | mb << 16 */
    size_t wq_head, wq_len;
};

static void d_f(struct dual_rank *r, int ph)
{
    pp_plan_push(r->plan, r->dev, PP_OP_F, r->piece[ph], r->base[ph] + r->f[ph]++);
}

static void d_b(struct dual_rank *r, int ph, int zb)
{
    int64_t mb = r->base[ph] + r->b[ph]++;
    pp_plan_push(r->plan, r->dev, zb ? PP_OP_BI : PP_OP_B, r->piece[ph], mb);
    if (zb)
        r->wq[r->wq_head + r->wq_len++] = r->piece[ph] | mb << 16;
}

static void d_fb(struct dual_rank *r, int fph, int bph)
{
    pp_plan_push_fb(r->plan, r->dev, r->piece[fph], r->base[fph] + r->f[fph]++, r->piece[bph],
                    r->base[bph] + r->b[bph]++);
}

static void d_w(struct dual_rank *r)
{
    int64_t x = r->wq[r->wq_head++];
    r->wq_len--;
    pp_plan_push(r->plan, r->dev, PP_OP_BW, (int)(x & 0xFFFF), x >> 16);
}

/* The eight steps of DualPipe.step / DualPipeV.step for a rank at position h
 * of a half of `half` ranks; n4 main-step pairs; `middle`: the first main
 * pair runs F and B apart (the reference: "to further reduce bubble size"). */
static void dual_body(struct dual_rank *r, int half, int h, int64_t n4, int middle)
{
    for (int i = 0; i < 2 * (half - h - 1); i++) /* 1: nF0 */
        d_f(r, 0);
    for (int i = 0; i < h + 1; i++) { /* 2: nF0F1 */
        d_f(r, 0);
        d_f(r, 1);
    }
    for (int i = 0; i < half - h - 1; i++) { /* 3: nB1W1F1 (zero bubble) */
        d_b(r, 1, 1);
        d_w(r);
        d_f(r, 1);
    }
    for (int64_t i = 0; i < n4; i++) { /* 4: main, nF0B1F1B0 */
        if (i == 0 && middle) {
            d_f(r, 0);
            d_b(r, 1, 0);
        } else {
            d_fb(r, 0, 1);
        }
        d_fb(r, 1, 0);
    }
    for (int i = 0; i < half - h - 1; i++) { /* 5: nB1F1B0 */
        d_b(r, 1, 0);
        d_fb(r, 1, 0);
    }
    int zb = 0, n6 = h + 1; /* 6: nB1B0, the second half with zero bubble */
    for (int i = 0; i < n6; i++) {
        if (i == n6 / 2 && h % 2 == 1)
            zb = 1;
        d_b(r, 1, zb);
        if (i == n6 / 2 && h % 2 == 0)
            zb = 1;
        d_b(r, 0, zb);
    }
    for (int i = 0; i < half - h - 1; i++) { /* 7: nWB0 (zero bubble) */
        d_w(r);
        d_b(r, 0, 1);
    }
    for (int i = 0; i < h + 1; i++) /* 8: nW */
        d_w(r);
    pp_plan_push(r->plan, r->dev, PP_OP_OPTIM, -1, -1);
}

/* DualPipe: P ranks, N microbatches, N/2 per direction. Copy 0 runs stage k
 * on rank k, fed at rank 0 (microbatches 0 .. N/2-1); copy 1 runs stage k on
 * rank P-1-k, fed at rank P-1 (microbatches N/2 .. N-1). Rank r's phase 0 is
 * copy 0 in the first half of the ranks and copy 1 in the second. */
int pp_sched_dualpipe(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    int np = p->stages, half = np / 2;
    int64_t m = p->microbatches, mh = m / 2;
    pp_plan_set_copies(plan);
    for (int64_t mb = mh; mb < m; mb++)
        plan->mb_copy[mb] = 1;
    int64_t *wq = pp_xmalloc((size_t)m * sizeof *wq);
    for (int rk = 0; rk < np; rk++) {
        int h = rk < np - 1 - rk ? rk : np - 1 - rk, second = rk >= half;
        struct dual_rank r = {.plan = plan, .dev = rk, .wq = wq};
        for (int ph = 0; ph < 2; ph++) {
            int copy = ph ^ second;
            r.piece[ph] = copy ? np + (np - 1 - rk) : rk;
            r.base[ph] = copy ? mh : 0;
        }
        dual_body(&r, half, h, mh - np + h + 1, h == half - 1);
    }
    free(wq);
    return 0;
}

const char *pp_sched_dualpipe_check(const struct pp_sched_params *p, const char **key)
{
    const char *why = pp_sched_one_chunk(p, key);
    if (why)
        return why;
    if (p->stages < 2 || p->stages % 2) {
        *key = "stages";
        return "DualPipe needs an even number of stages: half the ranks start each direction";
    }
    if (p->microbatches % 2 || p->microbatches < 2 * ((int64_t)p->stages - 1)) {
        *key = "microbatches";
        return "DualPipe needs an even number of microbatches (half enter at each end) and at "
               "least 2 * (stages - 1): below that the outer ranks' main step (N/2 - P + 1 "
               "overlapped pairs) would run a negative number of times. The reference "
               "dualpipe.py asserts N >= 2 * stages";
    }
    return NULL;
}

/* DualPipeV: R devices, 2R pieces in a V (phase 0 = piece r, phase 1 = piece
 * 2R-1-r), N microbatches all entering at device 0. */
int pp_sched_dualpipev(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    int np = p->stages;
    int64_t m = p->microbatches;
    pp_v_place(plan);
    int64_t *wq = pp_xmalloc((size_t)(2 * m) * sizeof *wq);
    for (int rk = 0; rk < np; rk++) {
        struct dual_rank r = {.plan = plan, .dev = rk, .wq = wq};
        r.piece[0] = rk;
        r.piece[1] = 2 * np - 1 - rk;
        dual_body(&r, np, rk, m - 2 * (int64_t)np + rk + 1, rk == np - 1);
    }
    free(wq);
    return 0;
}

const char *pp_sched_dualpipev_check(const struct pp_sched_params *p, const char **key)
{
    const char *why = pp_v_two_chunks(p, key);
    if (why)
        return why;
    if (p->microbatches < 2 * (int64_t)p->stages - 1) {
        *key = "microbatches";
        return "DualPipeV needs at least 2 * stages - 1 microbatches: below that device 0's "
               "main step (N - 2R + 1 overlapped pairs) would run a negative number of times. "
               "The reference dualpipev.py asserts N >= 2 * stages";
    }
    return NULL;
}

/* Chimera in unit slots (F = B = one slot), as chimera_pipeline_rank.py
 * steps it: a basic unit has a "down" pipeline (copy 0, stage k on device k)
 * and an "up" one (copy 1, stage k on device D-1-k), each taking D/2
 * microbatches (down first when fewer remain). A pipeline injects a
 * microbatch every 2 slots; microbatch x enters at slot s0 = 2x, runs F of
 * stage k at s0 + k and B of stage k at s0 + 2D-1-k. Unit u starts at slot
 * 2Du, when unit u-1's first microbatch leaves: direct concatenation. (The
 * reference spawns a new unit at every microbatch a pipeline retires, which
 * for D/2 > 2 and m > 2D puts two ops in one slot; its D = 2 case drops
 * microbatches. Both are read as bugs: units start 2D apart.) Each device
 * runs its ops in slot order. */
int pp_sched_chimera(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    int np = p->stages, hd = np / 2;
    int64_t m = p->microbatches;
    int64_t units = (m + np - 1) / np, slots = 2 * (int64_t)np * units + 2 * (int64_t)np;
    pp_plan_set_copies(plan);
    /* slot code: mb << 2 | copy << 1 | backward; -1 free */
    int64_t *grid = pp_xmalloc_big((size_t)np * (size_t)slots * sizeof *grid);
    for (size_t i = 0; i < (size_t)np * (size_t)slots; i++)
        grid[i] = -1;
    int rc = 0;
    int64_t next = 0;
    for (int64_t u = 0; next < m; u++)
        for (int copy = 0; copy < 2; copy++)
            for (int64_t x = 0; x < hd && next < m; x++, next++) {
                int64_t s0 = 2 * (int64_t)np * u + 2 * x;
                plan->mb_copy[next] = (int8_t)copy;
                for (int k = 0; k < np && rc == 0; k++) {
                    int dev = copy ? np - 1 - k : k;
                    int64_t at[2] = {s0 + k, s0 + 2 * np - 1 - k};
                    for (int bwd = 0; bwd < 2; bwd++) {
                        int64_t *g = &grid[(size_t)dev * (size_t)slots + (size_t)at[bwd]];
                        if (*g >= 0)
                            rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                             "chimera: two ops in slot %lld of device %d",
                                             (long long)at[bwd], dev);
                        *g = next << 2 | copy << 1 | bwd;
                    }
                }
            }
    for (int dev = 0; dev < np && rc == 0; dev++) {
        for (int64_t s = 0; s < slots; s++) {
            int64_t g = grid[(size_t)dev * (size_t)slots + (size_t)s];
            if (g < 0)
                continue;
            int copy = (int)(g >> 1 & 1);
            int piece = copy ? np + (np - 1 - dev) : dev;
            pp_plan_push(plan, dev, (g & 1) ? PP_OP_B : PP_OP_F, piece, g >> 2);
        }
        pp_plan_push(plan, dev, PP_OP_OPTIM, -1, -1);
    }
    free(grid);
    return rc;
}

const char *pp_sched_chimera_check(const struct pp_sched_params *p, const char **key)
{
    const char *why = pp_sched_one_chunk(p, key);
    if (why)
        return why;
    if (p->stages < 2 || p->stages % 2) {
        *key = "stages";
        return "Chimera needs an even number of stages: each direction takes stages/2 "
               "microbatches per basic unit";
    }
    if (p->microbatches < 1) {
        *key = "microbatches";
        return "needs at least one microbatch";
    }
    return NULL;
}
