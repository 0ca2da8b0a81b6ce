/* plot.h - plots through gnuplot: ppsim writes a .dat file and a script built
 * from a template in plots/, runs `gnuplot`, and leaves both beside the PNG so
 * users can restyle and re-run it. */
#ifndef PP_PLOT_H
#define PP_PLOT_H

#include <stddef.h>

struct pp_run;
struct pp_diag;

/* Write DIR/gantt.dat, DIR/gantt.gp and DIR/gantt.png (one iteration, one row
 * per device). The run must have been made with record_spans. DIR is created
 * if missing. Each file appears complete or not at all. */
int pp_plot_gantt(const struct pp_run *r, const char *dir, struct pp_diag *d);

/* Write DIR/STEM.dat and DIR/STEM.gp, run gnuplot on the script (which must
 * honour the `outfile` variable) and rename its PNG to DIR/STEM.png. DIR is
 * created if missing; each file appears complete or not at all. */
int pp_plot_render(const char *dir, const char *stem, const char *dat, size_t dat_len,
                   const char *script, size_t script_len, struct pp_diag *d);

#endif
