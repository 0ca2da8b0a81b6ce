#!/usr/bin/env python3
"""Benchmark and cross-check `ppsim plan` against PipeDream's optimizer.

For each case of bench/plan_cases.txt (NAME<TAB>MODEL<TAB>FLAGS) this runs

    PPSIM plan -f PROFILE FLAGS --format json

--repeat times (median wall time, peak RSS from os.wait4), and, with --reference
(a checkout of msr-fiddle/pipedream holding optimizer/ and graph/) or a
--reference-cache file, compares ppsim's bottleneck with the reference's
"Time per stage in pipeline".  The reference itself is never part of this
repository; only its printed numbers (the cache, tests/oracles/*.tsv) are.

Modes
  default             benchmark ppsim (and compare when a reference is available)
  --reference-only    run just the reference on the selected cases and store the
                      results in --reference-cache (incrementally)
  --write-oracle TSV  write the CI oracle table from --reference-cache and exit

Exit status: 0 all good, 1 some MISMATCH / ppsim error, 2 usage or set-up error.
Python 3 standard library only.
"""

import argparse
import datetime
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

REL_TOL = 1e-9
TIMING_LIMIT = 0.01          # ppsim must need <= 1% of the reference's wall time


# --------------------------------------------------------------------------- cases

class Case:
    def __init__(self, name, model, flags, lineno):
        self.name = name
        self.model = model
        self.flags = flags                  # the string as written in the file
        self.argv = shlex.split(flags)
        self.lineno = lineno
        self.timing = False


def read_cases(path):
    cases, timing, seen = [], [], set()
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n").rstrip("\r")
            if line.startswith("#@timing"):
                timing.extend(line[len("#@timing"):].split())
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not all(p.strip() for p in parts):
                raise SystemExit("%s:%d: expected NAME<TAB>MODEL<TAB>FLAGS" % (path, lineno))
            name, model, flags = (p.strip() for p in parts)
            if name in seen:
                raise SystemExit("%s:%d: duplicate case name %s" % (path, lineno, name))
            seen.add(name)
            cases.append(Case(name, model, flags, lineno))
    by_name = {c.name: c for c in cases}
    for t in timing:
        if t not in by_name:
            raise SystemExit("%s: #@timing names unknown case %s" % (path, t))
        by_name[t].timing = True
    return cases


def default_profiles_dir():
    env = os.environ.get("PPSIM_PIPEDREAM_PROFILES")
    cands = ([env] if env else []) + [
        os.path.join(REPO, "models", "pipedream", "profiles"),
        os.path.join(os.path.dirname(REPO), "shared", "profiles", "pipedream"),
    ]
    for c in cands:
        if os.path.isdir(c):
            return c
    return cands[0] if cands else None


def profile_path(profiles, model):
    return os.path.join(profiles, model, "graph.txt")


# --------------------------------------------------------------------------- running

def run_measured(argv, cwd=None, env=None, timeout=None):
    """Run argv; return (rc, wall_s, maxrss_kib, stdout, stderr).

    The child is reaped with os.wait4, whose ru_maxrss is that child's peak
    resident set in KiB.  On Linux that figure also includes the RSS of this
    Python process at spawn time (the high-water mark survives execve), so it is
    a floor of ~10-15 MiB; see measure_rss() for the exact figure."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=fo, stderr=fe)
        fired = []
        killer = None
        if timeout is not None:
            killer = threading.Timer(timeout, lambda: (fired.append(1), p.kill()))
            killer.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = 0                    # reaped here; keep Popen quiet
        if killer is not None:
            killer.cancel()
        timed_out = bool(fired)
        if timed_out:
            rc = 124
        elif os.WIFEXITED(status):
            rc = os.WEXITSTATUS(status)
        else:
            rc = 128 + os.WTERMSIG(status)
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode("utf-8", "replace")
        err = fe.read().decode("utf-8", "replace")
    return rc, wall, ru.ru_maxrss, out, err


GNU_TIME = "/usr/bin/time"


def gnu_time_works():
    if not os.access(GNU_TIME, os.X_OK):
        return False
    with tempfile.NamedTemporaryFile("r") as f:
        r = subprocess.run([GNU_TIME, "-f", "%M", "-o", f.name, "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return r.returncode == 0 and int(f.read().split()[-1]) > 0
        except (ValueError, IndexError):
            return False


def measure_rss(argv, timeout=None):
    """Peak RSS (KiB) of argv alone, via GNU time, which forks the command from
    its own small process and reports only that child's ru_maxrss."""
    with tempfile.NamedTemporaryFile("r") as f:
        run_measured([GNU_TIME, "-f", "%M", "-o", f.name] + argv, timeout=timeout)
        try:
            return int(f.read().split()[-1])
        except (ValueError, IndexError):
            return None


