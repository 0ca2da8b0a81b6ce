# staleness.gp - steady-state delay against the stage count S (log-log), as in
# the PipeDream theory paper's delay-statistics figure (pipedream-theory.md §2.2,
# E1). ppsim writes staleness.dat beside this script and sets the fitted
# coefficients in a header; edit and re-run with `gnuplot staleness.gp`.
# Data rows: S max_delay mean_delay p10_delay
if (!exists("datafile")) datafile = 'staleness.dat'
if (!exists("outfile")) outfile = 'staleness.png'
if (!exists("title_text")) title_text = 'ppsim staleness'
if (!exists("fit_a")) fit_a = 1.0
if (!exists("fit_b")) fit_b = -0.5
if (!exists("fit_c")) fit_c = 0.5

set terminal pngcairo size 900, 640 font "DejaVu Sans,10"
set output outfile
set title title_text
set xlabel "stages S"
set ylabel "delay (global block updates)"
set logscale xy
set key top left
set grid
set samples 400
f_max(x) = fit_a * x**2 + fit_b * x
f_mean(x) = fit_c * x**2
plot datafile u 1:2 with points pt 7 ps 0.9 lc rgb "#EE6677" title "max delay (steady state)", \
     datafile u 1:3 with points pt 5 ps 0.8 lc rgb "#4477AA" title "mean delay (steady state)", \
     datafile u 1:4 with points pt 9 ps 0.8 lc rgb "#228833" title "p10 delay (second half)", \
     f_max(x) with lines lw 1.5 lc rgb "#EE6677" title sprintf("fit %.4g S^2 %+.4g S", fit_a, fit_b), \
     f_mean(x) with lines lw 1.5 lc rgb "#4477AA" title sprintf("fit %.4g S^2", fit_c), \
     x**2 - x/2 with lines dt 2 lc rgb "black" title "S^2 - S/2 (paper)"
