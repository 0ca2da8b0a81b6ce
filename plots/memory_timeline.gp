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
