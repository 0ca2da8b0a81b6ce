/* plot_gantt.c - one simulated iteration as a Gantt chart (plots/gantt.gp),
 * drawn like the Zero Bubble and DualPipe papers' figures: a row per device,
 * boxes coloured by op kind, darker for later chunks, the microbatch inside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "partition.h"
#include "plot.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"
#include "xalloc.h"

extern const char pp_gantt_template[];

/* Kind codes of gantt.dat (plots/gantt.gp draws them in this order). */
enum {
    G_F, G_B, G_BI, G_BW, G_RECOMPUTE, G_OPTIM, G_ALLREDUCE, G_SEND_ACT, G_SEND_GRAD, G_KINDS
};
/* Parts of a device row. */
enum { ROW_FULL, ROW_UPPER, ROW_LOWER, ROW_LINK };

/* Big plans make gnuplot slow and the picture unreadable. */
#define MAX_BOXES 400000

struct gantt {
    const struct pp_plan *plan;
    struct pp_buf *dat;
    int used[G_KINDS];
    int overlapped;
    size_t n_boxes;
};

static int variant_of(const struct pp_plan *plan, int piece)
{
    int copy = piece / plan->n_pieces, k = piece % plan->n_pieces;
    return copy * plan->chunks + k / plan->n_devices;
}

static void box(struct gantt *g, int dev, pp_time s, pp_time e, int kind, int variant, int mb,
                int part)
{
    if (e <= s)
        return;
    pp_buf_printf(g->dat, "%d ", dev);
    pp_plot_num(g->dat, (double)s / 1e6);
    pp_buf_puts(g->dat, " ");
    pp_plot_num(g->dat, (double)e / 1e6);
    pp_buf_printf(g->dat, " %d %d %d %d\n", kind, variant, mb, part);
    g->used[kind] = 1;
    g->overlapped |= part == ROW_UPPER;
    g->n_boxes++;
}

/* The re-forward a recomputed piece's backward starts with (sim.c's setup). */
static double redo_ms(const struct pp_run *r, int piece)
{
    const struct pp_piece *p = &r->part->pieces[piece % r->plan->n_pieces];
    switch (r->cfg.recompute) {
    case PP_RECOMPUTE_FULL: return p->forward_ms;
    case PP_RECOMPUTE_SELECTIVE: return p->recompute_forward_ms;
    case PP_RECOMPUTE_NONE: break;
    }
    return 0;
}

