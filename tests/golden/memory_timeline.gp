# memory-timeline.gp - written by ppsim; memory-timeline.dat holds the data. Restyle and re-run in
# this directory with: gnuplot memory-timeline.gp   (or: gnuplot -e "term='svg'" memory-timeline.gp)
stem = 'memory-timeline'
if (!exists("term")) term = 'png'
if (!exists("width")) width = 1200
if (!exists("height")) height = 700
datafile = 'memory-timeline.dat'
title_text = 'plot-test: memory per device over one iteration, 1f1b, 4 stages, 8 microbatches'
ndevices = 4
xmax = 82.66
devmem_gb = 4
maxpeak_gb = 1.6
array peak_gb[4] = [1.6, 1.4000000000000001, 1.2000000000000002, 1]

# terminal.gp - the output every ppsim plot starts with (prepended to each
# kind's template): term 'png' (pngcairo, the default), 'svg' or 'pdf'
# (pdfcairo, at 72 px per inch), width x height pixels, white background.
# Text is not "enhanced": underscores in names print as they are.
if (!exists("term")) term = 'png'
if (!exists("width")) width = 1200
if (!exists("height")) height = 700
if (!exists("outfile")) outfile = stem . '.' . term
if (term eq 'svg') {
    set terminal svg size width, height noenhanced font "DejaVu Sans,11" background rgb "white"
} else {
    if (term eq 'pdf') {
        set terminal pdfcairo size (width / 72.0), (height / 72.0) noenhanced font "DejaVu Sans,10"
    } else {
        set terminal pngcairo size width, height noenhanced font "DejaVu Sans,10" background rgb "white"
    }
}
set output outfile

# memory_timeline.gp - each device's memory over one simulated iteration:
# static (parameters, gradients, optimizer state) + activations + stashed
# weights, a step line per device. ppsim writes memory-timeline.dat beside the
# script (one block per device: time_ms memory_bytes, each value holding until
# the next point) and the variables above this template.
if (!exists("ndevices")) ndevices = 1
if (!exists("xmax")) xmax = 1
if (!exists("devmem_gb")) devmem_gb = 0
if (!exists("maxpeak_gb")) maxpeak_gb = 0

array pal[8] = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#999999", "#222222"]
# The device-memory line is drawn when it is within reach of the curves;
# otherwise the key only names it, so the curves keep the plot's height.
show_limit = devmem_gb > 0 && devmem_gb <= 2.5 * maxpeak_gb
limit_title = devmem_gb <= 0 ? "" : sprintf("device memory %.4g GB%s", devmem_gb, show_limit ? "" : " (above the plot)")

set title title_text
set xlabel "time (ms)"
set ylabel "memory per device (GB = 10^9 bytes)"
set xrange [0 : xmax]
set yrange [0 : *]
set grid lc rgb "#DDDDDD"
set key outside right top vertical
set xtics nomirror out
set ytics nomirror out
set border 3

plot for [i = 0 : ndevices - 1] datafile index i u 1:($2 * 1e-9) with steps lw 2 \
         lc rgb pal[i % 8 + 1] dt i / 8 + 1 title sprintf("device %d, peak %.4g GB", i, peak_gb[i + 1]), \
     (show_limit ? devmem_gb : NaN) with lines dt 2 lw 1.5 lc rgb "black" title limit_title
