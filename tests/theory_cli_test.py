#!/usr/bin/env python3
"""End-to-end checks of `ppsim staleness` and `ppsim converge` (issue 6 §1, §2;
oracles from pipedream-theory.md §1.3, §2.2-§2.4, §3.4, §4.1, §5 E2/E3).

staleness: the unit-time delay statistics, matrices, own-stage staleness and
stashed versions against the reference's exact formulas and worked examples,
zero delay for flushing schedules, one batch for PipeDream-2BW, the CSV/table
forms, the plot, scenario runs, determinism, and bad input (usage errors: 2;
bad values: 1; nothing written on failure).
converge: the paper's E3 (PD beats LocalSGD several-fold at 1230 steps) and E2
(RPD driven by PD's own delays is PD; RPD worsens with delta), the CSV curves,
the plot, determinism, and bad input from the fixtures in tests/theory/ (one
stderr line naming file:line:col and the key, status 1). Run from tests/."""
import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, 'theory')
SCEN = os.path.join(HERE, '..', 'scenarios')
E2 = os.path.join(SCEN, 'paper', 'e2-pd-vs-rpd-s8.yaml')
E3 = os.path.join(SCEN, 'paper', 'e3-nesterov-s16.yaml')
S4 = os.path.join(SCEN, 'validation', 'pipedream-theory-s4.yaml')
QUICK = os.path.join(SCEN, 'quickstart.yaml')
SMALL = os.path.join(FIX, 'cv_small.yaml')
GNUPLOT = shutil.which('gnuplot') is not None

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def run(cmd, *args):
    p = subprocess.run([PPSIM, cmd, *args], capture_output=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def start(cmd, *args):
    """The slow paper runs go in the background while the fast checks run."""
    return subprocess.Popen([PPSIM, cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def finish(p):
    so, se = p.communicate()
    return p.returncode, so.decode('utf-8', 'replace'), se.decode('utf-8', 'replace')


def loads(so):
    try:
        return json.loads(so)
    except ValueError:
        return {}


e3_job = start('converge', E3, '-f', 'json')
e2_job = start('converge', E2, '-f', 'json')


# ---------------------------------------------------------------- staleness
def stale(*args):
    rc, so, se = run('staleness', *args, '-f', 'json')
    check(rc == 0 and se == '', f'staleness {args}: {rc} {se!r}')
    return loads(so) if rc == 0 else {}


rc, so, se = run('staleness', '--help')
check(rc == 0 and so.startswith('Usage: ppsim staleness') and se == '', f'--help: {rc} {se!r}')
for opt in ('--stages', '--schedule', '--microbatches', '--batch', '--convention', '--set',
            '--format', '--output', '--plot', '--max-stages'):
    check(opt in so, f'staleness --help does not list {opt}')

# §2.4: the worked matrices (rows: updating stage s, columns: block read i).
WORKED = {
    2: [[3, 1], [2, 0]],
    3: [[7, 5, 3], [6, 4, 2], [5, 3, 1]],
    4: [[14, 11, 9, 6], [12, 9, 7, 4], [11, 8, 6, 3], [9, 6, 4, 1]],
    5: [[22, 19, 16, 13, 10], [20, 17, 14, 11, 8], [18, 15, 12, 9, 6], [16, 13, 10, 7, 4],
        [14, 11, 8, 5, 2]],
}
# §2.3 table, p10 column ("code conv.": N = 10 S, second half of the updates).
P10 = {2: 0, 3: 1, 4: 3, 5: 5, 6: 7, 8: 14, 10: 22, 16: 58, 32: 232, 64: 931}
UNIT = {}
for S in list(range(2, 13)) + [16, 32, 64, 128]:
    j = UNIT[S] = stale('--stages', str(S))
    # §2.3: tau_max = floor(S(2S-1)/2), steady mean (S^2-1)/2 (issue: S = 2..128,
    # delta values 3, 14, 60, 248, 1008, 4064, 16320).
    check(j.get('max_delay') == S * (2 * S - 1) // 2,
          f"S={S}: max_delay {j.get('max_delay')} want {S * (2 * S - 1) // 2}")
    check(j.get('mean_delay') == (S * S - 1) / 2,
          f"S={S}: mean_delay {j.get('mean_delay')} want {(S * S - 1) / 2}")
    if S in P10:
        check(j.get('p10_delay') == P10[S], f"S={S}: p10 {j.get('p10_delay')} want {P10[S]}")
    # N defaults to 10 S (issue §1); the matrix is S x S; §1.3: own-stage S - s.
    check(j.get('microbatches') == 10 * S and j.get('block_updates') == 10 * S * S,
          f"S={S}: N {j.get('microbatches')}, updates {j.get('block_updates')}")
    m = j.get('delay_matrix', [])
    check(len(m) == S and all(len(r) == S for r in m), f'S={S}: matrix is not S x S')
    check(len(j.get('delay_ms_matrix', [])) == S, f'S={S}: delay_ms_matrix rows')
    check(j.get('own_stage_staleness') == [S - s for s in range(1, S + 1)],
          f"S={S}: own stage {j.get('own_stage_staleness')}")
    if m and S <= 32:
        check(max(map(max, m)) == j.get('max_delay') and sum(map(sum, m)) / S / S == j.get(
            'mean_delay'), f'S={S}: max/mean are not the matrix max/mean')
    if S in WORKED:
        check(m == WORKED[S], f'S={S}: matrix {m} want {WORKED[S]} (§2.4)')
    if S % 2 == 0 and S <= 32:
        # §2.3 even S: (S/2)(2S - s - i) + ceil((S - i)/2) + floor((s - 1)/2)
        want = [[S // 2 * (2 * S - s - i) + (S - i + 1) // 2 + (s - 1) // 2
                 for i in range(1, S + 1)] for s in range(1, S + 1)]
        check(m == want, f'S={S}: matrix differs from the even-S closed form (§2.3)')
j4 = UNIT[4]
check(j4.get('schedule') == 'pipedream' and j4.get('model') == 'unit-time model'
      and j4.get('convention') == 'paper', f'S=4 header {j4}')
# Issue §1: the start-up transient is reported separately (16 at S = 4).
check(j4.get('run_max_delay') == 16, f"S=4 run_max_delay {j4.get('run_max_delay')}")
check(j4.get('run_p10_delay') == 3 and 0 < j4.get('run_mean_delay', 0) < 8,
      f"S=4 run p10/mean {j4.get('run_p10_delay')} {j4.get('run_mean_delay')}")
check(all(UNIT[S].get('run_max_delay', 0) >= UNIT[S].get('max_delay', 1) for S in UNIT),
      'run max below the steady max')
# §1.3: peak stashed weight versions of the greedy schedule.
check(j4.get('stash_versions') == [4, 4, 3, 1], f"S=4 stash {j4.get('stash_versions')}")
check(UNIT[8].get('stash_versions') == [8, 8, 8, 8, 7, 5, 3, 1],
      f"S=8 stash {UNIT[8].get('stash_versions')}")
# Unit time (F = B = 1 ms): F(i, m) start to B(s, m) end for s = i = 1 is 2S
# steps (§2.2: 2S - 1 steps from F on stage 1 to B on stage 1, plus that B).
check(j4.get('delay_ms_matrix', [[0]])[0][0] == 8 and j4.get('max_delay_ms') == 8,
      f"S=4 delay_ms {j4.get('delay_ms_matrix')}")
check(UNIT[128].get('max_delay') == 16320 and UNIT[128].get('mean_delay') == 8191.5,
      'S=128 (issue: --stages 128 completes)')

# Flushing schedules and LocalSGD never read stale weights (§6 item 2, §4.1).
for sched in ('gpipe', '1f1b', 'zb-h1', 'naive', 'localsgd'):
    for S in (4, 5):
        j = stale('--stages', str(S), '--schedule', sched)
        zero = [[0] * S for _ in range(S)]
        check(j.get('schedule') == sched and j.get('max_delay') == 0 and j.get('mean_delay') == 0
              and j.get('p10_delay') == 0 and j.get('run_max_delay') == 0
              and j.get('delay_matrix') == zero and j.get('own_stage_staleness') == [0] * S,
              f'{sched} S={S}: not zero: {j}')
# PipeDream-2BW: one batch = S block updates; own stage one version (issue §1).
for S in (2, 4, 7, 8):
    j = stale('--stages', str(S), '--schedule', 'pipedream-2bw')
    check(j.get('max_delay') == S and j.get('mean_delay') == S
          and j.get('delay_matrix') == [[S] * S for _ in range(S)],
          f"2bw S={S}: max {j.get('max_delay')} matrix {j.get('delay_matrix')}")
    check(j.get('own_stage_staleness') == [1] * S, f"2bw S={S}: own {j.get('own_stage_staleness')}")
    check(j.get('run_max_delay') == S, f"2bw S={S}: run max {j.get('run_max_delay')}")

# N = 2S microbatches already reach the steady state (fewer is refused below).
j = stale('--stages', '4', '--microbatches', '8')
check(j.get('microbatches') == 8 and j.get('delay_matrix') == WORKED[4]
      and j.get('max_delay') == 14,
      f"S=4 N=8: {j.get('delay_matrix')}")

# --convention physical: an update counts once its B ends, so the matrix changes.
jp = stale('--stages', '4', '--convention', 'physical')
check(jp.get('convention') == 'physical' and jp.get('delay_matrix') != WORKED[4]
      and jp.get('delay_matrix') is not None, f"physical S=4 {jp.get('delay_matrix')}")

# CSV: header and S*S rows (s, i) in order, the same numbers as the JSON.
rc, so, se = run('staleness', '--stages', '4', '-f', 'csv')
lines = so.splitlines()
check(rc == 0 and lines[:1] == ['stage,block,delay_updates,delay_ms'] and len(lines) == 17,
      f'csv: {rc} {lines[:2]} {len(lines)}')
rows = list(csv.DictReader(io.StringIO(so))) if rc == 0 else []
check([(int(r['stage']), int(r['block'])) for r in rows]
      == [(s, i) for s in range(1, 5) for i in range(1, 5)], 'csv (stage, block) order')
check([int(r['delay_updates']) for r in rows] == [x for r in WORKED[4] for x in r],
      'csv delay_updates differ from §2.4')
check([float(r['delay_ms']) for r in rows] == [x for r in j4.get('delay_ms_matrix', []) for x in r],
      'csv delay_ms differ from the json')
rc, so, se = run('staleness', '--stages', '6', '-f', 'csv')
check(rc == 0 and len(so.splitlines()) == 37, f'csv S=6 rows {len(so.splitlines())}')

# Table: the statistics and the matrix.
rc, so, se = run('staleness', '--stages', '4')
check(rc == 0 and se == '' and 'delay matrix' in so, f'table: {rc} {se!r}')
check(any(l.split() == ['s=1', '14', '11', '9', '6'] for l in so.splitlines())
      and any(l.split() == ['s=4', '9', '6', '4', '1'] for l in so.splitlines()),
      f'table matrix rows: {so!r}')
check('14 updates' in so and '7.5 updates' in so and 'max 16' in so, f'table stats: {so!r}')

# --plot: the delay-against-S figure (§2.2 / E1: max ~ S^2 - S/2, mean ~ S^2/2).
with tempfile.TemporaryDirectory() as tmp:
    rc, so, se = run('staleness', '--stages', '4', '--max-stages', '16', '--plot', tmp)
    if GNUPLOT:
        names = sorted(os.listdir(tmp))
        check(rc == 0 and names == ['staleness.dat', 'staleness.gp', 'staleness.png'],
              f'--plot: {rc} {se!r} {names}')
        check(os.path.exists(os.path.join(tmp, 'staleness.png'))
              and os.path.getsize(os.path.join(tmp, 'staleness.png')) > 1000, 'staleness.png empty')
        dat = [l.split() for l in open(os.path.join(tmp, 'staleness.dat'))
               if l.strip() and not l.startswith('#')] if rc == 0 else []
        check(len(dat) >= 15 and int(dat[-1][0]) == 16
              and all(int(r[1]) == int(r[0]) * (2 * int(r[0]) - 1) // 2 for r in dat)
              and all(float(r[2]) == (int(r[0]) ** 2 - 1) / 2 for r in dat),
              f'staleness.dat is not tau_max / (S^2-1)/2: {dat[:3]}')
        gp = open(os.path.join(tmp, 'staleness.gp')).read() if rc == 0 else ''
        fit = dict(re.findall(r'^(fit_[abc]) = (\S+)$', gp, re.M))
        check(abs(float(fit.get('fit_a', 9)) - 1) < 0.01 and abs(float(fit.get('fit_b', 9)) + 0.5)
              < 0.1 and abs(float(fit.get('fit_c', 9)) - 0.5) < 0.01, f'plot fits {fit}')
    else:
        print('gnuplot not found: staleness --plot checks skipped')

# Scenarios: the paper's unit-time scenario gives the unit-time numbers.
js = stale(S4)
check(js.get('model') == 'scenario' and js.get('stages') == 4, f'S4 scenario header {js}')
for key in ('max_delay', 'mean_delay', 'p10_delay', 'run_max_delay', 'run_mean_delay',
            'run_p10_delay', 'delay_matrix', 'delay_ms_matrix', 'own_stage_staleness',
            'stash_versions'):
    check(key in js and js.get(key) == j4.get(key),
          f'S4 scenario {key}: {js.get(key)} unit model {j4.get(key)}')
# Real costs (1.5B GPT, 8 stages): delays in updates and in ms.
jq = stale(QUICK, '--set', 'pipeline.schedule=pipedream')
mq = jq.get('delay_matrix', [])
mms = jq.get('delay_ms_matrix', [])
check(jq.get('stages') == 8 and len(mq) == 8 and all(len(r) == 8 for r in mq)
      and len(mms) == 8, f'quickstart matrices {jq}')
check(jq.get('max_delay', 0) > 0 and all(x > 0 for r in mms for x in r)
      and jq.get('max_delay_ms', 0) > 0 and jq.get('mean_delay_ms', 0) > 0,
      f"quickstart: zero delays {jq.get('max_delay')} {jq.get('max_delay_ms')}")
check(jq.get('stash_versions') == [8, 8, 8, 8, 7, 5, 3, 1],
      f"quickstart stash {jq.get('stash_versions')}")
jqp = stale(QUICK, '--set', 'pipeline.schedule=pipedream', '--convention', 'physical')
check(jqp.get('convention') == 'physical' and jqp.get('delay_matrix') is not None
      and jqp.get('delay_matrix') != mq, 'quickstart: --convention physical leaves the matrix')
j1 = stale(QUICK)  # the scenario's own 1f1b flushes: no staleness
check(j1.get('schedule') == '1f1b' and j1.get('max_delay') == 0 and j1.get('run_max_delay') == 0,
      f"quickstart 1f1b {j1.get('max_delay')}")

# Byte-identical output across runs.
a = run('staleness', QUICK, '--set', 'pipeline.schedule=pipedream', '-f', 'json')
b = run('staleness', QUICK, '--set', 'pipeline.schedule=pipedream', '-f', 'json')
check(a == b and a[0] == 0, 'staleness scenario output is not byte-identical')
a = run('staleness', '--stages', '9', '-f', 'csv')
b = run('staleness', '--stages', '9', '-f', 'csv')
check(a == b and a[0] == 0, 'staleness unit output is not byte-identical')

# -o: written atomically, nothing on stdout.
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 's.json')
    rc, so, se = run('staleness', '--stages', '4', '-f', 'json', '-o', out)
    check(rc == 0 and so == '' and os.path.exists(out)
          and json.load(open(out)).get('delay_matrix') == WORKED[4], f'-o: {rc} {se!r}')

# Bad input. Usage errors: status 2 and a --help hint; bad values: status 1 and
# one line. Each run has -o: a failure never leaves the file behind.
MALFORMED = os.path.join(FIX, 'st_malformed.yaml')
STALE_BAD = [
    (['--stages', '1'], 2, ["--stages", "'1'"]),
    (['--stages', '0'], 2, ["--stages", "'0'"]),
    (['--stages', '-3'], 2, ["--stages", "'-3'"]),
    (['--stages', 'abc'], 2, ["--stages", "'abc'"]),
    (['--stages', '4', '--schedule', 'pipedrem'], 2, ["'pipedrem'", "did you mean 'pipedream'"]),
    (['--stages', '4', '--convention', 'exact'], 2, ["convention", "'exact'"]),
    ([S4, '--stages', '4'], 2, ['--stages', 'scenario']),
    (['--stages', '4', '--set', 'pipeline.stages=4'], 2, ['--set', 'scenario']),
    ([], 2, ['scenario', '--stages']),
    (['--stages', '4', '-f', 'xml'], 2, ["'xml'"]),
    (['--stages', '4', '--bogus'], 2, ["'--bogus'"]),
    ([os.path.join(FIX, 'no_such_file.yaml')], 1, ['no_such_file.yaml']),
    ([MALFORMED], 1, ['pipeline.microbatches', "'forty'"]),
    (['--stages', '4', '--schedule', 'pipedream-2bw', '--batch', '2'], 1,
     ['pipedream-2bw', 'version', 'exists']),
    (['--stages', '4', '--schedule', 'interleaved-1f1b'], 1, ['interleaved-1f1b', 'chunk']),
    (['--stages', '4', '--microbatches', '7'], 1, ['microbatches', '7', '8']),  # N >= 2S
]
with tempfile.TemporaryDirectory() as tmp:
    for args, want_rc, words in STALE_BAD:
        out = os.path.join(tmp, 'out.json')
        rc, so, se = run('staleness', *args, '-f', 'json', '-o', out)
        ok = rc == want_rc and so == '' and all(w in se for w in words)
        if want_rc == 2:
            ok = ok and se.count('\n') == 2 and 'Try ' in se
        else:
            ok = ok and se.count('\n') == 1
        check(ok, f'staleness bad {args}: {rc} {se!r}, want {want_rc} naming {words}')
        check(not os.path.exists(out), f'staleness bad {args} left {out}')
    check(os.listdir(tmp) == [], f'staleness bad input left {os.listdir(tmp)}')


def marked(path):
    """The '# error:' marker of a fixture: (line, column or None)."""
    for n, line in enumerate(open(path), 1):
        mt = re.search(r"# error: (?:'(.*)'|line)\s*$", line)
        if mt:
            return n, (line.index(mt.group(1)) + 1 if mt.group(1) else None)
    return None, None


rc, so, se = run('staleness', MALFORMED)
ln, col = marked(MALFORMED)
check(se.startswith(f'{MALFORMED}:{ln}:{col}: error: '), f'malformed location: {se!r}')
BAD_YAML = os.path.join(FIX, 'st_bad_yaml.yaml')
rc, so, se = run('staleness', BAD_YAML)
check(rc == 1 and so == '' and se.count('\n') == 1
      and re.match(re.escape(BAD_YAML) + r':\d+:\d+: error: ', se), f'not YAML: {rc} {se!r}')

# ---------------------------------------------------------------- converge
rc, so, se = run('converge', '--help')
check(rc == 0 and so.startswith('Usage: ppsim converge') and se == '', f'converge --help: {rc}')
for opt in ('--set', '--format', '--output', '--log-every', '--plot'):
    check(opt in so, f'converge --help does not list {opt}')

# The small fixture: S = 4 unit steps, N = 40, every method kind (fast).
rc, so, se = run('converge', SMALL, '-f', 'json')
check(rc == 0 and se == '', f'small json: {rc} {se!r}')
runs = {r['label']: r for r in loads(so).get('runs', [])}
check(list(runs) == ['PD', 'RPD exact', 'RPD uniform', 'LocalSGD H=2', '1F1B'],
      f'small {list(runs)}')
pd, ex, un = runs.get('PD', {}), runs.get('RPD exact', {}), runs.get('RPD uniform', {})
lsgd, sync = runs.get('LocalSGD H=2', {}), runs.get('1F1B', {})
# §1.3: T = 2N + 2S - 2; §4.1: a LocalSGD round (R = S) is 2SH + 2(S - 1) steps.
check(pd.get('timeline_ms') == 2 * 40 + 2 * 4 - 2 and pd.get('microbatches') == 40
      and pd.get('block_updates') == 160 and pd.get('max_delay') == 14,
      f'small PD {pd}')
check(lsgd.get('timeline_ms') == 5 * (2 * 4 * 2 + 2 * 3) and lsgd.get('max_delay') == 0,
      f"small LocalSGD timeline {lsgd.get('timeline_ms')} want 110")
# §3.1: RPD driven by PD's exact (stage, batch, delays) is PD.
check(ex.get('final_gap') == pd.get('final_gap') and ex.get('block_updates') == 160
      and ex.get('max_delay') == 14, f"RPD exact {ex.get('final_gap')} PD {pd.get('final_gap')}")
check(un.get('max_delay') == 14 and un.get('block_updates') == 160
      and len(un.get('grid', [])) == 4, f'RPD uniform takes delta and K from PD: {un}')
check(sync.get('max_delay') == 0 and sync.get('block_updates') == 4, f'sync {sync}')
check(all(0 < r.get('final_gap', -1) < r.get('initial_gap', 0) for r in runs.values()),
      'a small run did not decrease f')

rc, so, se = run('converge', SMALL, '-f', 'csv', '--log-every', '5')
check(rc == 0 and so.startswith('stages,method,gamma,axis,updates,time_ms,gap\n'),
      f'small csv {rc}')
rows = list(csv.DictReader(io.StringIO(so))) if rc == 0 else []


def curve(label, axis):
    return [(int(r['updates']), r['time_ms'], float(r['gap'])) for r in rows
            if r['method'] == label and r['axis'] == axis]


check([u for u, _, _ in curve('PD', 'update')] == list(range(0, 161, 5)),
      f"--log-every 5: {[u for u, _, _ in curve('PD', 'update')][:5]}")
check(curve('PD', 'update') and curve('RPD exact', 'update') == curve('PD', 'update'),
      'RPD exact curve differs from PD (§3.1: same trajectory)')
check(curve('RPD uniform', 'update') and curve('RPD uniform', 'step') == []
      and all(t == '' for _, t, _ in curve('RPD uniform', 'update')),
      'RPD uniform has no simulated time')
check(all(curve(m, 'step') for m in ('PD', 'LocalSGD H=2', '1F1B')), 'small: a step curve is empty')
check(curve('PD', 'update')[-1][2] == pd.get('final_gap'), 'csv final PD gap != json')

rc, so, se = run('converge', SMALL)
tl = so.splitlines()
check(rc == 0 and tl[0].startswith('converge: quadratic objective, d = 16, n = 16, batch 2')
      and tl[1].split()[:3] == ['stages', 'method', 'kind'] and len(tl) == 7,
      f'small table {tl[:2]}')

# Deterministic: the same run twice, the same bytes (RPD's draws included).
a = run('converge', SMALL, '-f', 'csv')
b = run('converge', SMALL, '-f', 'csv')
check(a == b and a[0] == 0, 'converge output is not byte-identical')

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'c.json')
    rc, so, se = run('converge', SMALL, '-f', 'json', '-o', out)
    check(rc == 0 and so == '' and os.path.exists(out) and len(json.load(open(out))['runs']) == 5,
          f'converge -o: {rc} {se!r}')

# Bad input: status 1, one stderr line file:line:col naming the key (tests/theory/).
CV_BAD = [
    ('cv_no_section', ["'converge'"]),
    ('cv_unknown_key', ['budgt_ms', "did you mean 'budget_ms'"]),
    ('cv_unknown_method', ["'pdd'", "did you mean 'pd'"]),
    ('cv_gamma_nan', ['gamma', '.nan']),
    ('cv_gamma_negative', ['gamma', "'-1'"]),
    ('cv_gamma_zero', ['gamma', "'0'"]),
    ('cv_gamma_huge', ['gamma', '1e400']),
    ('cv_gamma_both', ['gamma', 'gamma_exp']),
    ('cv_gamma_exp_reversed', ['gamma_exp', '[3, 1]']),
    ('cv_delta_negative', ['delta', '-1']),
    ('cv_batch_not_dividing', ['converge.objective.batch', 'examples']),
    ('cv_examples_zero', ['converge.objective.examples', "'0'"]),
    ('cv_dim_small', ['dim', '3']),
    ('cv_localsgd_replicas', ['local_replicas', 'pipeline.microbatches']),
    ('cv_rpd_first', ['converge.methods[0]', 'pd', 'delta', 'iterations']),
    ('cv_chunks', ['pipeline.chunks']),
    ('cv_chunks_interleaved', ['pipeline.chunks']),
    ('cv_stages_one', ['converge.stages', "'1'"]),
    ('cv_sync_pipedream', ['schedule', "'pipedream'"]),
]
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'out.csv')
    for name, words in CV_BAD:
        path = os.path.join(FIX, name + '.yaml')
        ln, col = marked(path)
        rc, so, se = run('converge', path, '-f', 'csv', '-o', out)
        check(rc == 1 and so == '' and se.count('\n') == 1, f'{name}: {rc} {se!r}, want status 1')
        if ln is None:  # the objective checks dim: no position, the file and field
            where = f'{path}: error: '
        elif col is None:
            where = f'{path}:{ln}:'
        else:
            where = f'{path}:{ln}:{col}: error: '
        check(se.startswith(where), f'{name}: {se.strip()!r} does not start with {where!r}')
        msg = se.split(' error: ', 1)[-1]  # the words, not the fixture's file name
        missing = [w for w in words if w not in msg]
        check(not missing, f'{name}: {se.strip()!r} does not name {missing}')
        check(not os.path.exists(out), f'{name}: left {out}')
    rc, so, se = run('converge', '-', '-o', out)
    check(rc == 1 and so == '' and se.count('\n') == 1 and 'not -' in se, f"'-': {rc} {se!r}")
    rc, so, se = run('converge', os.path.join(FIX, 'no_such_file.yaml'), '-o', out)
    check(rc == 1 and se.count('\n') == 1 and 'no_such_file.yaml' in se, f'missing file: {se!r}')
    for args in (['--log-every', '0'], ['--log-every', 'x'], ['-f', 'xml'], ['--bogus'], []):
        rc, so, se = run('converge', *([SMALL] if args else []), *args, '-o', out)
        check(rc == 2 and so == '' and 'Try ' in se, f'converge usage {args}: {rc} {se!r}')
    check(not os.path.exists(out), 'converge bad input left the output file')

# E3 (§5, §4.1): Nesterov's quadratic, S = R = 16, 1230 steps. Paper: PD 2.73,
# LocalSGD H = 2 / 5 / 30: 19.5 / 22.5 / 268.7 -> "PD wins several-fold".
rc, so, se = finish(e3_job)
check(rc == 0 and se == '', f'E3: {rc} {se!r}')
e3 = loads(so)
check(e3.get('budget_ms') == 1230 and e3.get('select') in ('best', 'stable'),
      f"E3 header {e3.get('budget_ms')} {e3.get('select')}")
runs = {r['label']: r for r in e3.get('runs', [])}
local = [l for l in runs if l.startswith('LocalSGD')]
check(list(runs) == ['PD', 'LocalSGD H=2', 'LocalSGD H=5', 'LocalSGD H=30'],
      f'E3 methods {list(runs)}')
pd = runs.get('PD', {})
check(pd.get('microbatches') == 600 and pd.get('timeline_ms') == 2 * 600 + 2 * 16 - 2
      and pd.get('block_updates') == 600 * 16 and pd.get('max_delay') == 248,
      f"E3 PD N {pd.get('microbatches')} timeline {pd.get('timeline_ms')}")
for l in local:
    check(pd.get('final_gap', 1e9) * 3 <= runs[l].get('final_gap', 0),
          f"E3: PD {pd.get('final_gap')} not 3x below {l} {runs[l].get('final_gap')}")
    check(runs[l].get('max_delay') == 0 and runs[l].get('timeline_ms', 0) >= 1230,
          f'E3 {l}: {runs[l]}')
check(local and max(local, key=lambda l: runs[l]['final_gap']) == 'LocalSGD H=30',
      'E3: LocalSGD H=30 is not the worst')
for l, r in runs.items():
    # §3.4 step-size selection: 'best' = the lowest final gap of the grid;
    # 'stable' = a step size that passes the stability tests.
    grid = r.get('grid', [])
    pick = [g for g in grid if 2.0 ** g['exponent'] == r.get('gamma')]
    fin = [g['final_gap'] for g in grid if not g['diverged']]
    ok = len(pick) == 1 and not pick[0]['diverged'] and pick[0]['final_gap'] == r.get('final_gap')
    if e3.get('select') == 'best':
        ok = ok and fin and r.get('final_gap') == min(fin)
    else:
        ok = ok and pick[0]['stable']
    check(ok, f"E3 {l}: chosen gamma {r.get('gamma')} does not follow select: {e3.get('select')}")
check(len(runs.get('PD', {}).get('grid', [])) == 10
      and len(runs.get('LocalSGD H=2', {}).get('grid', [])) == 11,
      'E3 grids (2^-12..2^-3, 2^-8..2^2)')

# The curves at the chosen step sizes (fixed gammas: no re-tuning), with the plot.
if len(runs) == 4:
    spec = ', '.join('{method: %s, label: "%s", %sgamma: %r}' % (
        r['method'], l, '' if r['method'] == 'pd' else 'local_replicas: 16, local_steps: %s, '
        % l.split('=')[1], r['gamma']) for l, r in runs.items())
    with tempfile.TemporaryDirectory() as tmp:
        rc, so, se = run('converge', E3, '--set', f'converge.methods=[{spec}]', '-f', 'csv',
                         '--log-every', '100', '--plot', tmp)
        check(rc == 0, f'E3 csv: {rc} {se!r}')
        lines = so.splitlines()
        check(lines[:1] == ['stages,method,gamma,axis,updates,time_ms,gap'],
              f'E3 csv header {lines[:1]}')
        rows = list(csv.DictReader(io.StringIO(so))) if rc == 0 else []
        for l, r in runs.items():
            for axis in ('step', 'update'):
                pts = [x for x in rows if x['method'] == l and x['axis'] == axis]
                check(pts and all(x['stages'] == '16' and float(x['gamma']) == r['gamma']
                                  for x in pts), f'E3 csv: no {axis} rows for {l}')
                if pts:  # same step size, same run: the JSON's final value
                    check(float(pts[-1]['gap']) == r['final_gap'],
                          f"E3 csv {l} {axis}: last gap {pts[-1]['gap']} != {r['final_gap']}")
            steps = [float(x['time_ms']) for x in rows if x['method'] == l and x['axis'] == 'step']
            # §4.2: curves are compared truncated to the common budget.
            check(steps and max(steps) <= 1230,
                  f'E3 csv {l}: step times run to {max(steps or [0])} past budget_ms 1230')
        pd_steps = [float(x['time_ms']) for x in rows
                    if x['method'] == 'PD' and x['axis'] == 'step']
        check(pd_steps == [float(t) for t in range(1231)],
              f'E3 PD per-step times are not 0..1230: {pd_steps[:3]} .. {pd_steps[-3:]}')
        if GNUPLOT:
            png = os.path.join(tmp, 'converge.png')
            check(os.path.exists(png) and os.path.getsize(png) > 1000, 'E3 --plot: no converge.png')
            check('converge.png' in se, f'E3 --plot message {se!r}')

# E2 (§3.4): S = 8, random quadratic, by block updates. RPD with PD's exact
# delays is PD; RPD gets worse as delta grows (8 < 60 < 180).
rc, so, se = finish(e2_job)
check(rc == 0 and se == '', f'E2: {rc} {se!r}')
runs = {r['label']: r for r in loads(so).get('runs', [])}
pd = runs.get('PD', {})
check(pd.get('max_delay') == 60 and pd.get('block_updates') == 3200, f'E2 PD {pd}')
check(runs.get('RPD exact', {}).get('final_gap', -1) == pd.get('final_gap'),
      f"E2: RPD exact {runs.get('RPD exact', {}).get('final_gap')} != PD {pd.get('final_gap')}")
check(runs.get('RPD exact', {}).get('gamma') == pd.get('gamma'),
      'E2: RPD exact chose another gamma')
g = [runs.get(f'RPD delta={d}', {}).get('final_gap', math.nan) for d in (8, 60, 180)]
check(g[0] < g[1] < g[2], f'E2: RPD final gaps at delta 8/60/180 do not grow: {g}')
check(runs.get('RPD delta=60', {}).get('max_delay') == 60
      and all(r.get('block_updates') == 3200 for r in runs.values()),
      'E2: RPD delta / K not taken from PD')

for f in failures:
    print('FAIL:', f)
print(f'{checks} checks, {len(failures)} failures')
sys.exit(1 if failures else 0)
