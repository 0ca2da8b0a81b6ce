/* cmd_plot.c - `ppsim plot KIND INPUT -o DIR`: the plots of docs/plots.md
 * from a sweep CSV or a scenario, through gnuplot. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "csvtab.h"
#include "diag.h"
#include "plot.h"
#include "run.h"
#include "scenario.h"
#include "schedule.h"
#include "xalloc.h"
#include "yamlutil.h"

static const char usage[] =
    "Usage: ppsim plot KIND INPUT -o DIR [OPTIONS]\n"
    "Draw a plot with gnuplot: DIR/KIND.png (or .svg, .pdf), with KIND.dat and the\n"
    "script KIND.gp beside it (restyle and re-run: cd DIR && gnuplot KIND.gp).\n"
    "\n"
    "Kinds (INPUT is a sweep CSV from `ppsim sweep -f csv`, or a scenario):\n"
    "  throughput SWEEP.csv      throughput against microbatches, a curve per schedule\n"
    "  bubble SWEEP.csv          bubble fraction against microbatches, a curve per schedule\n"
    "  heatmap SWEEP.csv         throughput over microbatches x stages, a cell per pair\n"
    "  sweep SWEEP.csv           every plot above that the sweep supports (what\n"
    "                            `ppsim sweep --plot DIR` writes)\n"
    "  memory SWEEP.csv          peak memory against microbatches, a curve per schedule\n"
    "  memory SCENARIO.yaml      peak memory per device, a bar group per schedule\n"
    "  gantt SCENARIO.yaml       one iteration: a row per device, ops coloured by kind\n"
    "  memory-timeline SCENARIO.yaml   each device's memory over one iteration\n"
    "\n"
    "  -o, --output DIR         write the files in DIR (created if missing); required\n"
    "  -t, --terminal T         png (default), svg or pdf\n"
    "      --x COLUMN           sweep kinds: the x axis (default microbatches)\n"
    "      --y COLUMN           the result to plot (throughput, bubble, memory), or\n"
    "                           the heatmap's y axis (default stages)\n"
    "      --by COLUMN          one curve per value of COLUMN (default schedule)\n"
    "      --z COLUMN           heatmap colour (default throughput_samples_per_s)\n"
    "      --where COL=VALUE    sweep kinds: keep only rows with that value (repeatable)\n"
    "      --schedules LIST     memory of a scenario: the schedules to compare, e.g.\n"
    "                           1f1b,zb-h1,zb-v:chunks=2 (NAME:KEY=VALUE sets a\n"
    "                           pipeline key for that schedule only); default: the\n"
    "                           scenario's own\n"
    "      --set KEY.PATH=VALUE scenario kinds: override a scenario key (repeatable)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Sweep rows whose status is not ok are skipped (counted on stderr). Needs gnuplot\n"
    "(apt-get install gnuplot-nox). Exit status: 0 ok, 1 bad input, 2 usage.\n";

enum kind { K_THROUGHPUT, K_BUBBLE, K_HEATMAP, K_SWEEP, K_MEMORY, K_GANTT, K_TIMELINE, K_COUNT };
static const char *const kind_names[] = {"throughput", "bubble", "heatmap", "sweep", "memory",
                                         "gantt", "memory-timeline", NULL};

struct opts {
    enum kind kind;
    const char *input, *dir, *schedules;
    enum pp_plot_term term;
    struct pp_plot_sweep sw;
    const char **sets, **where;
    size_t n_sets, n_where;
    int csv; /* the input is a sweep CSV */
};

static int ends_with_csv(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && (strcmp(s + n - 4, ".csv") == 0 || strcmp(s + n - 4, ".CSV") == 0);
}

static void wrote(const char *dir, const char *stem, enum pp_plot_term term)
{
    fprintf(stderr, "ppsim: wrote %s%s%s.%s\n", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
            stem, pp_plot_term_name(term));
}

static void skipped_note(const struct pp_plot_sweep *sw)
{
    if (sw->n_not_ok)
        fprintf(stderr, "ppsim plot: skipped %zu row%s whose status is not ok\n", sw->n_not_ok,
                sw->n_not_ok == 1 ? "" : "s");
    if (sw->n_filtered)
        fprintf(stderr, "ppsim plot: %zu row%s dropped by --where\n", sw->n_filtered,
                sw->n_filtered == 1 ? "" : "s");
}

