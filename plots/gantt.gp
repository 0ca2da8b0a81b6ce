# gantt.gp - one simulated iteration as a Gantt chart, one row per device.
# ppsim writes gantt.dat beside this script and sets the variables below in a
# header; edit and re-run with `gnuplot gantt.gp` from that directory.
# Data rows: device start_ms end_ms kind microbatch, kind 0=F 1=B 2=BI 3=BW 4=FB 5=optimizer.
if (!exists("datafile")) datafile = 'gantt.dat'
if (!exists("outfile")) outfile = 'gantt.png'
if (!exists("ndevices")) ndevices = 1
if (!exists("title_text")) title_text = 'ppsim schedule'

set terminal pngcairo size 1200, (140 + 42 * ndevices) font "DejaVu Sans,10"
set output outfile
set title title_text
set xlabel "time (ms)"
set yrange [ndevices - 0.4 : -0.6]
set ytics nomirror
set for [i = 0 : ndevices - 1] ytics add (sprintf("device %d", i) i)
set style fill solid 0.9 border lc rgb "black"
set key outside bottom center horizontal
set grid xtics
h = 0.35
color(k) = k == 0 ? 0x4477AA : k == 1 ? 0xEE6677 : k == 2 ? 0x228833 : k == 3 ? 0xCCBB44 : k == 4 ? 0xAA3377 : 0xBBBBBB
plot datafile u (($2+$3)/2):1:2:3:($1-h):($1+h):(color($4)) with boxxyerror lc rgb variable notitle, \
     '' u (($2+$3)/2):1:(sprintf("%d", $5)) with labels font ",7" tc rgb "white" notitle, \
     NaN with boxes lc rgb "#4477AA" title "forward", \
     NaN with boxes lc rgb "#EE6677" title "backward", \
     NaN with boxes lc rgb "#228833" title "backward (input)", \
     NaN with boxes lc rgb "#CCBB44" title "backward (weight)", \
     NaN with boxes lc rgb "#AA3377" title "overlapped F+B", \
     NaN with boxes lc rgb "#BBBBBB" title "optimizer / all-reduce"
