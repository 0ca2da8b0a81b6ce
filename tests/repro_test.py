#!/usr/bin/env python3
"""Reproducibility (issue 8): the same input, seed and binary give
byte-identical CSV, JSON and trace output, run twice and in a locale with a
decimal comma (de_DE.UTF-8, generated in CI with localedef); every
machine-readable output carries provenance (ppsim version, input hashes, seed,
the effective scenario after overrides)."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def locales():
    try:
        out = subprocess.run(['locale', '-a'], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [l for l in out.split() if l.lower().replace('-', '') in ('de_de.utf8',)]


DE = locales()
if not DE:
    print('de_DE.UTF-8 is not installed (CI generates it with localedef): locale runs skipped')
tmp = tempfile.mkdtemp()


def run(args, lang=None, outfile=None):
    env = dict(os.environ)
    if lang:
        env.update(LC_ALL=lang, LANG=lang, LC_NUMERIC=lang)
    p = subprocess.run([PPSIM, *args], capture_output=True, env=env)
    data = p.stdout
    if outfile:
        data = open(outfile, 'rb').read() if os.path.exists(outfile) else b''
    return p.returncode, data, p.stderr.decode('utf-8', 'replace')


SC = '../scenarios/quickstart.yaml'
CASES = [
    ('simulate json', ['simulate', SC, '-f', 'json'], None),
    ('simulate csv', ['simulate', SC, '-f', 'csv', '--set', 'pipeline.schedule=zb-h1'], None),
    ('simulate interleaved json', ['simulate', SC, '-f', 'json', '--set', 'pipeline.schedule=interleaved-1f1b',
                                   '--set', 'pipeline.chunks=3'], None),
    ('staleness json', ['staleness', SC, '--set', 'pipeline.schedule=pipedream', '-f', 'json'], None),
    ('staleness unit csv', ['staleness', '--stages', '6', '-f', 'csv'], None),
    ('sweep csv', ['sweep', SC, '--grid', 'pipeline.schedule=1f1b,zb-h1', '--grid',
                   'cluster.link.latency_ms=0.001,0.5', '--no-progress', '--summary', os.devnull], None),
    ('converge json', ['converge', 'theory/cv_small.yaml', '-f', 'json'], None),
    ('converge csv', ['converge', 'theory/cv_small.yaml', '-f', 'csv'], None),
    ('bound json', ['bound', '--L', '4', '--G', '2', '--delta0', '3', '--iterations', '1000',
                    '--stages', '8', '--schedule', 'pipedream', '-f', 'json'], None),
    ('plan json', ['plan', '-f', '../models/pipedream/profiles/vgg16/graph.txt', '-n', '4',
                   '--format', 'json'], None),
]
trace_path = os.path.join(tmp, 't.json')
rc, _, se = run(['simulate', '--help'])
if '--trace' in _.decode():
    CASES.append(('trace', ['simulate', SC, '--trace', trace_path], trace_path))

for name, args, outfile in CASES:
    rc1, a, e1 = run(args, outfile=outfile)
    check(rc1 in (0, 3), f'{name}: status {rc1}: {e1}')
    rc2, b, _ = run(args, outfile=outfile)
    check(a == b and len(a) > 0, f'{name}: two runs differ')
    for lang in DE:
        rc3, c, e3 = run(args, lang=lang, outfile=outfile)
        check(c == a, f'{name}: output differs under {lang}')

# Provenance in every JSON output.
for name, args, outfile in CASES:
    if not name.endswith('json'):
        continue
    rc, out, se = run(args)
    try:
        j = json.loads(out)
    except ValueError as e:
        check(False, f'{name}: not JSON: {e}')
        continue
    m = j.get('meta')
    check(isinstance(m, dict), f'{name}: no meta object')
    if not isinstance(m, dict):
        continue
    check(m.get('ppsim_version'), f'{name}: no version')
    check('seed' in m and 'scenario' in m and 'inputs' in m, f'{name}: meta fields {list(m)}')
    for inp in m.get('inputs', []):
        path = inp['path']
        want = hashlib.sha256(open(path, 'rb').read()).hexdigest()
        check(inp['sha256'] == want, f'{name}: {path} hash {inp["sha256"]} != {want}')
rc, out, se = run(['simulate', SC, '-f', 'json', '--set', 'pipeline.microbatches=48'])
m = json.loads(out)['meta']
check(m['scenario']['pipeline']['microbatches'] == 48, 'the effective scenario shows the override')
check([i['role'] for i in m['inputs']] == ['scenario', 'model'], f'inputs {m["inputs"]}')
rc, out, se = run(['converge', 'theory/cv_small.yaml', '-f', 'json'])
check(json.loads(out)['meta']['seed'] is not None, 'converge meta has its seed')

# A sweep's CSV gets a sidecar.
csvp = os.path.join(tmp, 's.csv')
rc, _, se = run(['sweep', SC, '--grid', 'pipeline.microbatches=8,16', '-o', csvp, '--no-progress',
                 '--summary', os.devnull])
check(rc == 0 and os.path.exists(csvp + '.meta.json'), f'sweep sidecar: {rc} {se}')
if os.path.exists(csvp + '.meta.json'):
    side = json.load(open(csvp + '.meta.json'))
    check(side['meta']['command'] == 'sweep', 'sidecar command')

print(f'{checks} checks, {len(failures)} failures')
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
