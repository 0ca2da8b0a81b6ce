#!/usr/bin/env python3
"""`ppsim calibrate` on the recorded GPU validation data (issue 9 §2-§3):
tests/data/validation/{compute,overhead} hold the measure.csv of
validation/2026-11-23-h200-x1 (one H200, torch 2.11 torch.distributed.pipelining,
every schedule with all its stages on one GPU) and the profile re-rendered by
tools/gpu/rerender.py. The accuracy figures of docs/validation.md are checked
here on every CI run, without a GPU; the bounds are the issue's targets where
the data meet them and the measured figures (rounded up) where they do not."""
import json
import os
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0
T = 'data/validation'
DATA = ['--profile', f'{T}/compute/profile.yaml', '--measurements', f'{T}/compute/measure.csv',
        '--profile', f'{T}/overhead/profile.yaml', '--measurements', f'{T}/overhead/measure.csv']


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def run(args):
    return subprocess.run([PPSIM, 'calibrate'] + args, capture_output=True, text=True)


def summary(args):
    p = run(DATA + args + ['--format', 'json'])
    check(p.returncode == 0, f'calibrate {args}: exit {p.returncode}: {p.stderr}')
    if p.returncode:
        return {}, {}
    j = json.loads(p.stdout)
    s = {(r['data'], r['quantity'], r['calibrated'], r['runs']): (r['median_ape_pct'], r['max_ape_pct'])
         for r in j['summary']}
    return s, j


# Uncalibrated, from the per-layer profile alone: the issue aims for a median
# within 10%. Compute-bound: met (2.6% median, 9.1% max). Overhead-bound: not
# (38.9%): the isolated per-layer timings carry launch latency a stage hides.
s, j = summary(['--fit-on', 'gpipe,1f1b', '--fit-data', '1'])
check(s.get((1, 'step time', False, 'all'), (99, 99))[0] < 10, f'uncalibrated compute median: {s}')
check(s.get((1, 'step time', False, 'all'), (99, 99))[1] < 10, 'uncalibrated compute max')
check(30 < s.get((2, 'step time', False, 'all'), (0, 0))[0] < 45,
      'uncalibrated overhead median is the documented miss (38.9%)')
# Calibrated on GPipe + 1F1B of the compute regime: the other five schedules
# within the issue's 5% median / 10% max (measured 0.47% / 6.3%).
check(s.get((1, 'step time', True, 'held out'), (99, 99))[0] < 5, f'held-out compute median {s}')
check(s.get((1, 'step time', True, 'held out'), (99, 99))[1] < 10, 'held-out compute max')
# Peak memory per rank within 5% median (measured 2.0%; the zero-bubble
# schedules miss by up to 7.9%: docs/validation.md).
check(s.get((1, 'peak memory', True, 'held out'), (99, 99))[0] < 5, 'held-out compute memory median')
check(s.get((1, 'peak memory', True, 'held out'), (99, 99))[1] < 8.5, 'held-out compute memory max')
check(s.get((1, 'peak memory', False, 'all'), (99, 99))[0] < 5, 'uncalibrated compute memory median')
# Physical parameters: one GPU has no p2p, so the link is not identifiable and
# must be reported so, not invented; the in-pipeline slowdown is a few percent.
par = j.get('parameters', {})
check(not par.get('link.latency_ms', {}).get('fitted', True), 'link latency must stay unfitted')
check('no effect' in par.get('link.latency_ms', {}).get('why_not', ''), 'why the link is not fitted')
check(1.0 < par.get('compute_scale', {}).get('value', 0) < 1.1, 'compute_scale in (1, 1.1)')
check(1.0 < par.get('activation_scale', {}).get('value', 0) < 1.1, 'activation_scale in (1, 1.1)')

# Fitting on one schedule pair improves the held-out schedules of that regime
# over the uncalibrated prediction (issue 9 §2), in both regimes.
for k in (1, 2):
    s, _ = summary(['--fit-on', 'gpipe,1f1b', '--fit-data', str(k)])
    check(s.get((k, 'step time', True, 'held out'), (99, 99))[0] <
          s.get((k, 'step time', False, 'all'), (0, 0))[0], f'fit on data {k} improves held-out median')
    check(s.get((k, 'peak memory', True, 'held out'), (99, 99))[0] <
          s.get((k, 'peak memory', False, 'all'), (0, 0))[0], f'fit on data {k} improves memory')

# Profiles whose block times are chain slopes (tools/gpu/chain.py: a block's
# cost inside a stage, without the per-call cost of timing one layer alone)
# halve the overhead regime's uncalibrated error (measured 38.9% -> 21.0%
# median) and keep the compute regime within 10% (5.2%).
CH = ['--profile', f'{T}/compute/profile-chain.yaml', '--measurements', f'{T}/compute/measure.csv',
      '--profile', f'{T}/overhead/profile-chain.yaml', '--measurements', f'{T}/overhead/measure.csv']
