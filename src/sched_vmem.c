/* sched_vmem.c - V-Half and V-Min, the controllable-memory V schedules
 * (schedules.md §2.10), ported from the ZB repository's zbv_greedy.py
 * (PipelineGraph.stable_pattern_v_half/min, schedule_from_pattern).
 *
 * A schedule starts as a building block repeated every 6 unit slots: on device
 * i the block's four slots hold F of chunk 0, F of chunk 1 and the two
 * backwards (chunk 1's first: backwards run the V in reverse). The block's
 * lifespan fixes the activation peak. Then, as the reference does:
 *   1. put_w: W's go into free slots, oldest first;
 *   2. reorder with W's: warm-up and cool-down ops move to the earliest free
 *      slot their inputs allow without raising the largest per-device peak,
 *      then every device is squeezed (eager execution in unit time);
 *   3. W's are dropped and the cool-down is reordered again with W's implied
 *      (a free slot retires one pending W), then squeezed again;
 *   4. W's are put back, split per chunk, and the ops run in slot order.
 * The order depends on the slots only, never on costs.
 *
 * The reference re-counts a device's whole memory profile for every slot it
 * tries; here each device keeps its profile (memory after each slot) in a
 * max segment tree, and a trial re-walks only from the tried slot until the
 * profile rejoins the old one, so a build stays linear in the op count. */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "sched_v.h"
#include "schedule.h"
#include "xalloc.h"

/* Element lists: 0 F chunk 0, 1 F chunk 1, 2 B chunk 1, 3 B chunk 0, then
 * 4 (one W list), or 4 and 5 (W of chunk 1 / chunk 0). */
struct vm {
    int p;
    int64_t m;
    int nt;
    int64_t len[6];
    int32_t *t[6]; /* [p][len]: slot of each element, in microbatch order */
};

static int32_t *at(struct vm *v, int k, int s, int64_t j)
{
    return &v->t[k][(size_t)s * (size_t)v->len[k] + (size_t)j];
}

static int32_t max_slot(const struct vm *v)
{
    int32_t mx = 0;
    for (int k = 0; k < v->nt; k++)
        for (int s = 0; s < v->p; s++)
            if (v->len[k] && v->t[k][(size_t)s * (size_t)v->len[k] + (size_t)v->len[k] - 1] > mx)
                mx = v->t[k][(size_t)s * (size_t)v->len[k] + (size_t)v->len[k] - 1];
    return mx;
}

static void drop_w(struct vm *v)
{
    for (int k = 4; k < 6; k++) {
        free(v->t[k]);
        v->t[k] = NULL;
        v->len[k] = 0;
    }
    v->nt = 4;
}

/* [p][L] slot -> (list | mb << 3), -1 free; -1 if two elements share a slot. */
static int build_map(struct vm *v, int32_t L, int32_t *map)
{
    for (size_t i = 0; i < (size_t)v->p * (size_t)L; i++)
        map[i] = -1;
    for (int k = 0; k < v->nt; k++)
        for (int s = 0; s < v->p; s++)
            for (int64_t j = 0; j < v->len[k]; j++) {
                int32_t *c = &map[(size_t)s * (size_t)L + (size_t)*at(v, k, s, j)];
                if (*c >= 0)
                    return -1;
                *c = k | (int32_t)j << 3;
            }
    return 0;
}

/* put_w: W's into the free slots up to the last F/B, then after it. */
static int put_w(struct vm *v, int split)
{
    int p = v->p;
    int64_t m = v->m;
    drop_w(v);
    v->nt = split ? 6 : 5;
    v->len[4] = split ? m : 2 * m;
    v->len[5] = split ? m : 0;
    v->t[4] = pp_xmalloc((size_t)p * (size_t)v->len[4] * sizeof *v->t[4]);
    if (split)
        v->t[5] = pp_xmalloc((size_t)p * (size_t)m * sizeof *v->t[5]);
    for (int s = 0; s < p; s++) {
        int64_t ptr[4] = {0, 0, 0, 0}, wcnt[2] = {0, 0}, nw[2] = {0, 0};
        int32_t bound = 0;
        for (int k = 0; k < 4; k++)
            if (*at(v, k, s, m - 1) > bound)
                bound = *at(v, k, s, m - 1);
        int32_t i;
        for (i = 0; i <= bound; i++) {
            int best = -1;
            int32_t bt = 0;
            for (int k = 0; k < 4; k++)
                if (ptr[k] < m && (best < 0 || *at(v, k, s, ptr[k]) < bt)) {
                    best = k;
                    bt = *at(v, k, s, ptr[k]);
                }
            if (bt < i)
                return -1; /* two ops in one slot */
            if (bt == i) {
                ptr[best]++;
                if (best >= 2)
                    wcnt[split ? best - 2 : 0]++;
                continue;
            }
            for (int w = 0; w < 2; w++)
                if (wcnt[w]) {
                    *at(v, 4 + w, s, nw[w]++) = i;
                    wcnt[w]--;
                    break;
                }
        }
        i = bound;
        for (int w = 0; w < 2; w++)
            while (wcnt[w]-- > 0)
                *at(v, 4 + w, s, nw[w]++) = ++i;
    }
    return 0;
}

