/* planner.c - `ppsim plan`: read, enumerate states (collapsing branches when
 * PipeDream's state space would explode), solve, label nodes, render. */
#include "planner.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "antichain.h"
#include "buf.h"
#include "diag.h"
#include "pdgraph.h"
#include "schedule.h"
#include "simplan.h"
#include "xalloc.h"

void pp_planner_label(const struct pp_planner *p, const size_t *end_states, size_t n_stages,
                      size_t *node_stage)
{
    const struct pp_pdgraph *g = p->graph, *pg = p->collapsed ? p->collapsed : p->graph;
    const struct pp_antichains *a = p->states;
    for (size_t v = 0; v < g->n_nodes; v++)
        node_stage[v] = SIZE_MAX;
    uint64_t *bits = pp_xmalloc((a->node_words ? a->node_words : 1) * sizeof *bits);
    size_t *pstage = pp_xmalloc((pg->n_nodes ? pg->n_nodes : 1) * sizeof *pstage);
    for (size_t v = 0; v < pg->n_nodes; v++)
        pstage[v] = SIZE_MAX;
    for (size_t i = 0; i < n_stages; i++) {
        memset(bits, 0, a->node_words * sizeof *bits);
        pp_antichains_closure(a, end_states[i] - 1, bits);
        for (size_t v = 0; v < pg->n_nodes; v++)
            if (pp_bit(bits, v) && pstage[v] == SIZE_MAX)
                pstage[v] = i;
    }
    for (size_t v = 0; v < pg->n_nodes; v++) {
        const struct pp_pdnode *nd = &pg->nodes[v];
        if (!p->collapsed) {
            node_stage[v] = pstage[v];
            continue;
        }
        for (size_t m = 0; m < nd->n_members; m++)
            node_stage[nd->members[m]] = pstage[v];
    }
    free(pstage);
    free(bits);
}

/* PipeDream labels, stage by stage, every node of closure(last state) that
 * has no label yet (optimizer_graph_hierarchical.py main()). */
static void label_nodes(struct pp_planner *p)
{
    const struct pp_pdgraph *g = p->graph;
    p->node_stage = pp_xmalloc((g->n_nodes ? g->n_nodes : 1) * sizeof *p->node_stage);
    for (size_t v = 0; v < g->n_nodes; v++)
        p->node_stage[v] = SIZE_MAX;
    if (!p->plan->feasible)
        return;
    size_t n = 0;
    size_t *ends = pp_xmalloc((p->plan->n_stages ? p->plan->n_stages : 1) * sizeof *ends);
    size_t *ids = pp_xmalloc((p->plan->n_stages ? p->plan->n_stages : 1) * sizeof *ids);
    for (size_t i = 0; i < p->plan->n_stages; i++) {
        const struct pp_pdstage *st = &p->plan->stages[i];
        if (st->level != 0)
            continue;
        ids[n] = st->stage_id;
        ends[n++] = st->end_state;
    }
    pp_planner_label(p, ends, n, p->node_stage);
    for (size_t v = 0; v < g->n_nodes; v++)
        if (p->node_stage[v] != SIZE_MAX)
            p->node_stage[v] = ids[p->node_stage[v]];
    free(ends);
    free(ids);
}

