#!/usr/bin/env python3
"""`ppsim calibrate` recovers known parameters from multi-rank runs (issue 9
§2: the p2p alpha-beta constants need pipelines over several GPUs, which the
recorded one-GPU data cannot give). The "measurements" are ppsim's own
predictions under a known calibration (`cluster.calibration`, `cluster.link`)
for 2 and 4 ranks, GPipe, 1F1B and interleaved 1F1B, on the two recorded
profiles (their stage boundaries differ by 64x in bytes, which is what makes
latency and bandwidth separable). A correct fitter must return the truth."""
import json
import os
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0
T = os.path.abspath('data/validation')
TRUTH = {'compute_scale': 1.05, 'step_overhead_ms': 2.0, 'link.latency_ms': 0.02,
         'link.ms_per_gb': 1000.0 / 50.0,  # 50 GB/s
         'activation_scale': 1.03, 'memory_overhead_gb': 0.5}
COLS = ('schedule,ranks,stages_per_rank,microbatches,microbatch_size,hidden,heads,ffn,seq,layers,'
        'dtype,step_ms_median,step_ms_min,step_ms_max,repeats,rank,peak_memory_bytes,'
        'torch_version,gpu_name,driver')
SHAPES = {'compute': '4096,32,16384,2048', 'overhead': '256,4,1024,128'}
MBS = {'compute': 1, 'overhead': 4}


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def harness_partition(blocks, stages):
    base, extra = divmod(blocks, stages)
    p = [base + (1 if s >= stages - extra else 0) for s in range(stages)]
    p[0] += 1
    p[-1] += 1
    return p


tmp = tempfile.mkdtemp()
cal = os.path.join(tmp, 'truth.yaml')
with open(cal, 'w') as f:
    f.write('calibration:\n  compute_scale: 1.05\n  step_overhead_ms: 2\n'
            '  activation_scale: 1.03\n  memory_overhead_bytes: 5e8\n  lazy_gradients: true\n')
args = []
for regime in ('compute', 'overhead'):
    rows = [COLS]
    for sched, V in (('gpipe', 1), ('1f1b', 1), ('interleaved-1f1b', 2)):
        for P in (2, 4):
            for m in (4, 8, 16):
                sc = os.path.join(tmp, 'sc.yaml')
                part = harness_partition(16, P * V)
                with open(sc, 'w') as f:
                    f.write(f'model: {{file: {T}/{regime}/profile-chain.yaml}}\n'
                            f'cluster: {{devices: {P}, calibration: {cal}, '
                            'link: {latency_ms: 0.02, bandwidth_bytes_per_s: 5e10}}\n'
                            f'pipeline: {{schedule: {sched}, stages: {P}, chunks: {V}, '
                            f'microbatches: {m}, partition: {part}}}\n'
                            'training: {gradient_bytes_per_parameter_byte: 1}\n')
                p = subprocess.run([PPSIM, 'simulate', sc, '-f', 'json'], capture_output=True,
                                   text=True)
                check(p.returncode == 0, f'simulate {regime} {sched} P={P} m={m}: {p.stderr}')
                if p.returncode:
                    continue
                d = json.loads(p.stdout)
                t = d['iteration_time_ms']
                for dev in d['per_device']:
                    rows.append(f'{sched},{P},{V},{m},{MBS[regime]},{SHAPES[regime]},16,bf16,'
                                f'{t!r},{t!r},{t!r},8,{dev["device"]},'
                                f'{dev["peak_memory_bytes"]:.0f},synthetic,synthetic,none')
    path = os.path.join(tmp, f'{regime}.csv')
    with open(path, 'w') as f:
        f.write('\n'.join(rows) + '\n')
    args += ['--profile', f'{T}/{regime}/profile-chain.yaml', '--measurements', path]

p = subprocess.run([PPSIM, 'calibrate'] + args + ['-f', 'json'], capture_output=True, text=True)
check(p.returncode == 0, f'calibrate: {p.stderr}')
if p.returncode == 0:
    j = json.loads(p.stdout)
    par = j['parameters']
    for name, want in TRUTH.items():
        got = par[name]
        check(got['fitted'], f'{name} not fitted: {got["why_not"]}')
        check(abs(got['value'] - want) <= 0.01 * abs(want),
              f'{name}: fitted {got["value"]:.6g}, truth {want}')
    for name in ('op_overhead_ms.forward', 'op_overhead_ms.backward', 'optimizer_ms_per_gb'):
        check(abs(par[name]['value']) < 0.01, f'{name} should be ~0, got {par[name]["value"]}')
    check(j['fit']['time_rms_relative'] < 1e-3, f'time residual {j["fit"]["time_rms_relative"]}')
    check(j['fit']['memory_rms_relative'] < 1e-3, f'memory residual {j["fit"]["memory_rms_relative"]}')
    for r in j['summary']:
        if r['calibrated']:
            check(r['max_ape_pct'] < 0.5, f'calibrated error {r}')

print(f'{checks} checks, {len(failures)} failures')
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
