#!/usr/bin/env python3
"""End-to-end checks of `ppsim bound` (issue 6 §3; pipedream-theory.md §3.2-§3.3).

Bad values give one stderr line naming the option and the value with status 1,
misuse gives status 2 and a --help hint, and nothing is written either way.
Valid runs honour the JSON/CSV contract, flag the reconstruction, are
byte-identical across runs, and the --schedule sweeps show delta = the §2.3
steady-state maxima (S^4 growth of the stale-read term for pipedream, S for
pipedream-2bw, 0 for flushing schedules)."""
import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0


def run(*args):
    p = subprocess.run([PPSIM, 'bound', *args], capture_output=True)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def close(a, b, rtol=1e-12):
    return a is not None and abs(a - b) <= rtol * max(1.0, abs(b))


BASE = ['--L', '2', '--G', '3', '--delta0', '10', '--iterations', '1000']
SWEEP = '2,4,8,16,32,64,128'

# --help lists every option.
rc, so, se = run('--help')
check(rc == 0 and so.startswith('Usage: ppsim bound') and se == '', f'--help: {rc} {se!r}')
for opt in ('--L', '--G', '--delta0', '--iterations', '--stages', '--sweep-stages', '--delay',
            '--schedule', '--microbatches', '--gamma', '--format', '--output', '--help'):
    check(opt in so, f'--help does not list {opt}')
check('RECONSTRUCTED' in so, '--help does not flag the reconstruction')

# Bad values: status 1, exactly one stderr line naming the option and the value.
BAD = [
    (['--L', '0'], "error: --L: must be > 0, got '0'"),
    (['--L', '-2'], "error: --L: must be > 0, got '-2'"),
    (['--L', 'abc'], "error: --L: expected a decimal number, got 'abc'"),
    (['--L', 'nan'], "error: --L: must be a finite number, got 'nan'"),
    (['--L', '1e400'], "error: --L: number out of range, got '1e400'"),
    (['--L', '0x10'], "error: --L: expected a decimal number, got '0x10'"),
    (['--L', ''], "error: --L: expected a decimal number, got ''"),
    (['--G', '0'], "error: --G: must be > 0, got '0'"),
    (['--G', 'inf'], "error: --G: must be a finite number, got 'inf'"),
    (['--delta0', '-1'], "error: --delta0: must be >= 0, got '-1'"),
    (['--delta0', '1,5'], "error: --delta0: expected a decimal number, got '1,5'"),
    (['--iterations', '0'], "error: --iterations: must be >= 1, got '0'"),
    (['--iterations', '10.5'], "error: --iterations: must be a whole number, got '10.5'"),
    (['--iterations', '1e17'], "error: --iterations: must be at most 2^53, got '1e17'"),
    (['--stages', '0'], "error: --stages: must be >= 1, got '0'"),
    (['--stages', '2.5'], "error: --stages: must be a whole number, got '2.5'"),
    (['--delay', '-3'], "error: --delay: must be >= 0, got '-3'"),
    (['--delay', '-inf'], "error: --delay: must be a finite number, got '-inf'"),
    (['--gamma', '0'],
     "error: --gamma: must be > 0 (leave --gamma out for the tuned step), got '0'"),
    (['--gamma', '-0.1'], "error: --gamma: must be > 0, got '-0.1'"),
    (['--schedule', 'pipedrem'],
     "error: --schedule: unknown schedule (did you mean 'pipedream'?), got 'pipedrem'"),
    (['--microbatches', '0'], "error: --microbatches: must be a whole number 1..1000000, got '0'"),
    (['--sweep-stages', '2,,8'], "error: --sweep-stages: empty entry in the list, got '2,,8'"),
    (['--sweep-stages', '2,x'], "error: --sweep-stages: expected a decimal number, got 'x'"),
    (['--sweep-stages', '2,0'], "error: --sweep-stages: must be >= 1, got '0'"),
]
for extra, want in BAD:
    rc, so, se = run(*extra)
    check(rc == 1 and so == '' and se == want + '\n', f'bad {extra}: {rc} {se!r}, want {want!r}')

rc, so, se = run('--schedule', 'zzzzzzzz')
check(rc == 1 and so == '' and se.count('\n') == 1 and se.startswith(
    "error: --schedule: unknown schedule (known: gpipe, 1f1b, ") and "pipedream" in se
      and se.endswith("), got 'zzzzzzzz'\n"), f'unknown schedule list: {se!r}')

# Valid values the schedule replay refuses: status 1, the analyser's message.
rc, so, se = run(*BASE, '--stages', '1', '--schedule', 'pipedream')
check(rc == 1 and so == '' and se.count('\n') == 1 and 'stages' in se, f'S = 1 replay: {rc} {se!r}')
rc, so, se = run(*BASE, '--stages', '5000', '--schedule', 'pipedream')
check(rc == 3 and se == "error: --stages: --schedule replays at most 4096 stages, got '5000'\n",
      f'S = 5000 replay: {rc} {se!r}')
