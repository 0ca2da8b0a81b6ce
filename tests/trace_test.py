#!/usr/bin/env python3
"""Checks of `ppsim simulate --trace FILE.json` (issue 7, docs/trace.md).

The Chrome trace-event format (the "Trace Event Format" document that
chrome://tracing and Perfetto read) says: complete events "X" carry ts and dur
in microseconds, and "complete events on one thread must nest: an event that
starts inside another ends inside it"; flow events "s"/"f" pair by id, and
"bp": "e" binds the finish to the enclosing slice. Issue 7 asks that the JSON
parses, nesting on every track is strict and the event count equals the op
count. The expected counts here are derived independently of the trace writer:

* ops: schedule.h's contract that every (piece, microbatch) runs exactly one
  forward and one backward (B, or BI + BW; an FB op holds one of each), so the
  forward halves and the backward halves each number stages*chunks*microbatches
  and BW = BI; and, for schedules `ppsim schedule export` can write, each
  device's compute ops in order equal the rank's row of the exported PyTorch
  schedule CSV, plus the one optimizer step per device that the export
  requires (schedcsv: "device d does not end with its one optimizer step").
  The no-flush schedules have no optimizer op (sched_async.c); data
  parallelism adds one all-reduce per device (pp_plan_add_allreduce).
* transfers and flows: the dependencies of schedule.h's header
  (F(k,m) <- F(k-1,m); B/BI(k,m) <- backward-input of (k+1,m) and F(k,m);
  BW <- BI) recomputed here from the ops the trace shows; a transfer for each
  dependency between two devices, a flow for each dependency.
* memory: the report's per_device peak_memory_bytes (-f json)."""
import bisect
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PPSIM = sys.argv[1]
failures = []
checks = 0
QS = '../scenarios/quickstart.yaml'
NO_FLUSH = {'pipedream', 'pipedream-2bw', 'localsgd', 'naive'}
EXPORTABLE = {'gpipe', '1f1b', 'interleaved-1f1b', 'zb-h1', 'zb-h2', 'dualpipev'}
TS = re.compile(r'^\d+\.\d{3}$')


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return cond


def run(args, env=None):
    p = subprocess.run([PPSIM, *args], capture_output=True, env=env)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def no_constants(name):
    raise ValueError('non-JSON constant ' + name)


def load(path):
    """Parse strictly; floats stay strings so times convert to exact ns."""
    with open(path, 'rb') as f:
        raw = f.read()
    return raw, json.loads(raw.decode('utf-8'), parse_float=str, parse_constant=no_constants)


bad_times = []


def ns(s, what):
    """'12.345' microseconds -> 12345 ns, insisting on the 3-decimal form."""
    if not (isinstance(s, str) and TS.match(s)):
        bad_times.append(f'{what}: time {s!r} is not microseconds with 3 decimals')
    return int(str(s).replace('.', ''))


def strict_nesting(events, what):
    """On one track every event starts after the previous ends or nests in it."""
    evs = sorted(events, key=lambda e: (e['t0'], -(e['t1'] - e['t0'])))
    stack = []
    for e in evs:
        while stack and stack[-1] <= e['t0']:
            stack.pop()
        if stack and e['t1'] > stack[-1]:
            return check(False, f'{what}: {e["name"]} [{e["t0"]}, {e["t1"]}] partially '
                                f'overlaps an event ending at {stack[-1]}')
        stack.append(e['t1'])
    return check(True, what)


def halves(e):
    """(kind, piece, mb) halves an op event stands for: FB is F + B."""
    a = e['args']
    if e['cat'] == 'FB':
        return [('F', a['piece'], a['microbatch']), ('B', a['piece2'], a['microbatch2'])]
    if 'piece' in a:
        return [(e['cat'], a['piece'], a['microbatch'])]
    return []