int pp_planner_run(const char *graph_path, const struct pp_planner_opts *o,
                   struct pp_planner **out, struct pp_diag *d)
{
    struct pp_planner *p = pp_xcalloc(1, sizeof *p);
    p->opts = *o;
    size_t max_states = o->max_states ? o->max_states : PP_PLANNER_DEFAULT_MAX_STATES;
    int rc = pp_pdgraph_load(graph_path, &p->graph, d);
    if (rc == 0 && o->collapse != PP_COLLAPSE_ALWAYS) {
        rc = pp_antichains_build(p->graph, max_states, &p->states, d);
        if (rc == -PP_EINFEASIBLE && o->collapse == PP_COLLAPSE_AUTO)
            rc = 1; /* too many states: collapse below */
        else if (rc == -PP_EINFEASIBLE)
            pp_diag_set(d, PP_EINFEASIBLE, graph_path, 0, 0,
                        "more than %zu antichain states (PipeDream's state space explodes on "
                        "branchy graphs); use --collapse-branches auto or always",
                        max_states);
    } else if (rc == 0) {
        rc = 1;
    }
    if (rc == 1) {
        /* Series-parallel reduction, a round at a time, until the states fit. */
        p->n_folded = pp_pdgraph_collapse_branches(p->graph, &p->collapsed);
        rc = pp_antichains_build(p->collapsed, max_states, &p->states, d);
        for (int round = 0; rc == -PP_EINFEASIBLE && round < 64; round++) {
            struct pp_pdgraph *m, *c;
            size_t k = pp_pdgraph_merge_parallel(p->collapsed, &m);
            if (k == 0) {
                pp_pdgraph_free(m);
                k = pp_pdgraph_absorb_into_joins(p->collapsed, &m);
            }
            k += pp_pdgraph_collapse_branches(m, &c);
            pp_pdgraph_free(m);
            pp_pdgraph_free(p->collapsed);
            p->collapsed = c;
            p->n_folded += k;
            if (k == 0)
                break;
            rc = pp_antichains_build(p->collapsed, max_states, &p->states, d);
        }
        if (rc == -PP_EINFEASIBLE)
            pp_diag_set(d, PP_EINFEASIBLE, graph_path, 0, 0,
                        "more than %zu antichain states even with branch chains collapsed "
                        "(raise --max-states)", max_states);
    }
    if (rc == 0)
        rc = pp_pdplan_solve(p->states, &o->dp, &p->plan, d);
    if (rc) {
        pp_planner_free(p);
        return rc;
    }
    label_nodes(p);
    *out = p;
    return 0;
}

void pp_planner_free(struct pp_planner *p)
{
    if (!p)
        return;
    pp_pdgraph_free(p->graph);
    pp_pdgraph_free(p->collapsed);
    pp_antichains_free(p->states);
    pp_pdplan_free(p->plan);
    free(p->node_stage);
    free(p);
}

void pp_planner_rank_map(struct pp_buf *b, const struct pp_planner *p)
{
    const char *sep = "";
    for (size_t i = 0; i < p->plan->n_stages; i++)
        if (p->plan->stages[i].level == 0) {
            pp_buf_printf(b, "%s%zu:%zu", sep, p->plan->stages[i].stage_id,
                          p->plan->stages[i].gpus);
            sep = ",";
        }
}

void pp_planner_reason(struct pp_buf *b, const struct pp_planner *p)
{
    const struct pp_pdplan_opts *o = &p->opts.dp;
    const struct pp_pdplan *pl = p->plan;
    size_t N = 1;
    for (size_t l = 0; l < o->n_levels; l++)
        N *= o->machines[l];
    if (pl->memory_needed_bytes == INFINITY) {
        if (o->straight)
            pp_buf_printf(b, "a straight pipeline needs one state per machine at every level, "
                             "and the graph has %zu states for %zu machines (try "
                             "--use_fewer_machines)", p->states->n_states, N);
        else
            pp_buf_printf(b, "no stage layout exists for these machines");
        return;
    }
    double need = pl->memory_needed_bytes, have = o->memory_bytes;
    pp_buf_printf(b, "no stage layout fits in memory: the best needs ");
    pp_buf_double(b, need);
    pp_buf_printf(b, " bytes per machine (activations + weights x in-flight minibatches), "
                     "--memory_size is ");
    pp_buf_double(b, have);
    pp_buf_printf(b, " (short by ");
    pp_buf_double(b, need - have);
    pp_buf_printf(b, " bytes, %.1f%%)", 100.0 * (need - have) / have);
}

/* The graph's nodes of a leaf stage in topological order. */
static size_t stage_nodes(const struct pp_planner *p, size_t id, size_t *outv)
{
    size_t n = 0;
    for (size_t k = 0; k < p->graph->n_kept; k++) {
        size_t v = p->graph->topo[k];
        if (p->node_stage[v] == id)
            outv[n++] = v;
    }
    return n;
}

