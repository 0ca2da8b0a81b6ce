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
