"""results.py - turn the harness's raw measurements into its output files
(torch-free, so tests/gpu_tools_test.py can feed it synthetic data).

profile_outputs: profile.py's per-rank results -> profile.yaml (ppsim
per-layer YAML), profile.json, profile.csv, p2p.csv.
measure_rows / scenario_hint: one measure.py configuration -> its
measure.csv rows and the ppsim scenario keys that reproduce it."""
import json
import os
import sys

C = sys.modules.get('ppsim_gpu_common')
if C is None:  # imported on its own (tests): load the sibling by file name
    import importlib.util
    _spec = importlib.util.spec_from_file_location(
        'ppsim_gpu_common', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'common.py'))
    C = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = C
    _spec.loader.exec_module(C)
F = C.load_sibling(os.path.dirname(os.path.abspath(__file__)), 'formats')


def split_of(res, kind, method):
    """(input ms, weight ms) of a layer under a split method, or None."""
    s = res['samples']
    if method == 'pipelining':
        if kind == 'embed':
            return 0.0, C.median(s['backward'])
        if 'pipelining_input' not in s or res['pipelining_error']:
            return None
        return C.median(s['pipelining_input']), C.median(s['pipelining_weight'])
    return C.median(s['autograd_input']), C.median(s['autograd_weight'])


def choose_method(a, layers):
    if a.split_method == 'autograd':
        return 'autograd'
    ok = all(split_of(r, r['kind'], 'pipelining') is not None for r in layers)
    if a.split_method == 'pipelining' and not ok:
        raise SystemExit('profile.py: --split-method pipelining, but it failed: ' +
                         '; '.join(str(r['pipelining_error']) for r in layers if r['pipelining_error']))
    return 'pipelining' if ok else 'autograd'


def layer_entry(results, method):
    """Median over the given (identical-shape) layers of each quantity."""
    ms = [split_of(r, r['kind'], method) for r in results]
    return {
        'forward_ms': C.median([C.median(r['samples']['forward']) for r in results]),
        'backward_input_ms': C.median([m[0] for m in ms]),
        'backward_weight_ms': C.median([m[1] for m in ms]),
        'activation_bytes': int(C.median([r['activation_bytes'] for r in results])),
        'output_bytes': results[0]['output_bytes'],
        'parameter_bytes': results[0]['parameter_bytes'],
    }, C.median([C.median(r['samples']['backward']) for r in results])


