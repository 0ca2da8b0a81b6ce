/* sched_zb_auto.c - Zero Bubble's automatic scheduler, the heuristic that
 * produced the ZB-1p / ZB-2p columns of the paper's Tables 5 and 8
 * (schedules.md §2.8; ZB repository, branch arxiv, auto_schedule.py:
 * Graph.manual_order and initial_solution; the ILP there is disabled).
 *
 * The heuristic places ops one at a time with the ZB time model (§6): an op
 * starts when its stage is free and, for F / B, when the producer on the
 * neighbouring stage has ended plus T_comm. That is exactly how the engine
 * replays a plan, so the order pushed here replays to the times computed here.
 *
 * Departures from the Python, none of which changes a result it produces:
 * - costs and memory are per stage (the Python has one F/B/W cost and one
 *   memory figure for all stages);
 * - the first microbatch's extra warm-up forwards are placed stage 0 first
 *   (the Python goes from the last stage down and so reads the not yet placed
 *   upstream forward as time 0; when its final consistency asserts pass, the
 *   two give identical times, and when they fail the Python aborts);
 * - a stage never plans more warm-up forwards than the stage before it. With
 *   uneven stages and few microbatches the Python's warm-up trim ("fewer
 *   than stage s-1, unless it reaches m") can let stage s finish its
 *   forwards first; since a stage only runs a forward when every later stage
 *   does, s-1 would then never run its last ones. With one cost for all
 *   stages, as in the Python, the cap never binds (the Python never misses
 *   a forward or trips an assert on 42,840 small uniform runs);
 * - a flag combination that runs out of memory or fails those asserts is
 *   skipped instead of aborting the whole search;
 * - the largest stage bubble is kept as a running maximum (bubbles only grow),
 *   which keeps the heuristic linear in the number of ops. */
#include "sched_zb_auto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "partition.h"
#include "schedule.h"
#include "sim.h"
#include "xalloc.h"

enum { OP_F, OP_B, OP_W };

struct zb_stage {
    pp_time cost[3]; /* F, B (input gradient), W */
    int64_t mem[3];  /* F: +M_B, B: M_W - M_B, W: -M_W */
    int64_t max_mem;
};

struct zb_run {
    int p;
    int64_t m;
    const struct zb_stage *st;
    pp_time comm;
    /* per stage */
    int64_t *cnt;     /* [3p]: F, B, W placed so far */
    int64_t *mem;     /* live activation memory */
    pp_time *e;       /* stage free time */
    pp_time *bubble;  /* idle time after the first F */
    pp_time max_bubble;
    /* per (stage, microbatch) end times of F and B; 0 = not placed (as in the Python) */
    pp_time *tf, *tb;
    uint8_t *seq;     /* [p * 3m]: op types in stage order */
    int64_t *n_seq;
    int failed;
};

#define CNT(z, j, k) ((z)->cnt[3 * (size_t)(j) + (k)])
#define TF(z, j, i) ((z)->tf[(size_t)(j) * (size_t)(z)->m + (size_t)(i)])
#define TB(z, j, i) ((z)->tb[(size_t)(j) * (size_t)(z)->m + (size_t)(i)])

static pp_time max_t(pp_time a, pp_time b)
{
    return a > b ? a : b;
}

/* put(stage_j, type_k) of the Python. */
static void put(struct zb_run *z, int j, int k)
{
    const struct zb_stage *s = &z->st[j];
    int64_t i = CNT(z, j, k);
    if (z->failed || i >= z->m || z->mem[j] + s->mem[k] > s->max_mem) {
        z->failed = 1;
        return;
    }
    pp_time cost = s->cost[k];
    pp_time t = z->e[j] + cost, no_bubble = t;
    if (j > 0 && k == OP_F)
        t = max_t(t, TF(z, j - 1, i) + z->comm + cost);
    if (j < z->p - 1 && k == OP_B)
        t = max_t(t, TB(z, j + 1, i) + z->comm + cost);
    if (CNT(z, j, OP_F) > 0) {
        z->bubble[j] += t - no_bubble;
        if (z->bubble[j] > z->max_bubble)
            z->max_bubble = z->bubble[j];
    }
    z->e[j] = t;
    if (k == OP_F)
        TF(z, j, i) = t;
    else if (k == OP_B)
        TB(z, j, i) = t;
    z->mem[j] += s->mem[k];
    CNT(z, j, k)++;
    z->seq[(size_t)j * 3 * (size_t)z->m + (size_t)z->n_seq[j]++] = (uint8_t)k;
}

