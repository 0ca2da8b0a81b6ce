#!/usr/bin/env python3
"""profile.py - per-layer costs of a transformer block stack, as ppsim YAML.

Times, with CUDA events (warm-up, then the median of --repeats), for the
embedding, --blocks transformer blocks and the LM head + loss, one layer at a
time on one GPU:
  forward_ms            the forward with autograd recording;
  backward_ms           the full backward (input and parameter gradients);
  backward_input_ms,    the split backward, by two methods: 'autograd' =
  backward_weight_ms    torch.autograd.grad w.r.t. the layer input only
                        (retain_graph), then w.r.t. the parameters; 'pipelining'
                        = torch.distributed.pipelining's own stage_backward_input
                        / stage_backward_weight, which the split-backward
                        schedules run (it reuses the intermediate gradients, so
                        its two parts add up to about the full backward, while
                        the autograd pair recomputes the shared part);
  activation_bytes      torch.cuda.memory_allocated after the forward minus
                        before it (what autograd keeps, the output included);
  parameter_bytes, output_bytes.
With two or more processes (torchrun) it also times NCCL send/recv ping-pong
between ranks 0 and 1 over message sizes from 4 KiB to 256 MiB plus the
stage-boundary activation, fits latency + bytes / bandwidth, and checks every
neighbour pair (r, r+1) at the boundary size.

Writes into --out-dir: profile.yaml (ppsim per-layer YAML), profile.json
(every sample, versions, GPU, driver, the fit), profile.csv and p2p.csv
(tools/gpu/README.md documents their columns).

  torchrun --standalone --nproc-per-node=2 tools/gpu/profile.py --regime compute --out-dir DIR
  python3 tools/gpu/profile.py --regime overhead --dry-run
"""
import argparse
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
# This file is named like the standard library's `profile`, which cProfile
# imports (and torch._dynamo imports cProfile): never let our folder shadow it.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.modules.pop('profile', None)


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
DEFAULT_P2P_SIZES = [4096 * 4 ** k for k in range(9)]  # 4 KiB .. 256 MiB


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--regime', choices=sorted(C.REGIMES), default='compute')
    for f in ('hidden', 'heads', 'ffn', 'seq', 'microbatch-size', 'layers', 'vocab'):
        ap.add_argument('--' + f, type=int, default=None, help='override the regime')
    ap.add_argument('--dtype', choices=sorted(C.DTYPE_BYTES), default=None)
    ap.add_argument('--warmup', type=int, default=None)
    ap.add_argument('--repeats', type=int, default=None)
    ap.add_argument('--blocks', type=int, default=None, help='distinct blocks to time')
    ap.add_argument('--split-method', choices=('auto', 'autograd', 'pipelining'), default='auto',
                    help="which split goes into the YAML; auto = 'pipelining' where it runs")
    ap.add_argument('--p2p-sizes', default=None, help='bytes, comma-separated')
    ap.add_argument('--p2p-warmup', type=int, default=5)
    ap.add_argument('--p2p-repeats', type=int, default=20)
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--out-dir', default='.')
    ap.add_argument('--dry-run', action='store_true', help='print the plan; do not import torch')
    a = ap.parse_args(argv)
    rc = C.REGIMES[a.regime]
    try:
        shape = C.regime_shape(a.regime).replace(
            hidden=a.hidden, heads=a.heads, ffn=a.ffn, seq=a.seq, microbatch_size=a.microbatch_size,
            layers=a.layers, vocab=a.vocab, dtype=a.dtype)
    except ValueError as e:
        ap.error(str(e))
    a.warmup = rc['profile_warmup'] if a.warmup is None else a.warmup
    a.repeats = rc['profile_repeats'] if a.repeats is None else a.repeats
    a.blocks = rc['profile_blocks'] if a.blocks is None else a.blocks
    if a.repeats < 1 or a.warmup < 0 or a.blocks < 1 or a.p2p_repeats < 1 or a.p2p_warmup < 0:
        ap.error('repeats, blocks and p2p-repeats must be >= 1, warm-ups >= 0')
    try:
        sizes = (C.parse_int_list(a.p2p_sizes, '--p2p-sizes') if a.p2p_sizes else DEFAULT_P2P_SIZES)
    except ValueError as e:
        ap.error(str(e))
    a.p2p_sizes = sorted(set(sizes) | {shape.boundary_bytes()})
    return a, shape


def dry_run(a, shape):
    import cProfile  # noqa: F401  (proves the stdlib module is not shadowed)
    print(f'# profile.py plan (regime {a.regime}); nothing is run')
    print('# shape: ' + ' '.join(f'{k}={v}' for k, v in shape.as_dict().items()))
    print(f'# layers timed: embed, {a.blocks} block(s), head+loss; warmup={a.warmup} '
          f'repeats={a.repeats}; YAML split method: {a.split_method}')
    print(f'# block: {shape.block_flops_fwd() / 1e9:.1f} GFLOP forward, '
          f'{shape.block_parameters() * shape.elem_bytes / 1e6:.1f} MB parameters, '
          f'~{shape.block_activation_bytes_estimate() / 1e6:.1f} MB activations per microbatch')
    print(f'# boundary activation: {shape.boundary_bytes()} bytes')
    print('# p2p sizes (bytes): ' + ','.join(map(str, a.p2p_sizes)))
    print(f'# estimated time: {C.est_profile_s(shape, a.warmup, a.repeats, a.blocks):.0f} s '
          f'(launch included)')
    print(f'# outputs: {os.path.join(a.out_dir, "profile.yaml")}, profile.json, profile.csv, p2p.csv')
    print('# stdlib profile module not shadowed: ok')
    return 0


def main(argv=None):
    a, shape = parse_args(sys.argv[1:] if argv is None else argv)
    if a.dry_run:
        return dry_run(a, shape)
    impl = C.load_sibling(_HERE, 'profile_impl')
    return impl.run(a, shape)


if __name__ == '__main__':
    sys.exit(main())
