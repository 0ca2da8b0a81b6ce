#!/usr/bin/env python3
"""The GPU harness (tools/gpu/) without a GPU and without PyTorch: every file
compiles; the torch-free modules (common.py, results.py) never import torch;
--dry-run plans print without torch (a poisoned `torch` on the path proves
it) and fit the device tool's time box; the writers produce what ppsim reads
(`ppsim model show` on the profile YAML, `ppsim schedule check` on an op-order
CSV, `ppsim simulate` on a scenario built from measure.py's hint); the CSV
contracts round-trip and refuse bad rows; statistics and the alpha-beta fit.

Oracles: PyTorch's torch/distributed/pipelining/schedules.py (main, 2025-26):
Schedule1F1B refuses n_microbatches < stages; ScheduleInterleaved1F1B's
docstring ("pp_group_size = 4, n_microbatches = 10. We will have num_rounds = 2
and n_microbatches % 2 is 0"; "pp_group_size = 4, n_microbatches = 3 ...
num_rounds = 1"); ScheduleZBVZeroBubble "requires exactly two stages per rank"
with stage_id_chunk0 = rank, stage_id_chunk1 = num_stages - 1 - rank;
ScheduleDualPipeV "requires at least as many microbatches as stages". The
parameter count of a GPT block, 12h^2 + 13h for a 4h MLP (Narayanan et al.,
2021, eq. 2 counts 12h^2 per layer; the biases and LayerNorms add 13h)."""
import importlib.util
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import types

PPSIM = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPU = os.path.join(ROOT, 'tools', 'gpu')
checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print('FAIL:', what)


