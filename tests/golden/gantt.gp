# gantt.gp - written by ppsim; gantt.dat holds the data. Restyle and re-run in
# this directory with: gnuplot gantt.gp   (or: gnuplot -e "term='svg'" gantt.gp)
stem = 'gantt'
if (!exists("term")) term = 'png'
if (!exists("width")) width = 1200
if (!exists("height")) height = 410
datafile = 'gantt.dat'
title_text = 'plot-test: 1f1b, 4 stages x 1 chunk, 8 microbatches, iteration 82.66 ms, bubble 0.413'
ndevices = 4
overlapped = 0
xmax = 82.66
nvariants = 1
array variant_name[1] = ['chunk 0']
array kind_used[9] = [1, 1, 0, 0, 0, 1, 0, 1, 1]

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

# gantt.gp - one simulated iteration as a Gantt chart, one row per device, in
# the style of the Zero Bubble and DualPipe papers' figures. ppsim writes
# gantt.dat beside the script and the variables above this template.
# Data rows: device start_ms end_ms kind variant microbatch part
#   kind: 0 F, 1 B, 2 B (input gradient: zero-bubble "B"), 3 W (weight
#         gradient), 4 recompute (the re-forward a backward starts with),
#         5 optimizer, 6 all-reduce, 7 send activations, 8 send gradients
#   variant: the chunk (and model copy) of the op's piece; later ones darker
#   microbatch: printed inside the box when it fits (-1: per-device op)
#   part: 0 whole row, 1 upper and 2 lower half (an overlapped F&B pair),
#         3 the link strip under the row (what the device sends)
if (!exists("ndevices")) ndevices = 1
if (!exists("xmax")) xmax = 1
if (!exists("nvariants")) nvariants = 1
if (!exists("overlapped")) overlapped = 0

array kind_rgb[9] = [0x77AADD, 0xEE8866, 0xEEDD88, 0x44BB99, 0xBBBBBB, 0x555555, 0x99DDFF, 0x332288, 0xCC3311]
array kind_name[9] = ["F: forward", "B: backward", "B: input gradient", "W: weight gradient", \
                      "recompute (re-forward)", "optimizer step", "all-reduce (data parallel)", \
                      "send activations", "send gradients"]
# Later chunks (and the reverse copy of bidirectional schedules) are the
# kind's colour mixed toward black; their labels turn white.
darken = 0.45
dark(v) = nvariants > 1 ? darken * v / (nvariants - 1) : 0
chan(c, s, t) = int(((c >> s) & 255) * (1 - t))
mix(c, t) = (chan(c, 16, t) << 16) + (chan(c, 8, t) << 8) + chan(c, 0, t)
shade(k, v) = k <= 4 ? mix(kind_rgb[k + 1], dark(v)) : kind_rgb[k + 1]
labcol(k, v) = (k <= 4 && dark(v) > 0.25) ? 0xFFFFFF : 0x000000

# Device i is row i (device 0 on top); ops fill [i - h, i + h], an overlapped
# pair splits it in halves, sends run in a thin strip below.
h = 0.32
ylo(d, p) = p == 2 ? d : p == 3 ? d + h + 0.05 : d - h
yhi(d, p) = p == 1 ? d : p == 3 ? d + h + 0.15 : d + h
ymid(d, p) = (ylo(d, p) + yhi(d, p)) / 2
yhalf(d, p) = (yhi(d, p) - ylo(d, p)) / 2

# A microbatch number is printed when its box is wide enough for it.
px_per_ms = (width - 220.0) / xmax
fits(s, e, mb) = (e - s) * px_per_ms >= 6.5 * strlen(sprintf("%d", mb)) + 3
lab(s, e, mb, p) = (mb < 0 || p == 3 || !fits(s, e, mb)) ? "" : sprintf("%d", mb)

set title title_text
set xlabel "time (ms)" offset 0, 0.4
set xrange [0 : xmax]
set xtics nomirror out
set mxtics
set grid xtics lc rgb "#DDDDDD"
set yrange [ndevices - 0.42 : -0.55]
set ytics nomirror scale 0 ("device 0" 0)
if (ndevices > 1) set for [i = 1 : ndevices - 1] ytics add (sprintf("device %d", i) i)
set key outside bottom center horizontal maxrows 3 samplen 1.5 spacing 1.1 width 3
set border 3

plot datafile u (($7 < 3) ? ($2 + $3) / 2 : NaN):(ymid($1, $7)):(($3 - $2) / 2):(yhalf($1, $7)):(shade($4, $5)) \
         with boxxyerror fs solid 1.0 border lc rgb "#333333" lc rgb variable notitle, \
     '' u (($7 == 3) ? ($2 + $3) / 2 : NaN):(ymid($1, $7)):(($3 - $2) / 2):(yhalf($1, $7)):(shade($4, $5)) \
         with boxxyerror fs solid 0.85 noborder lc rgb variable notitle, \
     '' u (($2 + $3) / 2):(ymid($1, $7)):(lab($2, $3, $6, $7)):(labcol($4, $5)) \
         with labels font ",8" tc rgb variable notitle, \
     for [k = 1 : 9] NaN with boxes fs solid 1.0 border lc rgb "#333333" lc rgb kind_rgb[k] \
         title (kind_used[k] ? kind_name[k] : ""), \
     for [v = 2 : nvariants] NaN with boxes fs solid 1.0 border lc rgb "#333333" lc rgb shade(0, v - 1) \
         title (v <= nvariants ? sprintf("%s: darker shade", variant_name[v]) : ""), \
     NaN with boxes fs empty border lc rgb "#333333" \
         title (overlapped ? "overlapped F&B: F above, B below" : "")
