#!/usr/bin/env python3
"""End-to-end checks of `ppsim sweep` (issue 7).

One header plus exactly one row per configuration in a fixed order (the last
--grid axis varies fastest); the rows equal `ppsim simulate` of the same
overrides; serial, parallel, sharded+merged and (when built with MPI)
`mpirun -n 2` runs give byte-identical CSVs; the summary names the best
fitting configuration and the Pareto front; bad input gets one line, a
non-zero status and no output file."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0
SC = '../scenarios/quickstart.yaml'


def run(*args, env=None):
    p = subprocess.run([PPSIM, *args], capture_output=True, env=env)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


GRID = ['--grid', 'pipeline.schedule=1f1b,gpipe,zb-h1,interleaved-1f1b',
        '--grid', 'pipeline.microbatches=8,16,24',
        '--grid', 'cluster.device_memory_bytes=40e9,80e9']
tmp = tempfile.mkdtemp()

# Serial reference.
rc, serial, se = run('sweep', SC, *GRID, '--jobs', '1', '--no-progress')
check(rc == 0, f'serial sweep: {rc} {se}')
rows = list(csv.DictReader(io.StringIO(serial)))
check(len(rows) == 4 * 3 * 2, f'{len(rows)} rows, want 24')
check(serial.count('\n') == 25, 'one header plus one line per configuration')
check([int(r['config']) for r in rows] == list(range(24)), 'config indices 0..23 in order')
# the last axis varies fastest
check([r['cluster.device_memory_bytes'] for r in rows[:4]] == ['40e9', '80e9', '40e9', '80e9'],
      'last axis fastest')
check([r['pipeline.schedule'] for r in rows[::6]] == ['1f1b', 'gpipe', 'zb-h1', 'interleaved-1f1b'],
      'first axis slowest')
header = serial.splitlines()[0].split(',')
for col in ('config', 'pipeline.schedule', 'pipeline.microbatches', 'schedule', 'stages', 'chunks',
            'microbatches', 'microbatch_size', 'devices', 'data_parallel', 'status',
            'iteration_time_ms', 'throughput_samples_per_s', 'steady_throughput_samples_per_s',
            'bubble_fraction', 'bubble_megatron', 'bubble_gpipe', 'zb_bubble_rate', 'ideal_ms',
            'analytic_iteration_ms', 'peak_memory_bytes', 'peak_activation_bytes',
            'max_peak_inflight', 'message'):
    check(col in header, f'column {col} missing')
# interleaved-1f1b needs chunks >= 2: invalid rows, with the reason
inv = [r for r in rows if r['pipeline.schedule'] == 'interleaved-1f1b']
check(all(r['status'] == 'invalid' and 'chunks' in r['message'] for r in inv), 'invalid rows say why')
check(all(r['iteration_time_ms'] == '' for r in inv), 'invalid rows have empty results')
# infeasible: over 40 GB
inf = [r for r in rows if r['status'] == 'infeasible']
check(len(inf) > 0 and all(r['cluster.device_memory_bytes'] == '40e9' or
                           float(r['peak_memory_bytes']) > 80e9 for r in inf),
      'infeasible rows are over their memory')
check(all('device_memory_bytes' in r['message'] for r in inf), 'infeasible rows say why')

# Each ok row equals `ppsim simulate` with the same overrides.
for r in rows:
    if r['status'] == 'invalid':
        continue
    rc, so, se = run('simulate', SC, '--set', 'pipeline.schedule=' + r['pipeline.schedule'],
                     '--set', 'pipeline.microbatches=' + r['pipeline.microbatches'],
                     '--set', 'cluster.device_memory_bytes=' + r['cluster.device_memory_bytes'],
                     '-f', 'json')
    check(rc in (0, 3), f'simulate {r["config"]}: {rc} {se}')
    j = json.loads(so)
    for col, key in (('iteration_time_ms', 'iteration_time_ms'),
                     ('throughput_samples_per_s', 'throughput_samples_per_s'),
                     ('bubble_fraction', 'bubble_fraction')):
        if key in j:
            check(float(r[col]) == float(j[key]), f'config {r["config"]} {col}: {r[col]} vs {j[key]}')

# Parallel, sharded + merged, MPI: byte-identical.
rc, par, se = run('sweep', SC, *GRID, '--jobs', '2', '--no-progress')
check(rc == 0 and par == serial, 'parallel CSV differs from serial')
shards = []
for i in range(3):
    path = os.path.join(tmp, f's{i}.csv')
    rc, so, se = run('sweep', SC, *GRID, '--shard', f'{i}/3', '-o', path, '--summary', os.devnull)
    check(rc == 0, f'shard {i}: {rc} {se}')
    shards.append(path)
merged = os.path.join(tmp, 'merged.csv')
rc, so, se = run('sweep', 'merge', shards[2], shards[0], shards[1], '-o', merged)
check(rc == 0 and open(merged).read() == serial, f'merged shards differ: {rc} {se}')
rc, so, se = run('sweep', 'merge', shards[0], shards[0])
check(rc == 1 and 'appears twice' in se, f'overlapping shards: {rc} {se}')

mpirun = shutil.which('mpirun')
rc, ver, _ = run('--version')
if mpirun:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1',
               OMPI_MCA_rmaps_base_oversubscribe='1')
    # TCP over loopback, as between machines
    p = subprocess.run([mpirun, '-n', '2', '--mca', 'btl', 'self,tcp', PPSIM, 'sweep', SC, *GRID,
                        '--jobs', '1', '--no-progress'], capture_output=True, env=env)
    out = p.stdout.decode()
    if 'MPI sweeps: not built' in ver:
        print('mpirun found but ppsim was built without MPI: MPI check skipped')
    else:
        check(p.returncode == 0 and out == serial,
              f'mpirun -n 2 CSV differs: {p.returncode} {p.stderr.decode()[-400:]}')
else:
    print('mpirun not found: MPI check skipped')

# The summary.
sp = os.path.join(tmp, 'summary.txt')
rc, so, se = run('sweep', SC, *GRID, '--summary', sp, '--no-progress')
summary = open(sp).read()
ok = [r for r in rows if r['status'] == 'ok']
best = max(ok, key=lambda r: float(r['throughput_samples_per_s']))
check(f'best that fits: config {best["config"]} ' in summary, f'best config: {summary}')
check('Pareto front' in summary, 'Pareto front missing')
front = [int(l.split()[0]) for l in summary.splitlines() if l.startswith('  ') and l.split()[0].isdigit()]
for i in front:
    r = rows[i]
    for o in ok:
        dom = (float(o['throughput_samples_per_s']) >= float(r['throughput_samples_per_s']) and
               float(o['peak_memory_bytes']) <= float(r['peak_memory_bytes']) and
               (float(o['throughput_samples_per_s']) > float(r['throughput_samples_per_s']) or
                float(o['peak_memory_bytes']) < float(r['peak_memory_bytes'])))
        check(not dom, f'front config {i} is dominated by {o["config"]}')
check(se == '', 'with --summary FILE nothing goes to stderr')

# --where drops rows; the YAML sweep: block; values with commas.
rc, so, se = run('sweep', SC, *GRID, '--where', 'microbatches >= 16',
                 '--where', 'pipeline.schedule != gpipe', '--no-progress')
wr = list(csv.DictReader(io.StringIO(so)))
check(rc == 0 and len(wr) == 3 * 2 * 2, f'--where kept {len(wr)} rows')
check(all(int(r['pipeline.microbatches']) >= 16 and r['pipeline.schedule'] != 'gpipe' for r in wr),
      '--where filters')
yml = os.path.join(tmp, 'sw.yaml')
with open(yml, 'w') as f:
    f.write(open(SC).read().replace('file: ', 'file: ' + os.path.abspath('../scenarios') + '/'))
    f.write('sweep:\n  grid:\n    pipeline.partition: [[3, 3, 3, 3, 3, 3, 3, 3], balanced]\n'
            '    pipeline.microbatches: [8, 16]\n  where: ["microbatches > 8"]\n')
rc, so, se = run('sweep', yml, '--no-progress')
yr = list(csv.DictReader(io.StringIO(so)))
check(rc == 0 and len(yr) == 2, f'sweep: block: {rc} {len(yr)} {se}')
check(yr and yr[0]['pipeline.partition'] == '[3, 3, 3, 3, 3, 3, 3, 3]', 'flow list value kept')
check(all(r['status'] == 'ok' for r in yr), 'partition rows run')
# an explicit 3-per-stage split equals the balanced one on 24 identical blocks
check(len(yr) == 2 and yr[0]['iteration_time_ms'] == yr[1]['iteration_time_ms'], 'partition [3]*8 = balanced')

# Bad input: one line, non-zero, no output file.
BAD = [
    ([], 2, 'missing scenario'),
    ([SC], 1, 'empty grid'),
    ([SC, '--grid', 'pipeline.microbatch=8,16'], 1, "did you mean 'pipeline.microbatches'"),
    ([SC, '--grid', 'pipeline.microbatches='], 1, 'empty value'),
    ([SC, '--grid', 'nokey'], 1, 'KEY=V1,V2'),
    ([SC, '--grid', 'pipeline.stages=2', '--grid', 'pipeline.stages=4'], 1, 'swept twice'),
    ([SC, '--grid', 'pipeline.stages=2', '--where', 'pipeline.stage > 2'], 1, 'not a swept key'),
    ([SC, '--grid', 'pipeline.stages=2', '--where', 'stages'], 1, 'KEY OP VALUE'),
    ([SC, '--grid', 'pipeline.microbatches=' + ','.join(map(str, range(1, 401))),
      '--grid', 'cluster.link.latency_ms=' + ','.join(str(i / 1000) for i in range(300))], 3,
     'pass --yes'),
    ([SC, '--grid', 'pipeline.stages=2', '--shard', '3/3'], 2, '--shard'),
    ([SC, '--grid', 'pipeline.stages=2', '--shard', 'x'], 2, '--shard'),
    ([SC, '--grid', 'pipeline.stages=2', '--jobs', '0'], 2, '--jobs'),
    ([SC, '--grid', 'pipeline.stages=2', '-f', 'json'], 2, 'csv'),
    (['/nonexistent.yaml', '--grid', 'pipeline.stages=2'], 1, 'nonexistent'),
]
for args, want, text in BAD:
    out = os.path.join(tmp, 'bad.csv')
    if os.path.exists(out):
        os.unlink(out)
    rc, so, se = run('sweep', *args, *(['-o', out] if args else []))
    check(rc == want, f'{args}: status {rc}, want {want}: {se}')
    check(text in se, f'{args}: stderr lacks {text!r}: {se!r}')
    check(not os.path.exists(out), f'{args}: wrote {out}')
    lines = [l for l in se.splitlines() if l]
    check(len(lines) <= 2, f'{args}: more than one error line: {se!r}')
rc, so, se = run('sweep', SC, *GRID, '-o', '/nonexistent-dir/x.csv', '--no-progress')
check(rc == 1 and 'nonexistent-dir' in se, f'unwritable output: {rc} {se}')

# --plot and --trace.
pdir = os.path.join(tmp, 'plots')
tpath = os.path.join(tmp, 'sweep-trace.json')
rc, so, se = run('sweep', SC, '--grid', 'pipeline.schedule=1f1b,zb-h1', '--grid',
                 'pipeline.microbatches=8,16,24', '--plot', pdir, '--trace', tpath, '--no-progress',
                 '--summary', os.devnull)
check(rc == 0, f'sweep --plot --trace: {rc} {se}')
if shutil.which('gnuplot'):
    for stem in ('throughput', 'bubble', 'memory'):
        for ext in ('dat', 'gp', 'png'):
            check(os.path.exists(os.path.join(pdir, f'{stem}.{ext}')), f'--plot wrote no {stem}.{ext}')
    check(f'wrote {pdir}/throughput.png' in se, f'--plot names its files: {se}')
if os.path.exists(tpath):
    tr = json.load(open(tpath))
    ev = tr['traceEvents'] if isinstance(tr, dict) else tr
    names = {e['args']['name'] for e in ev if e.get('ph') == 'M' and e.get('name') == 'process_name'}
    check(len(names) == 6, f'one trace process per configuration: {len(names)}')
    check(any('pipeline.schedule=zb-h1' in n for n in names), f'process names: {sorted(names)[:2]}')
else:
    check(False, 'sweep --trace wrote nothing')
rc, so, se = run('sweep', SC, '--grid', 'pipeline.microbatches=' + ','.join(map(str, range(8, 2200, 8))),
                 '--trace', tpath + '2', '--no-progress', '--summary', os.devnull)
check(rc == 3 and 'at most 256' in se and not os.path.exists(tpath + '2'), f'big --trace: {rc} {se}')
rc, so, se = run('sweep', SC, '--grid', 'pipeline.stages=8', '--terminal', 'gif')
check(rc == 2 and '--terminal' in se, f'--terminal gif: {rc} {se}')

# Output to a device is written in place: a rename would replace /dev/null.
rc, so, se = run('sweep', SC, '--grid', 'pipeline.microbatches=8', '-o', os.devnull,
                 '--summary', os.devnull, '--no-progress')
import stat
check(rc == 0 and stat.S_ISCHR(os.stat(os.devnull).st_mode), f'{os.devnull} is no longer a device')

shutil.rmtree(tmp)
print(f'{checks} checks, {len(failures)} failures')
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