static int plot_csv(struct opts *o)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_csvtab *t = NULL;
    int rc = pp_csvtab_load(o->input, &t, &d);
    const char *stems[4];
    int n_stems = 0;
    if (rc == 0) {
        switch (o->kind) {
        case K_SWEEP: rc = pp_plot_sweep_all(t, &o->sw, o->dir, stems, &n_stems, &d); break;
        case K_THROUGHPUT: rc = pp_plot_throughput(t, &o->sw, o->dir, &d); break;
        case K_BUBBLE: rc = pp_plot_bubble(t, &o->sw, o->dir, &d); break;
        case K_HEATMAP: rc = pp_plot_heatmap(t, &o->sw, o->dir, &d); break;
        default: rc = pp_plot_memory_sweep(t, &o->sw, o->dir, &d); break;
        }
    }
    pp_csvtab_free(t);
    if (rc)
        return pp_cli_fail(&d, rc);
    skipped_note(&o->sw);
    if (o->kind == K_SWEEP)
        for (int i = 0; i < n_stems && i < 4; i++)
            wrote(o->dir, stems[i], o->term);
    else
        wrote(o->dir, kind_names[o->kind], o->term);
    return PP_EXIT_OK;
}

static int plot_run(struct opts *o)
{
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_scenario *sc = NULL;
    struct pp_run *run = NULL;
    int rc = pp_scenario_load(o->input, o->sets, o->n_sets, &sc, &d);
    if (rc == 0)
        rc = pp_run_scenario(sc, 1, &run, &d);
    if (rc == 0)
        rc = o->kind == K_GANTT ? pp_plot_gantt_term(run, o->dir, o->term, &d)
                                : pp_plot_memory_timeline(run, o->dir, o->term, &d);
    int status = rc ? pp_cli_fail(&d, rc) : PP_EXIT_OK;
    if (rc == 0) {
        wrote(o->dir, o->kind == K_GANTT ? "gantt" : "memory-timeline", o->term);
        if (!run->fits_memory)
            fprintf(stderr, "ppsim plot: note: over device memory: %s\n",
                    run->infeasible_reason);
    }
    pp_run_free(run);
    pp_scenario_free(sc);
    return status;
}

/* One entry of --schedules: NAME or NAME:KEY=VALUE[:KEY=VALUE...]; a KEY
 * without a dot is under pipeline. */
struct entry {
    char *label;
    const char **sets;
    size_t n_sets;
    char **owned;
    size_t n_owned;
};

static int parse_entry(const char *spec, const struct opts *o, struct entry *e)
{
    char *copy = pp_xstrdup(spec), *save = NULL;
    char *name = strtok_r(copy, ":", &save);
    e->sets = pp_xcalloc(o->n_sets + strlen(spec) + 2, sizeof *e->sets);
    e->owned = pp_xcalloc(strlen(spec) + 2, sizeof *e->owned);
    for (size_t i = 0; i < o->n_sets; i++)
        e->sets[e->n_sets++] = o->sets[i];
    int rc = 0;
    if (!name || pp_schedule_from_name(name) < 0) {
        const char *s = name ? pp_suggest(name, pp_schedule_names()) : NULL;
        rc = pp_cli_usage("plot", "--schedules: unknown schedule '%s'%s%s%s", name ? name : "",
                          s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        free(copy);
        return rc;
    }
    size_t len = strlen(name) + 20;
    char *set = pp_xmalloc(len);
    snprintf(set, len, "pipeline.schedule=%s", name);
    e->owned[e->n_owned++] = set;
    e->sets[e->n_sets++] = set;
    struct pp_buf label;
    pp_buf_init(&label);
    pp_buf_puts(&label, name);
    for (char *kv; (kv = strtok_r(NULL, ":", &save)) != NULL;) {
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            pp_buf_free(&label);
            free(copy);
            return pp_cli_usage("plot", "--schedules: '%s' in '%s': expected KEY=VALUE", kv,
                                spec);
        }
        size_t n = strlen(kv) + 16;
        char *full = pp_xmalloc(n);
        int dotted = memchr(kv, '.', (size_t)(eq - kv)) != NULL;
        snprintf(full, n, "%s%s", dotted ? "" : "pipeline.", kv);
        e->owned[e->n_owned++] = full;
        e->sets[e->n_sets++] = full;
        pp_buf_printf(&label, ", %s", kv);
    }
    e->label = pp_xstrdup(label.data);
    pp_buf_free(&label);
    free(copy);
    return 0;
}

