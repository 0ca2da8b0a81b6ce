#!/usr/bin/env python3
"""End-to-end checks of `ppsim plot` and `simulate --plot` (issue 7, "ppsim plot").

Run by `meson test` from tests/: plot_test.py PPSIM [--update-golden].

- The generated gnuplot scripts are golden-tested against tests/golden/*.gp
  (deterministic: no dates, no absolute paths; --update-golden rewrites them).
- Every kind renders: the PNG's IHDR has the width and height the script asks
  for and its pixels (IDAT inflated and unfiltered here, plain Python) hold
  more than one colour; SVG and PDF start with their magic.
- The .dat files carry the right numbers: sweep rows that are not ok are left
  out (and counted on stderr), curves split by a column the x and the schedule
  do not determine, the Gantt chart has every op once and no two ops of a
  device overlap, the memory timeline peaks at each device's reported peak.
- Bad input: one error line, exit 1 (2 for usage), and no files left behind.

Fixtures: plot/split.yaml (a small split-backward scenario), plot/sweep.csv
(`ppsim sweep plot/split.yaml --grid pipeline.schedule=gpipe,1f1b,zb-h1,zb-v
--grid pipeline.microbatches=4,8,16,32 --grid pipeline.stages=2,4`, kept so
the golden scripts do not move with the sweep), plot/quoted.csv (RFC 4180
quoting, a BOM, CRLF, a line break inside a field, no final newline)."""
import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zlib

PPSIM = os.path.abspath(sys.argv[1])
UPDATE = '--update-golden' in sys.argv[2:]
GOLDEN = 'golden'
failures = []
checks = 0


def run(*args, env=None, cwd=None):
    p = subprocess.run([PPSIM, *args], capture_output=True, env=env, cwd=cwd)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def gp_var(script, name):
    """The value of a `name = value` line of a generated script."""
    for line in script.splitlines():
        if line.startswith(name + ' = '):
            return line[len(name) + 3:]
        if line.startswith('if (!exists("%s")) %s = ' % (name, name)):
            return line.split(' = ', 1)[1]
    return None


def dat_blocks(text):
    """gnuplot data blocks (split by two blank lines), rows as lists of fields."""
    blocks, cur, blank = [], [], 0
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        if not line.strip():
            blank += 1
            if blank == 2 and cur:
                blocks.append(cur)
                cur = []
            continue
        blank = 0
        cur.append(line.split())
    if cur:
        blocks.append(cur)
    return blocks


def png_pixels(data):
    """Width, height and the set of distinct pixels of an 8-bit RGB(A) PNG."""
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat, ihdr = 8, b'', None
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], 'big')
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            ihdr = body
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    w, h = int.from_bytes(ihdr[0:4], 'big'), int.from_bytes(ihdr[4:8], 'big')
    depth, ctype = ihdr[8], ihdr[9]
    assert depth == 8 and ctype in (2, 6), f'unexpected PNG format {depth}/{ctype}'
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        if y % 4 == 0:  # every fourth row is plenty to tell a plot from a blank
            colours.update(bytes(line[i:i + bpp]) for i in range(0, stride, bpp * 2))
        prev = line
    return w, h, colours


def check_image(path, script, what, term='png'):
    data = open(path, 'rb').read()
    if term == 'svg':
        check(data.startswith(b'<?xml') and b'<svg' in data[:400], f'{what}: not an SVG')
        return
    if term == 'pdf':
        check(data.startswith(b'%PDF-'), f'{what}: not a PDF')
        return
    w, h, colours = png_pixels(data)
    want = (int(gp_var(script, 'width')), int(gp_var(script, 'height')))
    check((w, h) == want, f'{what}: PNG is {w}x{h}, the script asks for {want}')
    check(len(colours) > 1, f'{what}: the PNG is blank ({len(colours)} colour)')
    # a plot with a legend and coloured series has many colours, a lone
    # frame only a few
    check(len(colours) > 8, f'{what}: only {len(colours)} colours')


