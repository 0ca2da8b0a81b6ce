#!/usr/bin/env python3
"""rerender.py PROFILE.json OUT.yaml [--chain CHAIN.json] - ppsim's per-layer
YAML again from a recorded profile.json (torch-free), with what the current
formats.py writes: e.g. `fused_backward_ms` (the backward timed as one op)
for profiles recorded before profile.yaml carried it. The numbers are the
recorded medians. With --chain (tools/gpu/chain.py's output for the same
shape), the block's forward_ms and fused_backward_ms are the chain slopes:
a block's cost inside a stage, without the per-call cost that timing one
layer alone adds (its split halves are scaled by the same factor as its
fused backward)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import formats as F  # noqa: E402


def main(argv):
    chain = None
    if len(argv) == 5 and argv[3] == '--chain':
        chain = json.load(open(argv[4]))
        argv = argv[:3]
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    raw = json.load(open(argv[1]))
    lay = {k: dict(v) for k, v in raw['yaml_layers'].items()}
    for k, ms in raw.get('full_backward_ms', {}).items():
        lay[k]['fused_backward_ms'] = ms
    extra = []
    if chain:
        if chain['shape'] != raw['shape']:
            print(f'rerender.py: {argv[1]} and the chain file profile different shapes', file=sys.stderr)
            return 1
        blk = lay['block']
        f, b = chain['fits']['forward_ms']['slope_ms'], chain['fits']['backward_ms']['slope_ms']
        ratio = b / blk['fused_backward_ms']
        extra = [f'block forward_ms and fused_backward_ms: slopes of chains of 1..'
                 f'{max(map(int, chain["samples"]))} blocks (tools/gpu/chain.py); isolated: '
                 f'{blk["forward_ms"]:.6g}, {blk["fused_backward_ms"]:.6g}; split halves scaled by '
                 f'{ratio:.4g}']
        blk['forward_ms'], blk['fused_backward_ms'] = f, b
        blk['backward_input_ms'] *= ratio
        blk['backward_weight_ms'] *= ratio
    sh, env = raw['shape'], raw['env']
    comments = [f'ppsim per-layer cost model re-rendered by tools/gpu/rerender.py from {argv[1]}',
                'shape: ' + ' '.join(f'{k}={v}' for k, v in sh.items()),
                f'GPU {env["gpu_name"]}, driver {env["driver"]}, torch {env["torch_version"]}, '
                f'{env["utc"]}',
                f'CUDA-event medians of {raw["repeats"]} repeats after {raw["warmup"]} warm-ups; '
                f'backward split: {raw["split_method"]}; fused_backward_ms: the backward as one op'] + extra
    name = f'{raw["regime"]}-h{sh["hidden"]}-s{sh["seq"]}-b{sh["microbatch_size"]}'
    text = F.costmodel_yaml(name, f'tools/gpu/profile.py --regime {raw["regime"]} on {env["gpu_name"]}',
                            comments, lay['embed'], lay['block'], lay['head'], sh['layers'])
    F.write_atomic(argv[2], text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
