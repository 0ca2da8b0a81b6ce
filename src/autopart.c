/* autopart.c - scenario splits from the planner (see autopart.h). */
#include "autopart.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "antichain.h"
#include "costmodel.h"
#include "diag.h"
#include "pdgraph.h"
#include "pdplan.h"
#include "planner.h"
#include "scenario.h"
#include "simplan.h"
#include "xalloc.h"

/* An infinite link, for the planner's arithmetic (it divides by bandwidth). */
#define UNLIMITED_BPS 1e30

static int pick_auto(const struct pp_scenario *sc, const struct pp_planner *pl, size_t pieces,
                     size_t *ends, double *predicted_s, struct pp_diag *d)
{
    struct pp_simplan_opts o;
    memset(&o, 0, sizeof o);
    o.devices = (size_t)sc->devices;
    o.only_stages = pieces;
    o.bandwidth_bps = sc->link_bandwidth_bytes_per_s > 0 ? sc->link_bandwidth_bytes_per_s
                                                         : UNLIMITED_BPS;
    o.memory_bytes = sc->device_memory_bytes;
    o.schedule = sc->schedule;
    o.microbatches = (size_t)sc->microbatches;
    o.gradient_factor = sc->gradient_bytes_per_parameter_byte;
    o.optimizer_factor = sc->optimizer_state_bytes_per_parameter_byte;
    struct pp_simplan *s;
    int rc = pp_simplan_run(pl->collapsed ? pl->collapsed : pl->graph, pl->states, &o, &s, d);
    if (rc)
        return rc;
    size_t best = s->best;
    /* Nothing fits: keep the split with the smallest peak, so the replay
     * reports the overflow instead of the planner hiding it. */
    if (best == SIZE_MAX)
        for (size_t i = 0; i < s->n_cands; i++)
            if (best == SIZE_MAX || s->cands[i].peak_bytes < s->cands[best].peak_bytes)
                best = i;
    if (best == SIZE_MAX) {
        pp_simplan_free(s);
        return pp_diag_set(d, PP_EINVAL, sc->file, 0, 0,
                           "pipeline.partition: auto found no split of the model into %zu "
                           "stages", pieces);
    }
    memcpy(ends, s->cands[best].cuts, pieces * sizeof *ends);
    *predicted_s = s->cands[best].iteration_s;
    pp_simplan_free(s);
    return 0;
}

static int pick_pipedream(const struct pp_planner *pl, size_t pieces, size_t *ends,
                          double *predicted_s, struct pp_diag *d)
{
    const struct pp_pdplan *p = pl->plan;
    if (!p->feasible || p->n_leaf != pieces)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                           "pipeline.partition: PipeDream's straight DP found no split into %zu "
                           "stages (the graph has %zu antichain states)",
                           pieces, pl->states->n_states);
    size_t q = 0;
    for (size_t i = 0; i < p->n_stages; i++)
        if (p->stages[i].level == 0)
            ends[q++] = p->stages[i].end_state;
    *predicted_s = p->bottleneck_s;
    return 0;
}

struct by_stage {
    size_t stage, pos, node;
};

static int cmp_by_stage(const void *a, const void *b)
{
    const struct by_stage *x = a, *y = b;
    if (x->stage != y->stage)
        return x->stage < y->stage ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int pp_autopart_run(const struct pp_scenario *sc, struct pp_autopart *out, struct pp_diag *d)
{
    memset(out, 0, sizeof *out);
    size_t pieces = (size_t)sc->stages * (size_t)sc->chunks;
    struct pp_planner_opts po;
    memset(&po, 0, sizeof po);
    po.dp.n_levels = 1;
    po.dp.machines[0] = pieces;
    po.dp.bandwidth_bps[0] = sc->link_bandwidth_bytes_per_s > 0 ? sc->link_bandwidth_bytes_per_s
                                                                : UNLIMITED_BPS;
    po.dp.straight = 1;
    po.collapse = PP_COLLAPSE_AUTO;
    struct pp_planner *pl;
    int rc = pp_planner_run(sc->model->source, &po, &pl, d);
    if (rc)
        return rc;
    size_t *ends = pp_xmalloc(pieces * sizeof *ends);
    rc = sc->partition_mode == PP_PARTITION_AUTO
             ? pick_auto(sc, pl, pieces, ends, &out->predicted_s, d)
             : pick_pipedream(pl, pieces, ends, &out->predicted_s, d);
    struct pp_pdgraph *g = pl->graph;
    size_t *stage = NULL, *order = NULL;
    struct by_stage *keys = NULL;
    if (rc == 0) {
        stage = pp_xmalloc((g->n_nodes ? g->n_nodes : 1) * sizeof *stage);
        pp_planner_label(pl, ends, pieces, stage);
        keys = pp_xmalloc((g->n_kept ? g->n_kept : 1) * sizeof *keys);
        for (size_t k = 0; k < g->n_kept; k++) {
            keys[k].node = g->topo[k];
            keys[k].pos = k;
            keys[k].stage = stage[g->topo[k]];
            if (keys[k].stage == SIZE_MAX && rc == 0)
                rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                 "pipeline.partition: layer '%s' falls in no stage",
                                 g->nodes[g->topo[k]].id);
        }
    }
    if (rc == 0) {
        qsort(keys, g->n_kept, sizeof *keys, cmp_by_stage);
        order = pp_xmalloc((g->n_kept ? g->n_kept : 1) * sizeof *order);
        out->counts = pp_xcalloc(pieces, sizeof *out->counts);
        out->n_counts = pieces;
        for (size_t k = 0; k < g->n_kept; k++) {
            order[k] = keys[k].node;
            out->counts[keys[k].stage]++;
        }
        for (size_t q = 0; q < pieces && rc == 0; q++)
            if (out->counts[q] == 0)
                rc = pp_diag_set(d, PP_EINVAL, NULL, 0, 0,
                                 "pipeline.partition: stage %zu of the plan holds no layer "
                                 "(it only re-labels layers of earlier stages)", q);
    }
    if (rc == 0)
        out->model = pp_costmodel_from_pdgraph(g, order);
    free(order);
    free(keys);
    free(stage);
    free(ends);
    pp_planner_free(pl);
    if (rc)
        pp_autopart_clear(out);
    return rc;
}

void pp_autopart_clear(struct pp_autopart *ap)
{
    pp_costmodel_free(ap->model);
    free(ap->counts);
    memset(ap, 0, sizeof *ap);
}
