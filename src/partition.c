/* partition.c - contiguous stage splits of the layer list.
 *
 * `balanced` finds the smallest possible bottleneck B* (largest piece time,
 * forward + full backward) exactly: feasibility of a bound is monotone, so we
 * bisect over the bit patterns of non-negative doubles, testing each bound with
 * the greedy packing (O(n) per test, 64 tests at most). Among the splits that
 * achieve B*, it then picks cuts whose cumulative time stays closest to an even
 * share (10 equal layers in 4 pieces: 2,3,2,3 rather than 3,3,3,1). Piece times
 * are prefix-sum differences everywhere, so every comparison is consistent. */
#include "partition.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel.h"
#include "diag.h"
#include "xalloc.h"

static double layer_ms(const struct pp_layer *l)
{
    return l->forward_ms + l->backward_input_ms + l->backward_weight_ms;
}

/* g[i] = fewest pieces that cover layers [i, n) with no piece above bound;
 * SIZE_MAX when a single layer exceeds it. */
static size_t min_pieces(const double *prefix, size_t n, double bound, size_t *g)
{
    size_t e = n;
    g[n] = 0;
    /* Walk i downward; the furthest end from i is non-increasing as i decreases. */
    for (size_t i = n; i-- > 0;) {
        while (e > i + 1 && prefix[e] - prefix[i] > bound)
            e--;
        if (prefix[e] - prefix[i] > bound || g[e] == SIZE_MAX) {
            g[i] = SIZE_MAX;
            continue;
        }
        g[i] = g[e] + 1;
    }
    return g[0];
}

static uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static struct pp_partition *assemble(const struct pp_costmodel *cm, const size_t *bounds,
                                     size_t k)
{
    struct pp_partition *p = pp_xcalloc(1, sizeof *p);
    p->n_pieces = k;
    p->pieces = pp_xcalloc(k, sizeof *p->pieces);
    for (size_t s = 0; s < k; s++) {
        struct pp_piece *pc = &p->pieces[s];
        pc->first_layer = bounds[s];
        pc->n_layers = bounds[s + 1] - bounds[s];
        pc->split_backward = 1;
        pc->has_selective = 1;
        for (size_t i = bounds[s]; i < bounds[s + 1]; i++) {
            const struct pp_layer *l = &cm->layers[i];
            pc->forward_ms += l->forward_ms;
            pc->backward_input_ms += l->backward_input_ms;
            pc->backward_weight_ms += l->backward_weight_ms;
            pc->fused_backward_ms += l->has_fused ? l->fused_backward_ms
                                                  : l->backward_input_ms + l->backward_weight_ms;
            pc->split_backward &= l->split_backward;
            pc->activation_bytes += l->activation_bytes;
            pc->bw_activation_bytes += l->bw_activation_bytes;
            pc->parameter_bytes += l->parameter_bytes;
            if (l->activation_bytes > pc->max_layer_activation_bytes)
                pc->max_layer_activation_bytes = l->activation_bytes;
            pc->has_selective &= l->has_recompute;
            pc->recompute_activation_bytes += l->recompute_activation_bytes;
            pc->recompute_forward_ms += l->recompute_forward_ms;
        }
        pc->output_bytes = s + 1 < k ? cm->layers[bounds[s + 1] - 1].output_bytes : 0;
        pc->input_bytes = s > 0 ? cm->layers[bounds[s] - 1].output_bytes : 0;
    }
    return p;
}

int pp_partition_balanced(const struct pp_costmodel *cm, size_t k, struct pp_partition **out,
                          struct pp_diag *d)
{
    size_t n = cm->n_layers;
    if (k == 0 || k > n)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "cannot cut %zu layers into %zu non-empty pieces", n, k);
    double *prefix = pp_xmalloc((n + 1) * sizeof *prefix);
    size_t *g = pp_xmalloc((n + 1) * sizeof *g);
    double lo = 0;
    prefix[0] = 0;
    for (size_t i = 0; i < n; i++) {
        prefix[i + 1] = prefix[i] + layer_ms(&cm->layers[i]);
        if (prefix[i + 1] - prefix[i] > lo)
            lo = prefix[i + 1] - prefix[i];
    }
    /* Smallest feasible bound: invariant lo_b infeasible-or-untested, hi_b feasible. */
    uint64_t lo_b = dbits(lo), hi_b = dbits(prefix[n]);
    if (min_pieces(prefix, n, lo, g) <= k)
        hi_b = lo_b;
    while (hi_b - lo_b > 1) {
        uint64_t mid = lo_b + (hi_b - lo_b) / 2;
        if (min_pieces(prefix, n, bitsd(mid), g) <= k)
            hi_b = mid;
        else
            lo_b = mid;
    }
    double bound = bitsd(hi_b);
    min_pieces(prefix, n, bound, g);

    size_t *bounds = pp_xmalloc((k + 1) * sizeof *bounds);
    bounds[0] = 0;
    size_t i = 0;
    for (size_t s = 0; s < k; s++) {
        size_t left = k - s - 1; /* pieces after this one */
        if (left == 0) {
            bounds[s + 1] = n;
            break;
        }
        double target = prefix[n] * (double)(s + 1) / (double)k;
        size_t best = 0;
        double best_gap = INFINITY;
        for (size_t e = i + 1; e + left <= n && prefix[e] - prefix[i] <= bound; e++) {
            if (g[e] > left)
                continue;
            double gap = fabs(prefix[e] - target);
            if (gap < best_gap) {
                best_gap = gap;
                best = e;
            }
        }
        /* g[i] <= left+1 guarantees some e qualifies. */
        bounds[s + 1] = best;
        i = best;
    }
    *out = assemble(cm, bounds, k);
    free(bounds);
    free(prefix);
    free(g);
    return 0;
}

int pp_partition_explicit(const struct pp_costmodel *cm, const size_t *counts, size_t k,
                          struct pp_partition **out, struct pp_diag *d)
{
    size_t total = 0;
    for (size_t s = 0; s < k; s++) {
        if (counts[s] == 0)
            return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "piece %zu has no layers", s);
        total += counts[s];
    }
    if (total != cm->n_layers)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "partition covers %zu layers, the model has %zu", total, cm->n_layers);
    size_t *bounds = pp_xmalloc((k + 1) * sizeof *bounds);
    bounds[0] = 0;
    for (size_t s = 0; s < k; s++)
        bounds[s + 1] = bounds[s] + counts[s];
    *out = assemble(cm, bounds, k);
    free(bounds);
    return 0;
}

void pp_partition_free(struct pp_partition *p)
{
    if (!p)
        return;
    free(p->pieces);
    free(p);
}
