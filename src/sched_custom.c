/* sched_custom.c - replay a schedule imported from a file (pipeline.schedule_file,
 * PyTorch's CSV: schedcsv.h). The import already placed the pieces and checked
 * the op order; this generator only copies that plan into the one
 * pp_plan_build validates and the engine runs. */
#include <string.h>

#include "schedule.h"

int pp_sched_custom(const struct pp_sched_params *p, struct pp_plan *plan, struct pp_diag *d)
{
    const struct pp_plan *src = p->custom;
    (void)d;
    if (src->copies == 2)
        pp_plan_set_copies(plan);
    memcpy(plan->piece_device, src->piece_device,
           (size_t)src->copies * (size_t)src->n_pieces * sizeof *plan->piece_device);
    if (src->mb_copy && plan->mb_copy)
        memcpy(plan->mb_copy, src->mb_copy, (size_t)src->n_microbatches * sizeof *plan->mb_copy);
    plan->weights = src->weights;
    plan->wrap_dep_every = src->wrap_dep_every;
    for (int dv = 0; dv < src->n_devices; dv++) {
        for (size_t o = src->dev_first[dv]; o < src->dev_first[dv + 1]; o++) {
            const struct pp_op *op = &src->ops[o];
            if (op->kind == PP_OP_FB)
                pp_plan_push_fb(plan, dv, op->piece, op->mb, op->piece2, op->mb2);
            else
                pp_plan_push(plan, dv, (enum pp_op_kind)op->kind, op->piece, op->mb);
        }
    }
    return 0;
}

const char *pp_sched_custom_check(const struct pp_sched_params *p, const char **key)
{
    const struct pp_plan *src = p->custom;
    if (!src) {
        *key = "schedule_file";
        return "no schedule was imported (the custom schedule replays pipeline.schedule_file)";
    }
    if (src->n_devices != p->stages) {
        *key = "stages";
        return "the schedule file has one row per rank, and its row count differs from stages";
    }
    if (src->n_pieces != p->stages * p->chunks) {
        *key = "chunks";
        return "the schedule file's stage count differs from stages x chunks";
    }
    if (src->n_microbatches != p->microbatches) {
        *key = "microbatches";
        return "the schedule file runs a different number of microbatches";
    }
    if (src->copies == 2 && !src->mb_copy) {
        *key = "schedule_file";
        return "the imported plan has two model copies but no microbatch-to-copy map";
    }
    return NULL;
}