/* eager_execution_time with unit costs and no latency: each op starts once
 * its device is free and its inputs are done; slots become those starts. */
static int squeeze(struct vm *v)
{
    int p = v->p;
    int32_t L = max_slot(v) + 1;
    int32_t *map = pp_xmalloc_big((size_t)p * (size_t)L * sizeof *map);
    int32_t *end[6] = {0};
    int32_t *prev = pp_xmalloc((size_t)p * sizeof *prev);
    int rc = build_map(v, L, map);
    for (int k = 0; k < v->nt; k++) {
        size_t n = (size_t)p * (size_t)v->len[k];
        end[k] = pp_xmalloc((n ? n : 1) * sizeof *end[k]);
        for (size_t i = 0; i < n; i++)
            end[k][i] = -1;
    }
    for (int s = 0; s < p; s++)
        prev[s] = -1;
#define END(k, s, j) end[k][(size_t)(s) * (size_t)v->len[k] + (size_t)(j)]
    for (int32_t tm = 0; tm < L && rc == 0; tm++)
        for (int s = 0; s < p && rc == 0; s++) {
            int32_t code = map[(size_t)s * (size_t)L + (size_t)tm];
            if (code < 0)
                continue;
            int k = code & 7;
            int64_t j = code >> 3;
            int32_t dep = 0, x = -1;
            if ((k == 0 || k == 2) && s > 0)
                x = END(k, s - 1, j);
            else if ((k == 1 || k == 3) && s + 1 < p)
                x = END(k, s + 1, j);
            else
                x = 0;
            if (x < 0) {
                rc = -1;
                break;
            }
            dep = x;
            if (k >= 1 && k <= 3 && END(k - 1, s, j) > dep)
                dep = END(k - 1, s, j);
            if (j > 0 && END(k, s, j - 1) > dep)
                dep = END(k, s, j - 1);
            if (prev[s] > dep)
                dep = prev[s];
            END(k, s, j) = prev[s] = dep + 1;
        }
    for (int k = 0; k < v->nt && rc == 0; k++)
        for (size_t i = 0; i < (size_t)p * (size_t)v->len[k]; i++)
            v->t[k][i] = end[k][i] - 1;
#undef END
    for (int k = 0; k < v->nt; k++)
        free(end[k]);
    free(prev);
    free(map);
    return rc;
}

/* A device's memory profile: after slot i, cur[i] activations held and wc[i]
 * W's pending (implied W's retire at free slots). tree = max segment tree of cur. */
enum { K_FREE, K_F, K_B, K_W };

struct prof {
    int8_t *kind;
    int32_t *cur, *wc, *tree;
    int32_t n2;
};

static void step(int kind, int implied, int32_t *c, int32_t *w)
{
    switch (kind) {
    case K_F: (*c)++; break;
    case K_B: (*w)++; break;
    case K_W: (*c)--; break;
    default:
        if (implied && *w > 0) {
            (*c)--;
            (*w)--;
        }
    }
}

static void tree_set(struct prof *pr, int32_t i, int32_t val)
{
    size_t x = (size_t)pr->n2 + (size_t)i;
    pr->tree[x] = val;
    for (x /= 2; x >= 1; x /= 2)
        pr->tree[x] = pr->tree[2 * x] > pr->tree[2 * x + 1] ? pr->tree[2 * x] : pr->tree[2 * x + 1];
}

/* max of cur over [l, r], at least 0 (the reference's running peak starts at 0). */
static int32_t tree_max(const struct prof *pr, int32_t l, int32_t r)
{
    int32_t mx = 0;
    size_t a = (size_t)pr->n2 + (size_t)l, b = (size_t)pr->n2 + (size_t)r + 1;
    for (; a < b; a /= 2, b /= 2) {
        if (a & 1) {
            if (pr->tree[a] > mx)
                mx = pr->tree[a];
            a++;
        }
        if (b & 1) {
            b--;
            if (pr->tree[b] > mx)
                mx = pr->tree[b];
        }
    }
    return mx;
}

/* Peak if the op of kind kx moved from slot from to the free slot to (< from);
 * with apply, make the move. Only the stretch until the profile rejoins the
 * old one is walked. */