def raises(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ValueError as e:
        return str(e)
    return None


def load(name):
    spec = importlib.util.spec_from_file_location('ppsim_gpu_' + name, os.path.join(GPU, name + '.py'))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# --- every file compiles; the torch-free ones stay torch-free
with tempfile.TemporaryDirectory() as tmp:
    for f in sorted(os.listdir(GPU)):
        if f.endswith('.py'):
            try:
                py_compile.compile(os.path.join(GPU, f), doraise=True, cfile=os.path.join(tmp, f + 'c'))
                ok = True
            except py_compile.PyCompileError as e:
                ok = False
                print(e)
            check(ok, f'{f} compiles')
C = load('common')
F = load('formats')
R = load('results')
check('torch' not in sys.modules, 'common.py, formats.py and results.py import no torch')

# --- shapes
s = C.regime_shape('compute')
h = s.hidden
check(s.block_parameters() == 12 * h * h + 13 * h, f'block parameters {s.block_parameters()}')
check(s.boundary_bytes() == 1 * 2048 * 4096 * 2, 'boundary bytes = b s h x 2')
check('heads (3) must divide hidden (256)' in (raises(C.Shape, 256, 3, 1024, 128, 1, 4, 100) or ''),
      'heads must divide hidden')
check(raises(C.Shape, 256, 4, 1024, 0, 1, 4, 100) is not None, 'seq 0 refused')
check(raises(C.Shape, 256, 4, 1024, 128, 1, 4, 100, 'fp8') is not None, 'unknown dtype refused')
check(s.replace(hidden=1024, heads=8).hidden == 1024 and s.replace(seq=None).seq == 2048, 'replace')
check(raises(C.regime_shape, 'tiny') is not None, 'unknown regime refused')
for P in (2, 4):
    for spec in C.SCHEDULES:
        peak = C.estimate_peak_bytes(s, P, spec.stages_per_rank(2), max(C.REGIMES['compute']['microbatches']))
        check(peak < 0.6 * 141e9, f'compute regime fits an H200 with margin: {spec.torch_name} P={P} {peak:.3g}')

# --- schedules and their limits (PyTorch's own checks, see the docstring)
check(len(C.SCHEDULES) == 7 and C.SCHEDULES[0].torch_name == 'ScheduleGPipe'
      and C.SCHEDULES[1].torch_name == 'Schedule1F1B', 'seven schedules, the calibration pair first')
check(C.find_schedule('1F1B').ppsim_name == '1f1b' and C.find_schedule('zb-v').torch_name ==
      'ScheduleZBVZeroBubble' and C.find_schedule('scheduledualpipev').ppsim_name == 'dualpipev',
      'schedule names')
check(raises(C.find_schedule, 'Chimera') is not None, 'unknown schedule refused')
check([x.ppsim_name for x in C.parse_schedules('GPipe,LoopedBFS')] == ['gpipe', 'looped-bfs'], 'parse')
I1 = C.find_schedule('Interleaved1F1B')
check(C.config_problem(I1, 4, 2, 10, 16) is None, 'interleaved P=4 m=10: 2 rounds')
check(C.config_problem(I1, 4, 2, 3, 16) is None, 'interleaved P=4 m=3: 1 round')
check('rounds (2)' in (C.config_problem(I1, 2, 2, 5, 16) or ''), 'interleaved P=2 m=5 refused')
check('>= stages' in (C.config_problem(C.find_schedule('1F1B'), 4, 1, 3, 16) or ''), '1F1B m < P')
check(C.config_problem(C.find_schedule('1F1B'), 4, 1, 4, 16) is None, '1F1B m = P')
DV = C.find_schedule('DualPipeV')
check('>= stages (8)' in (C.config_problem(DV, 4, 2, 4, 16) or ''), 'DualPipeV m < 2P')
check(C.config_problem(DV, 4, 2, 8, 16) is None, 'DualPipeV m = 2P')
check('exactly 2' in (C.config_problem(C.find_schedule('ZBVZeroBubble'), 2, 3, 8, 16) or ''), 'ZBV V=2')
check('cannot fill' in (C.config_problem(I1, 4, 2, 8, 7) or ''), 'too few blocks')
check(C.stage_to_rank('loop', 2, 2) == [0, 1, 0, 1], 'looped placement')
check(C.stage_to_rank('v', 4, 2) == [0, 1, 2, 3, 3, 2, 1, 0], 'V placement')
check(C.split_blocks(16, 4) == [4] * 4 and C.split_blocks(10, 4) == [2, 2, 3, 3], 'split blocks')
check(C.stage_blocks([2, 3]) == [[0, 1], [2, 3, 4]], 'stage blocks')
check(C.ppsim_partition([4, 4, 4, 4]) == [5, 4, 4, 5] and C.ppsim_partition([16]) == [18],
      'ppsim partition adds embed and head')
planned = C.plan_configs(C.SCHEDULES, 4, 2, [4, 8], 16)
check(len(planned) == 14 and sum(p is not None for _, p in planned) == 1, 'plan: DualPipeV m=4 skipped')

# --- statistics and the fit
check(C.median([3, 1, 2]) == 2 and C.median([4, 1, 3, 2]) == 2.5, 'median')
st = C.summarize([2.0, 1.0, 4.0])
check(st == {'median': 2.0, 'min': 1.0, 'max': 4.0, 'mean': 7 / 3, 'n': 3}, f'summarize {st}')
check(C.slowest_rank_steps([[1, 5, 2], [3, 1, 2]]) == [3, 5, 2], 'slowest rank per step')
check(raises(C.slowest_rank_steps, [[1], [1, 2]]) is not None, 'ragged ranks refused')
pts = [(b, 0.02 + b / 150e9 * 1e3) for b in (4096, 65536, 2 ** 20, 2 ** 24, 2 ** 28)]
fit = C.fit_alpha_beta(pts)
check(abs(fit['latency_ms'] - 0.02) < 1e-9 and abs(fit['bandwidth_bytes_per_s'] / 150e9 - 1) < 1e-9
      and fit['max_rel_residual'] < 1e-9 and not fit['clamped'], f'exact alpha-beta {fit}')
noisy = [(b, t * (1.05 if i % 2 else 0.95)) for i, (b, t) in enumerate(pts)]
fit = C.fit_alpha_beta(noisy)
check(abs(fit['latency_ms'] / 0.02 - 1) < 0.1 and abs(fit['bandwidth_bytes_per_s'] / 150e9 - 1) < 0.1,
      f'noisy alpha-beta within 10% {fit}')
fit = C.fit_alpha_beta([(1e6, 0.001), (2e6, 0.003)])
check(fit['clamped'] and fit['latency_ms'] == 0, 'negative latency clamped')
check(raises(C.fit_alpha_beta, [(4096, 1.0), (4096, 2.0)]) is not None, 'one size is no fit')
check(raises(C.fit_alpha_beta, [(1, 2.0), (2, 1.0)]) is not None, 'shrinking times: no bandwidth')

# --- numbers and YAML
check(F.fmt_num(285474816) == '285474816' and F.fmt_num(1.5) == '1.5' and F.fmt_num(1e-5) == '1e-05'
      and F.fmt_num(0.1234567891234) == '0.123456789', 'fmt_num')
check(raises(F.fmt_num, float('nan')) is not None and raises(F.fmt_num, True) is not None, 'fmt_num refuses')
check(F.yaml_str('block') == 'block' and F.yaml_str('a b') == '"a b"' and F.yaml_str('yes') == '"yes"'
      and F.yaml_str('x"y\\') == '"x\\"y\\\\"', 'yaml_str')
LAYER = dict(forward_ms=1.5, backward_input_ms=1.6, backward_weight_ms=1.4, activation_bytes=2.5e8,
             output_bytes=16777216, parameter_bytes=402759680)
y = F.costmodel_yaml('t', 'a "quoted" source', ['line one', ''], dict(LAYER, backward_input_ms=0),
                     LAYER, dict(LAYER, output_bytes=0), 16)
check(y.startswith('# line one\n#\nname: t\nsource: "a \\"quoted\\" source"\nlayers:\n  - name: embed\n'),
      'yaml head')
check('      count: 16\n      name: block\n      forward_ms: 1.5\n' in y and
      'activation_bytes: 250000000\n' in y, 'yaml uniform block, integer bytes')
check(raises(F.costmodel_yaml, 't', 's', [], LAYER, dict(LAYER, forward_ms=-1), LAYER, 2) is not None,
      'negative time refused')
check(raises(F.costmodel_yaml, 't', 's', [], LAYER, LAYER, LAYER, 0) is not None, 'count 0 refused')

# --- CSV contracts
MROW = {'schedule': '1f1b', 'ranks': 2, 'stages_per_rank': 1, 'microbatches': 8, 'microbatch_size': 1,
        'hidden': 4096, 'heads': 32, 'ffn': 16384, 'seq': 2048, 'layers': 16, 'dtype': 'bf16',
        'step_ms_median': 512.25, 'step_ms_min': 510.0, 'step_ms_max': 515.5, 'repeats': 8, 'rank': 0,
        'peak_memory_bytes': 31000000000, 'torch_version': '2.11.0+cu130', 'gpu_name': 'NVIDIA H200',
        'driver': '580.159.04', 'torch_schedule': 'Schedule1F1B', 'vocab': 32000, 'optimizer': 'sgd',
        'resident_memory_bytes': 7000000000}
check(F.MEASURE_COLUMNS[:20] == ('schedule', 'ranks', 'stages_per_rank', 'microbatches',
                                 'microbatch_size', 'hidden', 'heads', 'ffn', 'seq', 'layers',
                                 'dtype', 'step_ms_median', 'step_ms_min', 'step_ms_max', 'repeats',
                                 'rank', 'peak_memory_bytes', 'torch_version', 'gpu_name', 'driver'),
      'the 20 contract columns, in order')
text = F.csv_text(F.MEASURE_COLUMNS, [MROW, dict(MROW, rank=1, gpu_name='NVIDIA H200, SXM')])
check(text.split('\n')[0] == ','.join(F.MEASURE_COLUMNS) and text.endswith('\n') and '\r' not in text,
      'csv header and line ends')
back = F.read_csv_checked(text, F.MEASURE_COLUMNS)
check(len(back) == 2 and back[1]['gpu_name'] == 'NVIDIA H200, SXM' and back[0]['step_ms_median'] ==
      '512.25', 'csv round trip (quoted comma)')
check(raises(F.csv_text, F.MEASURE_COLUMNS, [dict(MROW, step_ms_min=0)]) is not None, 'zero time refused')
check(raises(F.csv_text, F.MEASURE_COLUMNS, [dict(MROW, ranks=2.5)]) is not None, 'fractional int refused')
bad = dict(MROW)
del bad['driver']
check('missing' in (raises(F.csv_text, F.MEASURE_COLUMNS, [bad]) or ''), 'missing column refused')
check('line 1' in (raises(F.read_csv_checked, text.replace('driver,', 'drv,', 1), F.MEASURE_COLUMNS) or ''),
      'header mismatch names line 1')
tl = text.split('\n')
tl[2] = tl[2].replace(',515.5,', ',-1,')
check('line 3: step_ms_max' in (raises(F.read_csv_checked, '\n'.join(tl), F.MEASURE_COLUMNS) or ''),
      'negative time names its line')
with tempfile.TemporaryDirectory() as tmp:
    p = os.path.join(tmp, 'm.csv')
    F.append_csv_rows(p, F.MEASURE_COLUMNS, [MROW])
    F.append_csv_rows(p, F.MEASURE_COLUMNS, [dict(MROW, rank=1)])
    got = open(p).read()
    check(got.count('schedule,ranks') == 1 and len(F.read_csv_checked(got, F.MEASURE_COLUMNS)) == 2,
          'append writes the header once')
    check(raises(F.append_csv_rows, p, F.P2P_COLUMNS, []) is not None, 'append refuses another header')
    F.write_atomic(os.path.join(tmp, 'w.txt'), 'x')
    check(sorted(os.listdir(tmp)) == ['m.csv', 'w.txt'],
          'atomic write leaves no temporary file')
check(F.json_line({'b': 1, 'a': None}) == '{"a":null,"b":1}\n', 'json line sorted')
check(raises(F.json_line, {'x': float('nan')}) is not None and F.finite_or_none(float('inf')) is None,
      'no NaN in JSON')

# --- op-order CSV as PyTorch's _dump_csv writes it
order = {'1': ['1F0', None, '1B0'], '0': ['0F0', '0B0']}
oc = F.pipeline_order_csv(order)
check(oc == '0F0,0B0\n1F0,,1B0\n', f'op order csv {oc!r}')


# --- profile outputs from synthetic per-rank results
def layer_res(name, kind, fwd, full, ai, aw, pi, pw, act, out, par, perr=None):
    sm = {'forward': [fwd * 1.01, fwd, fwd * 0.99], 'backward': [full] * 3,
          'autograd_input': [ai] * 3, 'autograd_weight': [aw] * 3}
    if pi is not None:
        sm.update(pipelining_input=[pi] * 3, pipelining_weight=[pw] * 3)
    return {'name': name, 'kind': kind, 'samples': sm, 'activation_bytes': act, 'output_bytes': out,
            'parameter_bytes': par, 'pipelining_error': perr, 'activation_bytes_samples': [act] * 3}


ENV = {'torch_version': '2.11.0+cu130', 'gpu_name': 'NVIDIA H200', 'driver': '580.159.04',
       'cuda_version': '13.0', 'nccl_version': '2.27.7', 'utc': '2026-11-23T00:00:00Z',
       'gpu_memory_bytes': 150754820096}


def ranks_res(perr=None):
    out = []
    for r in range(2):
        layers = [layer_res('embed', 'embed', 0.1, 0.3, 0.0, 0.3, None, None, 16777216 + 16384, 16777216, 263 * 10 ** 6),
                  layer_res('block.0', 'block', 1.5, 3.0, 1.6, 2.5, 1.55, 1.45, 285 * 10 ** 6, 16777216, 402759680, perr),
                  layer_res('block.1', 'block', 1.7, 3.2, 1.6, 2.5, 1.65, 1.55, 285 * 10 ** 6, 16777216, 402759680, perr),
                  layer_res('head', 'head', 1.2, 2.4, 1.3, 2.0, 1.25, 1.15, 4 * 10 ** 8, 0, 262152192, perr)]
        p2p = ([{'src_rank': 0, 'dst_rank': 1, 'bytes': b, 'one_way_ms': [0.02 + b / 150e6] * 5}
                for b in (4096, 2 ** 20, 2 ** 24, 2 ** 28)] if r == 0 else
               [{'src_rank': 1, 'dst_rank': 2, 'bytes': 2 ** 24, 'one_way_ms': [0.5, 0.4, 0.6]}])
        out.append({'rank': r, 'env': ENV, 'layers': layers, 'p2p': p2p})
    return out


A = types.SimpleNamespace(regime='compute', warmup=5, repeats=3, blocks=2, split_method='auto', seed=1)
files = R.profile_outputs(A, s, ranks_res(), None, 2, ['profile.py', '--regime', 'compute'])
check(sorted(files) == ['p2p.csv', 'profile.csv', 'profile.json', 'profile.yaml'], 'four profile files')
yml = files['profile.yaml']
check('backward split: pipelining' in yml and 'forward_ms: 1.6\n' in yml and
      'backward_input_ms: 1.6\n' in yml and 'backward_weight_ms: 1.5\n' in yml,
      'YAML: block = median over blocks of the pipelining split')
check('latency_ms: 0.02, bandwidth_bytes_per_s: 1.5e+11' in yml, 'YAML comment carries the link fit')
raw = json.loads(files['profile.json'])
check(raw['split_method'] == 'pipelining' and abs(raw['p2p_fit']['latency_ms'] - 0.02) < 1e-9
      and raw['command'][0] == 'profile.py' and len(raw['ranks']) == 2, 'profile.json')
prow = F.read_csv_checked(files['profile.csv'], F.PROFILE_COLUMNS)
check(len(prow) == 2 * 4 * 2 and {r['split_method'] for r in prow} == {'autograd', 'pipelining'},
      f'profile.csv: every rank, layer and method ({len(prow)} rows)')
check([r for r in prow if r['layer'] == 'embed' and r['split_method'] == 'pipelining'][0]
      ['backward_input_ms'] == '0', 'pipelining embed: no input gradient, W = full backward')
p2 = F.read_csv_checked(files['p2p.csv'], F.P2P_COLUMNS)
check(len(p2) == 5 and p2[4]['src_rank'] == '1' and p2[4]['one_way_ms_median'] == '0.5',
      'p2p.csv: the 0-1 sweep and the 1-2 neighbour check (recorded by its sender)')
files2 = R.profile_outputs(A, s, ranks_res('RuntimeError: changed API'), 'x', 2, ['p'])
check('backward split: autograd' in files2['profile.yaml'] and 'backward_weight_ms: 2.5\n' in files2['profile.yaml'],
      'auto falls back to the autograd split when pipelining fails')
A2 = types.SimpleNamespace(**dict(vars(A), split_method='pipelining'))
try:
    R.profile_outputs(A2, s, ranks_res('RuntimeError: changed API'), 'x', 2, ['p'])
    refused = False
except SystemExit as e:
    refused = 'changed API' in str(e)
check(refused, '--split-method pipelining refuses when it failed')

# --- measure rows and the scenario hint
cfg = C.Config(C.find_schedule('ZBVZeroBubble'), 2, 2, 8)
res = {'step_ms_slowest': [10.0, 12.0, 11.0], 'peak_memory_bytes': [5, 6],
       'resident_memory_bytes': [3, 4], 'ppsim_partition': [5, 4, 4, 5]}
rows = R.measure_rows(cfg, s, 'sgd', res, [ENV, ENV])
mt = F.csv_text(F.MEASURE_COLUMNS, rows)
mb = F.read_csv_checked(mt, F.MEASURE_COLUMNS)
check([r['rank'] for r in mb] == ['0', '1'] and mb[1]['peak_memory_bytes'] == '6' and
      mb[0]['step_ms_median'] == '11' and mb[0]['schedule'] == 'zb-v' and mb[0]['stages_per_rank'] == '2',
      'measure rows: one per rank, slowest-rank median')
hint = R.scenario_hint(cfg, s, res)
check(hint['pipeline.zbv_order'] == 'pytorch' and hint['pipeline.chunks'] == 2 and
      hint['pipeline.partition'] == [5, 4, 4, 5], 'scenario hint')

# --- what ppsim reads
if PPSIM:
    with tempfile.TemporaryDirectory() as tmp:
        ypath = os.path.join(tmp, 'profile.yaml')
        open(ypath, 'w').write(yml)
        p = subprocess.run([PPSIM, 'model', 'show', ypath], capture_output=True, text=True)
        check(p.returncode == 0 and 'block.15' in p.stdout and 'head' in p.stdout,
              f'ppsim model show reads the profile YAML: {p.stderr}')
        scen = os.path.join(tmp, 's.yaml')
        part = ', '.join(map(str, hint['pipeline.partition']))
        open(scen, 'w').write(
            f'model: {{file: profile.yaml}}\ncluster: {{devices: 2, link: {{latency_ms: 0.02, '
            f'bandwidth_bytes_per_s: 1.5e11}}}}\npipeline: {{schedule: {hint["pipeline.schedule"]}, '
            f'stages: 2, chunks: 2, microbatches: 8, zbv_order: pytorch, partition: [{part}]}}\n')
        p = subprocess.run([PPSIM, 'simulate', scen, '--format', 'json'], capture_output=True, text=True)
        ok = p.returncode == 0 and json.loads(p.stdout)['partition'] == hint['pipeline.partition']
        check(ok, f'ppsim simulate takes the profile and the hint: {p.returncode} {p.stderr}')
        opath = os.path.join(tmp, 'o.csv')
        open(opath, 'w').write(F.pipeline_order_csv({0: ['0F0', '0F1', None, '0B0', '0B1'],
                                                     1: [None, '1F0', '1B0', '1F1', '1B1']}))
        p = subprocess.run([PPSIM, 'schedule', 'check', opath, '--stages', '2', '--microbatches', '2'],
                           capture_output=True, text=True)
        check(p.returncode == 0, f'ppsim schedule check reads the op-order CSV: {p.stderr}')

# --- dry runs: no torch (a poisoned one on the path would raise), plans fit the time box
with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, 'torch'))
    open(os.path.join(tmp, 'torch', '__init__.py'), 'w').write(
        'raise ImportError("a dry run must not import torch")\n')
    env = dict(os.environ, PYTHONPATH=tmp)

    def py(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT)

    p = py(os.path.join(GPU, 'profile.py'), '--regime', 'overhead', '--dry-run')
    check(p.returncode == 0 and 'stdlib profile module not shadowed: ok' in p.stdout and
          'p2p sizes (bytes): 4096,16384,65536,262144,' in p.stdout, f'profile dry run: {p.stderr}')
    p = py(os.path.join(GPU, 'measure.py'), '--regime', 'compute', '--ranks', '4', '--dry-run')
    lines = [l for l in p.stdout.splitlines() if l.startswith('Schedule')]
    check(p.returncode == 0 and len(lines) == 21 and
          sum('skip: ScheduleDualPipeV needs microbatches >= stages (8)' in l for l in lines) == 1,
          f'measure dry run, P=4: 21 configurations, DualPipeV m=4 skipped: {p.stderr}')
    p = py(os.path.join(GPU, 'measure.py'), '--microbatches', '4,x', '--dry-run')
    check(p.returncode == 2 and 'expected comma-separated integers' in p.stderr, 'bad --microbatches')
    p = py(os.path.join(GPU, 'profile.py'), '--heads', '5', '--dry-run')
    check(p.returncode == 2 and 'heads (5) must divide hidden (4096)' in p.stderr, 'bad shape is a usage error')
    p = py(os.path.join(GPU, 'measure.py'), '--schedules', 'Chimera', '--dry-run')
    check(p.returncode == 2 and 'unknown schedule' in p.stderr, 'unknown schedule is a usage error')
    for regime in ('compute', 'overhead'):
        for ranks in ('2', '4'):
            p = subprocess.run(['bash', os.path.join(GPU, 'run_all.sh'), '--dry-run', regime],
                               capture_output=True, text=True, cwd=ROOT,
                               env=dict(env, RANKS=ranks, OUT=tmp))
            check(p.returncode == 0 and ': fits (budget 510 s)' in p.stdout and
                  p.stdout.count('measure.py --regime') == 7,
                  f'run_all.sh --dry-run {regime} RANKS={ranks} fits its time box: {p.stdout[-300:]} {p.stderr}')
    p = subprocess.run(['bash', os.path.join(GPU, 'run_all.sh'), '--dry-run', 'smoke'],
                       capture_output=True, text=True, cwd=ROOT, env=dict(env, RANKS='2', OUT=tmp))
    check(p.returncode == 0 and '--microbatches 4 --warmup 1 --steps 2' in p.stdout, 'smoke dry run')
    p = subprocess.run(['bash', os.path.join(GPU, 'run_all.sh'), 'bogus'], capture_output=True, text=True)
    check(p.returncode == 2 and 'usage' in p.stderr, 'run_all.sh refuses an unknown regime')
    text, total = C.run_all_plan('compute', 2, budget_s=100.0)
    check('OVER BUDGET' in text and total > 100, 'a plan over its budget says so')

