"""measure_impl.py - the torch half of measure.py (see its docstring)."""
import gc
import inspect
import os
import sys
import time
import traceback

import torch
import torch.distributed as dist

_HERE = os.path.dirname(os.path.abspath(__file__))
C = sys.modules['ppsim_gpu_common']
F = C.load_sibling(_HERE, 'formats')
B = C.load_sibling(_HERE, 'blocks')
E = C.load_sibling(_HERE, 'gpuenv')
R = C.load_sibling(_HERE, 'results')


class Skip(Exception):
    pass


def schedule_class(name):
    """The installed torch's schedule class, or (None, reason)."""
    try:
        import torch.distributed.pipelining as pp
    except Exception as e:
        return None, f'torch.distributed.pipelining does not import: {e}'
    cls = getattr(pp, name, None)
    if cls is None:
        try:
            from torch.distributed.pipelining import schedules
            cls = getattr(schedules, name, None)
        except Exception:
            cls = None
    if cls is None:
        return None, f'torch {torch.__version__} has no {name}'
    return cls, None


def make_stage(mod, index, n, device, example_in, example_out, meta):
    """A PipelineStage. meta 'dynamic': shapes inferred from the first
    microbatch (torch >= 2.6, where input_args is optional); 'static': the
    input and output of one microbatch given up front (what torch 2.4 and
    2.5 require; given only the input they would run the forward on
    uninitialised token ids); 'auto': dynamic where the torch allows it."""
    from torch.distributed.pipelining import PipelineStage
    ia = inspect.signature(PipelineStage).parameters.get('input_args')
    optional = ia is not None and ia.default is not inspect.Parameter.empty
    if meta == 'dynamic' or (meta == 'auto' and optional):
        return PipelineStage(mod, index, n, device)
    return PipelineStage(mod, index, n, device, input_args=example_in(), output_args=example_out())


def make_optimizer(name, params, lr):
    if name == 'sgd':
        return torch.optim.SGD(params, lr=lr)
    if name == 'adam':
        return torch.optim.Adam(params, lr=lr)
    return None


def pipeline_order(sched):
    order = getattr(sched, 'pipeline_order', None)
    if not order:
        return None
    return {str(r): [None if x is None else str(x) for x in acts] for r, acts in order.items()}


def all_gather_tensor(t, world):
    out = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(out, t)
    return [x.tolist() for x in out]


def agree(ok, reason, world):
    """Every rank's (ok, reason); raise Skip on all ranks if any failed."""
    got = [None] * world
    dist.all_gather_object(got, (ok, reason))
    bad = [f'rank {r}: {why}' for r, (o, why) in enumerate(got) if not o]
    if bad:
        raise Skip('; '.join(bad))


def run_config(cfg, shape, a, rank, world, device, index):
    spec, P, V, m = cfg.spec, cfg.ranks, cfg.spr, cfg.m
    S = P * V
    s2r = C.stage_to_rank('v' if spec.style == 'v' else 'loop', P, V)
    bps = C.split_blocks(shape.layers, S)
    ids_of = C.stage_blocks(bps)
    mine = [s for s in range(S) if s2r[s] == rank]
    has_first, has_last = 0 in mine, S - 1 in mine
    dtype = B.TORCH_DTYPES[shape.dtype]
    b = shape.microbatch_size

    cls, why = schedule_class(spec.torch_name)
    if cls is None:
        raise Skip(why)
    modules, stages, sched, err = [], [], None, None
    try:
        for s in mine:
            mod = B.build_stage(shape, device, a.seed, ids_of[s], s == 0, s == S - 1)
            modules.append(mod)
            stages.append(make_stage(
                mod, s, S, device,
                lambda s=s: (torch.zeros((b, shape.seq), dtype=torch.long, device=device) if s == 0
                             else torch.zeros((b, shape.seq, shape.hidden), dtype=dtype, device=device)),
                lambda s=s: torch.zeros((b, shape.seq, shape.vocab if s == S - 1 else shape.hidden),
                                        dtype=dtype, device=device), a.stage_meta))
        if spec.style == 'single':
            sched = cls(stages[0], m, loss_fn=B.lm_loss)
        else:
            sched = cls(stages, m, loss_fn=B.lm_loss)
    except Exception as e:
        err = f'{type(e).__name__}: {e}'
    agree(err is None, err, world)

    params = [p for mod in modules for p in mod.parameters()]
    opt = make_optimizer(a.optimizer, params, a.lr)
    ids, tgt = B.tokens(shape, m * b, a.seed + 1000 + index, device)
    step_params = inspect.signature(sched.step).parameters
    kw_fixed = {'return_outputs': False} if 'return_outputs' in step_params else {}
    torch.cuda.synchronize()
    static = torch.cuda.memory_allocated()
    times, losses, resident = [], [], static
    for it in range(a.warmup + a.steps):
        if it == a.warmup:
            torch.cuda.synchronize()
            resident = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        step_losses = [] if has_last else None
        kw = dict(kw_fixed)
        if has_last:
            kw.update(target=tgt, losses=step_losses)
        args = (ids,) if has_first else ()
        if a.no_gc:
            gc.collect()
            gc.disable()
        dist.barrier()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        if opt is not None:
            opt.zero_grad(set_to_none=True)
        else:
            for mod in modules:
                mod.zero_grad(set_to_none=True)
        sched.step(*args, **kw)
        if opt is not None:
            opt.step()
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        if a.no_gc:
            gc.enable()
        if it >= a.warmup:
            times.append((t1 - t0) * 1e3)
        if has_last and step_losses:
            losses.append(F.finite_or_none(sum(float(x) for x in step_losses) / len(step_losses)))
    peak = torch.cuda.max_memory_allocated()

    per_rank = all_gather_tensor(torch.tensor(times, dtype=torch.float64, device=device), world)
    mem = all_gather_tensor(torch.tensor([static, resident, peak], dtype=torch.int64, device=device), world)
    loss_by_rank = [None] * world
    dist.all_gather_object(loss_by_rank, losses if has_last else None)
    order = pipeline_order(sched) if rank == 0 else None
    del sched, stages, modules, opt, params, ids, tgt
    return {
        'step_ms_per_rank': per_rank,
        'step_ms_slowest': C.slowest_rank_steps(per_rank),
        'static_memory_bytes': [int(x[0]) for x in mem],
        'resident_memory_bytes': [int(x[1]) for x in mem],
        'peak_memory_bytes': [int(x[2]) for x in mem],
        'losses': next((l for l in loss_by_rank if l is not None), None),
        'pipeline_order': order,
        'stage_to_rank': s2r,
        'blocks_per_stage': bps,
        'ppsim_partition': C.ppsim_partition(bps),
        'return_outputs_false': bool(kw_fixed),
    }