static void entry_free(struct entry *e)
{
    for (size_t i = 0; i < e->n_owned; i++)
        free(e->owned[i]);
    free(e->owned);
    free(e->sets);
    free(e->label);
}

static int plot_memory_runs(struct opts *o)
{
    size_t n = 1;
    const char *list = o->schedules;
    for (const char *p = list ? list : ""; *p; p++)
        n += *p == ',';
    struct entry *es = pp_xcalloc(n, sizeof *es);
    struct pp_scenario **scs = pp_xcalloc(n, sizeof *scs);
    struct pp_run **runs = pp_xcalloc(n, sizeof *runs);
    const char **labels = pp_xcalloc(n, sizeof *labels);
    size_t n_runs = 0, n_entries = 0;
    int status = PP_EXIT_OK;
    if (list) {
        char *copy = pp_xstrdup(list), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok && status == PP_EXIT_OK;
             tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            status = parse_entry(tok, o, &es[n_entries]);
            n_entries++;
        }
        free(copy);
        if (status == PP_EXIT_OK && n_entries == 0)
            status = pp_cli_usage("plot", "--schedules: empty list");
    }
    struct pp_diag d = {{0}, 0, 0, {0}};
    if (status == PP_EXIT_OK && !list) {
        /* the scenario's own schedule */
        es[0].sets = pp_xcalloc(o->n_sets + 1, sizeof *es[0].sets);
        for (size_t i = 0; i < o->n_sets; i++)
            es[0].sets[es[0].n_sets++] = o->sets[i];
        n_entries = 1;
    }
    for (size_t i = 0; i < n_entries && status == PP_EXIT_OK; i++) {
        int rc = pp_scenario_load(o->input, es[i].sets, es[i].n_sets, &scs[n_runs], &d);
        if (rc == 0)
            rc = pp_run_scenario(scs[n_runs], 0, &runs[n_runs], &d);
        /* An unreadable or malformed scenario (or a misspelt key) is the
         * user's to fix; a schedule that cannot run it is skipped. */
        if (rc == -PP_EIO || rc == -PP_EPARSE || (rc && !list)) {
            status = pp_cli_fail(&d, rc);
            break;
        }
        if (rc) {
            char line[1024];
            fprintf(stderr, "ppsim plot: skipping %s: %s\n", es[i].label,
                    pp_diag_format(&d, line, sizeof line));
            if (strstr(d.msg, "chunks") && !strchr(es[i].label, ','))
                fprintf(stderr, "ppsim plot: (give %s its own chunk count: --schedules "
                                "...,%s:chunks=2)\n",
                        es[i].label, es[i].label);
            pp_run_free(runs[n_runs]);
            runs[n_runs] = NULL;
            pp_scenario_free(scs[n_runs]);
            scs[n_runs] = NULL;
            continue;
        }
        labels[n_runs] = es[i].label ? es[i].label : pp_schedule_name(scs[n_runs]->schedule);
        n_runs++;
    }
    if (status == PP_EXIT_OK && n_runs == 0) {
        pp_diag_set(&d, PP_EINVAL, o->input, 0, 0, "memory: none of the schedules could run");
        status = pp_cli_fail(&d, -PP_EINVAL);
    }
    if (status == PP_EXIT_OK) {
        int rc = pp_plot_memory((const struct pp_run *const *)runs, labels, n_runs, o->dir,
                                o->term, &d);
        if (rc)
            status = pp_cli_fail(&d, rc);
        else
            wrote(o->dir, "memory", o->term);
    }
    for (size_t i = 0; i < n; i++) {
        pp_run_free(runs[i]);
        pp_scenario_free(scs[i]);
        entry_free(&es[i]);
    }
    free(es);
    free(scs);
    free(runs);
    free(labels);
    return status;
}

/* Options that make no sense for the kind are usage errors, not silence. */
static int check_applicable(const struct opts *o, int seen_x, int seen_y, int seen_by,
                            int seen_z)
{
    const char *bad = NULL;
    if (o->csv) {
        if (o->n_sets)
            bad = "--set";
        else if (o->schedules)
            bad = "--schedules";
        else if (seen_z && o->kind != K_HEATMAP)
            bad = "--z";
        else if (seen_by && o->kind == K_HEATMAP)
            bad = "--by";
        else if ((seen_y || seen_z) && o->kind == K_SWEEP)
            bad = seen_y ? "--y" : "--z";
    } else {
        if (seen_x || seen_y || seen_by || seen_z || o->n_where)
            bad = seen_x ? "--x" : seen_y ? "--y" : seen_by ? "--by" : seen_z ? "--z" : "--where";
        else if (o->schedules && o->kind != K_MEMORY)
            bad = "--schedules";
    }
    if (bad)
        return pp_cli_usage("plot", "%s does not apply to '%s' with %s input", bad,
                            kind_names[o->kind], o->csv ? "a sweep CSV" : "a scenario");
    return 0;
}

