#!/usr/bin/env python3
"""measure.py - real training steps under torch.distributed.pipelining's own
schedules, for the block stack that profile.py times.

Launch with torchrun, one process per GPU (2 to 4). For every schedule in
--schedules that the installed torch has (ScheduleGPipe, Schedule1F1B,
ScheduleInterleaved1F1B, ScheduleInterleavedZeroBubble, ScheduleZBVZeroBubble,
ScheduleDualPipeV, ScheduleLoopedBFS; a missing one is skipped with its
reason) and every microbatch count in --microbatches, it builds the stages
(embedding on the first, LM head + loss on the last; --chunks stages per rank
for the looped schedules, two in a V for ZBV and DualPipeV), runs --warmup
then --steps optimizer steps, and records:
  the step time: each rank's wall time of zero_grad + schedule.step +
    optimizer.step, started together after a barrier and ended with a device
    synchronize; the step's time is the slowest rank's; median/min/max over
    the steps;
  each rank's peak memory: torch.cuda.max_memory_allocated over the timed
    steps (reset after the warm-up).
Rows are appended to --out-dir/measure.csv (columns in tools/gpu/README.md;
what `ppsim calibrate` reads), and one JSON line per configuration (every
step of every rank, losses, PyTorch's op order, the ppsim partition) or skip
to measure.jsonl. A configuration that would overrun --time-budget-s
(estimated, corrected by the ones already run) is skipped with that reason.

  torchrun --standalone --nproc-per-node=2 tools/gpu/measure.py --regime compute --out-dir DIR
  python3 tools/gpu/measure.py --regime overhead --ranks 4 --dry-run
"""
import argparse
import os
import sys
import time

T0 = time.monotonic()
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


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--regime', choices=sorted(C.REGIMES), default='compute')
    for f in ('hidden', 'heads', 'ffn', 'seq', 'microbatch-size', 'layers', 'vocab'):
        ap.add_argument('--' + f, type=int, default=None, help='override the regime')
    ap.add_argument('--dtype', choices=sorted(C.DTYPE_BYTES), default=None)
    ap.add_argument('--schedules', default='all',
                    help='comma-separated (ScheduleGPipe, 1F1B, gpipe, ...) or all')
    ap.add_argument('--microbatches', default=None, help='comma-separated counts')
    ap.add_argument('--chunks', type=int, default=2, help='stages per rank, looped schedules')
    ap.add_argument('--warmup', type=int, default=None)
    ap.add_argument('--steps', type=int, default=None)
    ap.add_argument('--optimizer', choices=('sgd', 'adam', 'none'), default='sgd')
    ap.add_argument('--lr', type=float, default=1e-4)
    ap.add_argument('--stage-meta', choices=('auto', 'dynamic', 'static'), default='auto',
                    help='PipelineStage shapes: inferred (dynamic) or given (static)')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--no-gc', action='store_true',
                    help="Python's cyclic garbage collector off during the timed steps "
                         '(collected before each step): separates its pauses from the runtime')
    ap.add_argument('--time-budget-s', type=float, default=500.0,
                    help='seconds from this process start; later configurations are skipped')
    ap.add_argument('--nccl-timeout-s', type=int, default=120,
                    help='a hung collective fails after this (instead of eating the time box)')
    ap.add_argument('--out-dir', default='.')
    ap.add_argument('--ranks', type=int, default=None,
                    help='for --dry-run only (a real run takes WORLD_SIZE)')
    ap.add_argument('--dry-run', action='store_true', help='print the plan; do not import torch')
    a = ap.parse_args(argv)
    rc = C.REGIMES[a.regime]
    try:
        shape = C.regime_shape(a.regime).replace(
            hidden=a.hidden, heads=a.heads, ffn=a.ffn, seq=a.seq, microbatch_size=a.microbatch_size,
            layers=a.layers, vocab=a.vocab, dtype=a.dtype)
    except ValueError as e:
        ap.error(str(e))
    try:
        a.schedule_specs = C.parse_schedules(a.schedules)
        a.microbatch_list = (C.parse_int_list(a.microbatches, '--microbatches')
                             if a.microbatches else list(rc['microbatches']))
    except ValueError as e:
        ap.error(str(e))
    a.warmup = rc['warmup'] if a.warmup is None else a.warmup
    a.steps = rc['steps'] if a.steps is None else a.steps
    if a.steps < 1 or a.warmup < 0 or a.chunks < 1:
        ap.error('--steps and --chunks must be >= 1, --warmup >= 0')
    a.regime_cfg = dict(rc, warmup=a.warmup, steps=a.steps)
    return a, shape


def dry_run(a, shape):
    ranks = a.ranks or int(os.environ.get('WORLD_SIZE', '2'))
    planned = C.plan_configs(a.schedule_specs, ranks, a.chunks, a.microbatch_list, shape.layers)
    text, total = C.format_plan(shape, a.regime_cfg, planned, ranks, a.time_budget_s)
    print(f'# measure.py plan (regime {a.regime}); nothing is run')
    print(text, end='')
    print(f'# estimated: {total:.0f} s of steps + {C.EST["launch_s"]:.0f} s launch; '
          f'budget {a.time_budget_s:.0f} s; outputs {os.path.join(a.out_dir, "measure.csv")}, '
          f'measure.jsonl')
    return 0


def main(argv=None):
    a, shape = parse_args(sys.argv[1:] if argv is None else argv)
    if a.dry_run:
        return dry_run(a, shape)
    impl = C.load_sibling(_HERE, 'measure_impl')
    return impl.run(a, shape, T0)


if __name__ == '__main__':
    sys.exit(main())
