"""common.py - the torch-free half of the GPU harness (tools/gpu/).

Everything here runs without PyTorch so that it can be unit-tested on a
machine with no GPU (tests/gpu_tools_test.py) and so that `--dry-run` can print
the plan of runs anywhere: model shapes and the two regimes, the PyTorch
schedules and their limits, the stage layouts, the plan and its time budget,
statistics and the alpha-beta fit. The output formats are in formats.py."""
import math

DTYPE_BYTES = {'bf16': 2, 'fp16': 2, 'fp32': 4}


class Shape:
    """A GPT-style model: `layers` identical pre-LN blocks between a token +
    position embedding and a final LayerNorm + LM head + cross-entropy loss."""

    FIELDS = ('hidden', 'heads', 'ffn', 'seq', 'microbatch_size', 'layers', 'vocab', 'dtype')

    def __init__(self, hidden, heads, ffn, seq, microbatch_size, layers, vocab, dtype='bf16'):
        self.hidden, self.heads, self.ffn, self.seq = hidden, heads, ffn, seq
        self.microbatch_size, self.layers, self.vocab, self.dtype = microbatch_size, layers, vocab, dtype
        self.validate()

    def validate(self):
        for f in self.FIELDS[:-1]:
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f'{f} must be a positive integer, got {v!r}')
        if self.dtype not in DTYPE_BYTES:
            raise ValueError(f'dtype must be one of {", ".join(DTYPE_BYTES)}, got {self.dtype!r}')
        if self.hidden % self.heads:
            raise ValueError(f'heads ({self.heads}) must divide hidden ({self.hidden})')

    @property
    def elem_bytes(self):
        return DTYPE_BYTES[self.dtype]

    def as_dict(self):
        return {f: getattr(self, f) for f in self.FIELDS}

    def replace(self, **kw):
        d = self.as_dict()
        d.update({k: v for k, v in kw.items() if v is not None})
        return Shape(**d)

    # --- analytic sizes, used for estimates and as cross-checks of measurements
    def boundary_bytes(self):
        """The hidden state one microbatch sends across a stage boundary."""
        return self.microbatch_size * self.seq * self.hidden * self.elem_bytes

    def block_parameters(self):
        h, f = self.hidden, self.ffn
        # qkv + proj + fc1 + fc2 weights and biases, two LayerNorms (weight + bias)
        return 4 * h * h + 2 * h * f + (3 * h + h + f + h) + 4 * h

    def embed_parameters(self):
        return (self.vocab + self.seq) * self.hidden

    def head_parameters(self):
        return 2 * self.hidden + self.hidden * self.vocab

    def block_flops_fwd(self):
        """Matmul FLOPs of one block's forward for one microbatch: the four
        projections and the MLP (2 FLOPs per multiply-add), plus causal
        attention (QK^T and AV, half of the s x s square)."""
        b, s, h, f = self.microbatch_size, self.seq, self.hidden, self.ffn
        return 2 * b * s * (4 * h * h + 2 * h * f) + 2 * b * s * s * h

    def head_flops_fwd(self):
        return 2 * self.microbatch_size * self.seq * self.hidden * self.vocab

    def block_activation_bytes_estimate(self):
        """What autograd keeps for one block and one microbatch, output
        included, input not (it is the previous layer's output): LN1 out,
        q, k, v, the attention output and its contiguous copy, the residual
        sum, LN2 out and the block output (9 x bsh), fc1 out and GELU out
        (2 x bsf), and the attention's fp32 log-sum-exp. Korthikanti et al.
        (2022) count 34 sbh bytes for 2-byte elements with f = 4h and no
        dropout masks here: the same order."""
        b, s, h, f = self.microbatch_size, self.seq, self.hidden, self.ffn
        return b * s * (9 * h + 2 * f) * self.elem_bytes + b * self.heads * s * 4

    def logits_bytes(self):
        # bf16 logits, their fp32 copy for the loss and the saved log-softmax
        return self.microbatch_size * self.seq * self.vocab * (self.elem_bytes + 4 + 4)


