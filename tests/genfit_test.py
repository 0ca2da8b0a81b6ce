#!/usr/bin/env python3
"""`ppsim calibrate generator` on the per-layer times measured on one H200
(torch 2.11; validation/2026-11-23-h200-x1, copied to
tests/data/validation/{compute,overhead}/profile.csv): fit the transformer
generator's efficiency factors on the compute regime, check that the fitted
generator reproduces those layers, predict the held-out overhead regime,
read the written catalogue back through `ppsim model transformer
--gpu-catalogue`, and refuse bad input. The figures quoted are the measured
ones (docs/costmodel.md, "Generator calibration"); each bound fails if the fit
is broken (the uncalibrated generator is 18% off in median)."""
import json
import os
import re
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0
COMPUTE = 'data/validation/compute/profile.csv'
OVERHEAD = 'data/validation/overhead/profile.csv'
# The harness's model: flash attention (SDPA), 16-bit gradients (tools/gpu/blocks.py).
COMPUTE_SHAPE = ['--hidden', '4096', '--heads', '32', '--ffn', '16384', '--seq', '2048',
                 '--microbatch', '1', '--vocab', '32000', '--layers', '2',
                 '--flash-attention', 'on', '--fp32-grads', 'off']


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def run(args):
    return subprocess.run([PPSIM] + args, capture_output=True, text=True)


def gen(args):
    return run(['calibrate', 'generator'] + args)


def fit_json(args):
    p = gen(args + ['--format', 'json'])
    check(p.returncode == 0, f'calibrate generator {args}: exit {p.returncode}: {p.stderr}')
    return json.loads(p.stdout) if p.returncode == 0 else {}


def summary(j):
    return {(os.path.basename(os.path.dirname(s['file'])), s['kind'], s['in_fit']): s
            for s in j.get('summary', [])}


# --- fit on the compute regime, hold out the overhead regime ---------------
j = fit_json(['--layers', COMPUTE, '--holdout', OVERHEAD, '--gpu', 'H200'])
par = j.get('parameters', {})
check(j.get('split_method') == 'pipelining', 'default split method')
check(j.get('fit', {}).get('times') == 15, f"15 measured times in the fit: {j.get('fit')}")
# Every factor the compute layers depend on is identified (measured: gemm
# 0.691 +- 0.019, memory 0.795 +- 0.042, op_overhead_us 16.8 +- 1.9, attention
# 0.50 +- 0.21), each a fraction of its peak, with a finite 1-sigma.
for name, lo, hi in (('gemm', 0.6, 0.8), ('memory', 0.6, 1.0), ('attention', 0.1, 1.0),
                     ('op_overhead_us', 5, 30)):
    p = par.get(name, {})
    check(p.get('status') == 'fitted', f'{name} fitted: {p}')
    check(lo < (p.get('value') or 0) < hi, f'{name} = {p.get("value")} in ({lo}, {hi})')
    check(0 < (p.get('sigma') or 0) < 0.5 * (p.get('value') or 0), f'{name} sigma {p}')
check(par.get('gemm', {}).get('sigma', 1) < 0.05, 'gemm is the best determined factor')
s = summary(j)
fit_all = s.get(('compute', 'all', True), {})
hold_all = s.get(('overhead', 'all', False), {})
# Compute regime: uncalibrated 18.3% median |error| (63% max, the embedding);
# calibrated 1.81% median, 8.38% max over the 15 times.
check(fit_all.get('uncalibrated', {}).get('median_ape_pct', 0) > 15, f'uncalibrated compute {fit_all}')
check(fit_all.get('calibrated', {}).get('median_ape_pct', 99) < 2.5, f'calibrated compute median {fit_all}')
check(fit_all.get('calibrated', {}).get('max_ape_pct', 99) < 9, f'calibrated compute max {fit_all}')
for kind, med in (('embed', 2), ('block', 5), ('head', 7)):
    k = s.get(('compute', kind, True), {})
    check(k.get('calibrated', {}).get('median_ape_pct', 99) < med, f'compute {kind} median {k}')
    check(k.get('calibrated', {}).get('median_ape_pct', 99) <
          k.get('uncalibrated', {}).get('median_ape_pct', 0) / 2, f'compute {kind} improves')
check(abs(j.get('fit', {}).get('rms_relative', 1) - 0.049) < 0.01, f"RMS 4.9%: {j.get('fit')}")
# Held out, the overhead regime (hidden 256): launch- and Python-bound, which
# a per-kernel roofline fitted on GPU-bound layers cannot carry over.
# Measured: 96.8% median |error| uncalibrated, 70.4% calibrated (max 91.8%);
# the calibration helps but the miss stays large, and is documented.
hc = hold_all.get('calibrated', {}).get('median_ape_pct', 0)
check(60 < hc < 80, f'held-out overhead median is the documented miss (70.4%): {hold_all}')
check(hc < hold_all.get('uncalibrated', {}).get('median_ape_pct', 0), 'held-out improves')
rows = j.get('layers', [])
check(len(rows) == 8 and sum(r['in_fit'] for r in rows) == 4, 'four layers per file, one split each')
check(all(r['split_method'] == 'pipelining' and not r['fallback'] for r in rows), 'pipelining rows')
emb = [r for r in rows if r['kind'] == 'embed']
check(all('backward_input' not in r['times'] for r in emb), 'the embedding has no input gradient')

