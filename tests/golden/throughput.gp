# throughput.gp - written by ppsim; throughput.dat holds the data. Restyle and re-run in
# this directory with: gnuplot throughput.gp   (or: gnuplot -e "term='svg'" throughput.gp)
stem = 'throughput'
if (!exists("term")) term = 'png'
if (!exists("width")) width = 1100
if (!exists("height")) height = 680
datafile = 'throughput.dat'
title_text = 'throughput against microbatches (sweep.csv)'
xlabel_text = 'microbatches per iteration'
ylabel_text = 'throughput (samples/s)'
key_title = 'schedule, stages'
xscale = 1
yscale = 1
logx = 1
hline = 0
ncurves = 6
array curve_color[6] = [0, 0, 1, 1, 2, 2]
array curve_style[6] = [0, 1, 0, 1, 0, 1]
array curve_title[6] = ['gpipe, stages=2', 'gpipe, stages=4', '1f1b, stages=2', '1f1b, stages=4', 'zb-h1, stages=2', 'zb-h1, stages=4']

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

# lines.gp - a sweep's result against a configuration column, one curve per
# schedule (throughput, bubble and memory plots). ppsim writes STEM.dat beside
# the script (one block per curve: x y, raw CSV values) and the variables
# above this template; xscale and yscale convert to the axes' units.
if (!exists("ncurves")) ncurves = 1
if (!exists("xscale")) xscale = 1
if (!exists("yscale")) yscale = 1
if (!exists("logx")) logx = 0
if (!exists("hline")) hline = 0

array pal[8] = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#999999", "#222222"]

set title title_text
set xlabel xlabel_text
set ylabel ylabel_text
if (logx) set logscale x 2
set offsets graph 0.03, graph 0.03, graph 0.05, 0
set yrange [0 : *]
set grid lc rgb "#DDDDDD"
set key outside right top vertical title key_title
set xtics nomirror out
set ytics nomirror out
set border 3

# Colour: the `by` value (schedule); marker and dash: the other columns that
# split it (curve_style 0, 1, ...), or the palette's second round past 8.
pt_of(i) = 4 + (curve_style[i] * 2 + curve_color[i] / 8) % 7
dt_of(i) = 1 + (curve_style[i] + curve_color[i] / 8) % 5
plot for [i = 1 : ncurves] datafile index (i - 1) u ($1 * xscale):($2 * yscale) \
         with linespoints lw 2 pt pt_of(i) ps 1.2 lc rgb pal[curve_color[i] % 8 + 1] \
         dt dt_of(i) title curve_title[i], \
     (hline > 0 ? hline : NaN) with lines dt 2 lw 1.5 lc rgb "black" \
         title (hline > 0 ? sprintf("device memory %.4g GB", hline) : "")
