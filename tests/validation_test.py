#!/usr/bin/env python3
"""The shipped validation scenarios (scenarios/validation/) reproduce their
published numbers through the whole CLI path (scenario -> schedule -> engine
-> report).

Oracles: Zero Bubble (Qi et al., ICLR 2024) Table 5 (schedules.md §7.1: the
1F1B, ZB-H1, ZB-H2, ZB-1p and ZB-2p bubble rates, four decimals; ZB-1p/2p are
the automatic scheduler with max_mem = p M_B / 2p M_B); the PipeDream theory
paper's unit-time model (pipedream-theory.md §1.3: makespan 2N+2S-2, stash
counts [4,4,3,1] and [8,8,8,8,7,5,3,1]; naive 2SN; §4.1: LocalSGD 1770 / 1440
/ 1260 against PipeDream 1230 at S=16, N=600)."""
import json
import os
import subprocess
import sys

PPSIM = os.path.abspath(sys.argv[1])
VAL = '../scenarios/validation'
checks = failures = 0

TABLE5 = {  # name: (p, M_B, {column: published rate})
    '1.5b-m24': (8, 201216, '0.2431 0.1585 0.1083 0.1585 0.0433'),
    '1.5b-m32': (8, 201216, '0.1985 0.1242 0.0837 0.1242 0.0039'),
    '1.5b-m64': (8, 201216, '0.1240 0.0674 0.0444 0.0674 0.0026'),
    '6.2b-m24': (8, 303104, '0.2347 0.1323 0.0698 0.1323 0.0029'),
    '6.2b-m32': (8, 303104, '0.1898 0.1045 0.0559 0.1045 0.0022'),
    '6.2b-m64': (8, 303104, '0.1091 0.0554 0.0294 0.0554 0.0010'),
    '14.6b-m48': (16, 378880, '0.2552 0.1397 0.0672 0.1397 0.0066'),
    '14.6b-m64': (16, 378880, '0.2082 0.1088 0.0516 0.1088 0.0054'),
    '14.6b-m128': (16, 378880, '0.1251 0.0576 0.0266 0.0576 0.0028'),
    '28.3b-m96': (32, 454656, '0.2646 0.1421 0.0641 0.1421 0.0038'),
    '28.3b-m128': (32, 454656, '0.2168 0.1106 0.0490 0.1106 0.0029'),
    '28.3b-m256': (32, 454656, '0.1352 0.0594 0.0257 0.0594 0.0018'),
}


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print('FAIL:', what)


def sim(path, *sets):
    args = [PPSIM, 'simulate', path, '--format', 'json']
    for s in sets:
        args += ['--set', s]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr
    return json.loads(p.stdout), p.stderr


for name, (p, m_b, published) in TABLE5.items():
    path = f'{VAL}/zb-table5-{name}.yaml'
    cols = dict(zip(['1f1b', 'zb-h1', 'zb-h2', 'zb-1p', 'zb-2p'], published.split()))
    for col, want in cols.items():
        sets = [f'pipeline.schedule={col}']
        if col in ('zb-1p', 'zb-2p'):
            limit = (1 if col == 'zb-1p' else 2) * p * m_b
            sets = ['pipeline.schedule=zb-auto', f'pipeline.activation_memory_bytes={limit}']
        o, err = sim(path, *sets)
        check(o is not None, f'{name} {col}: {err!r}')
        if o:
            got = f"{o['zb_bubble_rate']:.4f}"
            check(got == want, f'Table 5 {name} {col}: {got} vs published {want}')

# Zero Bubble Table 8 (schedules.md §7.2): ZB-V on 2 V-placed chunks per device,
# the other columns on one chunk of twice the per-chunk cost.
TABLE8 = {  # name: (p, f, b, w, '1F1B ZB-H1 ZB-H2 ZB-V')
    '6.2b-m48': (16, 14.407, 14.38, 9.676, '0.2668 0.1536 0.0823 0.0697'),
    '6.2b-m64': (16, 14.412, 14.393, 9.688, '0.2206 0.1198 0.0630 0.0533'),
    '6.2b-m128': (16, 14.316, 14.306, 9.639, '0.1390 0.0637 0.0325 0.0274'),
    '14.6b-m72': (24, 6.763, 6.969, 5.251, '0.2699 0.1439 0.0628 0.0638'),
    '14.6b-m96': (24, 6.783, 6.984, 5.259, '0.2229 0.1121 0.0480 0.0483'),
    '14.6b-m192': (24, 6.785, 6.99, 5.26, '0.1403 0.0595 0.0247 0.0250'),
    '28.3b-m96': (32, 9.458, 9.748, 7.288, '0.2676 0.1429 0.0629 0.0593'),
    '28.3b-m128': (32, 9.469, 9.744, 7.306, '0.2204 0.1111 0.0478 0.0451'),
    '28.3b-m256': (32, 9.447, 9.644, 7.193, '0.1362 0.0593 0.0251 0.0236'),
}
for name, (p, f, b, w, published) in TABLE8.items():
    path = f'{VAL}/zb-table8-{name}.yaml'
    want = dict(zip(['1f1b', 'zb-h1', 'zb-h2', 'zb-v'], published.split()))
    for col, rate in want.items():
        sets = []
        if col != 'zb-v':
            sets = [f'pipeline.schedule={col}', 'pipeline.chunks=1', f'model.uniform.count={p}',
                    f'model.uniform.forward_ms={2 * f!r}', f'model.uniform.backward_input_ms={2 * b!r}',
                    f'model.uniform.backward_weight_ms={2 * w!r}']
        o, err = sim(path, *sets)
        check(o is not None, f'{name} {col}: {err!r}')
        if o:
            got = f"{o['zb_bubble_rate']:.4f}"
            check(got == rate, f'Table 8 {name} {col}: {got} vs published {rate}')

