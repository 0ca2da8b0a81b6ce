# converge.gp - f(w) - f* against simulated time, one curve per method (the
# PipeDream theory paper's PD vs LocalSGD figures, pipedream-theory.md §4.2, §5).
# ppsim writes converge.dat (one data block per method, separated by two blank
# lines, each headed by its title) beside this script; re-run with
# `gnuplot converge.gp`. Data rows: time_ms gap.
if (!exists("datafile")) datafile = 'converge.dat'
if (!exists("outfile")) outfile = 'converge.png'
if (!exists("title_text")) title_text = 'ppsim converge'
if (!exists("nmethods")) nmethods = 1
if (!exists("xlabel_text")) xlabel_text = 'simulated time (ms)'

set terminal pngcairo size 900, 640 font "DejaVu Sans,10"
set output outfile
set title title_text
set xlabel xlabel_text
set ylabel "f(w) - f*"
set logscale y
if (exists("logx") && logx) set logscale x 2
set format y "%.0e"
set key top right
set grid
plot for [i = 0 : nmethods - 1] datafile index i u 1:2 with lines lw 1.5 title columnheader(1)
