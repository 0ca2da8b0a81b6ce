/* antichain.h - PipeDream's antichain DAG: the planner's index space.
 *
 * A state is an antichain of the model graph (a frontier of finished layers),
 * "augmented" with the earlier layers whose outputs are still needed beyond it
 * (skip connections). States are ordered exactly as PipeDream orders them (BFS
 * discovery, then DFS reverse post-order, children in discovery order), so
 * split indices can be compared literally with its printout; the only freedom
 * left, Python's set order of the extra nodes, is taken as file order here.
 * Spec: pipedream-optimizer.md §2. */
#ifndef PP_ANTICHAIN_H
#define PP_ANTICHAIN_H

#include <stddef.h>
#include <stdint.h>

struct pp_pdgraph;
struct pp_diag;

struct pp_antichains {
    size_t n_states;
    /* Per state, cumulative over the state's closure (the augmented antichain
     * and all its ancestors): compute (fwd+bwd, seconds), activation and weight
     * bytes; and out_bytes, the bytes crossing a cut right after the state
     * (the augmented antichain's outputs). PipeDream's C, Act, Par and Out. */
    double *compute_s, *act_bytes, *par_bytes, *out_bytes;
    /* Strict ancestors of each state in the antichain DAG, as bitsets of
     * `words` 64-bit words per state: bit k of row j set = k is an ancestor. */
    uint64_t *anc;
    size_t words;
    /* The augmented antichain of state s: aug[aug_first[s] .. aug_first[s+1]),
     * node indices of the graph. */
    size_t *aug_first, *aug;
    /* Graph-node ancestor bitsets (strict), node_words words per node. */
    uint64_t *node_anc;
    size_t node_words;
};

/* Enumerate the states of g. Fails with -PP_EINFEASIBLE when there are more
 * than max_states (PipeDream's blow-up on Inception/NASNet; collapse first). */
int pp_antichains_build(const struct pp_pdgraph *g, size_t max_states, struct pp_antichains **out,
                        struct pp_diag *d);
void pp_antichains_free(struct pp_antichains *a);

/* Mark closure(state s) in bits (node_words words, cleared by the caller). */
void pp_antichains_closure(const struct pp_antichains *a, size_t s, uint64_t *bits);

/* PipeDream's range quantity over states i..j from a per-state cumulative
 * array (C, Act or Par): prefix[j] - prefix[i-1], with prefix[-1] = 0. */
static inline double pp_state_range(const double *prefix, size_t i, size_t j)
{
    return i == 0 ? prefix[j] : prefix[j] - prefix[i - 1];
}

static inline int pp_bit(const uint64_t *bits, size_t i)
{
    return (int)((bits[i >> 6] >> (i & 63)) & 1u);
}

#endif