# --- the written catalogue, read by `ppsim model transformer` --------------
with tempfile.TemporaryDirectory() as tmp:
    cat = os.path.join(tmp, 'gpus.yaml')
    p = gen(['--layers', COMPUTE, '--gpu', 'H200', '-o', cat, '--format', 'json'])
    check(p.returncode == 0 and os.path.exists(cat), f'-o writes the catalogue: {p.stderr}')
    jj = json.loads(p.stdout) if p.returncode == 0 else {}
    text = open(cat).read() if os.path.exists(cat) else ''
    check('name: "H200-calibrated"' in text, 'default name')
    check(f'fitted by ppsim calibrate generator from {COMPUTE}' in text, 'source names the fit')
    check(text.count('(1-sigma)') == 4, 'four fitted factors with their sigma')
    check('aliases' not in text, 'the copy drops the aliases (they would replace H200)')
    m = run(['model', 'transformer', '--gpu-catalogue', cat, '--gpu', 'H200-calibrated'] +
            COMPUTE_SHAPE)
    check(m.returncode == 0, f'model transformer reads it: {m.stderr}')
    got = {}
    for kind in ('embed', 'block', 'head'):
        mm = re.search(r'name: %s, forward_ms: ([^,]+), backward_input_ms: ([^,]+), '
                       r'backward_weight_ms: ([^,]+),' % kind, m.stdout)
        got[kind] = [float(x) for x in mm.groups()] if mm else [0, 0, 0]
    for r in jj.get('layers', []):
        f, bi, bw = got[r['kind']]
        t = r['times']
        check(abs(t['forward']['calibrated_ms'] / f - 1) < 1e-12, f'round trip F {r["layer"]}')
        if 'backward_input' in t:
            check(abs(t['backward_input']['calibrated_ms'] / bi - 1) < 1e-12, 'round trip BI')
        check(abs(t['backward']['calibrated_ms'] / (bi + bw) - 1) < 1e-12, 'round trip B')
    # uncalibrated = the built-in entry, through the same command
    m0 = run(['model', 'transformer', '--gpu', 'H200'] + COMPUTE_SHAPE)
    mm = re.search(r'name: block, forward_ms: ([^,]+),', m0.stdout)
    blk = [r for r in jj.get('layers', []) if r['kind'] == 'block']
    check(mm and blk and abs(blk[0]['times']['forward']['uncalibrated_ms'] / float(mm.group(1)) - 1)
          < 1e-12, 'uncalibrated = the built-in H200 entry')
    # --name, and the same bytes twice (determinism), written or printed
    cat2 = os.path.join(tmp, 'lab.yaml')
    a = gen(['--layers', COMPUTE, '--gpu', 'h200 sxm', '--name', 'H200-lab', '-o', cat2])
    check(a.returncode == 0, f'--name: {a.stderr}')
    b = gen(['--layers', COMPUTE, '--gpu', 'h200 sxm', '--name', 'H200-lab', '-o', cat2 + '.2'])
    check(a.stdout == b.stdout and a.stdout, 'the same report twice')
    check(os.path.exists(cat2 + '.2') and open(cat2).read() == open(cat2 + '.2').read(),
          'the same catalogue twice')
    l = run(['model', 'gpus', '--gpu-catalogue', cat2])
    check(l.returncode == 0 and 'H200-lab' in l.stdout and 'H200 ' in l.stdout,
          f'the calibrated entry sits beside the built-in one: {l.stdout[:300]} {l.stderr}')
    j1 = gen(['--layers', COMPUTE, '--holdout', OVERHEAD, '--gpu', 'H200', '-f', 'json'])
    j2 = gen(['--layers', COMPUTE, '--holdout', OVERHEAD, '--gpu', 'H200', '-f', 'json'])
    check(j1.stdout == j2.stdout and j1.returncode == 0, 'JSON report deterministic')

    # --- bad input: one line naming file:line:col, exit 1, nothing written ---
    src = open(COMPUTE).read().splitlines(keepends=True)

    def bad(name, lines, want_re, status=1, extra=()):
        path = os.path.join(tmp, name)
        with open(path, 'w') as f:
            f.writelines(lines)
        out = os.path.join(tmp, name + '.yaml')
        p = gen(['--layers', path, '--gpu', 'H200', '-o', out] + list(extra))
        err = p.stderr.strip()
        check(p.returncode == status, f'{name}: exit {p.returncode}, want {status}: {err}')
        check(len(err.splitlines()) == 1 and re.fullmatch(want_re.replace('FILE', re.escape(path)), err),
              f'{name}: stderr {err!r} !~ {want_re!r}')
        check(not os.path.exists(out) and p.stdout == '', f'{name}: nothing written')

    bad('typo.csv', [src[0].replace('forward_ms', 'forwrd_ms')] + src[1:],
        r"FILE:1:74: error: no column 'forward_ms' \(did you mean 'forwrd_ms'\?\); .*")
    bad('nocol.csv', [','.join(c for c in src[0].rstrip('\n').split(',') if c != 'backward_ms') + '\n'] +
        [','.join(v for i, v in enumerate(r.rstrip('\n').split(',')) if i != 13) + '\n' for r in src[1:]],
        r"FILE:1:1: error: no column 'backward_ms'; the profile CSV of tools/gpu/profile.py has it .*")
    zero = src[:4] + [src[4].replace(',1.44431996,', ',0,')] + src[5:]
    bad('zero.csv', zero, r"FILE:5:58: error: column 'forward_ms': must be > 0 ms, got '0'")
    neg = src[:4] + [src[4].replace(',1.39798403,', ',-1.39798403,')] + src[5:]
    bad('neg.csv', neg, r"FILE:5:80: error: column 'backward_weight_ms': must be >= 0 ms, got '-1.39798403'")
    bad('empty.csv', src[:1], r"FILE: error: no layers: the CSV has a header but no rows")
    bad('fp32.csv', [src[0]] + [r.replace(',bf16,', ',fp32,') for r in src[1:]],
        r"FILE:2:\d+: error: column 'dtype': 'fp32' is not a dtype the generator models \(bf16, fp16, fp8\)")
    # a fit GSL does not converge in the iterations allowed: exit 3, nothing written
    bad('ok.csv', src, r"error: the generator calibration did not converge after 1 iterations .*; nothing written",
        status=3, extra=['--max-iterations', '1'])

    out = os.path.join(tmp, 'x.yaml')
    p = gen(['--layers', COMPUTE, '--gpu', 'H2OO', '-o', out])
    check(p.returncode == 1 and "unknown GPU 'H2OO' (did you mean 'H200'?)" in p.stderr and
          len(p.stderr.strip().splitlines()) == 1 and not os.path.exists(out),
          f'unknown GPU: {p.returncode} {p.stderr}')
    for args, what in ((['--gpu', 'H200'], 'no --layers'), (['--layers', COMPUTE], 'no --gpu'),
                       (['--layers', COMPUTE, '--gpu', 'H200', '--params', 'gem'], 'bad --params'),
                       (['--layers', COMPUTE, '--gpu', 'H200', '--split-method', 'x'], 'bad split'),
                       (['--layers', COMPUTE, '--gpu', 'H200', '-f', 'csv'], 'bad format')):
        p = gen(args)
        check(p.returncode == 2, f'usage {what}: exit {p.returncode} {p.stderr}')