def spawn_floor(n=20):
    """Median wall time of spawning /bin/true the way ppsim is spawned."""
    true = "/bin/true" if os.path.exists("/bin/true") else "true"
    return statistics.median(run_measured([true])[1] for _ in range(n))


# ------------------------------------------------------------------ reference side

_ROW = re.compile(r"^\((\d+), (\d+)\) (\S+) (\d+)$")
_NOT_USED = re.compile(r"^Number of machines in budget not used: (-?\d+)\.\.\.$")
_LEVEL = re.compile(r"^Level (\d+)$")


def _num(s):
    try:
        return float(s)
    except ValueError:
        return None


def parse_reference_output(text):
    """Parse the printout of optimizer_graph_hierarchical.py (verbose mode)."""
    res = {"levels": []}
    level = None
    part = None
    in_table = False
    for line in text.splitlines():
        line = line.rstrip()
        m = _LEVEL.match(line)
        if m:
            level = {"level": int(m.group(1)), "partitions": []}
            res["levels"].append(level)
            part = None
            in_table = False
            continue
        m = _NOT_USED.match(line)
        if m and level is not None:
            part = {"machines_not_used": int(m.group(1)), "rows": []}
            level["partitions"].append(part)
            continue
        if line.startswith("(Split start, split end)"):
            in_table = True
            continue
        if in_table:
            m = _ROW.match(line)
            if m and part is not None:
                part["rows"].append([int(m.group(1)), int(m.group(2)),
                                     float(m.group(3)), int(m.group(4))])
                continue
            if line == "":
                if part is not None and part["rows"]:
                    in_table = False
                continue
            in_table = False
        if line.startswith("Total number of stages:") and level is not None:
            level["total_stages"] = int(line.split(":")[1])
        elif line.startswith("Total number of states:"):
            res["states"] = int(line.split(":")[1])
        elif line.startswith("Time taken by single-stage pipeline:"):
            s = line.split(":", 1)[1].strip()
            res["single_repr"], res["single_s"] = s, _num(s)
        elif line.startswith("Time per stage in pipeline:"):
            s = line.split(":", 1)[1].strip()
            res["bottleneck_repr"], res["bottleneck_s"] = s, _num(s)
        elif line.startswith("Throughput increase (compared to single machine):"):
            s = line.split(":", 1)[1].strip()
            res["speedup_vs_single_repr"], res["speedup_vs_single"] = s, _num(s)
        elif line.startswith("Throughput increase of ("):
            s = line.split(":", 1)[1].strip()
            res["dp_speedup_vs_single_repr"], res["dp_speedup_vs_single"] = s, _num(s)
        elif line.startswith("Throughput increase (compared to ("):
            s = line.split(":", 1)[1].strip()
            res["speedup_vs_dp_repr"], res["speedup_vs_dp"] = s, _num(s)
    for lv in res["levels"]:
        lv["machines_not_used"] = sum(p["machines_not_used"] for p in lv["partitions"])
    return res