# A result that overflows a double is refused, not printed as inf.
rc, so, se = run('--L', '1e200', '--G', '1e200', '--delta0', '1', '--iterations', '10',
                 '--stages', '2', '--delay', '1', '--gamma', '0.5')
check(rc == 1 and so == '' and 'not a finite double' in se, f'overflow: {rc} {se!r}')

# Misuse: status 2, a --help hint, nothing on stdout.
USAGE = [
    [],
    ['--bogus'],
    ['--del', '1'],                      # ambiguous: --delay / --delta0
    ['extra'],
    ['--L'],
    BASE[2:] + ['--stages', '2', '--delay', '1'],                      # no --L
    BASE[:2] + BASE[4:] + ['--stages', '2', '--delay', '1'],           # no --G
    BASE[:4] + BASE[6:] + ['--stages', '2', '--delay', '1'],           # no --delta0
    BASE[:6] + ['--stages', '2', '--delay', '1'],                      # no --iterations
    BASE + ['--delay', '1'],                                           # no stages
    BASE + ['--stages', '2'],                                          # no delay
    BASE + ['--stages', '2', '--delay', '1', '--schedule', 'gpipe'],   # both delays
    BASE + ['--stages', '2', '--sweep-stages', '2,4', '--delay', '1'],  # both stages
    BASE + ['--stages', '2', '--delay', '1', '--microbatches', '8'],   # N without schedule
    BASE + ['--stages', '2', '--delay', '1', '-f', 'xml'],
]
for args in USAGE:
    rc, so, se = run(*args)
    check(rc == 2 and so == '' and 'Try ' in se, f'usage {args}: {rc} {se!r}')

# JSON: the fields, the reconstruction flag, and the hand-computed values of
# test_bound.c (L = 2, G = 3, D0 = 10, K = 1000, S = 4, delta = 5: gamma = 1/30,
# terms 2.4, 2.4, 1, bound = closed form = 5.8).
rc, so, se = run(*BASE, '--stages', '4', '--delay', '5', '-f', 'json')
check(rc == 0 and se == '', f'json: {rc} {se!r}')
j = json.loads(so) if rc == 0 else {}
for key in ('command', 'reconstructed', 'source', 'caveat', 'L', 'G', 'delta0', 'iterations',
            'gamma_mode', 'delay_source', 'schedule', 'stages', 'microbatches', 'delta',
            'mean_delay', 'gamma', 'gamma_branch', 'gamma_inv_l', 'gamma_sqrt', 'term1', 'term2',
            'term3', 'bound', 'closed_form'):
    check(key in j, f'json lacks {key}')
check(j.get('reconstructed') is True, 'json: reconstructed is not true')
check('§3.2' in j.get('source', ''), f"json source: {j.get('source')!r}")
check(j.get('delay_source') == 'given' and j.get('schedule') is None, 'json: delay source')
check(j.get('gamma_branch') == 'sqrt' and j.get('gamma_mode') == 'tuned', 'json: branch')
check(close(j.get('gamma'), 1 / 30), f"json gamma {j.get('gamma')}")
for key, want in (('term1', 2.4), ('term2', 2.4), ('term3', 1.0), ('bound', 5.8),
                  ('closed_form', 5.8), ('stages', 4), ('delta', 5), ('iterations', 1000)):
    check(close(j.get(key), want), f'json {key}: {j.get(key)} want {want}')

# 1/L branch (K = 4 < K* = 40/9): no closed form; a given step: branch "given".
rc, so, se = run(*BASE[:6], '--iterations', '4', '--stages', '4', '--delay', '5', '-f', 'json')
j = json.loads(so) if rc == 0 else {}
check(j.get('gamma_branch') == '1/L' and j.get('closed_form', 0) is None
      and close(j.get('bound'), 301.0), f'1/L branch: {so!r}')
rc, so, se = run(*BASE, '--stages', '4', '--delay', '5', '--gamma', '0.01', '-f', 'json')
j = json.loads(so) if rc == 0 else {}
check(j.get('gamma_mode') == 'given' and j.get('gamma_branch') == 'given'
      and close(j.get('bound'), 8.81), f'given gamma: {so!r}')

# Table: the caveat line and %.6g numbers.
rc, so, se = run(*BASE, '--stages', '4', '--delay', '5')
check(rc == 0 and any(l.startswith('caveat: reconstructed') for l in so.splitlines()),
      f'table caveat: {so!r}')
check('5.8' in so and '0.0333333' in so, f'table numbers: {so!r}')