static void compute_op(struct gantt *g, const struct pp_run *r, int dv, size_t o)
{
    const struct pp_op *op = &g->plan->ops[o];
    const struct pp_span *s = &r->res->spans[o];
    int v = op->piece >= 0 ? variant_of(g->plan, op->piece) : 0;
    int mb = op->mb;
    switch ((enum pp_op_kind)op->kind) {
    case PP_OP_F: box(g, dv, s->start_ns, s->end_ns, G_F, v, mb, ROW_FULL); break;
    case PP_OP_B:
    case PP_OP_BI: {
        int kind = op->kind == PP_OP_B ? G_B : G_BI;
        pp_time split = s->start_ns + pp_ms_to_ns(redo_ms(r, op->piece));
        if (split > s->end_ns)
            split = s->end_ns;
        box(g, dv, s->start_ns, split, G_RECOMPUTE, v, mb, ROW_FULL);
        box(g, dv, split, s->end_ns, kind, v, mb, ROW_FULL);
        break;
    }
    case PP_OP_BW: box(g, dv, s->start_ns, s->end_ns, G_BW, v, mb, ROW_FULL); break;
    case PP_OP_FB:
        box(g, dv, s->start_ns, s->end_ns, G_F, v, mb, ROW_UPPER);
        box(g, dv, s->start_ns, s->end_ns, G_B, variant_of(g->plan, op->piece2), op->mb2,
            ROW_LOWER);
        break;
    case PP_OP_OPTIM: box(g, dv, s->start_ns, s->end_ns, G_OPTIM, 0, -1, ROW_FULL); break;
    case PP_OP_ALLREDUCE: box(g, dv, s->start_ns, s->end_ns, G_ALLREDUCE, 0, -1, ROW_FULL); break;
    case PP_OP_KIND_COUNT: break;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The first quartile of the compute ops' durations (0 when there are none). */
static double quartile_ms(const struct pp_run *r)
{
    const struct pp_plan *plan = r->plan;
    double *dur = pp_xmalloc((plan->n_ops + 1) * sizeof *dur);
    size_t n = 0;
    for (size_t o = 0; o < plan->n_ops; o++) {
        int k = plan->ops[o].kind;
        const struct pp_span *s = &r->res->spans[o];
        if (k != PP_OP_OPTIM && k != PP_OP_ALLREDUCE && s->end_ns > s->start_ns)
            dur[n++] = (double)(s->end_ns - s->start_ns) / 1e6;
    }
    qsort(dur, n, sizeof *dur, cmp_double);
    double q = n ? dur[n / 4] : 0;
    free(dur);
    return q;
}

static void variant_names(struct pp_buf *gp, const struct pp_plan *plan)
{
    int nv = plan->copies * plan->chunks;
    pp_buf_printf(gp, "nvariants = %d\narray variant_name[%d] = [", nv, nv);
    for (int v = 0; v < nv; v++) {
        char name[64];
        int copy = v / plan->chunks, chunk = v % plan->chunks;
        if (plan->copies > 1 && plan->chunks > 1)
            snprintf(name, sizeof name, "%s, chunk %d", copy ? "reverse" : "forward", chunk);
        else if (plan->copies > 1)
            snprintf(name, sizeof name, "%s direction", copy ? "reverse" : "forward");
        else
            snprintf(name, sizeof name, "chunk %d", chunk);
        pp_buf_puts(gp, v ? ", " : "");
        pp_plot_gp_str(gp, name);
    }
    pp_buf_puts(gp, "]\n");
}

int pp_plot_gantt_term(const struct pp_run *r, const char *dir, enum pp_plot_term term,
                       struct pp_diag *d)
{
    if (!r->res->spans)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "the run kept no op spans to plot");
    const struct pp_plan *plan = r->plan;
    size_t boxes = plan->n_ops + r->res->n_transfers;
    if (boxes > MAX_BOXES)
        return pp_diag_set(d, PP_ENOMEM, NULL, 0, 0,
                           "gantt: %zu ops and transfers are too many to draw (at most %d); "
                           "plot fewer microbatches or stages",
                           boxes, MAX_BOXES);
    struct pp_buf dat, gp;
    pp_buf_init(&dat);
    pp_buf_init(&gp);
    struct gantt g = {plan, &dat, {0}, 0, 0};
    pp_buf_printf(&dat, "# gantt.dat - one iteration of %s, written by ppsim\n"
                        "# device start_ms end_ms kind variant microbatch part\n"
                        "# kind: 0 F, 1 B, 2 B (input gradient), 3 W (weight gradient), "
                        "4 recompute, 5 optimizer, 6 all-reduce,\n"
                        "#       7 send activations, 8 send gradients\n"
                        "# variant: copy * chunks + chunk of the op's model piece; microbatch "
                        "-1 for per-device ops\n"
                        "# part: 0 whole row, 1 upper half (F of an overlapped F&B), 2 lower "
                        "half (its B), 3 link strip under the row\n",
                  pp_schedule_name(plan->kind));
    size_t max_ops = 1;
    for (int dv = 0; dv < plan->n_devices; dv++) {
        size_t before = g.n_boxes;
        for (size_t o = plan->dev_first[dv]; o < plan->dev_first[dv + 1]; o++)
            compute_op(&g, r, dv, o);
        if (g.n_boxes - before > max_ops)
            max_ops = g.n_boxes - before;
    }
    for (size_t i = 0; i < r->res->n_transfers; i++) {
        const struct pp_transfer *t = &r->res->transfers[i];
        box(&g, t->src_dev, t->start_ns, t->end_ns, t->backward ? G_SEND_GRAD : G_SEND_ACT,
            variant_of(plan, t->piece), t->mb, ROW_LINK);
    }

    const struct pp_scenario *sc = r->sc;
    char title[400];
    snprintf(title, sizeof title,
             "%s: %s, %d stages x %d chunk%s, %lld microbatches, iteration %.6g ms, bubble %.3g",
             sc->name && sc->name[0] ? sc->name : "ppsim", pp_schedule_name(plan->kind),
             plan->n_devices, plan->chunks, plan->chunks == 1 ? "" : "s",
             (long long)plan->n_microbatches, r->iteration_time_ms, r->bubble_fraction);
    /* Wide enough that three in four compute boxes fit a two-digit label
     * (18 px), within 1200 to 4000 px. */
    double q = quartile_ms(r), span_ms = (double)r->res->makespan_ns / 1e6;
    double w = q > 0 ? 220 + 18 * span_ms / q : 1200;
    int width = w < 1200 ? 1200 : w > 4000 ? 4000 : (int)w;
    int height = 170 + 60 * plan->n_devices;
    height = height > 4000 ? 4000 : height;
    pp_plot_script_head(&gp, "gantt", term, width, height, title);
    pp_buf_printf(&gp, "ndevices = %d\noverlapped = %d\nxmax = ", plan->n_devices, g.overlapped);
    pp_plot_num(&gp, (double)r->res->makespan_ns / 1e6);
    pp_buf_puts(&gp, "\n");
    variant_names(&gp, plan);
    pp_buf_printf(&gp, "array kind_used[%d] = [", G_KINDS);
    for (int k = 0; k < G_KINDS; k++)
        pp_buf_printf(&gp, "%s%d", k ? ", " : "", g.used[k]);
    pp_buf_puts(&gp, "]\n");
    pp_plot_script_tail(&gp, pp_gantt_template);

    int rc = pp_plot_render_term(dir, "gantt", term, dat.data, dat.len, gp.data, gp.len, d);
    pp_buf_free(&dat);
    pp_buf_free(&gp);
    return rc;
}

int pp_plot_gantt(const struct pp_run *r, const char *dir, struct pp_diag *d)
{
    return pp_plot_gantt_term(r, dir, PP_PLOT_PNG, d);
}