# zb-auto's exact ILP (GLPK) improves on the heuristic where it can.
spans = {}
for solver in ('heuristic', 'ilp'):
    o, err = sim(f'{VAL}/zb-ilp-p4m4.yaml', f'pipeline.zb_auto_solver={solver}')
    check(o is not None, f'zb-ilp {solver}: {err!r}')
    if o:
        spans[solver] = max(d['last_end_ms'] - d['first_start_ms'] for d in o['per_device'])
check(spans.get('heuristic') == 28, f"heuristic span {spans.get('heuristic')}")
# Without GLPK (meson -Dglpk=disabled) the solver falls back to the heuristic.
with_glpk = 'ILP: GLPK' in subprocess.run([PPSIM, '--version'], capture_output=True,
                                           text=True).stdout
check(spans.get('ilp') == (27 if with_glpk else 28), f"ilp span {spans.get('ilp')} (GLPK {with_glpk})")

o, err = sim(f'{VAL}/pipedream-theory-s4.yaml')
check(o is not None and o['iteration_time_ms'] == 2 * 40 + 2 * 4 - 2, f'PD S=4 makespan {err!r}')
if o:
    check([d['weight_versions'] for d in o['per_device']] == [4, 4, 3, 1], 'stash [4,4,3,1]')
o, err = sim(f'{VAL}/pipedream-theory-s4.yaml', 'pipeline.stages=8', 'cluster.devices=8',
             'model.uniform.count=8')
check(o is not None and [d['weight_versions'] for d in o['per_device']] == [8, 8, 8, 8, 7, 5, 3, 1],
      f'stash S=8 {err!r}')
o, err = sim(f'{VAL}/pipedream-theory-s4.yaml', 'pipeline.schedule=naive')
check(o is not None and o['iteration_time_ms'] == 2 * 4 * 40, f'naive 2SN {err!r}')

for h, want in ((2, 1770), (5, 1440), (30, 1260)):
    o, err = sim(f'{VAL}/localsgd-s16.yaml', f'pipeline.local_steps={h}')
    check(o is not None and o['iteration_time_ms'] == want, f'LocalSGD H={h}: {o and o["iteration_time_ms"]} {err!r}')
o, err = sim(f'{VAL}/localsgd-s16.yaml', 'pipeline.schedule=pipedream')
check(o is not None and o['iteration_time_ms'] == 1230, f'PipeDream S=16 N=600: {err!r}')
o, err = sim(f'{VAL}/localsgd-s16.yaml', 'pipeline.schedule=pipedream', 'pipeline.local_steps=5')
check(o is None and 'local_steps' in err, f'pipedream refuses local_steps: {err!r}')

# pipeline.schedule_file: a PyTorch CSV exported by ppsim replays exactly as the
# named schedule (schedules.md §4), and a CSV that disagrees with the scenario
# is refused at its key.
import tempfile
with tempfile.TemporaryDirectory() as td:
    for sched in ('1f1b', 'zb-h1', 'interleaved-1f1b'):
        chunks = 2 if sched == 'interleaved-1f1b' else 1
        csv = os.path.join(td, f'{sched}.csv')
        p = subprocess.run([PPSIM, 'schedule', 'export', '--schedule', sched, '--stages', '8',
                            '--microbatches', '24', '--chunks', str(chunks), '-o', csv],
                           capture_output=True, text=True)
        check(p.returncode == 0, f'export {sched}: {p.stderr!r}')
        base = f'{VAL}/zb-table5-1.5b-m24.yaml'
        if chunks == 2:
            extra = ['pipeline.chunks=2', 'model.uniform.count=16']
        else:
            extra = []
        named, err1 = sim(base, f'pipeline.schedule={sched}', *extra)
        scen = os.path.join(td, 's.yaml')
        with open(base) as f:
            text = f.read().replace('  schedule: zb-h1\n', f'  schedule_file: {csv}\n')
        with open(scen, 'w') as f:
            f.write(text)
        from_csv, err2 = sim(scen, *extra)
        check(named is not None and from_csv is not None and
              named['iteration_time_ms'] == from_csv['iteration_time_ms'] and
              named['per_device'] == from_csv['per_device'],
              f'schedule_file {sched} replays as the schedule: {err1!r} {err2!r}')
    o, err = sim(scen, 'pipeline.stages=4', 'cluster.devices=4')
    check(o is None and err.count('\n') == 1 and 'error' in err, f'CSV ranks vs stages: {err!r}')
    o, err = sim(scen, 'pipeline.schedule=1f1b')
    check(o is None and 'not both' in err, f'schedule and schedule_file: {err!r}')

print(f'{checks - failures} passed, {failures} failed')
sys.exit(1 if failures else 0)
