/* plot_memory.c - memory plots of simulated runs: each device's memory over
 * one iteration (plots/memory_timeline.gp) and the peak per device for
 * several schedules side by side (plots/memory.gp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "plot.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"

extern const char pp_memory_timeline_template[];
extern const char pp_memory_template[];

#define MAX_POINTS 1000000

static const char *run_name(const struct pp_run *r)
{
    return r->sc->name && r->sc->name[0] ? r->sc->name : "ppsim";
}

/* The limit line: in GB, or 0 when the scenario sets none. */
static void limit_vars(struct pp_buf *gp, double device_memory_bytes, double max_peak_bytes)
{
    pp_buf_puts(gp, "devmem_gb = ");
    pp_plot_num(gp, device_memory_bytes * 1e-9);
    pp_buf_puts(gp, "\nmaxpeak_gb = ");
    pp_plot_num(gp, max_peak_bytes * 1e-9);
    pp_buf_puts(gp, "\n");
}

int pp_plot_memory_timeline(const struct pp_run *r, const char *dir, enum pp_plot_term term,
                            struct pp_diag *d)
{
    if (!r->res->spans)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "the run kept no op spans to plot");
    const struct pp_plan *plan = r->plan;
    if (2 * plan->n_ops > MAX_POINTS)
        return pp_diag_set(d, PP_ENOMEM, NULL, 0, 0,
                           "memory-timeline: %zu ops are too many to draw (at most %d); plot "
                           "fewer microbatches or stages",
                           plan->n_ops, MAX_POINTS / 2);
    struct pp_buf dat, gp;
    pp_buf_init(&dat);
    pp_buf_init(&gp);
    double end_ms = (double)r->res->makespan_ns / 1e6, max_peak = 0;
    pp_buf_printf(&dat, "# memory-timeline.dat - device memory over one iteration of %s, "
                        "written by ppsim\n"
                        "# one block per device (gnuplot index = device): time_ms memory_bytes,\n"
                        "# memory = static (parameters, gradients, optimizer state) + "
                        "activations + stashed weights,\n"
                        "# holding from each point's time to the next one's\n",
                  pp_schedule_name(plan->kind));
    for (int dv = 0; dv < plan->n_devices; dv++) {
        const struct pp_device_result *dr = &r->res->dev[dv];
        double st = dr->static_bytes;
        if (dr->peak_memory_bytes > max_peak)
            max_peak = dr->peak_memory_bytes;
        pp_buf_printf(&dat, "%s# device %d: static %.10g bytes, peak %.10g bytes\n",
                      dv ? "\n\n" : "", dv, st, dr->peak_memory_bytes);
        pp_buf_puts(&dat, "0 ");
        pp_plot_num(&dat, st);
        pp_buf_puts(&dat, "\n");
        double last = st;
        for (size_t o = plan->dev_first[dv]; o < plan->dev_first[dv + 1]; o++) {
            const struct pp_span *s = &r->res->spans[o];
            pp_plot_num(&dat, (double)s->start_ns / 1e6);
            pp_buf_puts(&dat, " ");
            pp_plot_num(&dat, st + (double)s->mem_start_bytes);
            pp_buf_puts(&dat, "\n");
            pp_plot_num(&dat, (double)s->end_ns / 1e6);
            pp_buf_puts(&dat, " ");
            last = st + (double)s->mem_end_bytes;
            pp_plot_num(&dat, last);
            pp_buf_puts(&dat, "\n");
        }
        pp_plot_num(&dat, end_ms);
        pp_buf_puts(&dat, " ");
        pp_plot_num(&dat, last);
        pp_buf_puts(&dat, "\n");
    }
    char title[400];
    snprintf(title, sizeof title, "%s: memory per device over one iteration, %s, %d stages, "
             "%lld microbatches",
             run_name(r), pp_schedule_name(plan->kind), plan->n_devices,
             (long long)plan->n_microbatches);
    pp_plot_script_head(&gp, "memory-timeline", term, 1200, 700, title);
    pp_buf_printf(&gp, "ndevices = %d\nxmax = ", plan->n_devices);
    pp_plot_num(&gp, end_ms);
    pp_buf_puts(&gp, "\n");
    limit_vars(&gp, r->sc->device_memory_bytes, max_peak);
    pp_buf_printf(&gp, "array peak_gb[%d] = [", plan->n_devices);
    for (int dv = 0; dv < plan->n_devices; dv++) {
        pp_buf_puts(&gp, dv ? ", " : "");
        pp_plot_num(&gp, r->res->dev[dv].peak_memory_bytes * 1e-9);
    }
    pp_buf_puts(&gp, "]\n");
    pp_plot_script_tail(&gp, pp_memory_timeline_template);
    int rc = pp_plot_render_term(dir, "memory-timeline", term, dat.data, dat.len, gp.data,
                                 gp.len, d);
    pp_buf_free(&dat);
    pp_buf_free(&gp);
    return rc;
}