# The two regimes of issue 9 section 3. The compute-bound one is a 7B-class
# block (hidden 4096, 32 heads, 4h MLP, 2048 tokens) and fits an H200 (141 GB)
# with room to spare (estimate_peak_bytes; tested); the overhead-bound one is
# so small that kernel launches, Python and p2p latency dominate.
REGIMES = {
    'compute': {
        'shape': dict(hidden=4096, heads=32, ffn=16384, seq=2048, microbatch_size=1,
                      layers=16, vocab=32000, dtype='bf16'),
        'microbatches': (4, 8, 16),
        'warmup': 2, 'steps': 8,
        'profile_warmup': 5, 'profile_repeats': 30, 'profile_blocks': 2,
    },
    'overhead': {
        'shape': dict(hidden=256, heads=4, ffn=1024, seq=128, microbatch_size=4,
                      layers=16, vocab=8192, dtype='bf16'),
        'microbatches': (4, 8, 16, 32),
        'warmup': 5, 'steps': 20,
        'profile_warmup': 10, 'profile_repeats': 100, 'profile_blocks': 2,
    },
}


def regime_shape(name):
    if name not in REGIMES:
        raise ValueError(f'unknown regime {name!r} (known: {", ".join(REGIMES)})')
    return Shape(**REGIMES[name]['shape'])


class ScheduleSpec:
    """One torch.distributed.pipelining schedule. `style` is where stages sit:
    'single' one stage per rank, 'loop' stage s on rank s mod P (PyTorch's
    default mapping), 'v' rank r holds stages r and 2P-1-r (PyTorch's
    style="v")."""

    def __init__(self, torch_name, ppsim_name, style, split_backward, scenario_extra=None):
        self.torch_name, self.ppsim_name, self.style = torch_name, ppsim_name, style
        self.split_backward = split_backward
        self.scenario_extra = scenario_extra or {}

    def stages_per_rank(self, default_chunks):
        return {'single': 1, 'loop': default_chunks, 'v': 2}[self.style]


# Run order: GPipe and 1F1B first (issue 9 fits the calibration on them), then
# the rest; a run cut short by its time budget loses the last ones.
SCHEDULES = [
    ScheduleSpec('ScheduleGPipe', 'gpipe', 'single', False),
    ScheduleSpec('Schedule1F1B', '1f1b', 'single', False),
    ScheduleSpec('ScheduleInterleaved1F1B', 'interleaved-1f1b', 'loop', False),
    ScheduleSpec('ScheduleInterleavedZeroBubble', 'interleaved-zb', 'loop', True),
    ScheduleSpec('ScheduleZBVZeroBubble', 'zb-v', 'v', True, {'pipeline.zbv_order': 'pytorch'}),
    ScheduleSpec('ScheduleDualPipeV', 'dualpipev', 'v', True),
    ScheduleSpec('ScheduleLoopedBFS', 'looped-bfs', 'loop', False),
]
SCHEDULE_BY_NAME = {}
for _s in SCHEDULES:
    for _k in (_s.torch_name, _s.torch_name[len('Schedule'):], _s.ppsim_name):
        SCHEDULE_BY_NAME[_k.lower()] = _s


def find_schedule(name):
    s = SCHEDULE_BY_NAME.get(name.lower())
    if s is None:
        raise ValueError(f'unknown schedule {name!r} (known: '
                         f'{", ".join(x.torch_name for x in SCHEDULES)})')
    return s


def parse_schedules(text):
    if text in ('all', ''):
        return list(SCHEDULES)
    return [find_schedule(t.strip()) for t in text.split(',') if t.strip()]


def parse_int_list(text, what):
    try:
        vals = [int(t) for t in text.split(',') if t.strip()]
    except ValueError:
        raise ValueError(f'{what}: expected comma-separated integers, got {text!r}') from None
    if not vals or any(v < 1 for v in vals):
        raise ValueError(f'{what}: expected positive integers, got {text!r}')
    return vals