/* W's to place before stage j's next op, whose input arrives at `ready`:
 * every W that fits before it, then one more if the gap it leaves is within
 * the stage's slack against the worst stage (or always when not greedy-avoiding). */
static void fill_w(struct zb_run *z, int j, pp_time ready, int no_bubble_greedy)
{
    const struct zb_stage *s = &z->st[j];
    while (CNT(z, j, OP_W) < CNT(z, j, OP_B) && z->e[j] + s->cost[OP_W] <= ready && !z->failed)
        put(z, j, OP_W);
    if (CNT(z, j, OP_W) < CNT(z, j, OP_B) && z->e[j] < ready) {
        if (ready - z->e[j] <= z->max_bubble - z->bubble[j]) {
            if (no_bubble_greedy)
                put(z, j, OP_W);
        } else {
            put(z, j, OP_W);
        }
    }
}

/* Free memory with W's until an op needing `need` fits. */
static void make_room(struct zb_run *z, int j, int64_t need)
{
    while (!z->failed && z->mem[j] + need > z->st[j].max_mem) {
        if (CNT(z, j, OP_W) >= CNT(z, j, OP_B)) {
            z->failed = 1; /* the Python's "Cannot fit memory" */
            return;
        }
        put(z, j, OP_W);
    }
}

/* The first microbatch: F0 everywhere, then as many warm-up forwards per
 * stage as fit before its first B can arrive, fewer than the stage before. */
static void first_microbatch(struct zb_run *z, int64_t *freq, int allow_bubble_before_first_b)
{
    int p = z->p;
    int64_t m = z->m;
    for (int j = 0; j < p; j++)
        put(z, j, OP_F);
    memset(freq, 0, (size_t)p * sizeof *freq);
    pp_time last_t = 0;
    for (int j = p - 1; j >= 0 && !z->failed; j--) {
        const struct zb_stage *s = &z->st[j];
        if (j == p - 1) {
            last_t = TF(z, j, 0) + s->cost[OP_B];
            continue;
        }
        int64_t mem = z->mem[j];
        pp_time cost = z->e[j];
        while (CNT(z, j, OP_F) + freq[j] < m && mem + s->mem[OP_F] <= s->max_mem) {
            if (allow_bubble_before_first_b ? cost + s->cost[OP_F] > last_t + z->comm
                                            : cost >= last_t + z->comm)
                break;
            mem += s->mem[OP_F];
            cost += s->cost[OP_F];
            freq[j]++;
        }
        last_t = max_t(cost, last_t + z->comm) + s->cost[OP_B];
    }
    for (int j = 1; j < p; j++) {
        while (freq[j] > 0 && freq[j] >= freq[j - 1] && CNT(z, j, OP_F) + freq[j] < m)
            freq[j]--;
        /* Never ahead of the upstream stage (see the file comment). */
        if (freq[j] > freq[j - 1])
            freq[j] = freq[j - 1];
    }
    for (int j = 0; j < p; j++) /* upstream first: see the file comment */
        for (int64_t q = 0; q < freq[j]; q++)
            put(z, j, OP_F);
    for (int j = p - 1; j >= 0; j--)
        put(z, j, OP_B);
}

/* Should stage j run a forward this round? (The prioritize_b test.) */
static int wants_forward(struct zb_run *z, int j, int prioritize_b)
{
    const struct zb_stage *s = &z->st[j], *nx = j + 1 < z->p ? &z->st[j + 1] : NULL;
    if (CNT(z, j, OP_F) >= z->m)
        return 0;
    if (!nx || !prioritize_b || CNT(z, j, OP_F) < CNT(z, j + 1, OP_F) + 2)
        return 1;
    pp_time next_plus_fw = z->e[j + 1] + nx->cost[OP_F] + nx->cost[OP_B] + z->comm;
    if (z->e[j] >= next_plus_fw)
        return 0;
    pp_time w_cost = 0;
    int64_t w_cnt = 0, mem_with_w = z->mem[j] + s->mem[OP_F];
    while (mem_with_w > s->max_mem && CNT(z, j, OP_W) + w_cnt < CNT(z, j, OP_B)) {
        w_cost += s->cost[OP_W];
        mem_with_w += s->mem[OP_W];
        w_cnt++;
    }
    if (z->e[j] + s->cost[OP_F] + w_cost <= next_plus_fw)
        return 1;
    /* The Python resets w_cost to 0 before this test. */
    if (next_plus_fw - z->e[j] <= z->max_bubble - z->bubble[j])
        return 0;
    return 1;
}