int pp_plot_memory(const struct pp_run *const *runs, const char *const *labels, size_t n_runs,
                   const char *dir, enum pp_plot_term term, struct pp_diag *d)
{
    if (n_runs == 0)
        return pp_diag_set(d, PP_EINVAL, NULL, 0, 0, "memory: no runs to plot");
    int ndev = 0;
    double max_peak = 0;
    for (size_t i = 0; i < n_runs; i++) {
        if (runs[i]->res->n_devices > ndev)
            ndev = runs[i]->res->n_devices;
        for (int dv = 0; dv < runs[i]->res->n_devices; dv++)
            if (runs[i]->res->dev[dv].peak_memory_bytes > max_peak)
                max_peak = runs[i]->res->dev[dv].peak_memory_bytes;
    }
    struct pp_buf dat, gp;
    pp_buf_init(&dat);
    pp_buf_init(&gp);
    pp_buf_puts(&dat, "# memory.dat - peak memory per device, one group per schedule, written "
                      "by ppsim\n"
                      "# group device peak_memory_bytes static_bytes (static: parameters, "
                      "gradients, optimizer state)\n");
    for (size_t i = 0; i < n_runs; i++) {
        const struct pp_sim_result *res = runs[i]->res;
        pp_buf_printf(&dat, "# %zu: ", i);
        pp_plot_dat_text(&dat, labels ? labels[i] : pp_schedule_name(runs[i]->plan->kind));
        pp_buf_puts(&dat, runs[i]->fits_memory ? "\n" : " (over device memory)\n");
        for (int dv = 0; dv < res->n_devices; dv++) {
            pp_buf_printf(&dat, "%zu %d ", i, dv);
            pp_plot_num(&dat, res->dev[dv].peak_memory_bytes);
            pp_buf_puts(&dat, " ");
            pp_plot_num(&dat, res->dev[dv].static_bytes);
            pp_buf_puts(&dat, "\n");
        }
    }
    const struct pp_run *r0 = runs[0];
    char title[400];
    snprintf(title, sizeof title, "%s: peak memory per device, %d stages, %lld microbatches",
             run_name(r0), r0->sc->stages, (long long)r0->sc->microbatches);
    int width = (int)(n_runs * (size_t)ndev * 22 + 300);
    width = width < 1000 ? 1000 : width > 4000 ? 4000 : width;
    pp_plot_script_head(&gp, "memory", term, width, 650, title);
    pp_buf_printf(&gp, "ndevices = %d\nngroups = %zu\n", ndev, n_runs);
    limit_vars(&gp, r0->sc->device_memory_bytes, max_peak);
    pp_buf_printf(&gp, "array group_name[%zu] = [", n_runs);
    for (size_t i = 0; i < n_runs; i++) {
        pp_buf_puts(&gp, i ? ", " : "");
        pp_plot_gp_str(&gp, labels ? labels[i] : pp_schedule_name(runs[i]->plan->kind));
    }
    pp_buf_puts(&gp, "]\n");
    pp_plot_script_tail(&gp, pp_memory_template);
    int rc = pp_plot_render_term(dir, "memory", term, dat.data, dat.len, gp.data, gp.len, d);
    pp_buf_free(&dat);
    pp_buf_free(&gp);
    return rc;
}
