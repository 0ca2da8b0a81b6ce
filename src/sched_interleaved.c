/* sched_interleaved.c - schedules with several model chunks per device on the
 * looped placement (piece c*p + r on rank r, schedules.md §2.5 and §2.6).
 *
 * interleaved-1f1b is Megatron's forward_backward_pipelining_with_interleaving:
 * the m*v "virtual microbatches" of a rank are mapped to (microbatch, chunk)
 * by get_schedule_table, which walks groups of G microbatches and, inside a
 * group, every chunk in order; backward k uses the same table with the chunk
 * mirrored (v-1-c). Rank r warms up with min(2(p-r-1) + (v-1)G, m*v)
 * forwards (get_pp_rank_microbatches), then alternates F(k+warm), B(k), then
 * drains the remaining backwards.
 *
 * looped-bfs is PyTorch's ScheduleLoopedBFS: all forwards of each local chunk
 * in ascending order, then all backwards of each chunk in descending order
 * with the microbatches reversed. */
#include "schedule.h"

/* Megatron's group size G (microbatch_group_size_per_vp_stage). Megatron
 * requires p <= G <= m and m mod G either 0 or >= p, and defaults G to p,
 * so with the default it only runs m % p == 0 (older Megatron and PyTorch's
 * ScheduleInterleaved1F1B assert exactly that). For other m >= p we take the
 * smallest G that Megatron accepts, which is the group a Megatron user would
 * have to configure; it is also PyTorch's later choice m / max(1, m // p)
 * whenever that divides. Megatron's own code example (PP2, M=5) uses G=3,
 * which is what this returns. G = m always qualifies, so the loop ends. */
static int64_t group_size(int64_t p, int64_t m)
{
    int64_t g = p;
    while (g < m && m % g != 0 && m % g < p)
        g++;
    return g;
}

/* Virtual microbatch k -> (microbatch, chunk) as get_schedule_table lays it
 * out: full groups of G microbatches, then the last group [last, m), which
 * Megatron builds the same way with its own (smaller or equal) size. */
struct vtable {
    int64_t m, g, v, last; /* last = first microbatch of the final group */
};

static void vt_lookup(const struct vtable *t, int64_t k, int64_t *mb, int *chunk)
{
    int64_t start, size, within;
    if (k < t->last * t->v) {
        int64_t group = k / (t->g * t->v);
        start = group * t->g;
        size = t->g;
        within = k - start * t->v;
    } else {
        start = t->last;
        size = t->m - t->last;
        within = k - start * t->v;
    }
    *chunk = (int)(within / size);
    *mb = start + within % size;
}

static void push_virtual(struct pp_plan *plan, const struct vtable *t, int r, int p,
                         enum pp_op_kind kind, int64_t k)
{
    int64_t mb;
    int c;
    vt_lookup(t, k, &mb, &c);
    if (kind != PP_OP_F)
        c = (int)t->v - 1 - c;
    pp_plan_push(plan, r, kind, c * p + r, mb);
}

int pp_sched_interleaved(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    int64_t m = p->microbatches, v = p->chunks, total = m * v;
    struct vtable t = {m, group_size(p->stages, m), v, 0};
    /* Megatron: the final group starts at the first multiple of G with start + G >= m. */
    t.last = (m - 1) / t.g * t.g;
    if (p->zb_wrap_quirk)
        plan->wrap_dep_every = p->stages;
    for (int r = 0; r < p->stages; r++) {
        int64_t warm = 2 * (int64_t)(p->stages - r - 1) + (v - 1) * t.g;
        if (warm > total)
            warm = total;
        for (int64_t k = 0; k < warm; k++)
            push_virtual(plan, &t, r, p->stages, PP_OP_F, k);
        for (int64_t k = 0; k < total - warm; k++) {
            push_virtual(plan, &t, r, p->stages, PP_OP_F, k + warm);
            push_virtual(plan, &t, r, p->stages, PP_OP_B, k);
        }
        for (int64_t k = total - warm; k < total; k++)
            push_virtual(plan, &t, r, p->stages, PP_OP_B, k);
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
    }
    return 0;
}

const char *pp_sched_interleaved_check(const struct pp_sched_params *p, const char **key)
{
    if (p->chunks < 2) {
        *key = "chunks";
        return "interleaved-1f1b needs at least 2 model chunks per device (virtual stages); "
               "with one chunk it is plain 1f1b";
    }
    if (p->microbatches < p->stages) {
        *key = "microbatches";
        return "interleaved-1f1b needs at least as many microbatches as stages (Megatron "
               "requires stages <= microbatch group size <= microbatches)";
    }
    if (p->zb_wrap_quirk && p->microbatches % p->stages != 0) {
        *key = "microbatches";
        return "the Zero Bubble wrap-around quirk reproduces get_interleave_schedule, which "
               "requires microbatches to be a multiple of stages";
    }
    return NULL;
}

int pp_sched_looped_bfs(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    int np = p->stages;
    for (int r = 0; r < np; r++) {
        for (int c = 0; c < p->chunks; c++)
            for (int64_t mb = 0; mb < p->microbatches; mb++)
                pp_plan_push(plan, r, PP_OP_F, c * np + r, mb);
        for (int c = p->chunks - 1; c >= 0; c--)
            for (int64_t mb = p->microbatches - 1; mb >= 0; mb--)
                pp_plan_push(plan, r, PP_OP_B, c * np + r, mb);
        pp_plan_push(plan, r, PP_OP_OPTIM, -1, -1);
    }
    return 0;
}

const char *pp_sched_looped_bfs_check(const struct pp_sched_params *p, const char **key)
{
    if (p->chunks < 1) {
        *key = "chunks";
        return "looped-bfs needs at least one model chunk per device";
    }
    return NULL;
}