static void later_microbatch(struct zb_run *z, int64_t i, int64_t *freq, int prioritize_b,
                             int no_bubble_greedy)
{
    int p = z->p;
    for (int j = 0; j < p; j++)
        freq[j] = wants_forward(z, j, prioritize_b);
    for (int j = p - 2; j >= 0; j--)
        if (freq[j + 1] < freq[j])
            freq[j] = freq[j + 1];
    for (int j = 0; j < p && !z->failed; j++) {
        if (!freq[j])
            continue;
        make_room(z, j, z->st[j].mem[OP_F]);
        if (j > 0)
            fill_w(z, j, TF(z, j - 1, CNT(z, j, OP_F)) + z->comm, no_bubble_greedy);
        put(z, j, OP_F);
    }
    for (int j = p - 1; j >= 0 && !z->failed; j--) {
        if (CNT(z, j, OP_B) != i) {
            z->failed = 1;
            return;
        }
        make_room(z, j, z->st[j].mem[OP_B]);
        if (j + 1 < p)
            fill_w(z, j, TB(z, j + 1, i) + z->comm, no_bubble_greedy);
        if (j == 0 && CNT(z, j, OP_F) == z->m)
            while (CNT(z, j, OP_W) < CNT(z, j, OP_B) && !z->failed)
                put(z, j, OP_W);
        put(z, j, OP_B);
    }
}

/* The Python's closing asserts: every F and B honours its inputs. */
static int consistent(const struct zb_run *z)
{
    for (int j = 0; j < z->p; j++) {
        const struct zb_stage *s = &z->st[j];
        for (int64_t i = 0; i < z->m; i++) {
            if (TB(z, j, i) < TF(z, j, i) + s->cost[OP_B])
                return 0;
            if (j > 0 && TF(z, j, i) < TF(z, j - 1, i) + z->comm + s->cost[OP_F])
                return 0;
            if (j < z->p - 1 && TB(z, j, i) < TB(z, j + 1, i) + z->comm + s->cost[OP_B])
                return 0;
        }
    }
    return 1;
}

/* One manual_order run; returns its span, or -1 if it failed. */
static pp_time manual_order(struct zb_run *z, int allow_bubble_before_first_b, int prioritize_b,
                            int no_bubble_greedy, int64_t *freq)
{
    int p = z->p;
    size_t cells = (size_t)p * (size_t)z->m;
    memset(z->cnt, 0, 3 * (size_t)p * sizeof *z->cnt);
    memset(z->mem, 0, (size_t)p * sizeof *z->mem);
    memset(z->e, 0, (size_t)p * sizeof *z->e);
    memset(z->bubble, 0, (size_t)p * sizeof *z->bubble);
    memset(z->n_seq, 0, (size_t)p * sizeof *z->n_seq);
    memset(z->tf, 0, cells * sizeof *z->tf);
    memset(z->tb, 0, cells * sizeof *z->tb);
    z->max_bubble = 0;
    z->failed = 0;
    first_microbatch(z, freq, allow_bubble_before_first_b);
    for (int64_t i = 1; i < z->m && !z->failed; i++)
        later_microbatch(z, i, freq, prioritize_b, no_bubble_greedy);
    for (int j = 0; j < p && !z->failed; j++)
        while (CNT(z, j, OP_W) < z->m && !z->failed)
            put(z, j, OP_W);
    for (int j = 0; j < p && !z->failed; j++)
        if (z->n_seq[j] != 3 * z->m)
            z->failed = 1;
    if (z->failed || !consistent(z))
        return -1;
    pp_time span = 0;
    for (int j = 0; j < p; j++) /* the stage ends with its last W */
        span = max_t(span, z->e[j] - TF(z, j, 0) + z->st[j].cost[OP_F]);
    return span;
}

