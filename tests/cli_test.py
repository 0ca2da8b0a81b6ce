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


# (file, exit status, the one stderr line)
BAD = [
    ('bad/nope.yaml', 1, 'bad/nope.yaml: error: cannot open file: No such file or directory'),
    ('bad', 1, 'bad: error: is a directory, expected a file'),
    ('bad/empty.yaml', 1, 'bad/empty.yaml: error: empty scenario: expected a mapping at the top '
     'level (keys name, model, cluster, pipeline, training)'),
    ('bad/not_yaml.yaml', 1, 'bad/not_yaml.yaml:1:1: error: expected a mapping at the top level '
     '(keys name, model, cluster, pipeline, training)'),
    ('bad/binary.yaml', 1, 'bad/binary.yaml:1:1: error: not valid UTF-8 text: control characters '
     'are not allowed (byte 0x7f)'),
    ('bad/tab_indent.yaml', 1, 'bad/tab_indent.yaml:11:1: error: malformed YAML: found a tab '
     'character that violates indentation (while scanning a plain scalar at line 10, column 13)'),
    ('bad/bad_indent.yaml', 1, 'bad/bad_indent.yaml:11:2: error: malformed YAML: did not find '
     'expected key (while parsing a block mapping at line 2, column 1)'),
    ('bad/unterminated_quote.yaml', 1, 'bad/unterminated_quote.yaml:13:1: error: malformed YAML: '
     'found unexpected end of stream (while scanning a quoted scalar at line 2, column 7)'),
    ('bad/microbatches_string.yaml', 1, 'bad/microbatches_string.yaml:12:17: error: '
     'pipeline.microbatches: expected a number, got the string "eight"'),
    ('bad/microbatches_huge.yaml', 1, "bad/microbatches_huge.yaml:12:17: error: "
     "pipeline.microbatches: number '1e400' is out of range"),
    ('bad/microbatches_absurd.yaml', 1, "bad/microbatches_absurd.yaml:12:17: error: "
     "pipeline.microbatches: must be between 1 and 1000000, got '1e12'"),
    ('bad/microbatches_negative.yaml', 1, "bad/microbatches_negative.yaml:12:17: error: "
     "pipeline.microbatches: must be >= 1, got '-2'"),
    ('bad/microbatches_zero.yaml', 1, "bad/microbatches_zero.yaml:12:17: error: "
     "pipeline.microbatches: must be >= 1, got '0'"),
    ('bad/unknown_key.yaml', 1, "bad/unknown_key.yaml:12:3: error: unknown key "
     "'pipeline.micobatches' (did you mean 'microbatches'?)"),
    ('bad/unknown_schedule.yaml', 1, "bad/unknown_schedule.yaml:10:13: error: pipeline.schedule: "
     "unknown schedule 'ifib' (did you mean '1f1b'?)"),
    ('bad/stages_exceed_devices.yaml', 1, 'bad/stages_exceed_devices.yaml:11:11: error: '
     'pipeline.stages: 8 stages need at least 8 devices, cluster.devices is 4'),
    ('bad/billion_laughs.yaml', 1, "bad/billion_laughs.yaml:1:4: error: YAML anchors and aliases "
     "are not supported (anchor '&a')"),
    ('bad/negative_time.yaml', 1, "bad/negative_time.yaml:4:35: error: model.uniform.forward_ms: "
     "must be >= 0, got '-1'"),
    ('bad/nan_time.yaml', 1, "bad/nan_time.yaml:4:35: error: model.uniform.forward_ms: expected a "
     "decimal number, got '.nan'"),
    ('bad/yaml11_bool.yaml', 1, "bad/yaml11_bool.yaml:6:12: error: cluster.devices: expected a "
     "decimal number, got 'yes'"),
    ('bad/hex_number.yaml', 1, "bad/hex_number.yaml:6:12: error: cluster.devices: expected a "
     "decimal number, got '0x10'"),
    ('bad/missing_field.yaml', 1, "bad/missing_field.yaml:4:12: error: model.uniform: missing key "
     "'forward_ms'"),
    ('bad/model_file_missing.yaml', 1, "bad/model_file_missing.yaml:1:15: error: model.file: "
     "'bad/no-such-model.yaml': cannot open file: No such file or directory"),
]

with tempfile.TemporaryDirectory() as tmp:
    for path, status, line in BAD:
        out = os.path.join(tmp, 'report.json')
        rc, so, se = run('simulate', path, '-f', 'json', '-o', out)
        check(rc == status, f'{path}: exit {rc}, want {status}')
        check(se == line + '\n', f'{path}: stderr {se!r}, want {line!r}')
        check(so == '', f'{path}: stdout not empty')
        check(not os.listdir(tmp), f'{path}: left files behind: {os.listdir(tmp)}')

    # A graph with a cycle names the file, line and node.
    rc, so, se = run('simulate', 'bad/cycle_scenario.yaml')
    check(rc == 1 and se.startswith('bad/cycle_graph.txt:') and 'cycle' in se
          and se.count('\n') == 1, f'cycle: {rc} {se!r}')

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