def config_problem(spec, ranks, spr, m, layers):
    """Why PyTorch would refuse (or we cannot build) this configuration, or
    None. Mirrors the checks of torch/distributed/pipelining/schedules.py
    (pytorch main, 2025-26); the installed torch has the last word: run-time
    refusals are recorded too."""
    stages = ranks * spr
    # One rank is allowed for every schedule: the looped and V schedules then
    # keep all their stages on that GPU and hand activations over locally
    # (no p2p), which still measures per-op overhead and schedule memory.
    if layers < stages:
        return f'{layers} blocks cannot fill {stages} stages'
    if spec.torch_name == 'Schedule1F1B' and m < ranks:
        return f'Schedule1F1B needs microbatches >= stages ({ranks})'
    if spec.torch_name in ('ScheduleInterleaved1F1B', 'ScheduleInterleavedZeroBubble'):
        rounds = max(1, m // ranks)
        if m % rounds:
            return f'{spec.torch_name} needs microbatches a multiple of its rounds ({rounds})'
    if spec.style == 'v' and spr != 2:
        return f'{spec.torch_name} needs exactly 2 stages per rank'
    if spec.torch_name == 'ScheduleDualPipeV' and m < stages:
        return f'ScheduleDualPipeV needs microbatches >= stages ({stages})'
    return None


def stage_to_rank(style, ranks, spr):
    n = ranks * spr
    if style == 'v':
        if spr != 2:
            raise ValueError('a V layout has exactly 2 stages per rank')
        return [s if s < ranks else n - 1 - s for s in range(n)]
    return [s % ranks for s in range(n)]


def split_blocks(layers, stages):
    """Blocks per stage, in model order: as even as possible, the extra
    blocks on the last stages (the first holds the embedding, the last the
    LM head, so neither end is favoured)."""
    if stages < 1 or layers < stages:
        raise ValueError(f'cannot split {layers} blocks into {stages} stages')
    base, extra = divmod(layers, stages)
    return [base + (1 if s >= stages - extra else 0) for s in range(stages)]


def ppsim_partition(blocks_per_stage):
    """ppsim's `pipeline.partition` for the profile's layer list
    [embed, block x L, head]: layer counts per piece in model order."""
    p = list(blocks_per_stage)
    p[0] += 1
    p[-1] += 1
    return p


def stage_blocks(blocks_per_stage):
    """Global block indices of every stage."""
    out, start = [], 0
    for n in blocks_per_stage:
        out.append(list(range(start, start + n)))
        start += n
    return out


# --- estimates (for the plan and the time box; never reported as results)
EST = {
    'launch_s': 20.0,          # torchrun + import torch + CUDA context + NCCL init
    'config_setup_s': 3.0,     # build stages and schedule, first step's buffers
    'tflops': 400.0,           # effective bf16 rate of a block (H200 matmul ~790 peak)
    'block_floor_ms': 0.35,    # launch-bound floor of one block's F+B (about 45 kernels)
    'action_overhead_ms': 0.4, # host + p2p overhead of one pipeline action
    'profile_layer_repeat_factor': 8.0,  # F+B equivalents per profile repeat
    'p2p_s': 8.0,              # the p2p sweep and neighbour checks
}


def est_block_ms(shape):
    return max(3.0 * shape.block_flops_fwd() / (EST['tflops'] * 1e12) * 1e3, EST['block_floor_ms'])


def est_head_ms(shape):
    return max(3.0 * shape.head_flops_fwd() / (EST['tflops'] * 1e12) * 1e3, EST['block_floor_ms'])


def est_step_ms(shape, ranks, spr, m):
    """A deliberately pessimistic step time: GPipe's (m + P - 1) slots of the
    busiest rank's per-microbatch work, plus host overhead per action."""
    per_mb = math.ceil(shape.layers / ranks) * est_block_ms(shape) + est_head_ms(shape)
    return (m + ranks - 1) * per_mb + 3 * m * spr * EST['action_overhead_ms']


def est_config_s(shape, ranks, spr, m, warmup, steps):
    return EST['config_setup_s'] + (warmup + steps) * est_step_ms(shape, ranks, spr, m) / 1e3


def est_profile_s(shape, warmup, repeats, blocks):
    layer_ms = (blocks * est_block_ms(shape) + est_head_ms(shape) + EST['block_floor_ms'])
    return EST['launch_s'] + EST['p2p_s'] + (warmup + repeats) * layer_ms * EST['profile_layer_repeat_factor'] / 1e3


def estimate_peak_bytes(shape, ranks, spr, m, optimizer='sgd'):
    """Upper bound of one rank's allocated memory: its blocks' parameters and
    gradients (and Adam's two moments), every microbatch's activations held at
    once (GPipe), and the logits of every microbatch on the head's rank."""
    e = shape.elem_bytes
    blocks = math.ceil(shape.layers / (ranks * spr)) * spr
    params = (blocks * shape.block_parameters() + shape.embed_parameters() + shape.head_parameters()) * e
    state = {'sgd': 0, 'none': 0, 'adam': 2}[optimizer] * params
    acts = m * blocks * shape.block_activation_bytes_estimate()
    return 2 * params + state + acts + m * shape.logits_bytes() + m * shape.boundary_bytes() * 2


class Config:
    def __init__(self, spec, ranks, spr, m):
        self.spec, self.ranks, self.spr, self.m = spec, ranks, spr, m

    def key(self):
        return f'{self.spec.torch_name} P={self.ranks} V={self.spr} m={self.m}'


def plan_configs(schedules, ranks, chunks, microbatches, layers):
    """Every (schedule, microbatches) in run order, each with the reason it
    cannot run (None when it can)."""
    out = []
    for spec in schedules:
        spr = spec.stages_per_rank(chunks)
        for m in microbatches:
            out.append((Config(spec, ranks, spr, m), config_problem(spec, ranks, spr, m, layers)))
    return out


def fits_budget(elapsed_s, predicted_s, budget_s, margin_s=10.0):
    return elapsed_s + predicted_s + margin_s <= budget_s


def format_plan(shape, regime_cfg, planned, ranks, budget_s=None):
    """The dry-run table, with the estimated seconds of each configuration
    and the running total; returns (text, total seconds of runnable ones)."""
    lines = [f'# shape: ' + ' '.join(f'{k}={v}' for k, v in shape.as_dict().items()),
             f'# ranks={ranks} warmup={regime_cfg["warmup"]} steps={regime_cfg["steps"]} '
             f'(estimates: {", ".join(f"{k}={v}" for k, v in EST.items())})',
             f'{"schedule":<30} {"P":>2} {"V":>2} {"m":>3} {"est_step_ms":>11} '
             f'{"est_s":>7} {"total_s":>8} {"est_peak_GB":>11}  status']
    total = 0.0
    for cfg, problem in planned:
        step = est_step_ms(shape, cfg.ranks, cfg.spr, cfg.m)
        secs = est_config_s(shape, cfg.ranks, cfg.spr, cfg.m, regime_cfg['warmup'], regime_cfg['steps'])
        peak = estimate_peak_bytes(shape, cfg.ranks, cfg.spr, cfg.m) / 1e9
        if problem:
            status, secs_s, tot_s = 'skip: ' + problem, '-', '-'
        else:
            total += secs
            status = 'run'
            if budget_s is not None and total > budget_s:
                status = 'run (past the budget: would be skipped at run time)'
            secs_s, tot_s = f'{secs:.1f}', f'{total:.1f}'
        lines.append(f'{cfg.spec.torch_name:<30} {cfg.ranks:>2} {cfg.spr:>2} {cfg.m:>3} '
                     f'{step:>11.1f} {secs_s:>7} {tot_s:>8} {peak:>11.1f}  {status}')
    return '\n'.join(lines) + '\n', total


# --- statistics
def median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        raise ValueError('median of nothing')
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def summarize(xs):
    if not xs:
        raise ValueError('no samples')
    return {'median': median(xs), 'min': min(xs), 'max': max(xs),
            'mean': sum(xs) / len(xs), 'n': len(xs)}


def slowest_rank_steps(per_rank):
    """per_rank[r][i] = rank r's wall time of step i; the step time is the
    slowest rank's (all ranks start together after a barrier)."""
    n = {len(r) for r in per_rank}
    if len(n) != 1:
        raise ValueError('ranks timed different numbers of steps')
    return [max(col) for col in zip(*per_rank)]


def fit_alpha_beta(points):
    """Fit t = latency + bytes / bandwidth to (bytes, ms) points by least
    squares on relative residuals (weights 1/t^2), so that 4-KiB and 256-MiB
    messages count alike. Returns latency_ms, bandwidth_bytes_per_s and the
    largest relative residual; a negative latency is clamped to 0 and the
    slope refitted through the origin (noted in `clamped`)."""
    pts = [(float(b), float(t)) for b, t in points]
    if len(pts) < 2 or len({b for b, _ in pts}) < 2:
        raise ValueError('need at least two distinct message sizes')
    if any(t <= 0 or b < 0 for b, t in pts):
        raise ValueError('times must be positive and sizes non-negative')
    w = [1.0 / (t * t) for _, t in pts]
    sw = sum(w)
    sx = sum(wi * b for wi, (b, _) in zip(w, pts))
    sy = sum(wi * t for wi, (_, t) in zip(w, pts))
    sxx = sum(wi * b * b for wi, (b, _) in zip(w, pts))
    sxy = sum(wi * b * t for wi, (b, t) in zip(w, pts))
    det = sw * sxx - sx * sx
    slope = (sw * sxy - sx * sy) / det
    alpha = (sy - slope * sx) / sw
    clamped = False
    if alpha < 0:
        alpha, slope, clamped = 0.0, sxy / sxx, True
    if slope <= 0:
        raise ValueError('time does not grow with message size: no bandwidth to fit')
    res = [abs(alpha + slope * b - t) / t for b, t in pts]
    return {'latency_ms': alpha, 'bandwidth_bytes_per_s': 1e3 / slope,
            'max_rel_residual': max(res), 'clamped': clamped, 'points': len(pts)}


def load_sibling(here, name):
    """Import tools/gpu/<name>.py as module ppsim_gpu_<name>."""
    import importlib.util
    import os
    import sys
    mod_name = 'ppsim_gpu_' + name
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, os.path.join(here, name + '.py'))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    spec.loader.exec_module(mod)
    return mod