def dependencies(ops, n_pieces):
    """schedule.h's rules over the ops (each with 'dev'): (producer, consumer) pairs."""
    fwd, bin_ = {}, {}
    for o in ops:
        for kind, k, m in halves(o):
            if kind == 'F':
                fwd[(k, m)] = o
            elif kind in ('B', 'BI'):
                bin_[(k, m)] = o
    deps = []
    for o in ops:
        for kind, k, m in halves(o):
            local = k % n_pieces
            if kind == 'F' and local > 0:
                deps.append((fwd[(k - 1, m)], o))
            elif kind in ('B', 'BI'):
                if local < n_pieces - 1:
                    deps.append((bin_[(k + 1, m)], o))
                deps.append((fwd[(k, m)], o))
            elif kind == 'BW':
                deps.append((bin_[(k, m)], o))
    return deps


def export_rows(schedule, stages, chunks, mbs):
    rc, out, err = run(['schedule', 'export', '--schedule', schedule, '--stages', str(stages),
                        '--microbatches', str(mbs), '--chunks', str(chunks)])
    if not check(rc == 0, f'schedule export {schedule}: {err.strip()}'):
        return None
    rows = []
    for line in out.strip().split('\n'):
        acts = []
        for a in line.split(','):
            mo = re.fullmatch(r'\((\d+)F(\d+);(\d+)B(\d+)\)OVERLAP_F_B', a)
            if mo:
                k, m, k2, m2 = map(int, mo.groups())
                acts.append(('FB', k, m, k2, m2))
                continue
            mo = re.fullmatch(r'(\d+)([FBIW])(\d+)', a)
            if mo is None:
                return check(False, f'export {schedule}: unexpected action {a}') and None
            kind = {'F': 'F', 'B': 'B', 'I': 'BI', 'W': 'BW'}[mo.group(2)]
            acts.append((kind, int(mo.group(1)), int(mo.group(3))))
        rows.append(acts)
    return rows


def op_key(e):
    a = e['args']
    if e['cat'] == 'FB':
        return ('FB', a['piece'], a['microbatch'], a['piece2'], a['microbatch2'])
    return (e['cat'], a['piece'], a['microbatch'])


