/* sched_async.c - schedules without a pipeline flush (pipedream-theory.md §1.3,
 * §1.4, §4.1; schedules.md §2.3, §2.4):
 *   pipedream      the seed paper's greedy 1F1B with admission limit noam and
 *                  weight stashing: every B updates its stage's weights at once;
 *   pipedream-2bw  Megatron's 1F1B order run straight across batch boundaries
 *                  with two buffered weight versions;
 *   localsgd       R replicas of the model share the pipeline, H local steps
 *                  per replica, a global averaging barrier every R*H microbatches;
 *   naive          pipedream with noam = 1: one microbatch in the pipe at a time.
 *
 * The paper's PipeDream and LocalSGD schedules are greedy rules evaluated every
 * unit time step, not fixed orders. The generator runs that rule in its own unit
 * time model (F = B = 1 step, results visible from the next step, no
 * communication) and emits each stage's ops in the order the rule ran them.
 * The IR is a static per-device list, so with real costs the engine replays
 * this order; it does not re-run the greedy choice against real durations.
 * With unit costs and no communication the replay reproduces the paper's
 * timeline step for step, because a list op starts as soon as its device is
 * free and its inputs are done, which is exactly when the greedy rule took it.
 *
 * None of these end a device's list with PP_OP_OPTIM: PipeDream and LocalSGD
 * update weights with every B (at no cost, as in the paper's time model), and
 * 2BW's update every m microbatches swaps a buffer pointer without draining the
 * pipeline, so it does not change the op order. LocalSGD's averaging is
 * instantaneous (§4.1); its barrier is the op order on stage 1. */
#include "schedule.h"

#include <stdlib.h>

#include "diag.h"
#include "xalloc.h"

/* Per-stage state of the greedy rule (pipedream-theory.md §1.3). Stages run
 * their microbatches in order, so "F(s, m) has finished" is next_f > m. */
struct stage {
    int64_t next_f, next_b;
    int64_t woken;   /* the step this stage is queued for, -1 = none */
    int steady;      /* has run its first B */
    int prefer_b;    /* after an F in steady state, take B if ready */
};

enum { PICK_NONE, PICK_F, PICK_B };

/* Admission of F(1, i): at most `limit` microbatches active on stage 1 (F
 * started, B not finished) and, with rounds, every microbatch of the previous
 * rounds finished B on stage 1 (LocalSGD's barrier). */
static int f1_admitted(const struct stage *s0, int64_t i, int64_t limit, int64_t round)
{
    if (i - s0->next_b >= limit)
        return 0;
    return round == 0 || s0->next_b >= i / round * round;
}

/* Run the greedy rule and push the ops it takes, stage by stage in time order.
 * Only a stage that ran an op, or whose neighbour did, can find something newly
 * ready in the next step, so each step looks only at those stages: the work is
 * linear in ops even for noam = 1, where all but one stage idle every step. */
static int greedy_1f1b(const struct pp_sched_params *p, struct pp_plan *plan, int64_t limit,
                       int64_t round, struct pp_diag *d)
{
    int S = p->stages;
    int64_t N = p->microbatches;
    struct stage *st = pp_xcalloc((size_t)S, sizeof *st);
    int *cur = pp_xmalloc((size_t)S * sizeof *cur), *next = pp_xmalloc((size_t)S * sizeof *next);
    unsigned char *pick = pp_xmalloc((size_t)S);
    int n_cur = 0;
    for (int s = 0; s < S; s++) {
        st[s].woken = 0;
        cur[n_cur++] = s;
    }
    for (int64_t t = 0; n_cur > 0; t++) {
        /* Decide every queued stage from the state at the start of step t: an op
         * taken in step t is visible only from step t+1 (done_time < current_time). */
        for (int c = 0; c < n_cur; c++) {
            const struct stage *x = &st[cur[c]];
            int s = cur[c];
            int64_t mf = x->next_f, mb = x->next_b;
            int ready_f = mf < N && (s == 0 ? f1_admitted(x, mf, limit, round)
                                            : st[s - 1].next_f > mf);
            int ready_b = mb < N && x->next_f > mb && (s == S - 1 || st[s + 1].next_b > mb);
            if (ready_b && (!x->steady || x->prefer_b || !ready_f))
                pick[c] = PICK_B;
            else
                pick[c] = ready_f ? PICK_F : PICK_NONE;
        }
        int n_next = 0;
        for (int c = 0; c < n_cur; c++) {
            int s = cur[c];
            struct stage *x = &st[s];
            if (pick[c] == PICK_NONE)
                continue;
            int nb; /* the neighbour this op may unblock */
            if (pick[c] == PICK_B) {
                pp_plan_push(plan, s, PP_OP_B, s, x->next_b++);
                x->steady = 1;
                x->prefer_b = 0;
                nb = s - 1;
            } else {
                pp_plan_push(plan, s, PP_OP_F, s, x->next_f++);
                if (x->steady)
                    x->prefer_b = 1;
                nb = s + 1;
            }
            int wake[2] = {s, nb};
            for (int w = 0; w < 2; w++) {
                int y = wake[w];
                if (y >= 0 && y < S && st[y].woken != t + 1) {
                    st[y].woken = t + 1;
                    next[n_next++] = y;
                }
            }
        }
        int *tmp = cur;
        cur = next;
        next = tmp;
        n_cur = n_next;
    }
    int rc = 0;
    for (int s = 0; s < S && rc == 0; s++)
        if (st[s].next_f != N || st[s].next_b != N)
            rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                             "greedy 1F1B stalled on stage %d after %lld forwards and %lld "
                             "backwards of %lld", s + 1, (long long)st[s].next_f,
                             (long long)st[s].next_b, (long long)N);
    free(st);
    free(cur);
    free(next);
    free(pick);
    return rc;
}