static void json_num(struct pp_buf *b, const char *key, double x, int comma)
{
    pp_buf_printf(b, "\"%s\": ", key);
    if (isfinite(x))
        pp_buf_double(b, x);
    else
        pp_buf_puts(b, "null");
    if (comma)
        pp_buf_puts(b, ", ");
}

static void json_stage_common(struct pp_buf *b, const struct pp_pdstage *st)
{
    pp_buf_printf(b, "\"level\": %zu, \"first_state\": %zu, \"end_state\": %zu, "
                     "\"replicas\": %zu, ",
                  st->level + 1, st->first_state, st->end_state, st->replicas);
    json_num(b, "compute_s", st->compute_s, 1);
    json_num(b, "allreduce_s", st->allreduce_s, 1);
    json_num(b, "transfer_s", st->transfer_s, 1);
    json_num(b, "memory_bytes", st->memory_bytes, 1);
    json_num(b, "time_s", st->time_s, 0);
}

/* Stage i and its children; returns the index after its subtree. */
static size_t json_tree(struct pp_buf *b, const struct pp_planner *p, size_t i)
{
    const struct pp_pdstage *st = &p->plan->stages[i];
    pp_buf_puts(b, "{");
    json_stage_common(b, st);
    size_t j = i + 1;
    if (st->level == 0) {
        pp_buf_printf(b, ", \"stage_id\": %zu, \"gpus\": %zu}", st->stage_id, st->gpus);
        return j;
    }
    pp_buf_puts(b, ", \"stages\": [");
    const char *sep = "";
    while (j < p->plan->n_stages && p->plan->stages[j].parent == i) {
        pp_buf_puts(b, sep);
        j = json_tree(b, p, j);
        sep = ", ";
    }
    pp_buf_puts(b, "]}");
    return j;
}

static void report_json(struct pp_buf *b, const struct pp_planner *p)
{
    const struct pp_pdplan_opts *o = &p->opts.dp;
    const struct pp_pdplan *pl = p->plan;
    pp_buf_puts(b, "{\"profile\": ");
    pp_buf_json_str(b, p->graph->file);
    pp_buf_printf(b, ", \"nodes\": %zu, \"states\": %zu, \"collapsed_nodes\": %zu, \"machines\": [",
                  p->graph->n_kept, p->states->n_states, p->n_folded);
    for (size_t l = 0; l < o->n_levels; l++)
        pp_buf_printf(b, "%s%zu", l ? ", " : "", o->machines[l]);
    pp_buf_puts(b, "], \"bandwidths_bps\": [");
    for (size_t l = 0; l < o->n_levels; l++) {
        pp_buf_puts(b, l ? ", " : "");
        pp_buf_double(b, o->bandwidth_bps[l]);
    }
    pp_buf_puts(b, "], ");
    json_num(b, "memory_size_bytes", o->use_memory_constraint ? o->memory_bytes : INFINITY, 1);
    json_num(b, "activation_compression_ratio", o->compression > 0 ? o->compression : NAN, 1);
    pp_buf_printf(b, "\"straight_pipeline\": %s, \"use_fewer_machines\": %s, \"feasible\": %s, ",
                  o->straight ? "true" : "false", o->fewer_machines ? "true" : "false",
                  pl->feasible ? "true" : "false");
    json_num(b, "single_s", pl->single_s, 1);
    json_num(b, "data_parallel_s", pl->data_parallel_s, 1);
    if (!pl->feasible) {
        struct pp_buf r;
        pp_buf_init(&r);
        pp_planner_reason(&r, p);
        json_num(b, "memory_needed_bytes", pl->memory_needed_bytes, 1);
        pp_buf_puts(b, "\"reason\": ");
        pp_buf_json_str(b, r.data);
        pp_buf_puts(b, "}\n");
        pp_buf_free(&r);
        return;
    }
    json_num(b, "bottleneck_s", pl->bottleneck_s, 1);
    json_num(b, "speedup_vs_single", pl->single_s / pl->bottleneck_s, 1);
    json_num(b, "speedup_vs_data_parallel", pl->data_parallel_s / pl->bottleneck_s, 1);
    pp_buf_printf(b, "\"machines_total\": %zu, \"machines_used\": %zu, \"stage_to_num_ranks\": \"",
                  pl->machines_total, pl->machines_used);
    pp_planner_rank_map(b, p);
    pp_buf_puts(b, "\", \"stages\": [");
    size_t *nodes = pp_xmalloc((p->graph->n_nodes ? p->graph->n_nodes : 1) * sizeof *nodes);
    const char *sep = "";
    for (size_t i = 0; i < pl->n_stages; i++) {
        const struct pp_pdstage *st = &pl->stages[i];
        if (st->level != 0)
            continue;
        size_t nn = stage_nodes(p, st->stage_id, nodes);
        pp_buf_printf(b, "%s{\"stage_id\": %zu, \"first_node\": ", sep, st->stage_id);
        pp_buf_json_str(b, nn ? p->graph->nodes[nodes[0]].id : "");
        pp_buf_puts(b, ", \"last_node\": ");
        pp_buf_json_str(b, nn ? p->graph->nodes[nodes[nn - 1]].id : "");
        pp_buf_puts(b, ", \"node_ids\": [");
        for (size_t k = 0; k < nn; k++) {
            pp_buf_puts(b, k ? ", " : "");
            pp_buf_json_str(b, p->graph->nodes[nodes[k]].id);
        }
        pp_buf_printf(b, "], \"replicas\": %zu, \"replicas_in_level\": %zu, \"first_state\": %zu, "
                         "\"end_state\": %zu, ",
                      st->gpus, st->replicas, st->first_state, st->end_state);
        json_num(b, "compute_s", st->compute_s, 1);
        json_num(b, "allreduce_s", st->allreduce_s, 1);
        json_num(b, "transfer_s", st->transfer_s, 1);
        json_num(b, "memory_bytes", st->memory_bytes, 1);
        json_num(b, "time_s", st->time_s, 0);
        pp_buf_puts(b, "}");
        sep = ", ";
    }
    free(nodes);
    pp_buf_puts(b, "], \"levels\": [");
    sep = "";
    for (size_t i = 0; i < pl->n_stages;) {
        pp_buf_puts(b, sep);
        i = json_tree(b, p, i);
        sep = ", ";
    }
    pp_buf_puts(b, "]}\n");
}