# --- run_all.sh's own logic (launch order, time box, failure records, summary)
# against a stand-in torchrun: a fake `torch` whose distributed.run writes
# one measure.csv row per launch and fails the DualPipeV launch.
FAKE_RUN = r"""
import os, sys
args = sys.argv[1:]
script = next(a for a in args if a.endswith('.py'))
out = args[args.index('--out-dir') + 1]
sys.path.insert(0, os.path.dirname(script))
import common as C
import formats as F
os.makedirs(out, exist_ok=True)
if script.endswith('profile.py'):
    for f in ('profile.yaml', 'profile.json', 'profile.csv', 'p2p.csv'):
        open(os.path.join(out, f), 'w').write('stand-in\n')
    sys.exit(0)
spec = C.find_schedule(args[args.index('--schedules') + 1])
if spec.torch_name == 'ScheduleDualPipeV':
    sys.exit(1)
row = {c: 1 for c in F.MEASURE_COLUMNS}
row.update(schedule=spec.ppsim_name, dtype='bf16', torch_version='t', gpu_name='g', driver='d',
           torch_schedule=spec.torch_name, optimizer='sgd', rank=0)
F.append_csv_rows(os.path.join(out, 'measure.csv'), F.MEASURE_COLUMNS, [row])
"""
with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, 'py', 'torch', 'distributed'))
    os.makedirs(os.path.join(tmp, 'bin'))
    open(os.path.join(tmp, 'py', 'torch', '__init__.py'), 'w').write("__version__ = 'stand-in'\n")
    open(os.path.join(tmp, 'py', 'torch', 'distributed', '__init__.py'), 'w').write('')
    open(os.path.join(tmp, 'py', 'torch', 'distributed', 'run.py'), 'w').write(FAKE_RUN)
    smi = os.path.join(tmp, 'bin', 'nvidia-smi')
    open(smi, 'w').write('#!/bin/sh\n[ "$1" = -L ] && printf "GPU 0: H\\nGPU 1: H\\n" || echo smi "$@"\n')
    os.chmod(smi, 0o755)
    fenv = dict(os.environ, PYTHONPATH=os.path.join(tmp, 'py'), OUT=os.path.join(tmp, 'out'),
                PATH=os.path.join(tmp, 'bin') + os.pathsep + os.environ.get('PATH', ''))
    fenv.pop('RANKS', None)
    p = subprocess.run(['bash', os.path.join(GPU, 'run_all.sh'), 'compute'], capture_output=True,
                       text=True, cwd=ROOT, env=fenv)
    d = os.path.join(tmp, 'out', 'compute')
    files = sorted(os.listdir(d)) if os.path.isdir(d) else []
    check(p.returncode == 0 and files == ['measure.csv', 'measure.jsonl', 'p2p.csv', 'profile.csv',
                                          'profile.json', 'profile.yaml', 'run.log'],
          f'run_all.sh compute (stand-in torch): 7 files: {files} {p.stderr[-300:]}')
    if files:
        rows = F.read_csv_checked(open(os.path.join(d, 'measure.csv')).read(), F.MEASURE_COLUMNS)
        check([r['schedule'] for r in rows] == ['gpipe', '1f1b', 'interleaved-1f1b', 'interleaved-zb',
                                                'zb-v', 'looped-bfs'], 'one launch per schedule, in order')
        recs = [json.loads(l) for l in open(os.path.join(d, 'measure.jsonl'))]
        check([(r['type'], r['torch_schedule']) for r in recs] == [('launch_failed', 'ScheduleDualPipeV')],
              f'a failed launch is recorded and the next one still runs: {recs}')
        log = open(os.path.join(d, 'run.log')).read()
        check('--nproc-per-node=2' in log and 'smi --query-gpu' in log and
              "python3 -c 'import torch; print(torch.__version__)'" in log and 'stand-in' in log and
              log.count('+ timeout ') == 8 and '7 files in' in log, 'run.log: environment, 8 command lines, summary')
    p = subprocess.run(['bash', os.path.join(GPU, 'run_all.sh'), 'overhead'], capture_output=True,
                       text=True, cwd=ROOT, env=dict(fenv, BUDGET_S='30'))
    d = os.path.join(tmp, 'out', 'overhead')
    recs = [json.loads(l) for l in open(os.path.join(d, 'measure.jsonl'))] if os.path.isdir(d) else []
    check(p.returncode == 0 and len(recs) == 7 and all(r['type'] == 'skip' and 'time budget' in r['reason']
                                                       for r in recs), 'out of time: every launch skipped, with the reason')

if shutil.which('shellcheck'):
    p = subprocess.run(['shellcheck', os.path.join(GPU, 'run_all.sh')], capture_output=True, text=True)
    check(p.returncode == 0, f'shellcheck run_all.sh: {p.stdout}')

print(f'{checks} checks, {failures} failures')
sys.exit(1 if failures else 0)