/* The async schedules run one chunk and reject knobs they would ignore, so a
 * scenario never silently means something else. */
static const char *unused_knob(const struct pp_sched_params *p, int noam_ok, int local_ok,
                               const char **key)
{
    if (!noam_ok && p->noam != 0) {
        *key = "noam";
        return "this schedule has no admission limit (noam applies to pipedream and localsgd; "
               "naive is pipedream with noam 1)";
    }
    if (!local_ok && p->local_replicas != 0) {
        *key = "local_replicas";
        return "local_replicas applies to the localsgd schedule only";
    }
    if (!local_ok && p->local_steps != 0) {
        *key = "local_steps";
        return "local_steps applies to the localsgd schedule only";
    }
    return pp_sched_one_chunk(p, key);
}

static const char *check_noam(const struct pp_sched_params *p, const char **key)
{
    if (p->noam < 0) {
        *key = "noam";
        return "the admission limit must be at least 1 microbatch (0 means the default)";
    }
    return NULL;
}

int pp_sched_pipedream(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    plan->weights = PP_WEIGHTS_STASH;
    return greedy_1f1b(p, plan, p->noam > 0 ? p->noam : p->stages, 0, d);
}

const char *pp_sched_pipedream_check(const struct pp_sched_params *p, const char **key)
{
    const char *why = check_noam(p, key);
    return why ? why : unused_knob(p, 1, 0, key);
}

/* schedules.md §2.4 (pipedream_2bw forward_backward_pipelining_no_flushes): rank
 * r warms up with min(S-r-1, N) forwards once, runs 1F1B across batch
 * boundaries, and cools down once at the end. */
int pp_sched_pipedream_2bw(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    (void)d;
    plan->weights = PP_WEIGHTS_DOUBLE;
    for (int r = 0; r < p->stages; r++)
        pp_push_1f1b_rank(p, plan, r); /* the same order, without the flush */
    return 0;
}

const char *pp_sched_pipedream_2bw_check(const struct pp_sched_params *p, const char **key)
{
    return unused_knob(p, 0, 0, key);
}

/* pipedream-theory.md §4.1 (the paper's simulate_local_sgd_1f1b). Replica r owns
 * microbatches i ≡ r (mod R); F(s, i) waits for B(s, i-R) of the same replica
 * inside a round. On stage 1 that is an admission limit of R (F(1, i) needs
 * B(1, i-R), and stage 1 runs B in order); on later stages it follows from stage
 * 1 through the F and B chains. The code has no other limit, so R is the
 * default admission; an explicit noam caps it further. A last partial round is
 * allowed, as in the paper's code (round id = i div R*H), which is what its
 * stored timeline lengths for N = 600 need (600 is no multiple of 32, 80, 480). */
int pp_sched_localsgd(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    int64_t R = p->local_replicas > 0 ? p->local_replicas : p->stages;
    int64_t H = p->local_steps > 0 ? p->local_steps : 1;
    int64_t limit = p->noam > 0 && p->noam < R ? p->noam : R;
    plan->weights = PP_WEIGHTS_FLUSH;
    plan->weight_replicas = (int)R;
    plan->average_every = R * H;
    return greedy_1f1b(p, plan, limit, R * H, d);
}

const char *pp_sched_localsgd_check(const struct pp_sched_params *p, const char **key)
{
    const char *why = check_noam(p, key);
    if (why)
        return why;
    if (p->local_replicas < 0) {
        *key = "local_replicas";
        return "the number of model replicas must be at least 1 (0 means one per stage)";
    }
    if (p->local_steps < 0) {
        *key = "local_steps";
        return "the number of local steps between averagings must be at least 1 (0 means 1)";
    }
    return unused_knob(p, 1, 1, key);
}

/* pipedream-theory.md §1.3: noam = 1 runs F1..FS then BS..B1 per microbatch. */
int pp_sched_naive(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    plan->weights = PP_WEIGHTS_FLUSH;
    return greedy_1f1b(p, plan, 1, 0, d);
}

const char *pp_sched_naive_check(const struct pp_sched_params *p, const char **key)
{
    return unused_knob(p, p->noam == 1, 0, key);
}