static void fmt_bw(struct pp_buf *b, double bps)
{
    pp_buf_printf(b, "%g GB/s", bps / 1e9);
}

static void report_table(struct pp_buf *b, const struct pp_planner *p)
{
    const struct pp_pdplan_opts *o = &p->opts.dp;
    const struct pp_pdplan *pl = p->plan;
    pp_buf_printf(b, "PipeDream plan for %s: %zu nodes, %zu states", p->graph->file,
                  p->graph->n_kept, p->states->n_states);
    if (p->collapsed)
        pp_buf_printf(b, " (branch chains collapsed: %zu nodes folded)", p->n_folded);
    pp_buf_puts(b, "\nmachines ");
    for (size_t l = 0; l < o->n_levels; l++)
        pp_buf_printf(b, "%s%zu", l ? " x " : "", o->machines[l]);
    pp_buf_puts(b, " (innermost first), bandwidth ");
    for (size_t l = 0; l < o->n_levels; l++) {
        pp_buf_puts(b, l ? ", " : "");
        fmt_bw(b, o->bandwidth_bps[l]);
    }
    pp_buf_puts(b, "; transfers ");
    if (o->compression > 0)
        pp_buf_printf(b, "modelled (compression %g)", o->compression);
    else
        pp_buf_puts(b, "ignored (no --activation_compression_ratio)");
    if (o->use_memory_constraint)
        pp_buf_printf(b, "; memory %g bytes per machine", o->memory_bytes);
    pp_buf_printf(b, "%s%s\n\n", o->straight ? "; straight" : "",
                  o->fewer_machines ? "; fewer machines allowed" : "");
    if (!pl->feasible) {
        pp_buf_puts(b, "infeasible: ");
        pp_planner_reason(b, p);
        pp_buf_puts(b, "\n");
        return;
    }
    /* Upper levels first: each stage is a group of lower-level pipelines. */
    for (size_t l = o->n_levels; l-- > 1;) {
        pp_buf_printf(b, "level %zu (%zu groups of %zu machines, ", l + 1, o->machines[l],
                      o->machines[l - 1]);
        fmt_bw(b, o->bandwidth_bps[l]);
        pp_buf_printf(b, ")\n  %-8s %-12s %8s %12s %13s %12s %12s\n", "stage", "states", "groups",
                      "compute_ms", "allreduce_ms", "transfer_ms", "stage_ms");
        size_t k = 0;
        for (size_t i = 0; i < pl->n_stages; i++) {
            const struct pp_pdstage *st = &pl->stages[i];
            if (st->level != l)
                continue;
            char rng[40];
            snprintf(rng, sizeof rng, "[%zu, %zu)", st->first_state, st->end_state);
            pp_buf_printf(b, "  %-8zu %-12s %8zu %12.3f %13.3f %12.3f %12.3f\n", k++, rng,
                          st->replicas, st->compute_s * 1e3, st->allreduce_s * 1e3,
                          st->transfer_s * 1e3, st->time_s * 1e3);
        }
        pp_buf_puts(b, "\n");
    }
    if (o->n_levels > 1)
        pp_buf_puts(b, "level 1 (times per minibatch of the enclosing group's pipeline)\n");
    pp_buf_printf(b, "  %-5s %-12s %-30s %6s %5s %11s %13s %12s %10s\n", "stage", "states",
                  "nodes", "#nodes", "gpus", "compute_ms", "allreduce_ms", "transfer_ms",
                  "stage_ms");
    size_t *nodes = pp_xmalloc((p->graph->n_nodes ? p->graph->n_nodes : 1) * sizeof *nodes);
    size_t slowest = 0;
    double worst = -1;
    for (size_t i = 0; i < pl->n_stages; i++) {
        const struct pp_pdstage *st = &pl->stages[i];
        if (st->level != 0)
            continue;
        size_t nn = stage_nodes(p, st->stage_id, nodes);
        char rng[40], names[64];
        snprintf(rng, sizeof rng, "[%zu, %zu)", st->first_state, st->end_state);
        snprintf(names, sizeof names, "%.13s .. %.13s", nn ? p->graph->nodes[nodes[0]].id : "-",
                 nn ? p->graph->nodes[nodes[nn - 1]].id : "-");
        pp_buf_printf(b, "  %-5zu %-12s %-30s %6zu %5zu %11.3f %13.3f %12.3f %10.3f\n",
                      st->stage_id, rng, names, nn, st->gpus, st->compute_s * 1e3,
                      st->allreduce_s * 1e3, st->transfer_s * 1e3, st->time_s * 1e3);
        if (st->time_s > worst) {
            worst = st->time_s;
            slowest = st->stage_id;
        }
    }
    free(nodes);
    pp_buf_puts(b, "\nbottleneck (time per minibatch): ");
    pp_buf_double(b, pl->bottleneck_s);
    if (o->n_levels == 1)
        pp_buf_printf(b, " s (stage %zu)\n", slowest);
    else
        pp_buf_puts(b, " s\n");
    pp_buf_puts(b, "single machine:                  ");
    pp_buf_double(b, pl->single_s);
    pp_buf_printf(b, " s, speed-up %.4gx\n", pl->single_s / pl->bottleneck_s);
    pp_buf_printf(b, "data parallel on %-6zu machines: ", pl->machines_total);
    pp_buf_double(b, pl->data_parallel_s);
    pp_buf_printf(b, " s, pipeline speed-up over it %.4gx\n",
                  pl->data_parallel_s / pl->bottleneck_s);
    pp_buf_printf(b, "machines used: %zu of %zu\n", pl->machines_used, pl->machines_total);
    pp_buf_puts(b, "convert_graph_to_model.py --stage_to_num_ranks_map ");
    pp_planner_rank_map(b, p);
    pp_buf_puts(b, "\n");
}