def run_all_plan(regime, ranks, chunks=2, budget_s=510.0, schedules=None):
    """The whole of one `run_all.sh REGIME` command: one profile launch, then
    one torchrun launch per schedule (a schedule that crashes loses only its
    own launch). Returns (text, estimated seconds)."""
    shape = regime_shape(regime)
    rc = REGIMES[regime]
    specs = list(SCHEDULES) if schedules is None else schedules
    total = est_profile_s(shape, rc['profile_warmup'], rc['profile_repeats'], rc['profile_blocks'])
    lines = [f'# run_all.sh {regime}: ranks={ranks}, budget {budget_s:.0f} s',
             f'{"launch":<42} {"configs":>7} {"est_s":>7} {"total_s":>8}',
             f'{"profile.py":<42} {"-":>7} {total:>7.1f} {total:>8.1f}']
    for spec in specs:
        planned = plan_configs([spec], ranks, chunks, rc['microbatches'], shape.layers)
        runnable = [c for c, p in planned if p is None]
        secs = EST['launch_s'] + sum(est_config_s(shape, c.ranks, c.spr, c.m, rc['warmup'], rc['steps'])
                                     for c in runnable)
        total += secs
        lines.append(f'{"measure.py " + spec.torch_name:<42} {len(runnable):>7} {secs:>7.1f} {total:>8.1f}')
    verdict = 'fits' if total <= budget_s else 'OVER BUDGET'
    lines.append(f'# estimated total {total:.0f} s: {verdict} (budget {budget_s:.0f} s)')
    return '\n'.join(lines) + '\n', total


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog='common.py', description='print the plan of one run_all.sh command')
    ap.add_argument('command', choices=('plan',))
    ap.add_argument('--regime', choices=sorted(REGIMES), required=True)
    ap.add_argument('--ranks', type=int, default=2)
    ap.add_argument('--chunks', type=int, default=2)
    ap.add_argument('--budget-s', type=float, default=510.0)
    a = ap.parse_args(argv)
    text, total = run_all_plan(a.regime, a.ranks, a.chunks, a.budget_s)
    print(text, end='')
    return 0 if total <= a.budget_s else 1


if __name__ == '__main__':
    import sys
    sys.exit(_main(sys.argv[1:]))
