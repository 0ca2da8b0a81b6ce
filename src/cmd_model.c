/* cmd_model.c - `ppsim model show|export FILE`: inspect a cost model or convert
 * one (e.g. a PipeDream graph.txt) to ppsim's per-layer YAML. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "costmodel.h"
#include "diag.h"

static const char usage[] =
    "Usage: ppsim model show FILE\n"
    "       ppsim model export FILE [-o OUT.yaml]\n"
    "Read a cost model (ppsim per-layer YAML or PipeDream graph.txt).\n"
    "  show     print one line per layer and the totals\n"
    "  export   write it as ppsim per-layer YAML (graph.txt is linearised in\n"
    "           topological order; output_bytes = bytes crossing a cut after the layer)\n"
    "  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
    "  -h, --help          show this help\n";

static void show(struct pp_buf *b, const struct pp_costmodel *cm)
{
    double f = 0, bi = 0, bw = 0, act = 0, par = 0;
    pp_buf_printf(b, "%-6s %-24s %11s %11s %11s %14s %14s %14s\n", "layer", "name", "fwd ms",
                  "bwd-in ms", "bwd-w ms", "act bytes", "out bytes", "param bytes");
    for (size_t i = 0; i < cm->n_layers; i++) {
        const struct pp_layer *l = &cm->layers[i];
        pp_buf_printf(b, "%-6zu %-24.24s %11.6g %11.6g %11.6g %14.6g %14.6g %14.6g\n", i, l->name,
                      l->forward_ms, l->backward_input_ms, l->backward_weight_ms,
                      l->activation_bytes, l->output_bytes, l->parameter_bytes);
        f += l->forward_ms;
        bi += l->backward_input_ms;
        bw += l->backward_weight_ms;
        act += l->activation_bytes;
        par += l->parameter_bytes;
    }
    pp_buf_printf(b, "%-6s %-24s %11.6g %11.6g %11.6g %14.6g %14s %14.6g\n", "total",
                  cm->source ? cm->source : "", f, bi, bw, act, "", par);
}

int pp_cmd_model(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
        if (c == 'o') {
            out_path = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return PP_EXIT_OK;
        } else {
            return pp_cli_usage("model", "unknown option '%s'", argv[optind - 1]);
        }
    }
    /* Options may also follow the file: getopt stops at the action word. */
    if (argc - optind < 2)
        return pp_cli_usage("model", "expected 'show FILE' or 'export FILE'");
    const char *action = argv[optind], *file = argv[optind + 1];
    int rest = optind + 2;
    optind = 0;
    while (rest < argc) {
        if ((strcmp(argv[rest], "-o") == 0 || strcmp(argv[rest], "--output") == 0) &&
            rest + 1 < argc) {
            out_path = argv[rest + 1];
            rest += 2;
        } else {
            return pp_cli_usage("model", "unexpected argument '%s'", argv[rest]);
        }
    }
    if (strcmp(action, "show") != 0 && strcmp(action, "export") != 0)
        return pp_cli_usage("model", "unknown action '%s' (show or export)", action);
    struct pp_diag d = {{0}, 0, 0, {0}};
    struct pp_costmodel *cm = NULL;
    int rc = pp_costmodel_load(file, &cm, &d);
    if (rc)
        return pp_cli_fail(&d, rc);
    struct pp_buf b;
    pp_buf_init(&b);
    if (action[0] == 's')
        show(&b, cm);
    else
        pp_costmodel_write_yaml(&b, cm);
    int status = pp_cli_emit(&b, out_path);
    pp_buf_free(&b);
    pp_costmodel_free(cm);
    return status;
}
