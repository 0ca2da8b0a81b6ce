# memory.gp - written by ppsim; memory.dat holds the data. Restyle and re-run in
# this directory with: gnuplot memory.gp   (or: gnuplot -e "term='svg'" memory.gp)
stem = 'memory'
if (!exists("term")) term = 'png'
if (!exists("width")) width = 1000
if (!exists("height")) height = 650
datafile = 'memory.dat'
title_text = 'plot-test: peak memory per device, 4 stages, 8 microbatches'
ndevices = 4
ngroups = 4
devmem_gb = 4
maxpeak_gb = 2.4000000000000004
array group_name[4] = ['gpipe', '1f1b', 'zb-h1', 'zb-v, chunks=2']

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

# memory.gp - peak memory per device, one bar group per schedule (devices
# left to right), the static share (parameters, gradients, optimizer state)
# hatched, and the device memory as a dashed line. ppsim writes memory.dat
# beside the script (rows: group device peak_memory_bytes static_bytes) and
# the variables above this template.
if (!exists("ndevices")) ndevices = 1
if (!exists("ngroups")) ngroups = 1
if (!exists("devmem_gb")) devmem_gb = 0
if (!exists("maxpeak_gb")) maxpeak_gb = 0

array pal[8] = [0x4477AA, 0xEE6677, 0x228833, 0xCCBB44, 0x66CCEE, 0xAA3377, 0x999999, 0x222222]
show_limit = devmem_gb > 0 && devmem_gb <= 2.5 * maxpeak_gb
limit_title = devmem_gb <= 0 ? "" : sprintf("device memory %.4g GB%s", devmem_gb, show_limit ? "" : " (above the plot)")
bw = 0.8 / ndevices
barx(g, d) = g + (d - (ndevices - 1) / 2.0) * bw
col(d) = pal[int(d) % 8 + 1]

set title title_text
set ylabel "peak memory per device (GB = 10^9 bytes)"
set xrange [-0.6 : ngroups - 0.4]
set yrange [0 : *]
set xtics nomirror scale 0 (group_name[1] 0)
if (ngroups > 1) set for [g = 2 : ngroups] xtics add (group_name[g] g - 1)
set ytics nomirror out
set grid ytics lc rgb "#DDDDDD"
set key outside bottom center horizontal samplen 2 width 2
set border 3

plot datafile u (barx($1, $2)):($3 * 0.5e-9):(bw / 2):($3 * 0.5e-9):(col($2)) \
         with boxxyerror fs solid 1.0 border lc rgb "#333333" lc rgb variable notitle, \
     '' u (barx($1, $2)):($4 * 0.5e-9):(bw / 2):($4 * 0.5e-9) \
         with boxxyerror fs transparent pattern 4 noborder lc rgb "#000000" notitle, \
     for [i = 0 : (ndevices <= 16 ? ndevices - 1 : -1)] NaN with boxes fs solid 1.0 \
         lc rgb sprintf("#%06x", pal[i % 8 + 1]) title sprintf("device %d", i), \
     NaN with boxes fs transparent pattern 4 lc rgb "#000000" title "static: weights, gradients, optimizer", \
     (show_limit ? devmem_gb : NaN) with lines dt 2 lw 1.5 lc rgb "black" title limit_title
