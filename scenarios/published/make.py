#!/usr/bin/env python3
"""Build (or check) the scenarios that replay the published Megatron-LM runs.

The runs are Korthikanti et al. 2022 ("Reducing Activation Recomputation in
Large Transformer Models", arXiv 2205.05198) Table 3 / Table 5, as
../../../shared/reference/published-runs.md lists them: GPT models of 22B,
175B, 530B and 1T parameters on A100-80GB (Selene), fp16, sequence 2048,
vocabulary 51200, tensor parallelism 8 inside a DGX node, pipeline stages
across nodes (8 x 200 Gb/s HDR InfiniBand per node), 1F1B or interleaved 1F1B,
once with full recomputation and once with sequence parallelism + selective
recomputation.

Each scenario is what a user with only the shape would write:
  * models/<run>.yaml: `ppsim model transformer` for the shape on A100-80 with
    --tp 8 (this script runs it; nothing is edited by hand);
  * one ppsim device per pipeline stage (a TP group of 8 GPUs; the model's
    costs are per GPU, so memory is per GPU too);
  * Megatron's layer placement: equal blocks per chunk, the embedding with the
    first chunk, the LM head with the last;
  * the global batch as microbatches (data parallelism is 1 in all runs);
  * the stage link = the stage's 8 NICs (Megatron's scatter/gather of the
    activation over the TP ranks), from the catalogue;
  * training.optimizer_step_ms per stage = the generator's per-layer Adam step
    summed over the stage's layers; 18 bytes per parameter (fp32 main grads).

Usage:
  make.py PPSIM [--out DIR]     write the scenarios and models (default: here)
  make.py PPSIM --check         regenerate into a temporary folder and compare
  make.py PPSIM --table         simulate every scenario; print measured vs predicted
  make.py PPSIM --fit [FLAGS]   grid-search one (gemm, collective) efficiency pair
                                over all 8 runs, and leave-one-model-out; FLAGS go
                                to the generator
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# name, hidden, ffn, heads, layers, tp, pp, interleave v, global batch, microbatch
RUNS = [
    ("22b", 6144, 24576, 64, 48, 8, 1, 1, 4, 4),
    ("175b", 12288, 49152, 96, 96, 8, 8, 3, 64, 1),
    ("530b", 20480, 81920, 128, 105, 8, 35, 3, 280, 1),
    ("1t", 25600, 102400, 160, 128, 8, 64, 1, 512, 1),
]
SEQ, VOCAB, GPU = 2048, 51200, "A100-80"
# Korthikanti et al. 2022 Table 5, measured iteration time in seconds.
MEASURED = {
    ("22b", "full"): 1.42, ("22b", "seqsel"): 1.10,
    ("175b", "full"): 18.13, ("175b", "seqsel"): 13.75,
    ("530b", "full"): 49.05, ("530b", "seqsel"): 37.83,
    ("1t", "full"): 94.42, ("1t", "seqsel"): 71.49,
}
MODES = {
    "full": ["--recompute", "full"],
    "seqsel": ["--recompute", "selective", "--sequence-parallel"],
}


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 3):
        sys.exit("make.py: %s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr))
    return r.stdout


def gen_args(run_, mode, extra=()):
    name, h, f, a, L, t, p, v, gbs, mb = run_
    return (["model", "transformer", "--hidden", str(h), "--layers", str(L), "--heads", str(a),
             "--ffn", str(f), "--seq", str(SEQ), "--vocab", str(VOCAB), "--microbatch", str(mb),
             "--dtype", "fp16", "--tp", str(t), "--gpu", GPU] + MODES[mode] + list(extra))


def partition(L, p, v):
    """Megatron: L/(p v) blocks per chunk; embed with chunk 0, head with the last."""
    n = p * v
    per = L // n
    counts = [per] * n
    counts[0] += 1
    counts[-1] += 1
    return counts


def stage_optimizer_ms(info, counts, p):
    layers = {l["name"]: l for l in info["layers"]}
    per_layer = ([layers["embed"]["optimizer_step_ms"]]
                 + [layers["block"]["optimizer_step_ms"]] * layers["block"]["count"]
                 + [layers["head"]["optimizer_step_ms"]])
    out = [0.0] * p
    i = 0
    for piece, c in enumerate(counts):
        out[piece % p] += sum(per_layer[i:i + c])
        i += c
    return out


def fmt(x):
    return repr(float(x)) if x != int(x) else str(int(x))


def write_run(ppsim, run_, mode, outdir, extra=()):
    name, h, f, a, L, t, p, v, gbs, mb = run_
    rid = "megatron-%s-%s" % (name, mode)
    os.makedirs(os.path.join(outdir, "models"), exist_ok=True)
    model_rel = "models/%s.yaml" % rid
    args = gen_args(run_, mode, extra)
    run([ppsim] + args + ["-o", os.path.join(outdir, model_rel)])
    info = json.loads(run([ppsim] + args + ["--format", "json"]))
    counts = partition(L, p, v)
    opt = stage_optimizer_ms(info, counts, p)
    tr = info["training"]
    gib = info["gpu"]["hbm_bytes"]
    sched = "interleaved-1f1b" if v > 1 else "1f1b"
    lines = [
        "# %s.yaml - Megatron-LM %s, %s, as measured by Korthikanti et al. 2022" % (rid, name.upper(),
            "full recomputation" if mode == "full" else "sequence parallel + selective recomputation"),
        "# (arXiv 2205.05198) Table 5: %.2f s per iteration on %d A100-80GB (published-runs.md)." % (
            MEASURED[(name, mode)], t * p),
        "# Generated by scenarios/published/make.py from the shape alone; do not edit.",
        "# hidden %d, ffn %d, heads %d, layers %d, seq %d, vocab %d, fp16, TP %d, PP %d, v %d," % (
            h, f, a, L, SEQ, VOCAB, t, p, v),
        "# global batch %d, microbatch %d. One ppsim device = one pipeline stage (a TP group of"
        % (gbs, mb),
        "# %d GPUs); the model's costs and memory are per GPU. docs/costmodel.md has the table." % t,
        "#   ppsim simulate scenarios/published/%s.yaml" % rid,
        "name: %s" % rid,
        "",
        "model:",
        "  file: %s" % model_rel,
        "",
        "cluster:",
        "  devices: %d" % p,
        "  device_memory_bytes: %s             # %s HBM (catalogue)" % (fmt(gib), GPU),
        "  link:",
        "    bandwidth_bytes_per_s: %s     # %d NICs x %s GB/s x network efficiency" % (
            fmt(info["stage_link_bytes_per_s"]), t, fmt(info["gpu"]["network_bytes_per_s"] / 1e9)),
        "    latency_ms: 0.01",
        "",
        "pipeline:",
        "  schedule: %s" % sched,
        "  stages: %d" % p,
        "  chunks: %d" % v,
        "  global_batch_size: %d" % gbs,
        "  microbatch_size: %d" % mb,
        "  partition: [%s]" % ", ".join(str(c) for c in counts),
        "  recompute: selective                   # applies the model's recompute_* keys (%s)" % (
            "Megatron's per-layer full checkpointing" if mode == "full" else "selective"),
        "",
        "training:",
        "  optimizer_state_bytes_per_parameter_byte: %s" % fmt(tr["optimizer_state_bytes_per_parameter_byte"]),
        "  gradient_bytes_per_parameter_byte: %s" % fmt(tr["gradient_bytes_per_parameter_byte"]),
        "  optimizer_step_ms: [%s]" % ", ".join("%.6g" % x for x in opt),
        "",
    ]
    with open(os.path.join(outdir, rid + ".yaml"), "w") as fh:
        fh.write("\n".join(lines))
    return rid


def build(ppsim, outdir, extra=()):
    ids = []
    for r in RUNS:
        for mode in MODES:
            ids.append((r, mode, write_run(ppsim, r, mode, outdir, extra)))
    return ids


def simulate(ppsim, path):
    out = json.loads(run([ppsim, "simulate", path, "--format", "json"]))
    return out


def table(ppsim, outdir, extra=(), quiet=False):
    rows = []
    for r, mode, rid in build(ppsim, outdir, extra):
        res = simulate(ppsim, os.path.join(outdir, rid + ".yaml"))
        pred = res["iteration_time_ms"] / 1e3
        meas = MEASURED[(r[0], mode)]
        err = 100.0 * (pred / meas - 1.0)
        peak = max(d["peak_memory_bytes"] for d in res["per_device"]) / 2**30
        rows.append((rid, meas, pred, err, peak))
    if not quiet:
        print("%-24s %9s %10s %8s %9s" % ("run", "measured", "predicted", "error", "peak GiB"))
        for rid, meas, pred, err, peak in rows:
            print("%-24s %9.2f %10.2f %+7.2f%% %9.2f" % (rid, meas, pred, err, peak))
        errs = [abs(r[3]) for r in rows]
        print("mean |error| %.2f%%, max %.2f%% (Calculon: 3.65%%, 8.87%%)" % (
            sum(errs) / len(errs), max(errs)))
    return rows


def fit(ppsim, extra=()):
    from concurrent.futures import ThreadPoolExecutor
    grid = [(round(0.65 + 0.01 * i, 2), round(0.35 + 0.05 * j, 2))
            for i in range(21) for j in range(12)]

    def point(gc):
        with tempfile.TemporaryDirectory() as tmp:
            rows = table(ppsim, tmp, ["--gemm-efficiency", str(gc[0]),
                                      "--collective-efficiency", str(gc[1])] + list(extra),
                         quiet=True)
        return [r[3] for r in rows]

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
        res = dict(zip(grid, pool.map(point, grid)))

    def best(keep):
        score = lambda k: sum(abs(e) for i, e in enumerate(res[k]) if keep(i))
        return min(sorted(res), key=score)
    g, c = best(lambda i: True)
    errs = res[(g, c)]
    print("all 8 runs: gemm %.2f collective %.2f: mean %.2f%% max %.2f%%" % (
        g, c, sum(map(abs, errs)) / 8, max(map(abs, errs))))
    loo = []
    for m in range(4):
        held = (2 * m, 2 * m + 1)
        k = best(lambda i: i not in held)
        e = [res[k][i] for i in held]
        loo += e
        print("leave %-5s out: gemm %.2f collective %.2f -> its errors %+.2f%% %+.2f%%" % (
            RUNS[m][0], k[0], k[1], e[0], e[1]))
    print("leave-one-model-out: mean %.2f%% max %.2f%%" % (
        sum(map(abs, loo)) / 8, max(map(abs, loo))))


def check(ppsim):
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for r, mode, rid in build(ppsim, tmp):
            for rel in (rid + ".yaml", "models/%s.yaml" % rid):
                new = open(os.path.join(tmp, rel)).read()
                try:
                    old = open(os.path.join(HERE, rel)).read()
                except OSError:
                    old = None
                if new != old:
                    print("make.py: scenarios/published/%s is stale: run make.py PPSIM" % rel)
                    bad = 1
    return bad


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    ppsim = argv[1]
    rest = argv[2:]
    if rest == ["--check"]:
        return check(ppsim)
    if rest == ["--table"]:
        table(ppsim, HERE)
        return 0
    if rest[:1] == ["--fit"]:
        fit(ppsim, rest[1:])
        return 0
    if len(rest) == 2 and rest[0] == "--out":
        build(ppsim, rest[1])
        return 0
    if not rest:
        build(ppsim, HERE)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