# CSV parses; one row; empty fields for what does not apply.
rc, so, se = run(*BASE, '--stages', '4', '--delay', '5', '-f', 'csv')
rows = list(csv.DictReader(io.StringIO(so))) if rc == 0 else []
check(len(rows) == 1 and rows[0]['schedule'] == '' and close(float(rows[0]['bound']), 5.8)
      and rows[0]['mean_delay'] == '', f'csv: {so!r}')

# -o writes the file atomically and prints nothing; a failing run leaves no file.
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'b.json')
    rc, so, se = run(*BASE, '--stages', '4', '--delay', '5', '-f', 'json', '-o', out)
    check(rc == 0 and so == '' and os.path.exists(out), f'-o: {rc} {se!r}')
    if os.path.exists(out):
        check(json.load(open(out)).get('reconstructed') is True, '-o content')
    bad = os.path.join(tmp, 'bad.json')
    rc, so, se = run(*BASE, '--stages', '1', '--schedule', 'pipedream', '-o', bad)
    check(rc == 1 and not os.path.exists(bad), '-o on failure left a file')
    check(sorted(os.listdir(tmp)) == ['b.json'], f'stray files: {os.listdir(tmp)}')

# Deterministic: same input, same bytes.
a = run(*BASE, '--sweep-stages', '2,4,8', '--schedule', 'pipedream', '-f', 'json')
b = run(*BASE, '--sweep-stages', '2,4,8', '--schedule', 'pipedream', '-f', 'json')
check(a == b and a[0] == 0, 'not byte-identical')


# Sweeps over S (§2.3 table; issue 6 §3). pipedream: delta = floor(S(2S-1)/2)
# = 3, 14, 60, 248, 1008, 4064, 16320; with the tuned step (independent of S) term
# 3 grows as delta^2, i.e. 16 ((S/2 - 1/4)/(S/2 - 1/2))^2 per doubling -> 16.
def sweep(schedule):
    rc, so, se = run(*BASE, '--sweep-stages', SWEEP, '--schedule', schedule, '-f', 'json')
    check(rc == 0 and se == '', f'sweep {schedule}: {rc} {se!r}')
    if rc:
        return []
    j = json.loads(so)
    check(j.get('reconstructed') is True and j.get('schedule') == schedule
          and j.get('delay_source') == 'schedule', f'sweep {schedule} header')
    return j.get('rows', [])


rows = sweep('pipedream')
check([r['delta'] for r in rows] == [3, 14, 60, 248, 1008, 4064, 16320],
      f"pipedream deltas {[r['delta'] for r in rows]}")
check([r['mean_delay'] for r in rows] == [(s * s - 1) / 2 for s in (2, 4, 8, 16, 32, 64, 128)],
      f"pipedream means {[r['mean_delay'] for r in rows]}")
check(len({r['gamma'] for r in rows}) == 1, 'tuned gamma depends on S')
check(rows and rows[0]['term3_growth'] is None, 'first row has a growth')
for r in rows[1:]:
    h = r['stages'] / 2
    want = 16 * ((h - 0.25) / (h - 0.5)) ** 2
    check(close(r['term3_growth'], want, 1e-9), f"growth at S={r['stages']}: "
          f"{r['term3_growth']} want {want}")
    check(close(r['term1'], r['term2'], 1e-12), f"terms 1, 2 differ at S={r['stages']}")
    check(close(r['closed_form'], r['bound'], 1e-12), f"closed form at S={r['stages']}")
if rows:
    check(abs(rows[-1]['term3_growth'] - 16) < 0.15, f"S=128 growth {rows[-1]['term3_growth']}")

rows = sweep('pipedream-2bw')  # one batch = S block updates: term 3 grows as S^2
check([r['delta'] for r in rows] == [2, 4, 8, 16, 32, 64, 128],
      f"2bw deltas {[r['delta'] for r in rows]}")
check(all(close(r['term3_growth'], 4) for r in rows[1:]), '2bw growth is not 4 per doubling')

for sched in ('1f1b', 'gpipe'):
    rows = sweep(sched)
    check(len(rows) == 7 and all(r['delta'] == 0 and r['term3'] == 0
                                 and r['term3_growth'] is None for r in rows),
          f'{sched}: nonzero stale-read term')

# The table sweep shows the S^4 growth column.
rc, so, se = run(*BASE, '--sweep-stages', SWEEP, '--schedule', 'pipedream')
lines = so.splitlines()
check(rc == 0 and any(l.split()[:2] == ['128', '16320'] for l in lines if l.strip()),
      f'table sweep: {so!r}')
check(any(l.startswith('caveat: ') for l in lines), 'table sweep lacks the caveat')

for f in failures:
    print('FAIL:', f)
print(f'{checks - len(failures)} passed, {len(failures)} failed')
sys.exit(1 if failures else 0)