def analyse(tag, path, report, iters=None):
    """Check one trace file against the report; return what it holds."""
    raw, doc = load(path)
    evs = doc['traceEvents']
    check(doc.get('displayTimeUnit') == 'ms', f'{tag}: displayTimeUnit')
    stages, chunks, mbs = report['stages'], report['chunks'], report['microbatches']
    dp = report['data_parallel']
    schedule = report['schedule']
    n_pieces = stages * chunks
    pids = {e['pid'] for e in evs}
    check(pids == {1}, f'{tag}: one process, pid 1 (configuration 0), got {pids}')
    meta = [e for e in evs if e['ph'] == 'M']
    tname = {e['tid']: e['args']['name'] for e in meta if e['name'] == 'thread_name'}
    tsort = {e['tid']: e['args']['sort_index'] for e in meta if e['name'] == 'thread_sort_index'}
    pname = [e['args']['name'] for e in meta if e['name'] == 'process_name']
    check(len(pname) == 1 and report['name'] in pname[0] and schedule in pname[0],
          f'{tag}: process_name {pname}')
    for d in range(stages):
        check(tname.get(d + 1) == f'device {d}', f'{tag}: tid {d + 1} is device {d}')
    check(set(tsort) == set(tname), f'{tag}: every track has a sort index')
    order = sorted(tname, key=lambda t: tsort.get(t, 1 << 30))
    kinds = ['dev' if tname[t].startswith('device ') else 'link' for t in order]
    check(kinds == sorted(kinds), f'{tag}: device tracks sort before link tracks')

    xs = [e for e in evs if e['ph'] == 'X']
    by_tid = collections.defaultdict(list)
    for e in xs:
        e['t0'] = ns(e['ts'], tag)
        e['t1'] = e['t0'] + ns(e['dur'], tag)
        by_tid[e['tid']].append(e)
    for tid, lst in sorted(by_tid.items()):
        check(tid in tname, f'{tag}: X events on an unnamed track {tid}')
        strict_nesting(lst, f'{tag}: track {tname.get(tid)}')
        lst.sort(key=lambda e: e['t0'])
    starts = {tid: [e['t0'] for e in lst] for tid, lst in by_tid.items()}

    ops = [e for e in xs if 1 <= e['tid'] <= stages]
    for e in ops:
        e['dev'] = e['tid'] - 1
    check(all(e['args']['device'] == e['dev'] for e in ops), f'{tag}: an op on the wrong track')
    kept_all = iters is None
    # Every op of each device's list, in order: "order" runs 0..n-1.
    per_dev = collections.defaultdict(list)
    for e in ops:
        per_dev[e['dev']].append(e)
    for d in range(stages):
        lst = sorted(per_dev[d], key=lambda e: e['args']['order'])
        if kept_all:
            check([e['args']['order'] for e in lst] == list(range(len(lst))),
                  f'{tag}: device {d} shows every op of its list')
        check(sorted(lst, key=lambda e: (e['t0'], e['args']['order'])) == lst,
              f'{tag}: device {d} runs its ops in list order')
        per_dev[d] = lst
    cnt = collections.Counter(e['cat'] for e in ops)
    f_halves = cnt['F'] + cnt['FB']
    b_halves = cnt['B'] + cnt['BI'] + cnt['FB']
    if kept_all:
        check(f_halves == n_pieces * mbs and b_halves == n_pieces * mbs,
              f'{tag}: forward/backward halves {f_halves}/{b_halves}, expected '
              f'{n_pieces * mbs} each (stages*chunks*microbatches)')
        seen = collections.Counter(h for e in ops for h in halves(e))
        check(all(v == 1 for v in seen.values()), f'{tag}: a (kind, piece, mb) appears twice')
        check(cnt['BW'] == cnt['BI'], f'{tag}: one W per I ({cnt["BW"]} vs {cnt["BI"]})')
        check(cnt['OPT'] == (0 if schedule in NO_FLUSH else stages),
              f'{tag}: {cnt["OPT"]} optimizer ops')
        check(cnt['AR'] == (stages if dp > 1 else 0), f'{tag}: {cnt["AR"]} all-reduce ops')
        n_ops = f_halves + b_halves - cnt['FB'] + cnt['BW'] + cnt['OPT'] + cnt['AR']
        check(len(ops) == n_ops, f'{tag}: {len(ops)} op events, expected {n_ops}')
        if schedule in EXPORTABLE:
            rows = export_rows(schedule, stages, chunks, mbs)
            for d in range(stages):
                mine = [op_key(e) for e in per_dev[d] if e['cat'] not in ('OPT', 'AR')]
                check(rows is not None and mine == rows[d],
                      f'{tag}: device {d} ops differ from `schedule export` rank {d}')
                tail = [e['cat'] for e in per_dev[d] if e['cat'] in ('OPT', 'AR')]
                check(tail == (['AR'] if dp > 1 else []) + ['OPT'],
                      f'{tag}: device {d} ends with {tail}')
            check(len(ops) == sum(len(r) for r in rows or []) + stages * (1 + (dp > 1)),
                  f'{tag}: op count = exported actions + optimizer (+ all-reduce) per device')

    # Dependencies among the shown ops (all of them when nothing is filtered).
    deps = dependencies(ops, n_pieces) if kept_all else None
    transfers = [e for e in xs if e['tid'] > stages]
    links = collections.Counter()
    wrong = []
    for e in transfers:
        mo = re.fullmatch(r'link (\d+)->(\d+)( #\d+)?', tname[e['tid']])
        src, dst = (int(mo.group(1)), int(mo.group(2))) if mo else (-1, -1)
        if (e['args']['src_device'], e['args']['dst_device']) != (src, dst):
            wrong.append(tname[e['tid']])
        links[(src, dst)] += 1
    check(not wrong, f'{tag}: transfers on the wrong link track: {wrong[:3]}')
    if deps is not None:
        cross = collections.Counter((p['dev'], c['dev']) for p, c in deps if p['dev'] != c['dev'])
        check(len(transfers) == sum(cross.values()),
              f'{tag}: {len(transfers)} transfers, {sum(cross.values())} cross-device deps')
        check(links == cross, f'{tag}: transfers per link direction differ from the deps')

    # Flows: one s and one f per id, s on the producer's track, f (bp e) on the consumer's.
    fl = collections.defaultdict(list)
    for e in evs:
        if e['ph'] in ('s', 'f'):
            fl[e['id']].append(e)
    pairs = collections.Counter()
    ok = True
    for i, lst in fl.items():
        s = [e for e in lst if e['ph'] == 's']
        f = [e for e in lst if e['ph'] == 'f']
        if len(s) != 1 or len(f) != 1 or f[0].get('bp') != 'e' or \
                (s[0]['name'], s[0]['cat']) != (f[0]['name'], f[0]['cat']) or \
                ns(s[0]['ts'], tag) > ns(f[0]['ts'], tag):
            ok = False
            continue
        for e in (s[0], f[0]):  # inside a slice of its own track
            t = ns(e['ts'], tag)
            j = bisect.bisect_right(starts.get(e['tid'], []), t) - 1
            if j < 0 or by_tid[e['tid']][j]['t1'] < t:
                ok = False
        pairs[(s[0]['tid'], f[0]['tid'])] += 1
    check(ok, f'{tag}: every flow start has exactly one matching finish inside a slice')
    if deps is not None:
        want = collections.Counter((p['tid'], c['tid']) for p, c in deps)
        check(pairs == want, f'{tag}: {sum(pairs.values())} flows, {len(deps)} dependencies')

    # Memory counters: non-negative, the maximum is the report's peak.
    mem = collections.defaultdict(list)
    for e in evs:
        if e['ph'] == 'C':
            mo = re.fullmatch(r'device (\d+) memory', e['name'])
            mem[int(mo.group(1)) if mo else e['name']].append(
                (ns(e['ts'], tag), float(e['args']['bytes'])))
    for d, pts in mem.items():
        check(min(v for _, v in pts) >= 0, f'{tag}: device {d} memory below zero')
        check([t for t, _ in pts] == sorted(t for t, _ in pts), f'{tag}: device {d} counter order')
        if kept_all:
            peak = float(report['per_device'][d]['peak_memory_bytes'])
            check(max(v for _, v in pts) == peak,
                  f'{tag}: device {d} memory peak {max(v for _, v in pts)} != report {peak}')
            static = float(report['per_device'][d]['static_memory_bytes'])
            first_op = per_dev[d][0]['t0'] if per_dev[d] else 0
            check(pts[0][0] == 0 and pts[0][1] >= static and
                  (first_op == 0 or pts[0][1] == static),
                  f'{tag}: device {d} memory starts at t=0 with the static bytes')
    if kept_all:
        check(sorted(mem) == list(range(stages)), f'{tag}: a memory counter per device')
    return {'raw': raw, 'ops': ops, 'transfers': transfers, 'flows': sum(pairs.values()),
            'counters': sum(len(v) for v in mem.values())}