/* Per-stage costs and limits in the engine's units (ns, whole bytes). */
static void stage_costs(const struct pp_sched_params *p, struct zb_stage *st)
{
    for (int j = 0; j < p->stages; j++) {
        struct zb_stage *s = &st[j];
        int64_t mb_bytes = 2, mw_bytes = 1;
        if (p->costs) {
            const struct pp_piece *pc = &p->costs->pieces[j];
            s->cost[OP_F] = pp_ms_to_ns(pc->forward_ms);
            s->cost[OP_B] = pp_ms_to_ns(pc->backward_input_ms);
            s->cost[OP_W] = pp_ms_to_ns(pc->backward_weight_ms);
            mb_bytes = llround(pc->activation_bytes);
            mw_bytes = llround(pc->bw_activation_bytes);
        } else {
            s->cost[OP_F] = s->cost[OP_B] = s->cost[OP_W] = 1;
        }
        s->mem[OP_F] = mb_bytes;
        s->mem[OP_B] = mw_bytes - mb_bytes;
        s->mem[OP_W] = -mw_bytes;
        /* Default: ZB-1p's limit p * M_B (efficiency.py max_mem = p * mem_f). */
        s->max_mem = p->memory_limit_bytes > 0 ? (int64_t)floor(p->memory_limit_bytes)
                                               : (int64_t)p->stages * mb_bytes;
    }
}

double pp_zb_auto_min_memory(const struct pp_sched_params *p)
{
    double need = p->costs ? 0 : 2;
    for (int j = 0; p->costs && j < p->stages && (size_t)j < p->costs->n_pieces; j++) {
        const struct pp_piece *pc = &p->costs->pieces[j];
        need = fmax(need, fmax(pc->activation_bytes, pc->bw_activation_bytes));
    }
    return need;
}

int pp_zb_auto_push(const struct pp_sched_params *p, double comm_ms, struct pp_plan *plan,
                    int64_t *span_ns, struct pp_diag *d)
{
    int np = p->stages;
    int64_t m = p->microbatches;
    size_t cells = (size_t)np * (size_t)m, seq_len = 3 * cells;
    struct zb_stage *st = pp_xcalloc((size_t)np, sizeof *st);
    stage_costs(p, st);
    struct zb_run z = {.p = np, .m = m, .st = st, .comm = pp_ms_to_ns(comm_ms)};
    z.cnt = pp_xcalloc(3 * (size_t)np, sizeof *z.cnt);
    z.mem = pp_xcalloc((size_t)np, sizeof *z.mem);
    z.e = pp_xcalloc((size_t)np, sizeof *z.e);
    z.bubble = pp_xcalloc((size_t)np, sizeof *z.bubble);
    z.n_seq = pp_xcalloc((size_t)np, sizeof *z.n_seq);
    z.tf = pp_xmalloc_big(cells * sizeof *z.tf);
    z.tb = pp_xmalloc_big(cells * sizeof *z.tb);
    z.seq = pp_xmalloc_big(seq_len);
    uint8_t *best = pp_xmalloc_big(seq_len);
    int64_t *freq = pp_xcalloc((size_t)np, sizeof *freq);
    pp_time best_span = -1;
    /* initial_solution's loop order; the first strictly better result wins. */
    for (int a = 1; a >= 0; a--)
        for (int b = 1; b >= 0; b--)
            for (int g = 1; g >= 0; g--) {
                pp_time span = manual_order(&z, a, b, g, freq);
                if (span >= 0 && (best_span < 0 || span < best_span)) {
                    best_span = span;
                    uint8_t *tmp = best;
                    best = z.seq;
                    z.seq = tmp;
                }
            }
    int rc = 0;
    if (best_span < 0) {
        rc = pp_diag_set(d, PP_EINFEASIBLE, NULL, 0, 0,
                         "zb-auto: no order fits the activation memory limit on every stage");
    } else {
        for (int j = 0; j < np; j++) {
            const uint8_t *s = best + (size_t)j * 3 * (size_t)m;
            int64_t next[3] = {0, 0, 0};
            static const enum pp_op_kind kinds[3] = {PP_OP_F, PP_OP_BI, PP_OP_BW};
            for (size_t q = 0; q < 3 * (size_t)m; q++)
                pp_plan_push(plan, j, kinds[s[q]], j, next[s[q]]++);
            pp_plan_push(plan, j, PP_OP_OPTIM, -1, -1);
        }
        if (span_ns)
            *span_ns = best_span;
    }
    free(freq);
    free(best);
    free(z.seq);
    free(z.tb);
    free(z.tf);
    free(z.n_seq);
    free(z.bubble);
    free(z.e);
    free(z.mem);
    free(z.cnt);
    free(st);
    return rc;
}