static int32_t walk(struct prof *pr, int32_t L, int kx, int32_t from, int32_t to, int implied,
                    int apply)
{
    int32_t c = to > 0 ? pr->cur[to - 1] : 0, w = to > 0 ? pr->wc[to - 1] : 0;
    int32_t mx = to > 0 ? tree_max(pr, 0, to - 1) : 0;
    if (apply) {
        pr->kind[from] = K_FREE;
        pr->kind[to] = (int8_t)kx;
    }
    for (int32_t i = to; i < L; i++) {
        int k = apply ? pr->kind[i] : i == to ? kx : i == from ? K_FREE : pr->kind[i];
        step(k, implied, &c, &w);
        if (c > mx)
            mx = c;
        if (i >= from && c == pr->cur[i] && w == pr->wc[i]) {
            if (i + 1 < L) {
                int32_t rest = tree_max(pr, i + 1, L - 1);
                if (rest > mx)
                    mx = rest;
            }
            break;
        }
        if (apply) {
            pr->cur[i] = c;
            pr->wc[i] = w;
            tree_set(pr, i, c);
        }
    }
    return mx;
}

static int kind_of(int k)
{
    return k < 2 ? K_F : k < 4 ? K_B : K_W;
}

/* Insert x into the sorted array a[0..n) (new values are rarely far from the end). */
static void sorted_insert(int32_t *a, int64_t n, int32_t x)
{
    int64_t i = n;
    while (i > 0 && a[i - 1] > x) {
        a[i] = a[i - 1];
        i--;
    }
    a[i] = x;
}

/* One reorder pass (the reference's reorder(stage_result, consider_w)). */
static int reorder(struct vm *v, int consider_w)
{
    int p = v->p;
    int64_t m = v->m;
    if (consider_w && put_w(v, 0))
        return -1;
    int implied = !consider_w;
    int32_t L = max_slot(v) + 1;
    int32_t n2 = 1;
    while (n2 < L)
        n2 *= 2;
    int32_t *map = pp_xmalloc_big((size_t)p * (size_t)L * sizeof *map);
    struct prof *pr = pp_xcalloc((size_t)p, sizeof *pr);
    int32_t *bsorted = consider_w ? pp_xmalloc_big((size_t)p * 2 * (size_t)m * sizeof *bsorted) : NULL;
    int64_t *nb = pp_xcalloc((size_t)p, sizeof *nb);
    int rc = build_map(v, L, map);
    int32_t cap = 0;
    for (int s = 0; s < p; s++) {
        struct prof *q = &pr[s];
        q->n2 = n2;
        q->kind = pp_xcalloc((size_t)L, sizeof *q->kind);
        q->cur = pp_xmalloc((size_t)L * sizeof *q->cur);
        q->wc = pp_xmalloc((size_t)L * sizeof *q->wc);
        q->tree = pp_xcalloc(2 * (size_t)n2, sizeof *q->tree);
        int32_t c = 0, w = 0;
        for (int32_t i = 0; i < L; i++) {
            int32_t code = map[(size_t)s * (size_t)L + (size_t)i];
            q->kind[i] = (int8_t)(code < 0 ? K_FREE : kind_of(code & 7));
            step(q->kind[i], implied, &c, &w);
            q->cur[i] = c;
            q->wc[i] = w;
            q->tree[(size_t)n2 + (size_t)i] = c;
        }
        for (size_t x = (size_t)n2 - 1; x >= 1; x--)
            q->tree[x] = q->tree[2 * x] > q->tree[2 * x + 1] ? q->tree[2 * x] : q->tree[2 * x + 1];
        int32_t peak = tree_max(q, 0, L - 1);
        if (peak > cap)
            cap = peak;
    }
    /* Ops in slot order (ties: lower device first); moved ops only go earlier,
     * so the order is that of the slots at the start of the pass. */
    int phase = 0;
    for (int32_t tm = 0; tm < L && rc == 0; tm++)
        for (int s = 0; s < p && rc == 0; s++) {
            int32_t code = map[(size_t)s * (size_t)L + (size_t)tm];
            if (code < 0)
                continue;
            int k = code & 7;
            int64_t j = code >> 3;
            if (k == 3 && s == 0 && phase == 0)
                phase = 1;
            int keep = phase == 1 || (phase == 0 && !consider_w);
            if (phase == 1 && k == 0 && j == m - 1)
                phase = 2;
            if (!keep) {
                int32_t dep = -1;
                if ((k == 0 || k == 2) && s > 0 && *at(v, k, s - 1, j) > dep)
                    dep = *at(v, k, s - 1, j);
                if ((k == 1 || k == 3) && s + 1 < p && *at(v, k, s + 1, j) > dep)
                    dep = *at(v, k, s + 1, j);
                if (k >= 1 && k <= 3 && *at(v, k - 1, s, j) > dep)
                    dep = *at(v, k - 1, s, j);
                if (k == 4) {
                    if (j >= nb[s]) {
                        rc = -1;
                        break;
                    }
                    if (bsorted[(size_t)s * 2 * (size_t)m + (size_t)j] > dep)
                        dep = bsorted[(size_t)s * 2 * (size_t)m + (size_t)j];
                }
                if (j > 0 && *at(v, k, s, j - 1) > dep)
                    dep = *at(v, k, s, j - 1);
                if (++dep > tm) {
                    rc = -1;
                    break;
                }
                for (int32_t to = dep; to < tm; to++)
                    if (pr[s].kind[to] == K_FREE &&
                        walk(&pr[s], L, kind_of(k), tm, to, implied, 0) <= cap) {
                        walk(&pr[s], L, kind_of(k), tm, to, implied, 1);
                        *at(v, k, s, j) = to;
                        break;
                    }
            }
            if (consider_w && (k == 2 || k == 3))
                sorted_insert(bsorted + (size_t)s * 2 * (size_t)m, nb[s]++, *at(v, k, s, j));
        }
    for (int s = 0; s < p; s++) {
        free(pr[s].kind);
        free(pr[s].cur);
        free(pr[s].wc);
        free(pr[s].tree);
    }
    free(pr);
    free(bsorted);
    free(nb);
    free(map);
    if (rc == 0 && !consider_w)
        rc = put_w(v, 0);
    if (rc == 0)
        rc = squeeze(v);
    return rc;
}

