/* schedv_util.h - helpers of test_sched_v.c: render a device's op list,
 * build through the registry, replay on pieces of one layer each. Include
 * after testutil.h. */
#ifndef PP_SCHEDV_UTIL_H
#define PP_SCHEDV_UTIL_H

#include "simutil.h"

/* "F0.0 BI3.0 FB0.3/3.1 ... OPT": kind, global piece, microbatch. */
static inline void render(const struct pp_plan *p, int dv, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t o = p->dev_first[dv]; o < p->dev_first[dv + 1] && used < len; o++) {
        const struct pp_op *op = &p->ops[o];
        const char *sep = used ? " " : "";
        int n;
        if (op->kind == PP_OP_FB)
            n = snprintf(out + used, len - used, "%sFB%d.%d/%d.%d", sep, op->piece, op->mb,
                         op->piece2, op->mb2);
        else if (op->mb < 0)
            n = snprintf(out + used, len - used, "%s%s", sep, pp_op_kind_name(op->kind));
        else
            n = snprintf(out + used, len - used, "%s%s%d.%d", sep, pp_op_kind_name(op->kind),
                         op->piece, op->mb);
        used += (size_t)n;
    }
}


static inline void check_orders(const struct pp_plan *p, const char *const *want)
{
    char s[1024];
    for (int r = 0; want[r]; r++) {
        render(p, r, s, sizeof s);
        CHECK_STR(s, want[r]);
    }
}

/* Replay plan on pieces of one layer each (F, BI, BW ms; M_B = M_W = 1 byte
 * per microbatch, so activations count in chunk units), latency lat ms. */
static inline struct pp_sim_result *replay(const struct pp_plan *plan, double f, double bi,
                                           double bw, double lat)
{
    struct pp_costmodel *cm = uniform_model((size_t)plan->n_pieces, f, bi, bw, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_sim_result *r = NULL;
    struct pp_diag d;
    struct pp_sim_config cfg = {0};
    cfg.link_latency_ms = lat;
    if (pp_partition_balanced(cm, (size_t)plan->n_pieces, &part, &d) == 0 &&
        pp_sim_run(plan, part, &cfg, &r, &d) != 0)
        fprintf(stderr, "replay failed: %s\n", d.msg);
    pp_partition_free(part);
    free_model(cm);
    return r;
}

/* Largest per-device span, first op start to last op end (ZB's post-validation view, §1). */
static inline pp_time own_span(const struct pp_sim_result *r)
{
    pp_time s = 0;
    for (int dv = 0; dv < r->n_devices; dv++)
        if (r->dev[dv].last_end_ns - r->dev[dv].first_start_ns > s)
            s = r->dev[dv].last_end_ns - r->dev[dv].first_start_ns;
    return s;
}

static inline double max_peak(const struct pp_sim_result *r)
{
    double mx = 0;
    for (int dv = 0; dv < r->n_devices; dv++)
        mx = fmax(mx, r->dev[dv].peak_activation_bytes);
    return mx;
}

/* Device idle time (makespan - busy): the same on every device here. */
static inline pp_time idle_of(const struct pp_sim_result *r, int dv)
{
    return r->makespan_ns - r->dev[dv].busy_ns;
}

#endif