def reference_python(explicit):
    if explicit:
        return explicit
    for cand in (sys.executable, "/usr/bin/python3", "python3"):
        try:
            r = subprocess.run([cand, "-c", "import numpy, graphviz"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            continue
        if r.returncode == 0:
            return cand
    return "python3"


def run_reference(case, args):
    opt_dir = os.path.join(args.reference, "optimizer")
    script = os.path.join(opt_dir, "optimizer_graph_hierarchical.py")
    if not os.path.isfile(script):
        raise SystemExit("reference: %s not found" % script)
    env = dict(os.environ)
    if args.hashseed == "unset":
        env.pop("PYTHONHASHSEED", None)
    else:
        env["PYTHONHASHSEED"] = args.hashseed
    argv = [args.reference_python, script, "-f", profile_path(args.profiles, case.model)]
    argv += case.argv
    rc, wall, rss, out, err = run_measured(argv, cwd=opt_dir, env=env,
                                           timeout=args.reference_timeout)
    rec = {"model": case.model, "flags": case.flags, "wall_s": round(wall, 4),
           "peak_rss_kib": rss, "exit_status": rc,
           "hashseed": args.hashseed}
    parsed = parse_reference_output(out)
    if rc != 0 or "bottleneck_s" not in parsed:
        lines = [l for l in err.strip().splitlines() if l.strip()]
        rec["crash"] = True
        rec["stderr_last_line"] = lines[-1] if lines else ""
        rec["crash_kind"] = classify_crash(rec["stderr_last_line"], rc)
        if parsed.get("states") is not None:
            rec["states"] = parsed["states"]
    else:
        rec["crash"] = False
        rec.update(parsed)
    return rec


def classify_crash(last, rc):
    if rc == 124:
        return "timeout"
    # printout of an infeasible answer: "%d" % None
    if "%d format" in last and "NoneType" in last:
        return "infeasible"
    if "'<' not supported" in last and "NoneType" in last:
        return "fewer-machines-memory-typeerror"
    return "other"


def load_cache(path):
    if not path or not os.path.exists(path):
        return {"meta": {}, "cases": {}}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data.setdefault("meta", {})
    data.setdefault("cases", {})
    return data


def save_cache(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def cached(cache, case):
    rec = cache["cases"].get(case.name)
    if rec and rec.get("model") == case.model and \
            shlex.split(rec.get("flags", "")) == case.argv:
        return rec
    return None


# ---------------------------------------------------------------------- ppsim side

def run_ppsim(case, args):
    argv = [args.ppsim, "plan", "-f", profile_path(args.profiles, case.model)]
    argv += case.argv + ["--format", "json"]
    walls, rss, last = [], 0, None
    for _ in range(args.repeat):
        rc, wall, maxrss, out, err = run_measured(argv, timeout=args.ppsim_timeout)
        walls.append(wall)
        rss = max(rss, maxrss)
        last = (rc, out, err)
    rc, out, err = last
    rss_how = "wait4"
    if args.rss == "time":
        r = measure_rss(argv, timeout=args.ppsim_timeout)
        if r is not None:
            rss, rss_how = r, "time"
    res = {"exit_status": rc, "median_s": statistics.median(walls),
           "walls": walls, "peak_rss_kib": rss, "rss_via": rss_how, "argv": argv}
    if args.in_process:
        # ppsim plan --repeat K: K solves in one process, median on stderr
        _, _, _, _, e = run_measured(argv[:-2] + ["--repeat", str(args.in_process)] + argv[-2:],
                                     timeout=args.ppsim_timeout)
        m = _IN_PROCESS.search(e)
        res["in_process_s"] = float(m.group(1)) / 1e3 if m else None
    if rc in (0, 3):
        try:
            res["json"] = json.loads(out)
        except ValueError as e:
            res["error"] = "output is not JSON (%s)" % e
    else:
        lines = [l for l in (err or out).strip().splitlines() if l.strip()]
        res["error"] = "exit %d: %s" % (rc, lines[-1] if lines else "")
    if "json" in res and not isinstance(res["json"], dict):
        res["error"] = "JSON output is not an object"
        del res["json"]
    return res


_IN_PROCESS = re.compile(r"solves in one process: median ([0-9.eE+-]+) ms")


# ---------------------------------------------------------------------- comparison

def rel_diff(a, b):
    if a is None or b is None:
        return None
    if a == b:
        return 0.0
    d = abs(a - b)
    return d / abs(b) if b != 0 else math.inf


def compare(case, pp, ref):
    """Return (status, rel_diff, note)."""
    if "error" in pp:
        return "PPSIM-ERROR", None, pp["error"]
    js = pp["json"]
    feasible = pp["exit_status"] == 0
    if ref is None:
        if feasible:
            return "-", None, ""
        return "INFEASIBLE", None, str(js.get("reason", ""))
    if ref.get("crash"):
        kind = ref.get("crash_kind")
        if kind == "infeasible":
            if not feasible:
                return "BOTH-INFEASIBLE", None, str(js.get("reason", ""))
            return "MISMATCH", None, "reference: nothing fits; ppsim: %r" % js.get("bottleneck_s")
        said = ("infeasible: %s" % js.get("reason", "")) if not feasible \
            else "bottleneck %r" % js.get("bottleneck_s")
        return "REF-CRASH", None, "reference %s (%s); ppsim %s" % (
            kind, ref.get("stderr_last_line", ""), said)
    if not feasible:
        return "MISMATCH", None, "ppsim infeasible (%s), reference %s" % (
            js.get("reason", ""), ref.get("bottleneck_repr"))
    b = js.get("bottleneck_s")
    if not isinstance(b, (int, float)):
        return "PPSIM-ERROR", None, "no numeric bottleneck_s"
    d = rel_diff(float(b), ref["bottleneck_s"])
    notes = []
    for key, rkey in (("speedup_vs_single", "speedup_vs_single"),
                      ("speedup_vs_data_parallel", "speedup_vs_dp")):
        v, r = js.get(key), ref.get(rkey)
        if isinstance(v, (int, float)) and r is not None:
            dd = rel_diff(float(v), r)
            if dd is None or dd > REL_TOL:
                notes.append("%s %r vs %r" % (key, v, r))
    if d is not None and d <= REL_TOL and not notes:
        return "MATCH", d, ""
    return "MISMATCH", d, "; ".join(notes)


# -------------------------------------------------------------------------- output

def fmt_g(x, digits=10):
    if x is None:
        return "-"
    return "%.*g" % (digits, x)


def fmt_ratio(x):
    if x is None:
        return "-"
    return "%.0f" % x if x >= 100 else "%.1f" % x


def print_table(rows, markdown, with_ref, in_process):
    hdr = ["case", "ppsim ms", "ppsim MiB"]
    if in_process:
        hdr += ["in-proc ms"] + (["ref/in-proc"] if with_ref else [])
    if with_ref:
        hdr += ["ref s", "ref/ppsim", "ppsim bottleneck", "ref bottleneck",
                "rel diff", "status"]
    else:
        hdr += ["bottleneck", "stages", "status"]
    table = []
    for r in rows:
        pp = r["ppsim"]
        js = pp.get("json") or {}
        name = r["case"].name + (" [timing]" if r["case"].timing else "")
        line = [name, "%.2f" % (pp["median_s"] * 1e3),
                "%.1f" % (pp["peak_rss_kib"] / 1024.0)]
        if in_process:
            ip = pp.get("in_process_s")
            line.append("-" if ip is None else "%.3f" % (ip * 1e3))
            if with_ref:
                line.append(fmt_ratio(r["ratio_in_process"]))
        b = js.get("bottleneck_s") if pp["exit_status"] == 0 else None
        if with_ref:
            ref = r["ref"]
            if ref is None:
                line += ["-", "-", fmt_g(b), "-", "-", r["status"]]
            else:
                rb = None if ref.get("crash") else ref.get("bottleneck_s")
                line += ["%.3f" % ref["wall_s"], fmt_ratio(r["ratio"]),
                         fmt_g(b), fmt_g(rb) if rb is not None else "crash",
                         "-" if r["rel"] is None else "%.1e" % r["rel"], r["status"]]
        else:
            st = js.get("stages")
            line += [fmt_g(b), str(len(st)) if isinstance(st, list) and b is not None else "-",
                     r["status"]]
        table.append(line)
    if markdown:
        print("| " + " | ".join(hdr) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(hdr) - 2) + ["---"]) + "|")
        for line in table:
            print("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |")
    else:
        widths = [max(len(h), *(len(l[i]) for l in table)) if table else len(h)
                  for i, h in enumerate(hdr)]
        print("  ".join(h.ljust(w) for h, w in zip(hdr, widths)).rstrip())
        for line in table:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    notes = [(r["case"].name, r["note"]) for r in rows
             if r["note"] and r["status"] not in ("MATCH", "-")]
    if notes:
        print()
        for n, t in notes:
            print(("* `%s`: %s" if markdown else "  %s: %s") % (n, t))


def timing_verdict(rows, key, what):
    timing = [r for r in rows if r["case"].timing]
    if not timing:
        return "no timing-table case selected"
    bad = [r["case"].name for r in timing
           if r[key] is None or r[key] < 1 / TIMING_LIMIT]
    if not bad:
        return "timing table (%s): all %d cases at <= 1%% of the reference time: yes" % (
            what, len(timing))
    return "timing table (%s): all %d cases at <= 1%% of the reference time: NO (%s)" % (
        what, len(timing), ", ".join(bad))


def summary(rows, with_ref, in_process):
    n = len(rows)
    med_ms = statistics.median([r["ppsim"]["median_s"] * 1e3 for r in rows]) if rows else 0
    peak = max([r["ppsim"]["peak_rss_kib"] for r in rows] or [0]) / 1024.0
    if not with_ref:
        return ("summary: %d cases; ppsim median %.2f ms, max %.2f ms; peak RSS max %.1f MiB"
                % (n, med_ms, max([r["ppsim"]["median_s"] * 1e3 for r in rows] or [0]), peak))
    count = {}
    for r in rows:
        count[r["status"]] = count.get(r["status"], 0) + 1
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    tline = timing_verdict(rows, "ratio", "process wall")
    if in_process:
        ips = [r["ratio_in_process"] for r in rows if r["ratio_in_process"] is not None]
        if ips:
            tline = "in-process ratio min %s, median %s; %s" % (
                fmt_ratio(min(ips)), fmt_ratio(statistics.median(ips)), tline)
        tline += "; " + timing_verdict(rows, "ratio_in_process", "in-process median")
    others = ", ".join("%s %d" % (k, v) for k, v in sorted(count.items())
                       if k not in ("MATCH", "MISMATCH"))
    return ("summary: %d cases, %d matches, %d mismatches%s; ratio ref/ppsim min %s, "
            "median %s; %s" % (
                n, count.get("MATCH", 0), count.get("MISMATCH", 0),
                (" (" + others + ")") if others else "",
                fmt_ratio(min(ratios)) if ratios else "-",
                fmt_ratio(statistics.median(ratios)) if ratios else "-", tline))


# ------------------------------------------------------------------------ oracle

def write_oracle(cases, cache, path):
    head = ("# produced by msr-fiddle/pipedream optimizer_graph_hierarchical.py @7db6a1c, "
            "Python 3, PYTHONHASHSEED=0, %s\n" % cache["meta"].get(
                "date", datetime.date.today().isoformat()))
    lines = [head, "case\tmodel\tflags\tbottleneck_s\tsingle_s\tspeedup_vs_dp\n"]
    missing = []
    for c in cases:
        rec = cached(cache, c)
        if rec is None:
            missing.append(c.name)
            continue
        if rec.get("crash"):
            lines.append("%s\t%s\t%s\tcrash\tcrash\tcrash\n" % (c.name, c.model, c.flags))
        else:
            lines.append("%s\t%s\t%s\t%s\t%s\t%s\n" % (
                c.name, c.model, c.flags, rec["bottleneck_repr"], rec["single_repr"],
                rec["speedup_vs_dp_repr"]))
    if missing:
        raise SystemExit("reference cache lacks: " + ", ".join(missing))
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)
    print("wrote %s (%d cases)" % (path, len(lines) - 2))