int pp_vmem_push(const struct pp_sched_params *p, int half, struct pp_plan *plan,
                 struct pp_diag *d)
{
    int np = p->stages;
    int64_t m = p->microbatches;
    struct vm v = {.p = np, .m = m, .nt = 4};
    for (int k = 0; k < 4; k++) {
        v.len[k] = m;
        v.t[k] = pp_xmalloc((size_t)np * (size_t)m * sizeof *v.t[k]);
    }
    /* The building block (stable_pattern_v_half / _v_min): start slots of
     * [F chunk 0, F chunk 1, B chunk 1, B chunk 0] on device i of d. */
    for (int i = 0; i < np; i++) {
        int64_t pat[4];
        if (half) {
            int64_t gap = np % 2 == 0 ? 3 : 0;
            pat[0] = 2 * i;
            pat[1] = 3 * np - i - 2;
            pat[2] = 3 * np + gap + 2 * i - 1;
            pat[3] = 6 * np + gap - i - 2;
        } else {
            int64_t gap = np % 3 == 0 ? 2 : 0;
            pat[0] = i;
            pat[1] = 2 * np - i - 1;
            pat[2] = 2 * np + gap + i;
            pat[3] = 4 * np + gap - i - 1;
        }
        for (int k = 0; k < 4; k++)
            for (int64_t j = 0; j < m; j++)
                *at(&v, k, i, j) = (int32_t)(pat[k] + 6 * j);
    }
    int rc = reorder(&v, 1);
    if (rc == 0) {
        drop_w(&v);
        rc = reorder(&v, 0);
    }
    if (rc == 0) {
        drop_w(&v);
        rc = put_w(&v, 1);
    }
    int32_t L = rc == 0 ? max_slot(&v) + 1 : 1;
    int32_t *map = pp_xmalloc_big((size_t)np * (size_t)L * sizeof *map);
    if (rc == 0)
        rc = build_map(&v, L, map);
    if (rc == 0) {
        static const enum pp_op_kind kinds[6] = {PP_OP_F,  PP_OP_F,  PP_OP_BI,
                                                 PP_OP_BI, PP_OP_BW, PP_OP_BW};
        /* lists 0, 3, 5 are chunk 0 (piece i), lists 1, 2, 4 chunk 1 (piece 2p-1-i). */
        static const int second_leg[6] = {0, 1, 1, 0, 1, 0};
        pp_v_place(plan);
        for (int s = 0; s < np; s++) {
            for (int32_t tm = 0; tm < L; tm++) {
                int32_t code = map[(size_t)s * (size_t)L + (size_t)tm];
                if (code < 0)
                    continue;
                int k = code & 7;
                pp_plan_push(plan, s, kinds[k], second_leg[k] ? 2 * np - 1 - s : s, code >> 3);
            }
            pp_plan_push(plan, s, PP_OP_OPTIM, -1, -1);
        }
    }
    free(map);
    for (int k = 0; k < 6; k++)
        free(v.t[k]);
    if (rc)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "%s: the building block does not unfold into a valid order for %d "
                           "stages x %lld microbatches",
                           half ? "v-half" : "v-min", np, (long long)m);
    return 0;
}
