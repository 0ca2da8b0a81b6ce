/* report.c - table, CSV and JSON renderings of a run (stage 5).
 * The JSON and CSV columns are an output contract (docs/output.md): add keys,
 * never rename them. Machine formats print round-trip numbers in the C locale. */
#include "report.h"

#include "provenance.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "costmodel.h"
#include "partition.h"
#include "pp_config.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"

int pp_format_from_name(const char *name)
{
    if (strcmp(name, "table") == 0)
        return PP_FMT_TABLE;
    if (strcmp(name, "csv") == 0)
        return PP_FMT_CSV;
    if (strcmp(name, "json") == 0)
        return PP_FMT_JSON;
    return -1;
}

static double ns_ms(pp_time t)
{
    return (double)t / 1e6;
}

/* The closed form's bubble: the same busy time spread over the analytic makespan. */
static double analytic_bubble(const struct pp_run *r)
{
    double busy_ms = 0;
    for (int dv = 0; dv < r->res->n_devices; dv++)
        busy_ms += ns_ms(r->res->dev[dv].busy_ns);
    double t = r->analytic.iteration_ms;
    return t > 0 ? 1.0 - busy_ms / (r->res->n_devices * t) : 0;
}

static void device_layers(const struct pp_run *r, int dv, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < r->part->n_pieces; k++) {
        if (r->plan->piece_device[k] != dv)
            continue;
        const struct pp_piece *pc = &r->part->pieces[k];
        int n = snprintf(out + used, len - used, "%s%zu-%zu", used ? "," : "", pc->first_layer,
                         pc->first_layer + pc->n_layers - 1);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

static const char *partition_mode_name(enum pp_partition_mode m)
{
    switch (m) {
    case PP_PARTITION_BALANCED: return "balanced";
    case PP_PARTITION_EXPLICIT: return "explicit";
    case PP_PARTITION_PIPEDREAM: return "pipedream";
    case PP_PARTITION_AUTO: return "auto";
    }
    return "?";
}

/* Which planner chose the split, and where each piece starts (by layer name:
 * a planned split re-orders the layers, so indices alone would mislead). */
static void planned_split(struct pp_buf *b, const struct pp_run *r)
{
    const struct pp_scenario *sc = r->sc;
    if (sc->partition_mode != PP_PARTITION_PIPEDREAM && sc->partition_mode != PP_PARTITION_AUTO)
        return;
    pp_buf_printf(b, "partition %s: %s %.6g ms; pieces start at", partition_mode_name(sc->partition_mode),
                  sc->partition_mode == PP_PARTITION_AUTO
                      ? "the simulated objective's best split, predicted iteration"
                      : "PipeDream's straight DP, slowest stage",
                  r->autopart.predicted_s * 1e3);
    for (size_t k = 0; k < r->part->n_pieces; k++) {
        const char *name = r->model->layers[r->part->pieces[k].first_layer].name;
        pp_buf_printf(b, " %s", name ? name : "?");
    }
    pp_buf_puts(b, "\n\n");
}

void pp_report_table(struct pp_buf *b, const struct pp_run *r)
{
    const struct pp_scenario *sc = r->sc;
    pp_buf_printf(b, "ppsim %s: %s%s%s\n", PP_VERSION, sc->name[0] ? sc->name : "scenario",
                  sc->file ? " from " : "", sc->file ? sc->file : "");
    pp_buf_printf(b, "schedule %s, %d stages x %d chunk%s on %d devices (data-parallel %d), "
                     "%lld microbatches of %.6g samples, %zu layers\n\n",
                  pp_schedule_name(sc->schedule), sc->stages, sc->chunks, sc->chunks == 1 ? "" : "s",
                  sc->devices, r->data_parallel, (long long)sc->microbatches, sc->microbatch_size,
                  sc->model->n_layers);
    planned_split(b, r);
    double a_tput = r->analytic.iteration_ms > 0
                        ? sc->microbatches * sc->microbatch_size * r->data_parallel /
                              (r->analytic.iteration_ms / 1e3)
                        : 0;
    pp_buf_printf(b, "%-26s %14s %14s\n", "", "simulated", "closed form");
    if (r->analytic.iteration_ms > 0) {
        pp_buf_printf(b, "%-26s %14.6g %14.6g\n", "iteration time (ms)", r->iteration_time_ms,
                      r->analytic.iteration_ms);
        pp_buf_printf(b, "%-26s %14.6g %14.6g\n", "throughput (samples/s)",
                      r->throughput_samples_per_s, a_tput);
        pp_buf_printf(b, "%-26s %14.4f %14.4f\n", "bubble fraction", r->bubble_fraction,
                      analytic_bubble(r));
    } else {
        pp_buf_printf(b, "%-26s %14.6g %14s\n", "iteration time (ms)", r->iteration_time_ms, "-");
        pp_buf_printf(b, "%-26s %14.6g %14s\n", "throughput (samples/s)",
                      r->throughput_samples_per_s, "-");
        pp_buf_printf(b, "%-26s %14.4f %14s\n", "bubble fraction", r->bubble_fraction, "-");
    }
    pp_buf_printf(b, "  bubble fraction = 1 - sum(busy) / (devices x iteration time)\n");
    pp_buf_printf(b, "  closed form: %s%s\n", r->analytic.formula,
                  r->analytic.exact ? " (exact here)" : " (estimate)");
    pp_buf_printf(b, "%-26s %14.4f   (T - ideal) / ideal, ideal = busiest device's compute %.6g ms\n",
                  "bubble, Megatron", r->bubble_megatron, r->ideal_ms);
    pp_buf_printf(b, "%-26s %14.4f   (T - ideal) / T\n", "bubble, GPipe", r->bubble_gpipe);
    pp_buf_printf(b, "%-26s %14.4f   (cost - ideal) / cost, cost = largest %s\n",
                  "bubble rate, Zero Bubble", r->zb_bubble_rate,
                  r->zb_cost_uses_span ? "device span (first to last op)" : "makespan from t=0");
    if (r->steady_throughput_samples_per_s > 0)
        pp_buf_printf(b, "%-26s %14.6g   microbatches m/4 .. 3m/4\n",
                      "steady throughput (smp/s)", r->steady_throughput_samples_per_s);
    pp_buf_puts(b, "\n");

    pp_buf_printf(b, "%-6s %-14s %11s %12s %12s %12s %12s  %s\n", "device", "layers", "busy ms",
                  "first ms", "last ms", "peak mem GB", "peak act GB", "memory");
    for (int dv = 0; dv < r->res->n_devices; dv++) {
        const struct pp_device_result *dr = &r->res->dev[dv];
        char layers[64];
        device_layers(r, dv, layers, sizeof layers);
        pp_buf_printf(b, "%-6d %-14s %11.6g %12.6g %12.6g %12.4f %12.4f  %s\n", dv, layers,
                      ns_ms(dr->busy_ns), ns_ms(dr->first_start_ns), ns_ms(dr->last_end_ns),
                      dr->peak_memory_bytes / 1e9, dr->peak_activation_bytes / 1e9,
                      sc->device_memory_bytes <= 0 ? "-" : dr->over_memory ? "OVER" : "fits");
    }
    if (!r->fits_memory)
        pp_buf_printf(b, "\ninfeasible: %s\n", r->infeasible_reason);
}

static const char *const csv_cols =
    "schedule,stages,chunks,devices,microbatches,microbatch_size,iteration_time_ms,"
    "throughput_samples_per_s,bubble_fraction,analytic_iteration_time_ms,fits_memory,device,"
    "busy_ms,first_start_ms,last_end_ms,static_memory_bytes,peak_memory_bytes,"
    "peak_activation_bytes,over_memory,bubble_megatron,bubble_gpipe,zb_bubble_rate,"
    "steady_throughput_samples_per_s,weight_versions\n";

void pp_report_csv(struct pp_buf *b, const struct pp_run *r)
{
    const struct pp_scenario *sc = r->sc;
    pp_buf_puts(b, csv_cols);
    for (int dv = 0; dv < r->res->n_devices; dv++) {
        const struct pp_device_result *dr = &r->res->dev[dv];
        pp_buf_csv_str(b, pp_schedule_name(sc->schedule));
        pp_buf_printf(b, ",%d,%d,%d,%lld,", sc->stages, sc->chunks, sc->devices,
                      (long long)sc->microbatches);
        const double row[] = {sc->microbatch_size, r->iteration_time_ms,
                              r->throughput_samples_per_s, r->bubble_fraction,
                              r->analytic.iteration_ms};
        for (size_t i = 0; i < sizeof row / sizeof row[0]; i++) {
            pp_buf_double(b, row[i]);
            pp_buf_puts(b, ",");
        }
        pp_buf_printf(b, "%d,%d,", r->fits_memory, dv);
        const double dev_row[] = {ns_ms(dr->busy_ns), ns_ms(dr->first_start_ns),
                                  ns_ms(dr->last_end_ns), dr->static_bytes,
                                  dr->peak_memory_bytes, dr->peak_activation_bytes};
        for (size_t i = 0; i < sizeof dev_row / sizeof dev_row[0]; i++) {
            pp_buf_double(b, dev_row[i]);
            pp_buf_puts(b, ",");
        }
        pp_buf_printf(b, "%d,", dr->over_memory);
        const double tail[] = {r->bubble_megatron, r->bubble_gpipe, r->zb_bubble_rate,
                               r->steady_throughput_samples_per_s};
        for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++) {
            pp_buf_double(b, tail[i]);
            pp_buf_puts(b, ",");
        }
        pp_buf_printf(b, "%d\n", dr->weight_versions);
    }
}