def cleanup():
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()


def run(a, shape, t_start):
    rank, world, device = E.init(a.nccl_timeout_s, group_for_one=True)
    env = E.env_info(device)
    envs = [None] * world
    dist.all_gather_object(envs, {k: env[k] for k in ('torch_version', 'gpu_name', 'driver')})
    os.makedirs(a.out_dir, exist_ok=True)
    csv_path = os.path.join(a.out_dir, 'measure.csv')
    jsonl = os.path.join(a.out_dir, 'measure.jsonl')
    base = {'regime': a.regime, **shape.as_dict(), 'optimizer': a.optimizer,
            'warmup': a.warmup, 'steps': a.steps, 'no_gc': a.no_gc}

    def log(obj):
        if rank == 0:
            F.append_text(jsonl, F.json_line({**base, **obj}))

    log({'type': 'launch', 'command': sys.argv, 'world_size': world, 'env': env,
         'time_budget_s': a.time_budget_s, 'seed': a.seed, 'lr': a.lr, 'chunks': a.chunks,
         'stage_meta': a.stage_meta})
    planned = C.plan_configs(a.schedule_specs, world, a.chunks, a.microbatch_list, shape.layers)
    correction = 1.0
    for index, (cfg, problem) in enumerate(planned):
        who = {'schedule': cfg.spec.ppsim_name, 'torch_schedule': cfg.spec.torch_name,
               'ranks': cfg.ranks, 'stages_per_rank': cfg.spr, 'microbatches': cfg.m}
        if problem is None:
            cls, problem = schedule_class(cfg.spec.torch_name)
        est = C.est_config_s(shape, cfg.ranks, cfg.spr, cfg.m, a.warmup, a.steps)
        if problem is None:
            go = torch.tensor([int(C.fits_budget(time.monotonic() - t_start, est * correction,
                                                 a.time_budget_s))], device=device)
            dist.broadcast(go, 0)
            if not go.item():
                problem = (f'time budget: {time.monotonic() - t_start:.0f} s used of '
                           f'{a.time_budget_s:.0f} s, this one needs about {est * correction:.0f} s')
        if problem is not None:
            log({'type': 'skip', **who, 'reason': problem})
            if rank == 0:
                print(f'skip {cfg.key()}: {problem}', flush=True)
            continue
        t_cfg = time.monotonic()
        try:
            res = run_config(cfg, shape, a, rank, world, device, index)
        except Skip as e:
            cleanup()
            log({'type': 'skip', **who, 'reason': str(e)})
            if rank == 0:
                print(f'skip {cfg.key()}: {e}', flush=True)
            continue
        except Exception as e:
            # A rank that fails mid-step leaves its peers blocked in NCCL:
            # record it from this rank, then exit so torchrun stops them all.
            F.append_text(jsonl, F.json_line({**base, 'type': 'error', **who, 'rank': rank,
                                              'reason': f'{type(e).__name__}: {e}'}))
            traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(3)
        cleanup()
        spent = time.monotonic() - t_cfg
        correction = max(correction, spent / est)
        if rank == 0:
            rows = R.measure_rows(cfg, shape, a.optimizer, res, envs)
            F.append_csv_rows(csv_path, F.MEASURE_COLUMNS, rows)
            log({'type': 'config', **who, **res, 'summary': C.summarize(res['step_ms_slowest']),
                 'elapsed_s': spent, 'estimate_s': est, 'ppsim_scenario': R.scenario_hint(cfg, shape, res)})
            st = rows[0]
            print(f'{cfg.key()}: step {st["step_ms_median"]:.3f} ms (min {st["step_ms_min"]:.3f}, '
                  f'max {st["step_ms_max"]:.3f}); peak GB per rank '
                  f'{[round(x / 1e9, 2) for x in res["peak_memory_bytes"]]}; {spent:.1f} s',
                  flush=True)
        dist.barrier()
    E.finish()
    return 0