def profile_outputs(a, shape, allr, pb_reason, world, command):
    """{file name: text}. `a` carries regime, warmup, repeats, blocks,
    split_method and seed; allr is every rank's {rank, env, layers, p2p}."""
    env = allr[0]['env']
    r0 = allr[0]['layers']
    method = choose_method(a, r0)
    embed, embed_full = layer_entry([r for r in r0 if r['kind'] == 'embed'], method)
    block, block_full = layer_entry([r for r in r0 if r['kind'] == 'block'], method)
    head, head_full = layer_entry([r for r in r0 if r['kind'] == 'head'], method)

    # p2p: every pair's summary and the alpha-beta fit of the 0-1 sweep
    # (each pair is recorded by its sender)
    p2p_rows, fit = [], None
    for rr in allr:
        for pr in rr['p2p']:
            st = C.summarize(pr['one_way_ms'])
            p2p_rows.append({'src_rank': pr['src_rank'], 'dst_rank': pr['dst_rank'],
                             'bytes': pr['bytes'], 'one_way_ms_median': st['median'],
                             'one_way_ms_min': st['min'], 'one_way_ms_max': st['max'],
                             'repeats': st['n'], 'torch_version': rr['env']['torch_version'],
                             'gpu_name': rr['env']['gpu_name'], 'driver': rr['env']['driver']})
    sweep = [(r['bytes'], r['one_way_ms_median']) for r in p2p_rows
             if (r['src_rank'], r['dst_rank']) == (0, 1)]
    if len(sweep) >= 2:
        try:
            fit = C.fit_alpha_beta(sweep)
        except ValueError as e:
            fit = {'error': str(e)}

    comments = [
        f'ppsim per-layer cost model measured by tools/gpu/profile.py (regime {a.regime})',
        'shape: ' + ' '.join(f'{k}={v}' for k, v in shape.as_dict().items()),
        f'GPU {env["gpu_name"]}, driver {env["driver"]}, CUDA {env["cuda_version"]}, '
        f'torch {env["torch_version"]}, NCCL {env["nccl_version"]}, {env["utc"]}',
        f'CUDA-event medians of {a.repeats} repeats after {a.warmup} warm-ups (rank 0\'s GPU); '
        f'block = median over {a.blocks} blocks',
        f'backward split: {method} (pipelining = torch.distributed.pipelining stage_backward_'
        f'input/_weight; autograd = torch.autograd.grad w.r.t. input, then parameters)',
        f'full backward (one op) ms: embed {embed_full:.6g}, block {block_full:.6g}, '
        f'head {head_full:.6g}',
        'activation_bytes = torch.cuda.memory_allocated delta across the forward (output included)',
    ]
    if fit and 'latency_ms' in fit:
        comments += ['p2p between ranks 0 and 1 (NCCL send/recv, one way = half the ping-pong):',
                     f'  cluster: {{link: {{latency_ms: {F.fmt_num(fit["latency_ms"])}, '
                     f'bandwidth_bytes_per_s: {F.fmt_num(fit["bandwidth_bytes_per_s"])}}}}}'
                     f'  (max relative residual {fit["max_rel_residual"]:.3g})']
    comments.append(f'device memory: {env["gpu_memory_bytes"]} bytes')
    source = (f'tools/gpu/profile.py --regime {a.regime} on {env["gpu_name"]} '
              f'(torch {env["torch_version"]}, driver {env["driver"]})')
    for lay, full in ((embed, embed_full), (block, block_full), (head, head_full)):
        lay['fused_backward_ms'] = full
    yaml = F.costmodel_yaml(f'{a.regime}-h{shape.hidden}-s{shape.seq}-b{shape.microbatch_size}',
                            source, comments, embed, block, head, shape.layers)

    rows = []
    for rr in allr:
        for r in rr['layers']:
            for m in ('autograd', 'pipelining'):
                sp = split_of(r, r['kind'], m)
                if sp is None:
                    continue
                dims = {k: v for k, v in shape.as_dict().items() if k != 'layers'}
                rows.append({'layer': r['name'], 'kind': r['kind'], **dims,
                             'split_method': m, 'forward_ms': C.median(r['samples']['forward']),
                             'backward_input_ms': sp[0], 'backward_weight_ms': sp[1],
                             'backward_ms': C.median(r['samples']['backward']),
                             'activation_bytes': r['activation_bytes'],
                             'output_bytes': r['output_bytes'],
                             'parameter_bytes': r['parameter_bytes'], 'repeats': a.repeats,
                             'rank': rr['rank'], 'torch_version': rr['env']['torch_version'],
                             'gpu_name': rr['env']['gpu_name'], 'driver': rr['env']['driver']})
    raw = {'tool': 'tools/gpu/profile.py', 'command': list(command), 'regime': a.regime,
           'shape': shape.as_dict(), 'world_size': world, 'seed': a.seed,
           'warmup': a.warmup, 'repeats': a.repeats, 'blocks': a.blocks,
           'split_method': method, 'pipelining_unavailable': pb_reason,
           'env': env, 'ranks': allr, 'p2p_fit': fit,
           'yaml_layers': {'embed': embed, 'block': block, 'head': head},
           'full_backward_ms': {'embed': embed_full, 'block': block_full, 'head': head_full},
           'analytic': {'block_flops_fwd': shape.block_flops_fwd(),
                        'block_parameters': shape.block_parameters(),
                        'block_activation_bytes_estimate': shape.block_activation_bytes_estimate(),
                        'boundary_bytes': shape.boundary_bytes()}}
    return {
        'profile.yaml': yaml,
        'profile.json': json.dumps(raw, indent=1, sort_keys=True, default=str) + '\n',
        'profile.csv': F.csv_text(F.PROFILE_COLUMNS, rows),
        'p2p.csv': F.csv_text(F.P2P_COLUMNS, p2p_rows),
    }


def measure_rows(cfg, shape, optimizer, res, envs):
    """measure.csv rows of one configuration: one per rank. `res` holds
    step_ms_slowest and each rank's peak/resident memory; envs each rank's
    torch_version, gpu_name, driver."""
    st = C.summarize(res['step_ms_slowest'])
    rows = []
    for r in range(cfg.ranks):
        rows.append({
            'schedule': cfg.spec.ppsim_name, 'ranks': cfg.ranks, 'stages_per_rank': cfg.spr,
            'microbatches': cfg.m, 'microbatch_size': shape.microbatch_size,
            'hidden': shape.hidden, 'heads': shape.heads, 'ffn': shape.ffn, 'seq': shape.seq,
            'layers': shape.layers, 'dtype': shape.dtype, 'step_ms_median': st['median'],
            'step_ms_min': st['min'], 'step_ms_max': st['max'], 'repeats': st['n'], 'rank': r,
            'peak_memory_bytes': res['peak_memory_bytes'][r],
            'torch_version': envs[r]['torch_version'], 'gpu_name': envs[r]['gpu_name'],
            'driver': envs[r]['driver'], 'torch_schedule': cfg.spec.torch_name,
            'vocab': shape.vocab, 'optimizer': optimizer,
            'resident_memory_bytes': res['resident_memory_bytes'][r]})
    return rows


def scenario_hint(cfg, shape, res):
    h = {'cluster.devices': cfg.ranks, 'pipeline.schedule': cfg.spec.ppsim_name,
         'pipeline.stages': cfg.ranks, 'pipeline.chunks': cfg.spr,
         'pipeline.microbatches': cfg.m, 'pipeline.microbatch_size': shape.microbatch_size,
         'pipeline.partition': res['ppsim_partition']}
    h.update(cfg.spec.scenario_extra)
    return h