tmp = tempfile.mkdtemp(prefix='ppsim_trace_')
try:
    cases = [
        ('1f1b', QS, []),
        ('interleaved', QS, ['--set', 'pipeline.schedule=interleaved-1f1b',
                             '--set', 'pipeline.chunks=2']),
        ('zb-h1', QS, ['--set', 'pipeline.schedule=zb-h1']),
        ('dualpipev', QS, ['--set', 'pipeline.schedule=dualpipev', '--set', 'pipeline.chunks=2']),
        ('pipedream', QS, ['--set', 'pipeline.schedule=pipedream']),
        ('data-parallel', QS, ['--set', 'cluster.devices=16']),
        ('one-stage', QS, ['--set', 'pipeline.stages=1', '--set', 'cluster.devices=1']),
        ('gpipe-infeasible', QS, ['--set', 'pipeline.schedule=gpipe']),
        ('recompute', QS, ['--set', 'pipeline.recompute=full']),
    ]
    for s, ch in [('dualpipe', 1), ('chimera', 1), ('v-half', 2), ('interleaved-zb', 2),
                  ('pipedream-2bw', 1), ('localsgd', 1), ('naive', 1)]:
        cases.append((s, QS, ['--set', f'pipeline.schedule={s}', '--set', f'pipeline.chunks={ch}']))
    vdir = '../scenarios/validation'
    files = [f for f in sorted(os.listdir(vdir)) if f.endswith('.yaml')]
    # The sanitizer build (PP_TEST_QUICK) traces every fourth validation
    # scenario; the plain build traces them all.
    if os.environ.get('PP_TEST_QUICK'):
        files = files[::4]
    for f in files:
        cases.append((f[:-5], os.path.join(vdir, f), []))
    results = {}
    for tag, scen, extra in cases:
        path = os.path.join(tmp, tag + '.json')
        rc, out, err = run(['simulate', scen, *extra, '-f', 'json', '--trace', path])
        if not check(rc in (0, 3) and os.path.exists(path), f'{tag}: exit {rc}: {err.strip()}'):
            continue
        report = json.loads(out)
        check(f'wrote {path} (' in err, f'{tag}: stderr names the trace: {err.strip()}')
        results[tag] = analyse(tag, path, report)
        # Deterministic bytes: a second run writes the same file.
        path2 = os.path.join(tmp, tag + '.2.json')
        run(['simulate', scen, *extra, '-f', 'json', '--trace', path2])
        with open(path2, 'rb') as f2:
            check(f2.read() == results[tag]['raw'], f'{tag}: two runs differ')

    qs = results.get('1f1b')
    if qs:
        print(f'quickstart trace: {len(qs["raw"])} bytes, {len(qs["ops"])} ops, '
              f'{len(qs["transfers"])} transfers, {qs["flows"]} flows, {qs["counters"]} counter '
              f'points')

    # Locale: numbers never take a decimal comma.
    locales = subprocess.run(['locale', '-a'], capture_output=True, text=True).stdout.split()
    de = next((x for x in locales if x.lower().replace('-', '') in ('de_de.utf8',)), None)
    if de and qs:
        path = os.path.join(tmp, 'de.json')
        env = dict(os.environ, LC_ALL=de, LANG=de)
        run(['simulate', QS, '--trace', path], env=env)
        with open(path, 'rb') as f:
            check(f.read() == qs['raw'], 'LC_ALL=de_DE.UTF-8 changes the trace bytes')
    else:
        print('skipped the de_DE.UTF-8 check: locale not installed')

    # --trace-iterations: a flushing plan is iteration 0.
    if qs:
        path = os.path.join(tmp, 'it01.json')
        rc, _, err = run(['simulate', QS, '-f', 'json', '--trace', path,
                          '--trace-iterations', '0:1'])
        with open(path, 'rb') as f:
            check(rc == 0 and f.read() == qs['raw'], '1f1b: 0:1 keeps everything')
        path = os.path.join(tmp, 'it12.json')
        rc, out, err = run(['simulate', QS, '-f', 'json', '--trace', path,
                            '--trace-iterations', '1:2'])
        if check(rc == 0, f'1f1b 1:2: exit {rc} {err}'):
            r = analyse('1f1b 1:2', path, json.loads(out), iters=(1, 2))
            check(len(r['ops']) == 0 and len(r['transfers']) == 0 and r['flows'] == 0 and
                  r['counters'] == 0, '1f1b: 1:2 keeps nothing')
    # Without a flush an iteration is a microbatch (PipeDream's count).
    for tag, scen, extra, a, b in [
            ('pipedream 2:5', QS, ['--set', 'pipeline.schedule=pipedream'], 2, 5),
            ('pipedream-theory 10:11', '../scenarios/validation/pipedream-theory-s4.yaml', [],
             10, 11),
            ('pipedream-2bw 0:3', QS, ['--set', 'pipeline.schedule=pipedream-2bw'], 0, 3)]:
        path = os.path.join(tmp, 'it.json')
        rc, out, err = run(['simulate', scen, *extra, '-f', 'json', '--trace', path,
                            '--trace-iterations', f'{a}:{b}'])
        if not check(rc == 0, f'{tag}: exit {rc} {err}'):
            continue
        report = json.loads(out)
        r = analyse(tag, path, report, iters=(a, b))
        S = report['stages']
        mbs = sorted({e['args']['microbatch'] for e in r['ops']})
        check(mbs == list(range(a, b)), f'{tag}: microbatches {mbs}')
        check(len(r['ops']) == 2 * S * (b - a), f'{tag}: {len(r["ops"])} ops, expected '
              f'F and B of {b - a} microbatches on {S} stages')
        deps = dependencies([dict(e, dev=e['tid'] - 1) for e in r['ops']], S)
        check(len(r['transfers']) == sum(p['dev'] != c['dev'] for p, c in deps) and
              r['flows'] == len(deps), f'{tag}: transfers/flows follow the kept ops')

    # Bad input: a usage error or a failed write leaves no file, and an older
    # file stays as it was.
    target = os.path.join(tmp, 'bad.json')
    for bad in ['1:1', '2:1', '-1:2', 'a:b', '1', '1:2:3', '', ' 1:2', '1:2x', '+1:2',
                '1:99999999999999999999']:
        rc, out, err = run(['simulate', QS, '--trace', target, '--trace-iterations', bad])
        check(rc == 2 and '--trace-iterations' in err and not os.path.exists(target),
              f'--trace-iterations {bad!r}: exit {rc}, {err.strip()}')
    rc, _, err = run(['simulate', QS, '--trace-iterations', '0:1'])
    check(rc == 2 and '--trace' in err, f'--trace-iterations without --trace: exit {rc}')
    rc, _, err = run(['simulate', QS, '--trace', '-'])
    check(rc == 2, f'--trace - with the report on stdout: exit {rc}')
    blocker = os.path.join(tmp, 'a_file')
    with open(blocker, 'w') as f:
        f.write('x')
    rc, _, err = run(['simulate', QS, '--trace', os.path.join(blocker, 't.json')])
    check(rc == 1 and len(err.strip().split('\n')) == 1 and 't.json' in err,
          f'unwritable trace path: exit {rc}, {err.strip()}')
    check(os.listdir(tmp).count('a_file') == 1 and os.path.isfile(blocker),
          'unwritable trace path left something behind')
    rc, _, err = run(['simulate', QS, '--trace', os.path.join(tmp, 'nodir', 't.json')])
    check(rc == 1 and not os.path.exists(os.path.join(tmp, 'nodir')),
          f'missing directory: exit {rc}, {err.strip()}')
    keep = os.path.join(tmp, '1f1b.json')
    before = open(keep, 'rb').read() if os.path.exists(keep) else None
    rc, _, _ = run(['simulate', 'bad/microbatches_zero.yaml', '--trace', keep])
    check(rc == 1 and before is not None and open(keep, 'rb').read() == before,
          'a bad scenario leaves an existing trace untouched')
    rc, _, _ = run(['simulate', QS, '--trace', keep, '--trace-iterations', '5:5'])
    check(rc == 2 and open(keep, 'rb').read() == before, 'a usage error leaves the trace untouched')
    left = [f for f in os.listdir(tmp) if 'tmp' in f.lower() or f.startswith('.')]
    check(not left, f'temporary files left behind: {left}')

    # Names are JSON-escaped.
    path = os.path.join(tmp, 'name.json')
    weird = r'we\"ird \\ näme\t<tab>'  # YAML double-quoted: we"ird \ näme<TAB><tab>
    rc, out, err = run(['simulate', QS, '--set', f'name="{weird}"', '-f', 'json', '--trace', path])
    if check(rc == 0, f'odd name: exit {rc} {err.strip()}'):
        report = json.loads(out)
        _, doc = load(path)
        pn = [e['args']['name'] for e in doc['traceEvents'] if e['name'] == 'process_name']
        check(len(pn) == 1 and pn[0].startswith(report['name'] + ':') and '\t' in pn[0],
              f'process name not escaped faithfully: {pn}')
finally:
    shutil.rmtree(tmp, ignore_errors=True)

check(not bad_times, bad_times[:3])
for f in failures:
    print('FAIL:', f)
print(f'{checks - len(failures)}/{checks} trace checks passed')
sys.exit(1 if failures else 0)
