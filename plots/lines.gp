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