# -------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ppsim", help="path of the ppsim binary (e.g. build/src/ppsim)")
    ap.add_argument("--cases", default=os.path.join(HERE, "plan_cases.txt"))
    ap.add_argument("--profiles", default=default_profiles_dir(),
                    help="directory with <model>/graph.txt (PipeDream profiles)")
    ap.add_argument("--reference", help="checkout of msr-fiddle/pipedream (graph/, optimizer/)")
    ap.add_argument("--reference-cache", help="JSON file of reference results (read, and "
                    "updated with new reference runs)")
    ap.add_argument("--reference-python", help="interpreter for the reference (needs numpy "
                    "and graphviz; default: first of this one, /usr/bin/python3 that has them)")
    ap.add_argument("--hashseed", default="0",
                    help="PYTHONHASHSEED for the reference ('unset' to leave it out)")
    ap.add_argument("--reference-only", action="store_true",
                    help="only run the reference and store its results in --reference-cache")
    ap.add_argument("--refresh", action="store_true",
                    help="re-run the reference even for cases in the cache")
    ap.add_argument("--write-oracle", metavar="TSV",
                    help="write the oracle table from --reference-cache and exit")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--filter", action="append", default=[],
                    help="only cases whose name contains SUBSTR (repeatable: any)")
    ap.add_argument("--timing-only", action="store_true", help="only the timing-table cases")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--in-process", type=int, default=0, metavar="K",
                    help="also run 'ppsim plan ... --repeat K' once and report its in-process "
                    "median solve time (no process start-up) and ratio")
    ap.add_argument("--json-out", help="also write all measurements to this JSON file")
    ap.add_argument("--rss", choices=("auto", "time", "wait4"), default="auto",
                    help="peak RSS from os.wait4 of the timed runs (includes a floor: the "
                    "harness's own RSS at spawn) or from one extra run under GNU "
                    "/usr/bin/time (exact); auto: time when available")
    ap.add_argument("--reference-timeout", type=float, default=1800)
    ap.add_argument("--ppsim-timeout", type=float, default=600)
    args = ap.parse_args()

    cases = read_cases(args.cases)
    if args.filter:
        cases = [c for c in cases if any(s in c.name for s in args.filter)]
    if args.timing_only:
        cases = [c for c in cases if c.timing]
    if not cases:
        print("no case selected", file=sys.stderr)
        return 2
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if args.in_process < 0:
        ap.error("--in-process must be >= 0")
    cache = load_cache(args.reference_cache)

    if args.write_oracle:
        if not args.reference_cache:
            ap.error("--write-oracle needs --reference-cache")
        write_oracle(cases, cache, args.write_oracle)
        return 0

    if not args.profiles or not os.path.isdir(args.profiles):
        print("profiles directory not found (use --profiles)", file=sys.stderr)
        return 2
    for c in cases:
        if not os.path.isfile(profile_path(args.profiles, c.model)):
            print("%s: no profile %s" % (c.name, profile_path(args.profiles, c.model)),
                  file=sys.stderr)
            return 2
    if args.reference:
        args.reference_python = reference_python(args.reference_python)

    def get_ref(c):
        rec = None if args.refresh else cached(cache, c)
        if rec is None and args.reference:
            rec = run_reference(c, args)
            if args.reference_cache:
                cache["cases"][c.name] = rec
                cache["meta"].update({
                    "reference": "msr-fiddle/pipedream optimizer_graph_hierarchical.py",
                    "python": subprocess.run([args.reference_python, "--version"],
                                             capture_output=True, text=True).stdout.strip(),
                    "date": datetime.date.today().isoformat()})
                save_cache(args.reference_cache, cache)
        return rec

    if args.reference_only:
        if not args.reference:
            ap.error("--reference-only needs --reference")
        t0 = time.perf_counter()
        for c in cases:
            rec = get_ref(c)
            print("%-55s %8.3f s  %s" % (c.name, rec["wall_s"],
                                        ("crash (%s)" % rec["crash_kind"]) if rec["crash"]
                                        else rec["bottleneck_repr"]), flush=True)
        print("total %.1f s" % (time.perf_counter() - t0))
        return 0

    if not args.ppsim:
        ap.error("--ppsim is required")
    if args.rss == "auto":
        args.rss = "time" if gnu_time_works() else "wait4"
    elif args.rss == "time" and not gnu_time_works():
        ap.error("--rss time: GNU time not found at %s" % GNU_TIME)
    floor = spawn_floor()
    with_ref = bool(args.reference or args.reference_cache)
    rows = []
    for c in cases:
        pp = run_ppsim(c, args)
        ref = get_ref(c) if with_ref else None
        status, rel, note = compare(c, pp, ref)
        ratio = ratio_ip = None
        if ref is not None and pp["median_s"] > 0:
            ratio = ref["wall_s"] / pp["median_s"]
        if ref is not None and pp.get("in_process_s"):
            ratio_ip = ref["wall_s"] / pp["in_process_s"]
        rows.append({"case": c, "ppsim": pp, "ref": ref, "status": status,
                     "rel": rel, "ratio": ratio, "ratio_in_process": ratio_ip,
                     "note": note})
        if not args.markdown:
            print("  ... %s: %s" % (c.name, status), file=sys.stderr, flush=True)

    print_table(rows, args.markdown, with_ref, args.in_process)
    print()
    print(summary(rows, with_ref, args.in_process))
    print("(ppsim ms: median wall of %d separate runs, process start included; spawning /bin/true the same "
          "way takes %.2f ms here. ppsim MiB: peak RSS via %s%s.)" % (
              args.repeat, floor * 1e3,
              "GNU time" if args.rss == "time" else "os.wait4",
              "" if args.rss == "time" else ", which includes the harness's own RSS"))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump([{"case": r["case"].name, "model": r["case"].model,
                        "flags": r["case"].flags, "timing": r["case"].timing,
                        "status": r["status"], "rel_diff": r["rel"], "ratio": r["ratio"],
                        "ratio_in_process": r["ratio_in_process"],
                        "note": r["note"],
                        "ppsim": r["ppsim"], "spawn_floor_s": floor,
                        "reference": r["ref"]} for r in rows], f, indent=1)
    bad = [r for r in rows if r["status"] in ("MISMATCH", "PPSIM-ERROR")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