def check_golden(script, name):
    path = os.path.join(GOLDEN, name + '.gp')
    if UPDATE:
        with open(path, 'w') as f:
            f.write(script)
        return
    want = open(path).read() if os.path.exists(path) else None
    check(script == want, f'{name}.gp differs from {path} (run plot_test.py PPSIM --update-golden '
                          'after a deliberate change, and look at the images)')


def files(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def simulate_json(*args):
    rc, so, se = run('simulate', *args, '-f', 'json')
    assert rc == 0, se
    return json.loads(so)


GNUPLOT = shutil.which('gnuplot') is not None
SWEEP = 'plot/sweep.csv'
rows = list(csv.DictReader(open(SWEEP, newline='')))
ok_rows = [r for r in rows if r['status'] == 'ok']

# (golden name, argv after `plot`, stem) - each kind, golden-tested and rendered
CASES = [
    ('throughput', ['throughput', SWEEP], 'throughput'),
    ('bubble', ['bubble', SWEEP], 'bubble'),
    ('heatmap', ['heatmap', SWEEP], 'heatmap'),
    ('memory_sweep', ['memory', SWEEP], 'memory'),
    ('throughput_quoted', ['throughput', 'plot/quoted.csv'], 'throughput'),
    ('memory', ['memory', 'plot/split.yaml', '--schedules', 'gpipe,1f1b,zb-h1,zb-v:chunks=2'],
     'memory'),
    ('gantt', ['gantt', 'plot/split.yaml'], 'gantt'),
    ('gantt_zbv', ['gantt', 'plot/split.yaml', '--set', 'pipeline.schedule=zb-v', '--set',
                   'pipeline.chunks=2'], 'gantt'),
    ('gantt_dualpipe', ['gantt', 'plot/split.yaml', '--set', 'pipeline.schedule=dualpipe'],
     'gantt'),
    ('gantt_recompute', ['gantt', 'good/base.yaml', '--set', 'pipeline.recompute=full',
                         '--set', 'pipeline.data_parallel=2', '--set', 'cluster.devices=8',
                         '--set', 'training.optimizer_step_ms=1'], 'gantt'),
    ('memory_timeline', ['memory-timeline', 'plot/split.yaml'], 'memory-timeline'),
]

if not GNUPLOT:
    print('gnuplot not found: plot_test.py needs it (apt-get install gnuplot-nox)')
    sys.exit(77)  # meson: skipped

with tempfile.TemporaryDirectory() as tmp:
    out = {}
    for name, args, stem in CASES:
        d = os.path.join(tmp, name)
        rc, so, se = run('plot', *args, '-o', d)
        check(rc == 0, f'{name}: exit {rc}: {se!r}')
        if rc != 0:
            continue
        check(files(d) == sorted([stem + '.dat', stem + '.gp', stem + '.png']),
              f'{name}: files {files(d)}')
        check(f'wrote {d}/{stem}.png' in se, f'{name}: stderr {se!r}')
        script = open(os.path.join(d, stem + '.gp')).read()
        dat = open(os.path.join(d, stem + '.dat')).read()
        out[name] = (script, dat, se)
        check(tmp not in script and tmp not in dat, f'{name}: an absolute path in the output')
        check_golden(script, name)
        check_image(os.path.join(d, stem + '.png'), script, name)
        # same input, same bytes
        d2 = os.path.join(tmp, name + '_again')
        run('plot', *args, '-o', d2)
        check(open(os.path.join(d2, stem + '.gp')).read() == script and
              open(os.path.join(d2, stem + '.dat')).read() == dat, f'{name}: not deterministic')
        # the script re-runs by hand in its directory, as the header says
        p = subprocess.run(['gnuplot', stem + '.gp'], cwd=d2, capture_output=True)
        check(p.returncode == 0 and os.path.getsize(os.path.join(d2, stem + '.png')) > 1000,
              f'{name}: gnuplot {stem}.gp by hand: {p.stderr[-300:]!r}')

    # --- what the plots show ---
    # throughput: one point per ok row; infeasible and invalid rows are skipped
    # and counted; stages split the schedules' curves (both are swept).
    if 'throughput' in out:
        script, dat, se = out['throughput']
        blocks = dat_blocks(dat)
        pts = sorted((float(x), float(y)) for b in blocks for x, y in b)
        want = sorted((float(r['microbatches']), float(r['throughput_samples_per_s']))
                      for r in ok_rows)
        check(pts == want, f'throughput points {pts} != ok rows {want}')
        n_bad = len(rows) - len(ok_rows)
        check(f'skipped {n_bad} rows whose status is not ok' in se, f'skip count: {se!r}')
        titles = gp_var(script, 'array curve_title[%d]' % len(blocks))
        want_curves = sorted({(r['schedule'], r['stages']) for r in ok_rows})
        check(len(blocks) == len(want_curves), f'{len(blocks)} curves, want {want_curves}')
        check(titles is not None and "'1f1b, stages=2'" in titles, f'curve titles {titles}')
        check(gp_var(script, 'logx') == '1', 'microbatches 4..32: log x axis')
        for b in blocks:
            xs = [float(r[0]) for r in b]
            check(xs == sorted(xs), f'curve not sorted by x: {xs}')
    if 'bubble' in out:
        pts = sorted(float(y) for b in dat_blocks(out['bubble'][1]) for _, y in b)
        check(pts == sorted(float(r['bubble_fraction']) for r in ok_rows), 'bubble points')
    if 'memory_sweep' in out:
        script = out['memory_sweep'][0]
        check(gp_var(script, 'yscale') == '1e-09' and 'GB' in gp_var(script, 'ylabel_text'),
              'memory sweep: bytes shown in GB')
    # quoted.csv: the partition column (quoted "[1,3]") splits the 1f1b rows
    # that share microbatches; the infeasible row with the quoted message is out.
    if 'throughput_quoted' in out:
        script, dat, se = out['throughput_quoted']
        check(dat_blocks(dat) == [[['4', '100.5'], ['8', '110']], [['4', '120'], ['8', '125']]],
              f'quoted.csv curves: {dat_blocks(dat)}')
        check("['1f1b, partition=[1,3]', '1f1b, partition=[2,2]']" in script, 'quoted titles')
        check('skipped 1 row whose status' in se, f'quoted skip: {se!r}')
    # heatmap: one cell per (microbatches, stages) with an ok row, the best
    # (highest) throughput of its schedules; the grid spans all rows.
    if 'heatmap' in out:
        script, dat, se = out['heatmap']
        xs = sorted({int(r['microbatches']) for r in rows if r['microbatches']})
        ys = sorted({int(r['stages']) for r in rows if r['stages']})
        best = {}
        for r in ok_rows:
            k = (xs.index(int(r['microbatches'])), ys.index(int(r['stages'])))
            best[k] = max(best.get(k, 0), float(r['throughput_samples_per_s']))
        got = {(int(a), int(b)): float(z) for a, b, z, _ in dat_blocks(dat)[0]}
        check(got == best, f'heatmap cells {got} != {best}')
        check(gp_var(script, 'nx') == str(len(xs)) and gp_var(script, 'ny') == str(len(ys)),
              'heatmap grid size')
        check('best (highest)' in gp_var(script, 'title_text'), 'heatmap: shared cells named')

    # gantt (1f1b, 4 stages, 8 microbatches): every F and B once per device and
    # microbatch; a device runs one op at a time; boxes inside the iteration.
    sim = simulate_json('plot/split.yaml')
    if 'gantt' in out:
        script, dat, se = out['gantt']
        boxes = [list(map(float, r)) for r in dat_blocks(dat)[0]]
        T = sim['iteration_time_ms']
        check(abs(float(gp_var(script, 'xmax')) - T) < 1e-6, 'gantt xmax = iteration time')
        for dev in range(4):
            ops = sorted((b[1], b[2], int(b[3]), int(b[5])) for b in boxes
                         if b[0] == dev and b[6] != 3)
            for kind in (0, 1):
                mbs = sorted(o[3] for o in ops if o[2] == kind)
                check(mbs == list(range(8)), f'gantt device {dev} kind {kind}: mbs {mbs}')
            check(all(a[1] <= b[0] + 1e-9 for a, b in zip(ops, ops[1:])),
                  f'gantt device {dev}: overlapping ops')
            check(all(0 <= o[0] < o[1] <= T + 1e-9 for o in ops), f'gantt device {dev}: range')
            check(sum(1 for o in ops if o[2] == 5) == 1, f'gantt device {dev}: one optimizer step')
        sends = [b for b in boxes if b[6] == 3]
        # 1F1B, 4 stages: each microbatch crosses 3 cuts forward and 3 backward
        check(len([b for b in sends if b[3] == 7]) == 24 and
              len([b for b in sends if b[3] == 8]) == 24, f'gantt sends: {len(sends)}')
        check(gp_var(script, 'array kind_used[9]') == '[1, 1, 0, 0, 0, 1, 0, 1, 1]',
              f"gantt kinds used: {gp_var(script, 'array kind_used[9]')}")
    # zb-v: two chunks, split backward (B input gradient + W), chunk 1 darker
    if 'gantt_zbv' in out:
        script, dat, se = out['gantt_zbv']
        boxes = [r for r in dat_blocks(dat)[0]]
        check({r[4] for r in boxes if r[3] in ('0', '2', '3')} == {'0', '1'}, 'zb-v: two chunks')
        check(gp_var(script, 'nvariants') == '2' and
              "'chunk 1'" in gp_var(script, 'array variant_name[2]'), 'zb-v variants')
        check(gp_var(script, 'array kind_used[9]').startswith('[1, 0, 1, 1,'), 'zb-v: F, B, W')
    # dualpipe: overlapped F&B pairs drawn as halves, two model copies
    if 'gantt_dualpipe' in out:
        script, dat, se = out['gantt_dualpipe']
        parts = {r[6] for r in dat_blocks(dat)[0]}
        check({'1', '2'} <= parts and gp_var(script, 'overlapped') == '1',
              f'dualpipe: overlapped halves {parts}')
        check("'reverse direction'" in gp_var(script, 'array variant_name[2]'),
              'dualpipe: the reverse copy is named')
    # full recomputation: each backward starts with a re-forward as long as
    # the piece's forward (2 layers x 1 ms), followed by the backward (2 x 2 ms);
    # all-reduce and optimizer boxes appear.
    if 'gantt_recompute' in out:
        boxes = [list(map(float, r)) for r in dat_blocks(out['gantt_recompute'][1])[0]]
        rec = [b for b in boxes if b[3] == 4]
        bwd = [b for b in boxes if b[3] == 1]
        check(len(rec) == 32 and all(abs(b[2] - b[1] - 2.0) < 1e-9 for b in rec),
              f'recompute boxes: {len(rec)}')
        check(all(abs(b[2] - b[1] - 4.0) < 1e-9 for b in bwd), 'backward after recompute: 4 ms')
        check(all(any(abs(r[2] - b[1]) < 1e-9 and r[0] == b[0] for r in rec) for b in bwd),
              'each backward follows its re-forward')
        check(any(b[3] == 6 for b in boxes) and any(b[3] == 5 for b in boxes),
              'all-reduce and optimizer boxes')
    # memory timeline: each device's line peaks at its reported peak memory
    # and starts at its static memory.
    if 'memory_timeline' in out:
        blocks = dat_blocks(out['memory_timeline'][1])
        check(len(blocks) == 4, f'memory timeline: {len(blocks)} devices')
        for dev, b in enumerate(blocks):
            pd = sim['per_device'][dev]
            peak = max(float(r[1]) for r in b)
            check(abs(peak - pd['peak_memory_bytes']) <= 1e-6 * pd['peak_memory_bytes'],
                  f'device {dev}: timeline peak {peak} != {pd["peak_memory_bytes"]}')
            check(float(b[0][1]) == pd['static_memory_bytes'] and float(b[0][0]) == 0,
                  f'device {dev}: starts at static memory')
            ts = [float(r[0]) for r in b]
            check(ts == sorted(ts), f'device {dev}: time goes forward')
    # memory bars: each schedule's per-device peaks, as simulate reports them;
    # zb-v runs with its own chunk count; the 4 GB limit is drawn.
    if 'memory' in out:
        script, dat, se = out['memory']
        b = dat_blocks(dat)[0]
        for g, args in enumerate([['gpipe'], ['1f1b'], ['zb-h1'], ['zb-v', 'pipeline.chunks=2']]):
            sets = ['--set', 'pipeline.schedule=' + args[0]]
            if len(args) > 1:
                sets += ['--set', args[1]]
            js = simulate_json('plot/split.yaml', *sets)
            got = [float(r[2]) for r in b if r[0] == str(g)]
            want = [pd['peak_memory_bytes'] for pd in js['per_device']]
            check(got == want, f'memory bars {args}: {got} != {want}')
        check(gp_var(script, 'devmem_gb') == '4', 'memory: the device-memory line')
        check("'zb-v, chunks=2'" in gp_var(script, 'array group_name[4]'), 'memory labels')

    # `plot sweep` (what `sweep --plot` writes): throughput, bubble and memory
    # against microbatches and the stages x microbatches heatmap, the same
    # scripts as the single kinds; quoted.csv has one numeric axis and no
    # memory column: throughput and bubble only.
    d = os.path.join(tmp, 'all')
    rc, so, se = run('plot', 'sweep', SWEEP, '-o', d)
    stems = ['throughput', 'bubble', 'memory', 'heatmap']
    check(rc == 0 and files(d) == sorted(s + e for s in stems for e in ('.dat', '.gp', '.png')),
          f'plot sweep: {rc} {files(d)} {se!r}')
    for s_, g in zip(stems, ['throughput', 'bubble', 'memory_sweep', 'heatmap']):
        if rc == 0 and g in out:
            check(open(os.path.join(d, s_ + '.gp')).read() == out[g][0], f'plot sweep: {s_}.gp')
    d = os.path.join(tmp, 'allq')
    rc, so, se = run('plot', 'sweep', 'plot/quoted.csv', '-o', d)
    check(rc == 0 and files(d) == sorted(s + e for s in ('throughput', 'bubble')
                                         for e in ('.dat', '.gp', '.png')),
          f'plot sweep quoted: {rc} {files(d)} {se!r}')
    rc, so, se = run('plot', 'sweep', SWEEP,
                     '--where', 'microbatches=8', '-o', os.path.join(tmp, 'all1'))
    check(rc == 0 and 'heatmap' not in se and 'wrote' in se and
          files(os.path.join(tmp, 'all1'))[0].startswith('bubble'),
          f'plot sweep, microbatches fixed: x falls back to stages: {se!r}')

    # --- terminals ---
    for term in ('svg', 'pdf'):
        d = os.path.join(tmp, 'term_' + term)
        rc, so, se = run('plot', 'gantt', 'good/base.yaml', '-o', d, '--terminal', term)
        check(rc == 0 and files(d) == ['gantt.dat', 'gantt.gp', 'gantt.' + term],
              f'--terminal {term}: {rc} {files(d)} {se!r}')
        if rc == 0:
            check_image(os.path.join(d, 'gantt.' + term), '', term, term)
            check(gp_var(open(os.path.join(d, 'gantt.gp')).read(), 'term') == "'%s'" % term,
                  f'{term}: the script keeps the terminal')
        rc, so, se = run('plot', 'heatmap', SWEEP, '-o', d, '-t', term)
        check(rc == 0 and os.path.exists(os.path.join(d, 'heatmap.' + term)), f'heatmap {term}')

    # --- simulate --plot: the Gantt chart and the memory timeline ---
    d = os.path.join(tmp, 'sim')
    rc, so, se = run('simulate', 'plot/split.yaml', '--plot', d)
    check(rc == 0 and files(d) == ['gantt.dat', 'gantt.gp', 'gantt.png', 'memory-timeline.dat',
                                   'memory-timeline.gp', 'memory-timeline.png'],
          f'simulate --plot: {rc} {files(d)} {se!r}')
    if 'gantt' in out and rc == 0:
        check(open(os.path.join(d, 'gantt.gp')).read() == out['gantt'][0],
              'simulate --plot and plot gantt write the same script')

    # --- bad input: one line, exit 1 (2: usage), no files ---
    empty_bin = os.path.join(tmp, 'nobin')
    os.mkdir(empty_bin)
    fake_bin = os.path.join(tmp, 'fakebin')
    os.mkdir(fake_bin)
    with open(os.path.join(fake_bin, 'gnuplot'), 'w') as f:
        f.write('#!/bin/sh\necho \'"x.gp" line 3: undefined variable: boom\' >&2\n'
                ': > gantt.png.partial\nexit 1\n')
    os.chmod(os.path.join(fake_bin, 'gnuplot'), 0o755)
    a_file = os.path.join(tmp, 'a_file')
    open(a_file, 'w').write('x')
    csvs = {
        'empty.csv': b'',
        'header_only.csv': b'config,schedule,microbatches,status,throughput_samples_per_s\n',
        'none_ok.csv': b'config,schedule,microbatches,status,throughput_samples_per_s,message\n'
                       b'0,gpipe,4,infeasible,10,too big\n1,zb-v,4,invalid,,"needs chunks: 2"\n',
        'ragged.csv': b'a,b,c\n1,2,3\n4,5\n',
        'unterminated.csv': b'a,b\n1,"2\n3,4\n',
        'stray_quote.csv': b'a,b\n1,2"x\n',
        'after_quote.csv': b'a,b\n1,"2"x\n',
        'dup_header.csv': b'a,b,a\n1,2,3\n',
        'not_number.csv': b'config,schedule,microbatches,status,throughput_samples_per_s\n'
                          b'0,1f1b,four,ok,10\n',
    }
    for name, body in csvs.items():
        with open(os.path.join(tmp, name), 'wb') as f:
            f.write(body)

    def t(n):
        return os.path.join(tmp, n)

    BAD = [
        # (argv, env PATH or None, exit, the stderr line (exact, or ... as a prefix))
        (['gantt', 'good/base.yaml'], empty_bin, 1,
         'gnuplot: error: not found on PATH; install it with: apt-get install gnuplot-nox'),
        (['throughput', SWEEP], empty_bin, 1,
         'gnuplot: error: not found on PATH; install it with: apt-get install gnuplot-nox'),
        (['gantt', 'good/base.yaml'], fake_bin, 1,
         'gnuplot: error: failed on gantt.gp (status 1): "x.gp" line 3: undefined variable: boom'),
        (['throughput', SWEEP, '--x', 'microbatch'], None, 1,
         f"{SWEEP}: error: --x: no column 'microbatch' (did you mean 'microbatches'?)"),
        (['heatmap', SWEEP, '--z', 'thruput_samples_per_s'], None, 1,
         f"{SWEEP}: error: --z: no column 'thruput_samples_per_s' (did you mean "
         "'throughput_samples_per_s'?)"),
        (['throughput', SWEEP, '--by', 'colour'], None, 1,
         f"{SWEEP}: error: --by: no column 'colour' (the header has 25 columns: config, ..., "
         "message)"),
        (['throughput', SWEEP, '--where', 'schedule'], None, 1,
         "error: --where 'schedule': expected COLUMN=VALUE"),
        (['throughput', SWEEP, '--where', 'schedule=pipedream'], None, 1,
         f'{SWEEP}: error: no rows with status ok to plot (32 rows: 0 infeasible, 0 invalid, '
         '32 dropped by --where)'),
        (['throughput', t('empty.csv')], None, 1, f'{t("empty.csv")}: error: empty CSV: '
         'expected a header row'),
        (['throughput', t('header_only.csv')], None, 1, f'{t("header_only.csv")}: error: no rows to '
         'plot (only a header)'),
        (['throughput', t('none_ok.csv')], None, 1, f'{t("none_ok.csv")}: error: no rows with '
         'status ok to plot (2 rows: 1 infeasible, 1 invalid)'),
        (['heatmap', t('ragged.csv'), '--x', 'a', '--y', 'b', '--z', 'c'], None, 1,
         f'{t("ragged.csv")}:3:1: error: row has 2 fields, the header has 3'),
        (['throughput', t('unterminated.csv')], None, 1,
         f'{t("unterminated.csv")}:2:3: error: unterminated quoted field'),
        (['throughput', t('stray_quote.csv')], None, 1,
         f'{t("stray_quote.csv")}:2:4: error: quote inside an unquoted field (quote the whole '
         'field and double inner quotes)'),
        (['throughput', t('after_quote.csv')], None, 1,
         f'{t("after_quote.csv")}:2:6: error: unexpected text after a closing quote (quote the '
         'whole field and double inner quotes)'),
        (['throughput', t('dup_header.csv')], None, 1,
         f"{t('dup_header.csv')}:1:5: error: duplicate column name 'a' (also column 1)"),
        (['throughput', t('not_number.csv')], None, 1,
         f"{t('not_number.csv')}:2:8: error: column 'microbatches': expected a number, got "
         "'four'"),
        (['throughput', 'plot/nope.csv'], None, 1,
         'plot/nope.csv: error: cannot open file: No such file or directory'),
        (['gantt', 'bad/unknown_key.yaml'], None, 1, "bad/unknown_key.yaml:12:3: error: unknown "
         "key 'pipeline.micobatches' (did you mean 'microbatches'?)"),
        (['memory', 'plot/split.yaml', '--schedules', 'zb-v'], None, 1,
         'plot/split.yaml: error: memory: none of the schedules could run'),
        (['memory', 'plot/split.yaml', '--schedules', '1f1b,zb-v:chunk=2'], None, 1,
         "--set pipeline.chunk=2: error: unknown key 'pipeline.chunk' (did you mean 'chunks'?)"),
        (['memory', 'bad/unknown_key.yaml', '--schedules', '1f1b,gpipe'], None, 1,
         "bad/unknown_key.yaml:12:3: error: unknown key 'pipeline.micobatches' (did you mean "
         "'microbatches'?)"),
    ]
    for i, (args, path, code, line) in enumerate(BAD):
        d = os.path.join(tmp, f'bad{i}')
        env = dict(os.environ, PATH=path) if path else None
        rc, so, se = run('plot', *args, '-o', d, env=env)
        lines = se.splitlines()
        check(rc == code, f'{args}: exit {rc}, want {code}: {se!r}')
        check(lines and lines[-1] == line, f'{args}: stderr {se!r}, want {line!r}')
        check(not os.path.exists(d), f'{args}: left {files(d)} behind')
    # zb-v alone is skipped with the hint first, then the error above
    rc, so, se = run('plot', 'memory', 'plot/split.yaml', '--schedules', 'zb-v', '-o', t('x'))
    check('skipping zb-v:' in se and 'zb-v:chunks=2' in se, f'skip hint: {se!r}')

    # An unwritable output: under a file, or a file itself; nothing is created.
    for target, line in ((os.path.join(a_file, 'sub'), f"{a_file}/sub: error: cannot create "
                          f"directory: '{a_file}' is not a directory"),
                         (a_file, f'{a_file}: error: exists and is not a directory')):
        rc, so, se = run('plot', 'gantt', 'good/base.yaml', '-o', target)
        check(rc == 1 and se.strip() == line, f'-o {target}: {rc} {se!r}')
    if os.geteuid() != 0:  # root writes anywhere
        ro = os.path.join(tmp, 'readonly')
        os.mkdir(ro)
        os.chmod(ro, stat.S_IRUSR | stat.S_IXUSR)
        rc, so, se = run('plot', 'gantt', 'good/base.yaml', '-o', os.path.join(ro, 'p'))
        check(rc == 1 and 'cannot create directory: Permission denied' in se, f'read-only: {se!r}')
        rc, so, se = run('plot', 'gantt', 'good/base.yaml', '-o', ro)
        check(rc == 1 and 'cannot write in directory: Permission denied' in se, f'ro2: {se!r}')
        os.chmod(ro, stat.S_IRWXU)
    # A failed re-plot leaves the earlier plot intact, and a created parent
    # directory is taken back.
    d = os.path.join(tmp, 'keep')
    run('plot', 'gantt', 'good/base.yaml', '-o', d)
    before = {n: open(os.path.join(d, n), 'rb').read() for n in files(d)}
    rc, so, se = run('plot', 'gantt', 'good/base.yaml', '--set', 'pipeline.microbatches=4',
                     '-o', d, env=dict(os.environ, PATH=fake_bin))
    check(rc == 1 and {n: open(os.path.join(d, n), 'rb').read() for n in files(d)} == before,
          f'a failed plot touched the earlier one: {files(d)}')
    deep = os.path.join(tmp, 'new', 'deeper')
    rc, so, se = run('plot', 'gantt', 'good/base.yaml', '-o', deep, env=dict(os.environ, PATH=fake_bin))
    check(rc == 1 and not os.path.exists(os.path.join(tmp, 'new')), 'created dirs not removed')
    rc, so, se = run('plot', 'gantt', 'good/base.yaml', '-o', deep)
    check(rc == 0 and files(deep) == ['gantt.dat', 'gantt.gp', 'gantt.png'], 'mkdir -p')

# Usage errors: status 2, the message and the --help hint.
USAGE = [
    (['plot'], 'ppsim plot: missing plot kind (throughput, bubble, heatmap, sweep, memory, '
     'gantt or memory-timeline)'),
    (['plot', 'sweep', SWEEP, '--z', 'stages', '-o', 'x'],
     "ppsim plot: --z does not apply to 'sweep' with a sweep CSV input"),
    (['plot', 'thruput', SWEEP, '-o', 'x'], "ppsim plot: unknown plot kind 'thruput' (did you "
     "mean 'throughput'?)"),
    (['plot', 'gant', 'good/base.yaml', '-o', 'x'], "ppsim plot: unknown plot kind 'gant' (did "
     "you mean 'gantt'?)"),
    (['plot', 'throughput', SWEEP, '-o', 'x', '--terminal', 'jpeg'], "ppsim plot: unknown "
     "terminal 'jpeg' (png, svg or pdf)"),
    (['plot', 'throughput', SWEEP], 'ppsim plot: missing -o DIR (where the plot goes)'),
    (['plot', 'throughput', '-o', 'x'], 'ppsim plot: throughput: missing input file'),
    (['plot', 'gantt', 'good/base.yaml', '--x', 'stages', '-o', 'x'],
     "ppsim plot: --x does not apply to 'gantt' with a scenario input"),
    (['plot', 'throughput', SWEEP, '--set', 'a=1', '-o', 'x'],
     "ppsim plot: --set does not apply to 'throughput' with a sweep CSV input"),
    (['plot', 'memory', 'plot/split.yaml', '--schedules', '1f1b,zbh1', '-o', 'x'],
     "ppsim plot: --schedules: unknown schedule 'zbh1' (did you mean 'zb-h1'?)"),
    (['plot', 'gantt', 'good/base.yaml', '--bogus', '-o', 'x'], "ppsim plot: unknown option "
     "'--bogus'"),
]
for args, line in USAGE:
    rc, so, se = run(*args)
    check(rc == 2 and se.splitlines()[:1] == [line] and "Try 'ppsim plot --help'." in se
          and not os.path.exists('x'), f'{args}: {rc} {se!r}')
rc, so, se = run('plot', '--help')
check(rc == 0 and so.startswith('Usage: ppsim plot') and se == '', 'plot --help')
for kind in ('throughput', 'bubble', 'heatmap', 'sweep', 'memory', 'gantt', 'memory-timeline'):
    check(kind in so, f'--help names {kind}')

if failures:
    for f in failures:
        print('FAIL:', f)
    print(f'{len(failures)} of {checks} checks failed')
    sys.exit(1)
print(f'all {checks} plot checks passed' + (' (golden scripts rewritten)' if UPDATE else ''))