static void jkey(struct pp_buf *b, const char *key, int *first)
{
    pp_buf_puts(b, *first ? "" : ",");
    *first = 0;
    pp_buf_puts(b, "\n  ");
    pp_buf_json_str(b, key);
    pp_buf_puts(b, ": ");
}

static void jnum(struct pp_buf *b, const char *key, double v, int *first)
{
    jkey(b, key, first);
    pp_buf_double(b, v);
}

void pp_report_json(struct pp_buf *b, const struct pp_run *r)
{
    const struct pp_scenario *sc = r->sc;
    int first = 1;
    pp_buf_puts(b, "{");
    struct pp_provenance prov = {"simulate", sc, NULL, 0, 0};
    pp_provenance_json(b, &prov);
    first = 0;
    jkey(b, "ppsim_version", &first);
    pp_buf_json_str(b, PP_VERSION);
    jkey(b, "name", &first);
    pp_buf_json_str(b, sc->name);
    jkey(b, "schedule", &first);
    pp_buf_json_str(b, pp_schedule_name(sc->schedule));
    jnum(b, "stages", sc->stages, &first);
    jnum(b, "chunks", sc->chunks, &first);
    jnum(b, "devices", sc->devices, &first);
    jnum(b, "data_parallel", r->data_parallel, &first);
    jnum(b, "microbatches", (double)sc->microbatches, &first);
    jnum(b, "microbatch_size", sc->microbatch_size, &first);
    jnum(b, "layers", (double)sc->model->n_layers, &first);
    jnum(b, "iteration_time_ms", r->iteration_time_ms, &first);
    jnum(b, "throughput_samples_per_s", r->throughput_samples_per_s, &first);
    jnum(b, "bubble_fraction", r->bubble_fraction, &first);
    jkey(b, "bubble_fraction_definition", &first);
    pp_buf_json_str(b, "1 - sum(busy) / (devices * iteration_time)");
    jnum(b, "ideal_ms", r->ideal_ms, &first);
    jnum(b, "bubble_megatron", r->bubble_megatron, &first);
    jnum(b, "bubble_gpipe", r->bubble_gpipe, &first);
    jnum(b, "zb_bubble_rate", r->zb_bubble_rate, &first);
    jkey(b, "zb_bubble_rate_cost", &first);
    pp_buf_json_str(b, r->zb_cost_uses_span ? "device span" : "makespan from 0");
    jnum(b, "steady_throughput_samples_per_s", r->steady_throughput_samples_per_s, &first);
    jnum(b, "analytic_iteration_time_ms", r->analytic.iteration_ms, &first);
    jnum(b, "analytic_bubble_fraction", analytic_bubble(r), &first);
    jkey(b, "analytic_formula", &first);
    pp_buf_json_str(b, r->analytic.formula);
    jkey(b, "analytic_exact", &first);
    pp_buf_puts(b, r->analytic.exact ? "true" : "false");
    jkey(b, "device_memory_bytes", &first);
    if (sc->device_memory_bytes > 0)
        pp_buf_double(b, sc->device_memory_bytes);
    else
        pp_buf_puts(b, "null");
    jkey(b, "fits_memory", &first);
    pp_buf_puts(b, r->fits_memory ? "true" : "false");
    if (!r->fits_memory) {
        jkey(b, "reason", &first);
        pp_buf_json_str(b, r->infeasible_reason);
    }
    jkey(b, "partition", &first);
    pp_buf_puts(b, "[");
    for (size_t k = 0; k < r->part->n_pieces; k++)
        pp_buf_printf(b, "%s%zu", k ? ", " : "", r->part->pieces[k].n_layers);
    pp_buf_puts(b, "]");
    jkey(b, "partition_mode", &first);
    pp_buf_json_str(b, partition_mode_name(sc->partition_mode));
    jkey(b, "piece_first_layers", &first);
    pp_buf_puts(b, "[");
    for (size_t k = 0; k < r->part->n_pieces; k++) {
        const char *name = r->model->layers[r->part->pieces[k].first_layer].name;
        pp_buf_puts(b, k ? ", " : "");
        pp_buf_json_str(b, name ? name : "");
    }
    pp_buf_puts(b, "]");
    jkey(b, "per_device", &first);
    pp_buf_puts(b, "[");
    for (int dv = 0; dv < r->res->n_devices; dv++) {
        const struct pp_device_result *dr = &r->res->dev[dv];
        pp_buf_printf(b, "%s\n    {\"device\": %d, \"busy_ms\": ", dv ? "," : "", dv);
        pp_buf_double(b, ns_ms(dr->busy_ns));
        pp_buf_puts(b, ", \"first_start_ms\": ");
        pp_buf_double(b, ns_ms(dr->first_start_ns));
        pp_buf_puts(b, ", \"last_end_ms\": ");
        pp_buf_double(b, ns_ms(dr->last_end_ns));
        pp_buf_puts(b, ", \"static_memory_bytes\": ");
        pp_buf_double(b, dr->static_bytes);
        pp_buf_puts(b, ", \"peak_memory_bytes\": ");
        pp_buf_double(b, dr->peak_memory_bytes);
        pp_buf_puts(b, ", \"peak_activation_bytes\": ");
        pp_buf_double(b, dr->peak_activation_bytes);
        pp_buf_puts(b, ", \"compute_ms\": ");
        pp_buf_double(b, ns_ms(dr->compute_ns));
        pp_buf_puts(b, ", \"allreduce_ms\": ");
        pp_buf_double(b, ns_ms(dr->allreduce_ns));
        pp_buf_printf(b, ", \"peak_inflight\": %d, \"weight_versions\": %d", dr->peak_inflight,
                      dr->weight_versions);
        pp_buf_printf(b, ", \"over_memory\": %s}", dr->over_memory ? "true" : "false");
    }
    pp_buf_puts(b, "\n  ]\n}\n");
}

void pp_report(struct pp_buf *b, const struct pp_run *r, enum pp_format f)
{
    switch (f) {
    case PP_FMT_TABLE:
        pp_report_table(b, r);
        break;
    case PP_FMT_CSV:
        pp_report_csv(b, r);
        break;
    case PP_FMT_JSON:
        pp_report_json(b, r);
        break;
    }
}
