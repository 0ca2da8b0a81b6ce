#!/usr/bin/env python3
"""Resource limits (issue 8): a run that would exceed --max-memory stops before
allocating and names the estimate (exit 3); --time-limit bounds sweeps, plans
and converge runs (exit 3); SIGINT stops cleanly (exit 130). None of them
leaves an output file behind."""
import os
import signal
import subprocess
import sys
import tempfile
import time

PPSIM = sys.argv[1]
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


tmp = tempfile.mkdtemp()
SC = '../scenarios/quickstart.yaml'
BIG = ','.join(str(m) for m in range(8, 40000, 8))  # ~5000 configurations


def run(args):
    p = subprocess.run([PPSIM, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def leftovers():
    return sorted(os.listdir(tmp))


# --max-memory: refused before anything is allocated, with the estimate.
out = os.path.join(tmp, 'o.txt')
rc, so, se = run(['staleness', '--stages', '4096', '--max-memory', '1G', '-o', out])
check(rc == 3 and 'estimated' in se and 'GB' in se and '--max-memory' in se,
      f'staleness --max-memory: {rc} {se}')
rc, so, se = run(['simulate', SC, '--set', 'pipeline.microbatches=1000000', '--max-memory', '1G',
                  '-o', out])
check(rc == 3 and 'needs an estimated' in se and '--max-memory' in se and not os.path.exists(out),
      f'simulate --max-memory: {rc} {se}')
rc, so, se = run(['simulate', SC, '--max-memory', '1G', '-f', 'json'])
check(rc == 0, f'a small run under --max-memory 1G: {rc} {se}')
rc, so, se = run(['sweep', SC, '--grid', 'pipeline.microbatches=8,1000000', '--max-memory', '1G',
                  '--no-progress', '--summary', os.devnull])
rows = so.splitlines()[1:]
check(rc == 0 and len(rows) == 2 and ',infeasible,' in rows[1] and 'estimated' in rows[1],
      f'sweep row over --max-memory: {rc} {rows[-1:]} {se}')
check(',ok,' in rows[0], 'the small configuration still runs')
for bad in ('0', '-1', 'x', '8Q', ''):
    rc, so, se = run(['sweep', SC, '--grid', 'pipeline.stages=8', '--max-memory', bad])
    check(rc == 2 and '--max-memory' in se, f'--max-memory {bad!r}: {rc} {se}')

# --time-limit: exit 3, nothing written.
rc, so, se = run(['sweep', SC, '--grid', 'pipeline.microbatches=' + BIG, '--time-limit', '0.3',
                  '-o', os.path.join(tmp, 's.csv'), '--no-progress'])
check(rc == 3 and 'time limit of 0.3 s' in se and 'nothing was written' in se,
      f'sweep --time-limit: {rc} {se}')
check(leftovers() == [], f'sweep --time-limit left {leftovers()}')
rc, so, se = run(['converge', '../scenarios/paper/e3-nesterov-s16.yaml', '--time-limit', '0.5',
                  '-o', os.path.join(tmp, 'c.json')])
check(rc == 3 and 'time limit' in se, f'converge --time-limit: {rc} {se}')
check(leftovers() == [], f'converge --time-limit left {leftovers()}')
rc, so, se = run(['plan', '-f', '../models/pipedream/profiles/resnet50/graph.txt', '-n', '16',
                  '--objective', 'simulated', '--microbatches', '64', '--time-limit', '0.001'])
check(rc == 3 and 'time limit' in se, f'plan --time-limit: {rc} {se[-300:]}')
rc, so, se = run(['sweep', SC, '--grid', 'pipeline.stages=8', '--time-limit', 'soon'])
check(rc == 2, f'--time-limit soon: {rc}')

# SIGINT: stops cleanly, exit 130, no file (not even a temporary one).
for args in (['sweep', SC, '--grid', 'pipeline.microbatches=' + BIG, '-o',
              os.path.join(tmp, 'i.csv'), '--no-progress'],
             ['converge', '../scenarios/paper/e3-nesterov-s16.yaml', '-o', os.path.join(tmp, 'i.json')]):
    p = subprocess.Popen([PPSIM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    so, se = p.communicate(timeout=120)
    check(p.returncode == 130 and 'interrupted' in se, f'{args[0]} SIGINT: {p.returncode} {se}')
    check(leftovers() == [], f'{args[0]} SIGINT left {leftovers()}')

os.rmdir(tmp)
print(f'{checks} checks, {len(failures)} failures')
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
