"""profile_impl.py - the torch half of profile.py (see its docstring)."""
import inspect
import os
import sys

import torch
import torch.distributed as dist

_HERE = os.path.dirname(os.path.abspath(__file__))
C = sys.modules['ppsim_gpu_common']
F = C.load_sibling(_HERE, 'formats')
B = C.load_sibling(_HERE, 'blocks')
E = C.load_sibling(_HERE, 'gpuenv')
R = C.load_sibling(_HERE, 'results')


class Layer:
    """One timed layer: how to make a fresh input, run its forward, and
    which tensors take gradients."""

    def __init__(self, name, kind, module, make_input, forward, grad_out):
        self.name, self.kind, self.module = name, kind, module
        self.make_input, self.forward, self.grad_out = make_input, forward, grad_out
        self.params = [p for p in module.parameters() if p.requires_grad]


def build_layers(shape, device, seed, n_blocks):
    dtype = B.TORCH_DTYPES[shape.dtype]
    b, s, h = shape.microbatch_size, shape.seq, shape.hidden
    ids, tgt = B.tokens(shape, b, seed, device)
    g = torch.Generator(device=device).manual_seed(seed)
    x_src = torch.randn((b, s, h), generator=g, device=device, dtype=dtype)
    dy = torch.randn((b, s, h), generator=g, device=device, dtype=dtype) * 0.01

    def hidden_input():
        return x_src.detach().clone().requires_grad_(True)

    embed = B.build_embed(shape, device, seed)
    head = B.HeadWithLoss(B.build_head(shape, device, seed))
    layers = [Layer('embed', 'embed', embed, lambda: ids, embed, dy)]
    for i in range(n_blocks):
        blk = B.build_block(shape, device, seed, i)
        layers.append(Layer(f'block.{i}', 'block', blk, hidden_input, blk, dy))
    layers.append(Layer('head', 'head', head, hidden_input, lambda x: head(x, tgt), None))
    return layers


def pipelining_backward():
    """PyTorch's split backward, or (None, reason)."""
    try:
        from torch.distributed.pipelining import _backward as pb
        names = list(inspect.signature(pb.stage_backward_input).parameters)
        if names[:4] != ['stage_outputs_or_loss', 'output_grads', 'input_values', 'weights']:
            return None, f'stage_backward_input has parameters {names}'
        return pb, None
    except Exception as e:  # private API: absent or changed in this torch
        return None, f'{type(e).__name__}: {e}'


def time_layer(L, warmup, repeats, pb):
    """Samples (ms) of every timed part, activation bytes, output bytes."""
    T = E.EventTimer()
    samples, act, out_bytes, pb_error = {}, [], 0, None
    leaf_input = L.kind != 'embed'
    for it in range(warmup + repeats):
        # (a) forward, memory delta, full backward
        x = L.make_input()
        torch.cuda.synchronize()
        m0 = torch.cuda.memory_allocated()
        e = T.start()
        y = L.forward(x)
        T.stop('forward', e)
        torch.cuda.synchronize()
        m1 = torch.cuda.memory_allocated()
        out_bytes = 0 if L.kind == 'head' else y.numel() * y.element_size()
        wrt = ([x] if leaf_input else []) + L.params
        e = T.start()
        torch.autograd.grad(y, wrt, L.grad_out)
        T.stop('backward', e)
        del y, x
        # (b) torch.autograd.grad: input only (graph kept), then parameters
        x = L.make_input()
        y = L.forward(x)
        if leaf_input:
            e = T.start()
            torch.autograd.grad(y, [x], L.grad_out, retain_graph=True)
            T.stop('autograd_input', e)
        e = T.start()
        torch.autograd.grad(y, L.params, L.grad_out)
        T.stop('autograd_weight', e)
        del y, x
        # (c) torch.distributed.pipelining's split; stage 0 (the embedding)
        # has no input gradient there and its W runs the full backward.
        if pb is not None and leaf_input and pb_error is None:
            x = L.make_input()
            y = L.forward(x)
            try:
                e = T.start()
                _, groups = pb.stage_backward_input(
                    [y], None if L.grad_out is None else [L.grad_out], [x], iter(L.params))
                T.stop('pipelining_input', e)
                e = T.start()
                pb.stage_backward_weight(iter(L.params), groups)
                T.stop('pipelining_weight', e)
            except Exception as ex:
                pb_error = f'{type(ex).__name__}: {ex}'
                T.pending = [p for p in T.pending if not p[0].startswith('pipelining')]
            for p in L.params:
                p.grad = None
            del y, x
        got = T.collect()
        if it >= warmup:
            for k, v in got.items():
                samples.setdefault(k, []).extend(v)
            act.append(m1 - m0)
    if not leaf_input:
        samples['autograd_input'] = [0.0] * repeats
    return {'samples': samples, 'activation_bytes_samples': act,
            'activation_bytes': int(C.median(act)), 'output_bytes': out_bytes,
            'parameter_bytes': B.param_bytes(L.module), 'pipelining_error': pb_error}


def profile_compute(shape, device, a):
    torch.manual_seed(a.seed)
    layers = build_layers(shape, device, a.seed, a.blocks)
    pb, pb_reason = pipelining_backward()
    out = []
    for L in layers:
        r = time_layer(L, a.warmup, a.repeats, pb)
        r.update(name=L.name, kind=L.kind)
        out.append(r)
    return out, pb_reason


def p2p(rank, world, device, shape, a):
    """One-way times (half the ping-pong round trip) between ranks 0 and 1
    over every size, then every neighbour pair at the boundary size."""
    dtype = torch.bfloat16
    g = torch.Generator(device=device).manual_seed(a.seed + 7)
    plan = [(0, 1, n) for n in a.p2p_sizes]
    plan += [(r, r + 1, shape.boundary_bytes()) for r in range(1, world - 1)]
    res = []
    for src, dst, nbytes in plan:
        if rank in (src, dst):
            buf = torch.randn(max(1, nbytes // 2), generator=g, device=device, dtype=dtype)
            rbuf = torch.empty_like(buf)
            peer = dst if rank == src else src
            T = E.EventTimer()
            for it in range(a.p2p_warmup + a.p2p_repeats):
                e = T.start()
                if rank == src:
                    dist.send(buf, peer)
                    dist.recv(rbuf, peer)
                else:
                    dist.recv(rbuf, peer)
                    dist.send(buf, peer)
                T.stop('rt' if it >= a.p2p_warmup else 'warm', e)
                torch.cuda.synchronize()
            rt = T.collect().get('rt', [])
            if rank == src:
                res.append({'src_rank': src, 'dst_rank': dst, 'bytes': buf.numel() * 2,
                            'one_way_ms': [t / 2.0 for t in rt]})
            del buf, rbuf
        dist.barrier()
    return res


def run(a, shape):
    rank, world, device = E.init()
    env = E.env_info(device)
    layers, pb_reason = profile_compute(shape, device, a)
    p2p_res = p2p(rank, world, device, shape, a) if world >= 2 else []
    mine = {'rank': rank, 'env': env, 'layers': layers, 'p2p': p2p_res}
    if world > 1:
        allr = [None] * world
        dist.all_gather_object(allr, mine)
    else:
        allr = [mine]
    if rank == 0:
        files = R.profile_outputs(a, shape, allr, pb_reason, world, sys.argv)
        os.makedirs(a.out_dir, exist_ok=True)
        for name, text in files.items():
            F.write_atomic(os.path.join(a.out_dir, name), text)
        print(files['profile.yaml'], end='')
        print(f'# wrote {", ".join(files)} in {a.out_dir}', flush=True)
    E.finish()
    return 0