void pp_planner_report(struct pp_buf *b, const struct pp_planner *p, int json)
{
    if (json)
        report_json(b, p);
    else
        report_table(b, p);
}

static const char *const source_names[] = {"memory-aware DP", "PipeDream straight"};

void pp_planner_report_sim(struct pp_buf *b, const struct pp_planner *p,
                           const struct pp_simplan *s, const struct pp_simplan_opts *o, int json)
{
    const struct pp_pdgraph *pg = p->collapsed ? p->collapsed : p->graph;
    const char *sched = pp_schedule_names()[o->schedule];
    if (json) {
        pp_buf_puts(b, "{\"profile\": ");
        pp_buf_json_str(b, p->graph->file);
        pp_buf_printf(b, ", \"objective\": \"simulated\", \"schedule\": \"%s\", \"devices\": %zu, "
                         "\"microbatches\": %zu, ",
                      sched, o->devices, o->microbatches);
        json_num(b, "memory_size_bytes", o->memory_bytes > 0 ? o->memory_bytes : INFINITY, 1);
        pp_buf_printf(b, "\"feasible\": %s, \"best\": ", s->best != SIZE_MAX ? "true" : "false");
        if (s->best != SIZE_MAX)
            pp_buf_printf(b, "%zu", s->best);
        else
            pp_buf_puts(b, "null");
        pp_buf_puts(b, ", \"candidates\": [");
        for (size_t i = 0; i < s->n_cands; i++) {
            const struct pp_simplan_cand *c = &s->cands[i];
            pp_buf_printf(b, "%s{\"data_parallel\": %zu, \"stages\": %zu, \"source\": \"%s\", "
                             "\"fits\": %s, ",
                          i ? ", " : "", c->dp, c->stages, source_names[c->source],
                          c->fits ? "true" : "false");
            json_num(b, "iteration_s", c->iteration_s, 1);
            json_num(b, "allreduce_s", c->allreduce_s, 1);
            json_num(b, "per_minibatch_s", c->per_minibatch_s, 1);
            json_num(b, "peak_memory_bytes", c->peak_bytes, 1);
            pp_buf_puts(b, "\"end_states\": [");
            for (size_t q = 0; q < c->stages; q++)
                pp_buf_printf(b, "%s%zu", q ? ", " : "", c->cuts[q]);
            pp_buf_puts(b, "]}");
        }
        pp_buf_puts(b, "]}\n");
        return;
    }
    pp_buf_printf(b, "Simulated plan for %s: %zu nodes, %zu states; %s, %zu microbatches, "
                     "%zu devices, ",
                  p->graph->file, pg->n_kept, p->states->n_states, sched, o->microbatches,
                  o->devices);
    if (o->memory_bytes > 0)
        pp_buf_printf(b, "%g bytes per device\n\n", o->memory_bytes);
    else
        pp_buf_puts(b, "memory unlimited\n\n");
    pp_buf_printf(b, "  %-4s %-6s %-19s %13s %13s %16s %14s  %s\n", "dp", "stages", "split from",
                  "iteration_ms", "allreduce_ms", "per_minibatch_ms", "peak_GB", "fits");
    for (size_t i = 0; i < s->n_cands; i++) {
        const struct pp_simplan_cand *c = &s->cands[i];
        pp_buf_printf(b, "%s %-4zu %-6zu %-19s %13.3f %13.3f %16.4f %14.3f  %s\n",
                      i == s->best ? "*" : " ", c->dp, c->stages, source_names[c->source],
                      c->iteration_s * 1e3, c->allreduce_s * 1e3, c->per_minibatch_s * 1e3,
                      c->peak_bytes / 1e9, c->fits ? "yes" : "NO");
    }
    if (s->best == SIZE_MAX) {
        pp_buf_puts(b, "\ninfeasible: no configuration fits in device memory\n");
        return;
    }
    const struct pp_simplan_cand *c = &s->cands[s->best];
    pp_buf_printf(b, "\nbest: %zu-way data parallel x %zu stages (%s split): %.4f ms per "
                     "minibatch, %.3f ms per iteration, peak %.3f GB per device\n",
                  c->dp, c->stages, source_names[c->source], c->per_minibatch_s * 1e3,
                  c->iteration_s * 1e3, c->peak_bytes / 1e9);
    pp_buf_puts(b, "stage end states:");
    for (size_t q = 0; q < c->stages; q++)
        pp_buf_printf(b, " %zu", c->cuts[q]);
    pp_buf_puts(b, "\n");
}
