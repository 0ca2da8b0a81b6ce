#!/usr/bin/env python3
"""Embed a text file as a C string: embed.py SYMBOL INPUT OUTPUT.

The gnuplot templates live in plots/ so users can read and edit them; the
binary carries a copy so it never has to find its install directory."""
import sys

sym, src, dst = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as f:
    f.write('/* generated from %s by tools/embed.py; do not edit */\n' % src.split('/')[-1])
    f.write('const char %s[] =\n' % sym)
    for line in data.decode('utf-8').splitlines(True):
        esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
        f.write('    "%s"\n' % esc)
    f.write('    "";\n')