p = run(CH + ['--format', 'json'])
check(p.returncode == 0, f'chain profiles: {p.stderr}')
if p.returncode == 0:
    cs = {(r['data'], r['quantity'], r['calibrated'], r['runs']): r['median_ape_pct']
          for r in json.loads(p.stdout)['summary']}
    check(cs.get((2, 'step time', False, 'all'), 99) < 25, f'chain: overhead uncalibrated {cs}')
    check(cs.get((1, 'step time', False, 'all'), 99) < 10, 'chain: compute uncalibrated')

# The shipped calibration applies through cluster.calibration and gives the
# calibrated prediction of `ppsim calibrate` for the same run.
tmp = tempfile.mkdtemp()
cal = os.path.join(tmp, 'cal.yaml')
p = run(DATA + ['-o', cal, '--format', 'csv'])
check(p.returncode == 0 and os.path.exists(cal), f'-o writes the calibration: {p.stderr}')
rows = [r.split(',') for r in p.stdout.splitlines()[1:]]
want = next((r for r in rows if r[0] == '1' and r[1] == '1f1b' and r[4] == '8'), None)
sc = os.path.join(tmp, 'sc.yaml')
with open(sc, 'w') as f:
    f.write(f'model: {{file: {os.path.abspath(T)}/compute/profile.yaml}}\n'
            f'cluster: {{devices: 1, calibration: {cal}}}\n'
            'pipeline: {schedule: 1f1b, stages: 1, microbatches: 8, partition: [18]}\n'
            'training: {gradient_bytes_per_parameter_byte: 1}\n')
p = subprocess.run([PPSIM, 'simulate', sc, '--format', 'json'], capture_output=True, text=True)
check(p.returncode == 0, f'simulate with cluster.calibration: {p.stderr}')
if p.returncode == 0 and want:
    sim = json.loads(p.stdout)
    it = sim.get('iteration_time_ms') or sim.get('summary', {}).get('iteration_time_ms')
    check(it is not None and abs(it - float(want[8])) < 1e-3,
          f'simulate {it} ms = calibrate {want[8]} ms')
# The shipped file parses and is the fit of all recorded runs.
p = subprocess.run([PPSIM, 'simulate', '-', '--format', 'json'], capture_output=True, text=True,
                   input=f'model: {{file: {os.path.abspath(T)}/compute/profile.yaml}}\n'
                         f'cluster: {{devices: 1, calibration: '
                         f'{os.path.abspath("../models/calibration/h200-torch-pipelining.yaml")}}}\n'
                         'pipeline: {schedule: gpipe, stages: 1, microbatches: 4}\n')
check(p.returncode == 0, f'the shipped calibration applies: {p.stderr}')

# Bad input: a profile that does not match the measured model, an empty fit
# selection, a usage error; nothing written.
bad = os.path.join(tmp, 'bad.yaml')
p = run(['--profile', f'{T}/compute/profile.yaml', '--measurements', f'{T}/overhead/measure.csv',
         '--profile', f'{T}/overhead/profile.yaml', '--measurements', f'{T}/overhead/measure.csv',
         '-o', bad])
check(p.returncode == 0, 'same shape, other regime: replays (16 blocks both)')
os.unlink(bad) if os.path.exists(bad) else None
p = run(DATA + ['--fit-on', 'nosuch', '-o', bad])
check(p.returncode == 1 and 'no measured run matches' in p.stderr and not os.path.exists(bad),
      f'empty fit selection: {p.returncode} {p.stderr}')
check(p.stderr.count('\n') == 1, 'one-line error')
p = run(['--measurements', f'{T}/compute/measure.csv'])
check(p.returncode == 2 and 'needs a --profile' in p.stderr, f'usage: {p.stderr}')
p = run(DATA + ['--params', 'bogus'])
check(p.returncode == 2 and "unknown parameter 'bogus'" in p.stderr, f'--params: {p.stderr}')
# A fit that does not converge is reported, exit 3, and no parameters are
# written (issue 9, "Bad input").
p = run(DATA + ['--max-iterations', '1', '-o', bad])
check(p.returncode == 3 and 'did not converge' in p.stderr and not os.path.exists(bad),
      f'non-convergence: {p.returncode} {p.stderr}')
# Determinism: byte-identical reports.
a, b = run(DATA + ['--format', 'json']), run(DATA + ['--format', 'json'])
check(a.stdout == b.stdout and a.returncode == 0, 'same input, same bytes')

print(f'{checks} checks, {len(failures)} failures')
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