# --- options -----------------------------------------------------------------
# --params: only the per-kernel overhead on the overhead regime (measured
# 50.8 +- 7.5 us alone; 47.0 +- 8.4 us when gemm is fitted beside it)
j = fit_json(['--layers', OVERHEAD, '--gpu', 'H200', '--params', 'op_overhead_us'])
par = j.get('parameters', {})
check(par.get('op_overhead_us', {}).get('status') == 'fitted', 'overhead fitted alone')
check(20 < par.get('op_overhead_us', {}).get('value', 0) < 80, f"overhead regime per-kernel cost {par}")
check(par.get('gemm', {}).get('status') == 'not fitted' and
      'not asked for' in par.get('gemm', {}).get('why', ''), 'gemm not asked for')
check(par.get('gemm', {}).get('value') == par.get('gemm', {}).get('catalogue'), 'unfitted keeps the catalogue')
# On the overhead regime alone, attention has no effect (every flash kernel
# there is memory-bound) and is reported so, not invented.
j = fit_json(['--layers', OVERHEAD, '--gpu', 'H200'])
a = j.get('parameters', {}).get('attention', {})
check(a.get('status') == 'not fitted' and 'no effect' in a.get('why', ''), f'attention in overhead {a}')
# Both regimes at once: the unconstrained memory efficiency exceeds 1 and is
# pinned there (the per-kernel overhead model cannot serve both regimes).
j = fit_json(['--layers', COMPUTE, '--layers', OVERHEAD, '--gpu', 'H200'])
mem = j.get('parameters', {}).get('memory', {})
check(mem.get('status') == 'pinned' and mem.get('value') == 1 and 'pinned at 1' in mem.get('why', ''),
      f'memory pinned at its bound: {mem}')
# --split-method autograd: its weight gradient recomputes what the input
# gradient shares (3.0 ms against pipelining's 1.4 for a block)
j = fit_json(['--layers', COMPUTE, '--gpu', 'H200', '--split-method', 'autograd'])
blk = [r for r in j.get('layers', []) if r['kind'] == 'block']
check(blk and blk[0]['split_method'] == 'autograd' and
      blk[0]['times']['backward_weight']['measured_ms'] > 2.5, 'autograd rows')

print(f'{checks - len(failures)} passed, {len(failures)} failed')
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
