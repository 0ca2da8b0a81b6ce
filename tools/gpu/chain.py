#!/usr/bin/env python3
"""chain.py - a block's cost inside a stage: forward and full backward of
chains of k = 1..K transformer blocks run back to back, timed with CUDA
events (median of --repeats after --warmup), and the least-squares line
t(k) = intercept + slope * k for each.

Why: profile.py times one layer at a time, so each time carries the fixed
cost of one call (the first kernel's launch, autograd's start, the events)
that a pipeline stage pays once per action, not once per layer. The slope is
the per-block cost inside a stage; the intercept is the per-call cost.
`tools/gpu/rerender.py --chain chain.json` puts the slopes into the per-layer
YAML as the block's forward_ms and fused_backward_ms.

  python3 tools/gpu/chain.py --regime overhead --max-blocks 8 --out-dir DIR
  python3 tools/gpu/chain.py --regime overhead --dry-run
Writes DIR/chain.json (every sample, versions, the fits) and DIR/chain.csv.
"""
import argparse
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _common():
    import importlib.util
    spec = importlib.util.spec_from_file_location('ppsim_gpu_common', os.path.join(_HERE, 'common.py'))
    mod = sys.modules.get(spec.name)
    if mod is None:
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return mod


C = _common()


def fit_line(ks, ts):
    """Least-squares intercept and slope of ts against ks (torch-free)."""
    n = len(ks)
    if n < 2 or len(set(ks)) < 2:
        raise ValueError('a line needs two or more distinct chain lengths')
    mk, mt = sum(ks) / n, sum(ts) / n
    sxx = sum((k - mk) ** 2 for k in ks)
    slope = sum((k - mk) * (t - mt) for k, t in zip(ks, ts)) / sxx
    return mt - slope * mk, slope


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--regime', choices=sorted(C.REGIMES), default='overhead')
    ap.add_argument('--max-blocks', type=int, default=8)
    ap.add_argument('--warmup', type=int, default=10)
    ap.add_argument('--repeats', type=int, default=50)
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--out-dir', default='.')
    ap.add_argument('--dry-run', action='store_true')
    a = ap.parse_args(argv)
    if a.max_blocks < 2 or a.repeats < 1 or a.warmup < 0:
        ap.error('--max-blocks must be >= 2, --repeats >= 1, --warmup >= 0')
    return a, C.regime_shape(a.regime)


def run(a, shape):
    import torch
    B = C.load_sibling(_HERE, 'blocks')
    E = C.load_sibling(_HERE, 'gpuenv')
    F = C.load_sibling(_HERE, 'formats')
    rank, world, device = E.init()
    env = E.env_info(device)
    dtype = B.TORCH_DTYPES[shape.dtype]
    b, s, h = shape.microbatch_size, shape.seq, shape.hidden
    g = torch.Generator(device=device).manual_seed(a.seed)
    x_src = torch.randn((b, s, h), generator=g, device=device, dtype=dtype)
    dy = torch.randn((b, s, h), generator=g, device=device, dtype=dtype) * 0.01
    blocks = [B.build_block(shape, device, a.seed, i) for i in range(a.max_blocks)]
    T = E.EventTimer()
    samples = {}
    for k in range(1, a.max_blocks + 1):
        params = [p for blk in blocks[:k] for p in blk.parameters() if p.requires_grad]
        fwd, bwd = [], []
        for it in range(a.warmup + a.repeats):
            x = x_src.detach().clone().requires_grad_(True)
            e = T.start()
            y = x
            for blk in blocks[:k]:
                y = blk(y)
            T.stop('f', e)
            e = T.start()
            torch.autograd.grad(y, [x] + params, dy)
            T.stop('b', e)
            del x, y
            got = T.collect()
            if it >= a.warmup:
                fwd += got['f']
                bwd += got['b']
        samples[k] = {'forward_ms': fwd, 'backward_ms': bwd}
    ks = sorted(samples)
    fits = {}
    for part in ('forward_ms', 'backward_ms'):
        med = [C.median(samples[k][part]) for k in ks]
        icpt, slope = fit_line(ks, med)
        fits[part] = {'intercept_ms': icpt, 'slope_ms': slope, 'median_by_k': dict(zip(ks, med))}
    out = {'tool': 'tools/gpu/chain.py', 'command': sys.argv, 'regime': a.regime,
           'shape': shape.as_dict(), 'warmup': a.warmup, 'repeats': a.repeats, 'seed': a.seed,
           'env': env, 'fits': fits, 'samples': {str(k): v for k, v in samples.items()}}
    if rank == 0:
        os.makedirs(a.out_dir, exist_ok=True)
        F.write_atomic(os.path.join(a.out_dir, 'chain.json'), json.dumps(out, indent=1) + '\n')
        rows = ['k,forward_ms_median,backward_ms_median,repeats']
        rows += [f'{k},{fits["forward_ms"]["median_by_k"][k]:.6g},'
                 f'{fits["backward_ms"]["median_by_k"][k]:.6g},{a.repeats}' for k in ks]
        F.write_atomic(os.path.join(a.out_dir, 'chain.csv'), '\n'.join(rows) + '\n')
        for part, f in fits.items():
            print(f'{part}: intercept {f["intercept_ms"]:.4f} ms, slope {f["slope_ms"]:.4f} ms/block; '
                  + ', '.join(f'k={k}: {v:.4f}' for k, v in f['median_by_k'].items()))
    E.finish()
    return 0


def main(argv=None):
    a, shape = parse_args(sys.argv[1:] if argv is None else argv)
    if a.dry_run:
        print(f'# chain.py plan (regime {a.regime}): chains of 1..{a.max_blocks} blocks, '
              f'{a.warmup} warm-ups + {a.repeats} repeats each; nothing is run')
        print('# shape: ' + ' '.join(f'{k}={v}' for k, v in shape.as_dict().items()))
        return 0
    return run(a, shape)


if __name__ == '__main__':
    sys.exit(main())
