# heatmap.gp - written by ppsim; heatmap.dat holds the data. Restyle and re-run in
# this directory with: gnuplot heatmap.gp   (or: gnuplot -e "term='svg'" heatmap.gp)
stem = 'heatmap'
if (!exists("term")) term = 'png'
if (!exists("width")) width = 800
if (!exists("height")) height = 500
datafile = 'heatmap.dat'
title_text = 'throughput (samples/s) over stages x microbatches (sweep.csv), best (highest) of each cell''s configurations'
nx = 4
ny = 2
array xlab[4] = ['4', '8', '16', '32']
array ylab[2] = ['2', '4']
xlabel_text = 'microbatches per iteration'
ylabel_text = 'pipeline stages'
zlabel_text = 'throughput (samples/s)'
zscale = 1
zmin = 98.52216748768474
zmax = 155.12895094046928
cell_labels = 1
blank_cells = 0

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

# heatmap.gp - a sweep's result over the grid of two configuration columns,
# each cell labelled with its value; hatched cells had no ok row. ppsim writes
# heatmap.dat beside the script (rows: x_index y_index z label, z raw; the
# indices point into xlab and ylab) and the variables above this template.
if (!exists("zscale")) zscale = 1
if (!exists("cell_labels")) cell_labels = 1
if (!exists("blank_cells")) blank_cells = 0

set title title_text . (blank_cells > 0 ? "\nhatched cells: no configuration with status ok (infeasible or invalid)" : "")
set xlabel xlabel_text
set ylabel ylabel_text
set cblabel zlabel_text
set xrange [-0.5 : nx - 0.5]
set yrange [-0.5 : ny - 0.5]
set xtics scale 0 (xlab[1] 0)
if (nx > 1) set for [i = 2 : nx] xtics add (xlab[i] i - 1)
set ytics scale 0 (ylab[1] 0)
if (ny > 1) set for [i = 2 : ny] ytics add (ylab[i] i - 1)
set palette defined (0 "#440154", 0.25 "#3B528B", 0.5 "#21908C", 0.75 "#5DC863", 1 "#FDE725")
if (zmax > zmin) { set cbrange [zmin : zmax] } else { set cbrange [zmin - 0.5 : zmax + 0.5] }
set object 1 rectangle from graph 0, graph 0 to graph 1, graph 1 behind fc rgb "#BBBBBB" fs pattern 4 noborder
unset key
set tics out nomirror

labcol(v) = (zmax > zmin && (v - zmin) / (zmax - zmin) > 0.6) ? 0x000000 : 0xFFFFFF
plot datafile u 1:2:(0.5):(0.5):($3 * zscale) with boxxyerror fs solid 1.0 border lc rgb "white" lc palette notitle, \
     '' u 1:2:(cell_labels ? stringcolumn(4) : ""):(labcol($3 * zscale)) with labels tc rgb variable font ",9" notitle
