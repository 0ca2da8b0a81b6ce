/* planner.h - `ppsim plan` as a library: graph -> antichain states -> PipeDream
 * DP -> stage layout with node labels, and its table/JSON rendering. */
#ifndef PP_PLANNER_H
#define PP_PLANNER_H

#include <stddef.h>

#include "pdplan.h"

struct pp_pdgraph;
struct pp_antichains;
struct pp_buf;
struct pp_diag;

enum pp_collapse { PP_COLLAPSE_AUTO, PP_COLLAPSE_ALWAYS, PP_COLLAPSE_NEVER };

struct pp_planner_opts {
    struct pp_pdplan_opts dp;
    enum pp_collapse collapse;
    size_t max_states; /* AUTO collapses past this many states; 0 = default */
};

struct pp_planner {
    struct pp_pdgraph *graph;     /* as read */
    struct pp_pdgraph *collapsed; /* what was planned when branches were collapsed, else NULL */
    size_t n_folded;              /* nodes folded into branch nodes */
    struct pp_antichains *states;
    struct pp_pdplan *plan;
    size_t *node_stage;           /* per node of `graph`: stage id, SIZE_MAX = none */
    struct pp_planner_opts opts;
};

#define PP_PLANNER_DEFAULT_MAX_STATES 20000

int pp_planner_run(const char *graph_path, const struct pp_planner_opts *o,
                   struct pp_planner **out, struct pp_diag *d);
void pp_planner_free(struct pp_planner *p);

/* Label each node of p->graph with the first of n_stages stages (given by
 * their end states, exclusive, in order) whose closure holds it; SIZE_MAX for
 * nodes in none. node_stage has p->graph->n_nodes entries. */
void pp_planner_label(const struct pp_planner *p, const size_t *end_states, size_t n_stages,
                      size_t *node_stage);

/* Human table or one JSON object. An infeasible plan renders its reason. */
void pp_planner_report(struct pp_buf *b, const struct pp_planner *p, int json);
/* One line: why nothing fits (for stderr and the JSON `reason`). */
void pp_planner_reason(struct pp_buf *b, const struct pp_planner *p);
/* PipeDream's convert_graph_to_model.py --stage_to_num_ranks_map: "0:3,1:1". */
void pp_planner_rank_map(struct pp_buf *b, const struct pp_planner *p);

struct pp_simplan;
struct pp_simplan_opts;
/* The simulated objective's candidates and the best configuration. */
void pp_planner_report_sim(struct pp_buf *b, const struct pp_planner *p,
                           const struct pp_simplan *s, const struct pp_simplan_opts *o, int json);

#endif
