/* main.c - ppsim's entry point: global options and subcommand dispatch only. */
#include <getopt.h>
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "limits.h"
#include "pp_config.h"

static const char usage[] =
    "Usage: ppsim [--help] [--version] COMMAND [ARGS]\n"
    "Predict how pipeline-parallel training of a neural network will behave.\n"
    "\n"
    "Commands:\n"
    "  simulate SCENARIO.yaml   replay one training iteration under any schedule\n"
    "  plot KIND INPUT -o DIR   gnuplot figures: throughput, bubble, heatmap, memory, sweep\n"
    "                           (from a sweep CSV); gantt, memory-timeline, memory (scenario)\n"
    "  plan -f GRAPH -n N ...   choose stage splits: PipeDream's optimizer, same flags\n"
    "  model show|export FILE   inspect or convert a cost model (ppsim YAML, PipeDream graph.txt)\n"
    "  model transformer ...    per-layer costs of a GPT from its shape and a GPU; model gpus\n"
    "  calibrate --profile P --measurements M   fit a calibration to measured runs\n"
    "  calibrate generator --layers CSV --gpu NAME   fit the generator's efficiency factors\n"
    "  schedule export|check    write or check a PyTorch pipelining schedule CSV\n"
    "  sweep SCENARIO --grid K=V1,V2   one CSV row per configuration, in parallel\n"
    "  staleness SCENARIO|--stages S   weight delays of a schedule (PipeDream theory)\n"
    "  converge SCENARIO.yaml   stale block-SGD (PD, RPD, LocalSGD, sync) in simulated time\n"
    "  bound --L X --G X ...    convergence bound of Randomized PipeDream (reconstructed)\n"
    "  bench                    measure the simulator's speed and memory\n"
    "\n"
    "Run 'ppsim COMMAND --help' for a command's options; 'man ppsim' for the scenario schema.\n"
    "Exit status: 0 ok, 1 bad input or failed run, 2 usage, 3 infeasible (e.g. out of memory).\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    gsl_set_error_handler_off();
    pp_limits_install_signals();
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return PP_EXIT_OK;
        case 'V':
            printf("ppsim %s (zb-auto ILP: %s; MPI sweeps: %s)\nLicense GPL-3.0-or-later: this is free "
                   "software; there is NO WARRANTY.\n",
                   PP_VERSION, PP_HAVE_GLPK ? "GLPK" : "not built",
                   PP_HAVE_MPI ? "yes" : "not built");
            return PP_EXIT_OK;
        default:
            return pp_cli_usage(NULL, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return pp_cli_usage(NULL, "missing command");
    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (strcmp(cmd, "simulate") == 0)
        return pp_cmd_simulate(sub_argc, sub_argv);
    if (strcmp(cmd, "plot") == 0)
        return pp_cmd_plot(sub_argc, sub_argv);
    if (strcmp(cmd, "plan") == 0)
        return pp_cmd_plan(sub_argc, sub_argv);
    if (strcmp(cmd, "schedule") == 0)
        return pp_cmd_schedule(sub_argc, sub_argv);
    if (strcmp(cmd, "converge") == 0)
        return pp_cmd_converge(sub_argc, sub_argv);
    if (strcmp(cmd, "sweep") == 0)
        return pp_cmd_sweep(sub_argc, sub_argv);
    if (strcmp(cmd, "staleness") == 0)
        return pp_cmd_staleness(sub_argc, sub_argv);
    if (strcmp(cmd, "bound") == 0)
        return pp_cmd_bound(sub_argc, sub_argv);
    if (strcmp(cmd, "model") == 0)
        return pp_cmd_model(sub_argc, sub_argv);
    if (strcmp(cmd, "calibrate") == 0)
        return pp_cmd_calibrate(sub_argc, sub_argv);
    if (strcmp(cmd, "bench") == 0)
        return pp_cmd_bench(sub_argc, sub_argv);
    if (strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return PP_EXIT_OK;
    }
    return pp_cli_usage(NULL, "unknown command '%s'", cmd);
}
