#!/usr/bin/env python3
"""End-to-end checks of the ppsim command line (run by `meson test` from tests/).

Each bad input must give exactly one stderr line naming file:line:col, the key
and the offending value, a non-zero exit status, and no half-written output
(issue 3). Valid runs must honour the output contract (JSON keys, CSV columns),
be byte-identical across runs, and accept a UTF-8 BOM with CRLF line endings."""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0


def run(*args, stdin=None):
    p = subprocess.run([PPSIM, *args], input=stdin, capture_output=True)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


# The bad inputs (one exact stderr line, exit status, no output file each) are
# the corpus tests/bad/cases.tsv, checked by bad_input_test.py.
with tempfile.TemporaryDirectory() as tmp:
    # --set goes through the same validation as the file.
    rc, so, se = run('simulate', 'good/base.yaml', '--set', 'pipeline.microbatches=eight')
    check(rc == 1 and se == "--set pipeline.microbatches=eight: error: pipeline.microbatches: "
          "expected a decimal number, got 'eight'\n", f'--set bad value: {rc} {se!r}')
    rc, so, se = run('simulate', 'good/base.yaml', '--set', 'pipeline.microbatchs=4')
    check(rc == 1 and "unknown key 'pipeline.microbatchs' (did you mean 'microbatches'?)" in se,
          f'--set unknown key: {se!r}')
    rc, so, se = run('simulate', 'good/base.yaml', '--set', 'pipeline.microbatches=16', '-f', 'json')
    check(rc == 0 and json.loads(so)['microbatches'] == 16, f'--set ok: {rc} {se!r}')
    rc, so, se = run('simulate', 'good/base.yaml', '--set', 'pipeline.partition=[1,2,2,3]', '-f',
                     'json')
    check(rc == 0 and json.loads(so)['partition'] == [1, 2, 2, 3], f'--set list: {rc} {se!r}')

    # Exit 3: valid but does not fit; JSON still printed, with the reason.
    rc, so, se = run('simulate', 'bad/over_memory.yaml', '-f', 'json')
    check(rc == 3, f'over memory: exit {rc}')
    if rc == 3:
        obj = json.loads(so)
        check(obj['fits_memory'] is False and 'device_memory_bytes' in obj['reason'],
              'over memory: JSON lacks the reason')

    # Output contract.
    rc, so, se = run('simulate', 'good/base.yaml', '-f', 'json')
    check(rc == 0, f'base json: {rc} {se!r}')
    obj = json.loads(so)
    for key in ['schedule', 'stages', 'microbatches', 'iteration_time_ms',
                'throughput_samples_per_s', 'bubble_fraction', 'analytic_iteration_time_ms',
                'per_device']:
        check(key in obj, f'json lacks {key}')
    check(len(obj['per_device']) == 4, 'per_device length')
    for dev in obj['per_device']:
        for key in ['device', 'busy_ms', 'first_start_ms', 'last_end_ms', 'peak_memory_bytes',
                    'peak_activation_bytes']:
            check(key in dev, f'per_device lacks {key}')
    # Balanced, so the closed form (m+p-1)(tF+tB) plus 1F1B's latency term holds.
    check(abs(obj['iteration_time_ms'] - obj['analytic_iteration_time_ms']) < 1e-9,
          'simulated and closed form differ on a balanced model')
    rc, so2, _ = run('simulate', 'good/base.yaml', '-f', 'json')
    check(so == so2, 'JSON output is not byte-identical across runs')

    rc, so, se = run('simulate', 'good/base.yaml', '-f', 'csv')
    rows = list(csv.DictReader(io.StringIO(so)))
    check(rc == 0 and len(rows) == 4, f'csv rows: {len(rows)}')
    for col in ['schedule', 'stages', 'microbatches', 'iteration_time_ms',
                'throughput_samples_per_s', 'bubble_fraction', 'analytic_iteration_time_ms',
                'device', 'busy_ms', 'first_start_ms', 'last_end_ms', 'peak_memory_bytes',
                'peak_activation_bytes']:
        check(col in rows[0], f'csv lacks {col}')
    check(float(rows[0]['iteration_time_ms']) == obj['iteration_time_ms'],
          'csv and json disagree (round-trip precision)')

    rc, so, se = run('simulate', 'good/base.yaml')
    check(rc == 0 and 'iteration time (ms)' in so and 'closed form' in so, 'table output')

    # BOM + CRLF are valid input.
    rc, so, se = run('simulate', 'good/bom_crlf.yaml', '-f', 'json')
    check(rc == 0 and json.loads(so)['name'] == 'bom-crlf', f'BOM/CRLF: {rc} {se!r}')
    # stdin.
    with open('good/base.yaml', 'rb') as f:
        rc, so, se = run('simulate', '-', stdin=f.read())
    check(rc == 0 and 'iteration time' in so, f'stdin: {rc} {se!r}')

    # -o writes the whole report; a failed run leaves an existing file untouched.
    out = os.path.join(tmp, 'r.json')
    rc, so, se = run('simulate', 'good/base.yaml', '-f', 'json', '-o', out)
    check(rc == 0 and so == '' and json.load(open(out))['stages'] == 4, '-o file')
    before = open(out).read()
    rc, so, se = run('simulate', 'bad/unknown_key.yaml', '-f', 'json', '-o', out)
    check(rc == 1 and open(out).read() == before, 'failed run touched the output file')
    os.remove(out)

    # The plot lands complete in the directory.
    pdir = os.path.join(tmp, 'plots')
    rc, so, se = run('simulate', 'good/base.yaml', '--plot', pdir)
    check(rc == 0, f'--plot: {rc} {se!r}')
    if rc == 0:
        names = sorted(os.listdir(pdir))
        check(names == ['gantt.dat', 'gantt.gp', 'gantt.png', 'memory-timeline.dat',
                        'memory-timeline.gp', 'memory-timeline.png'], f'plot files: {names}')
        check(open(os.path.join(pdir, 'gantt.png'), 'rb').read(8) == b'\x89PNG\r\n\x1a\n',
              'gantt.png is not a PNG')

# Usage: help to stdout with status 0, misuse to stderr with status 2.
rc, so, se = run('--help')
check(rc == 0 and so.startswith('Usage: ppsim') and se == '', '--help')
rc, so, se = run('simulate', '--help')
check(rc == 0 and so.startswith('Usage: ppsim simulate') and se == '', 'simulate --help')
rc, so, se = run('--version')
check(rc == 0 and so.startswith('ppsim '), '--version')
for args in (['--bogus'], [], ['frobnicate'], ['simulate'], ['simulate', '--bogus', 'x.yaml'],
             ['simulate', 'good/base.yaml', '-f', 'xml']):
    rc, so, se = run(*args)
    check(rc == 2 and so == '' and 'Try ' in se, f'usage {args}: {rc} {se!r}')

# Every shipped scenario runs.
for name in sorted(os.listdir('../scenarios')):
    if name.endswith('.yaml'):
        rc, so, se = run('simulate', os.path.join('../scenarios', name), '-f', 'json')
        check(rc == 0, f'scenarios/{name}: {rc} {se!r}')

for f in failures:
    print('FAIL:', f)
print(f'{checks - len(failures)} passed, {len(failures)} failed')
sys.exit(1 if failures else 0)