int pp_cmd_plot(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"output", required_argument, NULL, 'o'},   {"terminal", required_argument, NULL, 't'},
        {"x", required_argument, NULL, 'X'},        {"y", required_argument, NULL, 'Y'},
        {"by", required_argument, NULL, 'B'},       {"z", required_argument, NULL, 'Z'},
        {"where", required_argument, NULL, 'W'},    {"schedules", required_argument, NULL, 'S'},
        {"set", required_argument, NULL, 's'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o;
    memset(&o, 0, sizeof o);
    o.sets = pp_xcalloc((size_t)argc + 1, sizeof *o.sets);
    o.where = pp_xcalloc((size_t)argc + 1, sizeof *o.where);
    int c, status = -1, seen_x = 0, seen_y = 0, seen_by = 0, seen_z = 0;
    optind = 0;
    opterr = 0;
    while (status < 0 && (c = getopt_long(argc, argv, "o:t:h", lopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.dir = optarg; break;
        case 't': {
            int t = pp_plot_term_from_name(optarg);
            if (t < 0)
                status = pp_cli_usage("plot", "unknown terminal '%s' (png, svg or pdf)", optarg);
            o.term = (enum pp_plot_term)(t < 0 ? 0 : t);
            break;
        }
        case 'X': o.sw.x = optarg, seen_x = 1; break;
        case 'Y': o.sw.y = optarg, seen_y = 1; break;
        case 'B': o.sw.by = optarg, seen_by = 1; break;
        case 'Z': o.sw.z = optarg, seen_z = 1; break;
        case 'W': o.where[o.n_where++] = optarg; break;
        case 'S': o.schedules = optarg; break;
        case 's': o.sets[o.n_sets++] = optarg; break;
        case 'h':
            fputs(usage, stdout);
            status = PP_EXIT_OK;
            break;
        default:
            if (optopt)
                status = pp_cli_usage("plot", "option '-%c' is unknown or needs a value", optopt);
            else
                status = pp_cli_usage("plot", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (status < 0 && argc - optind < 1)
        status = pp_cli_usage("plot", "missing plot kind (%s, %s, %s, %s, %s, %s or %s)",
                              kind_names[0], kind_names[1], kind_names[2], kind_names[3],
                              kind_names[4], kind_names[5], kind_names[6]);
    if (status < 0) {
        const char *k = argv[optind];
        int i = 0;
        while (kind_names[i] && strcmp(kind_names[i], k) != 0)
            i++;
        if (!kind_names[i]) {
            const char *s = pp_suggest(k, kind_names);
            status = pp_cli_usage("plot", "unknown plot kind '%s'%s%s%s", k,
                                  s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        o.kind = (enum kind)i;
    }
    if (status < 0 && argc - optind != 2)
        status = pp_cli_usage("plot", argc - optind < 2 ? "%s: missing input file"
                                                        : "%s: expected one input file",
                              kind_names[o.kind]);
    if (status < 0 && !o.dir)
        status = pp_cli_usage("plot", "missing -o DIR (where the plot goes)");
    if (status < 0) {
        o.input = argv[optind + 1];
        o.csv = o.kind <= K_SWEEP || (o.kind == K_MEMORY && ends_with_csv(o.input));
        o.sw.where = o.where;
        o.sw.n_where = o.n_where;
        o.sw.term = o.term;
        int rc = check_applicable(&o, seen_x, seen_y, seen_by, seen_z);
        if (rc)
            status = rc;
    }
    if (status < 0) {
        /* before any work: a missing gnuplot should not cost a simulation */
        struct pp_diag d = {{0}, 0, 0, {0}};
        int rc = pp_plot_check_gnuplot(&d);
        if (rc)
            status = pp_cli_fail(&d, rc);
    }
    if (status < 0)
        status = o.csv ? plot_csv(&o) : o.kind == K_MEMORY ? plot_memory_runs(&o) : plot_run(&o);
    free(o.sets);
    free(o.where);
    return status;
}
