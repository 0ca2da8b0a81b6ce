#!/usr/bin/env python3
"""ppsim schedule export|check from the command line: PyTorch pipelining CSV
(schedules.md §4) written for every registered schedule, read back to the same
plan, the import errors of tests/bad/schedule/ (one exact line each), usage.

Oracles: the op orders of schedules.md §2.1 (GPipe: every stage F0..F(m-1)
then B0..B(m-1)) and §2.2 (1F1B: rank r runs min(p-r-1, m) warm-up forwards,
then forward/backward pairs, then the remaining backwards)."""
import os
import subprocess
import sys
import tempfile

PPSIM = os.path.abspath(sys.argv[1])
checks = failures = 0


def run(*args, stdin=None):
    p = subprocess.run([PPSIM, *args], capture_output=True, text=True, input=stdin)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print('FAIL:', what)


def export(name, stages, m, chunks=1, *extra):
    return run('schedule', 'export', '--schedule', name, '--stages', str(stages),
               '--microbatches', str(m), '--chunks', str(chunks), *extra)


# --- exact compute-only output
rc, so, se = export('gpipe', 3, 4)
want = ''.join(f'{r}F0,{r}F1,{r}F2,{r}F3,{r}B0,{r}B1,{r}B2,{r}B3\n' for r in range(3))
check(rc == 0 and so == want and se == '', f'gpipe 3x4: {rc} {so!r} {se!r}')

rc, so, se = export('1f1b', 4, 8)
want = ('0F0,0F1,0F2,0F3,0B0,0F4,0B1,0F5,0B2,0F6,0B3,0F7,0B4,0B5,0B6,0B7\n'
        '1F0,1F1,1F2,1B0,1F3,1B1,1F4,1B2,1F5,1B3,1F6,1B4,1F7,1B5,1B6,1B7\n'
        '2F0,2F1,2B0,2F2,2B1,2F3,2B2,2F4,2B3,2F5,2B4,2F6,2B5,2F7,2B6,2B7\n'
        '3F0,3B0,3F1,3B1,3F2,3B2,3F3,3B3,3F4,3B4,3F5,3B5,3F6,3B6,3F7,3B7\n')
check(rc == 0 and so == want, f'1f1b 4x8: {rc} {so!r} {se!r}')

# --- compute+comms: PyTorch's _add_reduce_grad + _add_send_recv, by hand for
# GPipe 2x2 (rank 0's 0B0 waits for rank 1's 1B0, which puts 0RECV_B0 first)
rc, so, se = export('gpipe', 2, 2, 1, '--comms')
want = ('0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1,0REDUCE_GRAD\n'
        '1RECV_F0,1F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1,1SEND_B1,1REDUCE_GRAD\n')
check(rc == 0 and so == want, f'gpipe --comms: {rc} {so!r} {se!r}')

# --- -o writes the same bytes, atomically (nothing else left in the directory)
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 's.csv')
    rc, so, se = export('1f1b', 3, 5, 1, '-o', out)
    rc2, so2, _ = export('1f1b', 3, 5)
    check(rc == 0 and so == '' and se == '' and open(out).read() == so2 and rc2 == 0,
          f'-o: {rc} {so!r} {se!r}')
    check(os.listdir(tmp) == ['s.csv'], f'-o leaves {os.listdir(tmp)}')
    rc, so, se = export('1f1b', 3, 5, 1, '-o', os.path.join(tmp, 'no', 'such', 'x.csv'))
    check(rc == 1 and se.count('\n') == 1 and 'error' in se, f'-o bad dir: {rc} {se!r}')

    # --- every registered schedule: exported, then imported to the same shape
    rc, so, se = run('schedule', 'export', '--schedule', 'nope', '--stages', '2',
                     '--microbatches', '2')
    names = se.split('(one of ', 1)[1].split(')', 1)[0].split(', ') if '(one of ' in se else []
    check(rc == 2 and 'gpipe' in names and '1f1b' in names and 'interleaved-1f1b' in names,
          f'schedule list: {se!r}')
    exported = []
    for name in names:
        for chunks in (1, 2):
            rc, so, se = export(name, 4, 8, chunks)
            if not (rc == 1 and 'chunks' in se):
                break
        path = os.path.join(tmp, f'{name}.csv')
        if rc != 0:
            # what PyTorch's CSV cannot say (two model copies, no flush) is a
            # one-line refusal, never a wrong file
            check(rc == 1 and so == '' and se.count('\n') == 1 and se.startswith('error: '),
                  f'{name}: {rc} {se!r}')
            continue
        exported.append(name)
        open(path, 'w').write(so)
        rows = so.splitlines()
        n_actions = sum(len(r.split(',')) for r in rows)
        rc, out, se = run('schedule', 'check', path, '--stages', '4', '--chunks', str(chunks),
                          '--microbatches', '8')
        check(rc == 0 and out == f'{path}: ok: ranks 4, stages {4 * chunks} ({chunks} per rank), '
              f'microbatches 8, compute actions {n_actions}\n', f'{name} check: {rc} {out!r} {se!r}')
        rc, comms, se = export(name, 4, 8, chunks, '--comms')
        rc2, out2, _ = run('schedule', 'check', '-', stdin=comms)
        check(rc == 0 and rc2 == 0 and out2 == out.replace(path, '<stdin>'),
              f'{name} --comms reads back: {rc} {rc2} {out2!r}')
    check({'gpipe', '1f1b', 'interleaved-1f1b'} <= set(exported), f'exported {exported}')

    # --- check against expectations
    path = os.path.join(tmp, '1f1b.csv')
    rc, so, se = run('schedule', 'check', path, '--stages', '4', '--microbatches', '6')
    check(rc == 1 and se == f"{path}:1:37: error: action '0F6' names microbatch 6, but there "
          "are 6\n", f'check -m 6: {se!r}')

# --- import errors: exactly one line each, at file:line:col, naming the action
BAD = [
    ('malformed_action.csv', [], "3:17: error: malformed action '0X3' (expected STAGE then F, "
     "B, I, W or a comm action, then MICROBATCH)"),
    ('nonnumeric_microbatch.csv', [], "2:5: error: malformed action '1Fone' (microbatch 'one' "
     "is not a number)"),
    ('legacy_bw.csv', [], "1:9: error: malformed action '0BW0' (expected STAGE then F, B, I, W "
     "or a comm action, then MICROBATCH)"),
    ('unterminated_quote.csv', [], '1:5: error: unterminated quoted cell'),
    ('empty.csv', [], '1:1: error: empty schedule (expected one row of actions per rank)'),
    ('stage_on_two_ranks.csv', [], "3:9: error: action '1B0' on rank 2 runs stage 1, which "
     "rank 1 runs too (at 2:1); a stage belongs to one rank"),
    ('missing_forward.csv', [], "2:1: error: stage 1 never runs the forward of microbatch 1 "
     "(every stage runs microbatches 0..2; stage 1 starts at '1F0')"),
    ('w_before_i.csv', [], "2:13: error: action '1W1' runs before the input-gradient backward "
     "(I) of stage 1 microbatch 1"),
    ('backward_before_forward.csv', [], "1:5: error: action '0B1' runs before the forward of "
     "stage 0 microbatch 1"),
    ('missing_weight.csv', [], "1:5: error: action '0I0' has no weight-gradient backward (W) "
     "after it for stage 0 microbatch 0"),
    ('deadlock.csv', [], "1:5: error: deadlock: the schedule can never finish; rank 0 blocks "
     "at '0B0' (waits for 1B0), rank 1 blocks at '1F1' (waits for 0F1)"),
    ('rank_count.csv', ['--stages', '4'], '3:1: error: the schedule has 3 ranks (rows), '
     'expected 4'),
    ('microbatch_range.csv', ['--microbatches', '2'], "1:9: error: action '0F2' names "
     "microbatch 2, but there are 2"),
    ('overlap_pair.csv', [], "1:17: error: action '(0F2;1I0)OVERLAP_F_B': OVERLAP_F_B pairs "
     "one forward (F) with one full backward (B)"),
    ('uneven_stages.csv', [], '1:1: error: 3 stages do not split evenly over 2 ranks (chunks '
     '= stages / ranks must be a whole number)'),
    ('stage_gap.csv', [], "3:1: error: action '3F0' names stage 3, but no action runs stage 2 "
     "(stages are numbered 0..N-1 in model order)"),
    ('comm_on_wrong_rank.csv', [], "2:1: error: action '0RECV_F0' on rank 1 names stage 0, "
     "which rank 0 runs (PyTorch places a comm action on its stage's rank)"),
]
for name, flags, want in BAD:
    path = f'bad/schedule/{name}'
    rc, so, se = run('schedule', 'check', path, *flags)
    check(rc == 1 and so == '' and se == f'{path}:{want}\n', f'{name}: {rc} {se!r}')
listed = {name for name, _, _ in BAD}
on_disk = {f for f in os.listdir('bad/schedule') if f.endswith('.csv')}
check(listed == on_disk and len(listed) >= 8, f'bad files untested: {on_disk ^ listed}')

# --- usage: exit 2, "ppsim schedule: ..." then the --help hint
USAGE = [
    ([], 'missing action (export or check)'),
    (['frobnicate'], "unknown action 'frobnicate' (export or check)"),
    (['export'], 'export: missing --schedule NAME'),
    (['export', '--schedule', 'gpipe'], 'export: missing --stages S'),
    (['export', '--schedule', 'gpipe', '--stages', '2'], 'export: missing --microbatches M'),
    (['export', '--schedule', 'nope', '--stages', '2', '--microbatches', '2'],
     "unknown schedule 'nope' (one of gpipe, 1f1b,"),
    (['export', '--schedule', 'gpipe', '--stages', '0', '--microbatches', '2'],
     "--stages: expected a whole number 1..4096, got '0'"),
    (['export', '--schedule', 'gpipe', '--stages', 'two', '--microbatches', '2'],
     "--stages: expected a whole number 1..4096, got 'two'"),
    (['export', '--schedule', 'gpipe', '--stages', '2', '--microbatches', '1e3'],
     "--microbatches: expected a whole number 1..1000000, got '1e3'"),
    (['export', '--schedule', 'gpipe', '--stages', '2', '--microbatches', '2', '--chunks', '-1'],
     "--chunks: expected a whole number 1..64, got '-1'"),
    (['export', '--bogus'], "unknown option '--bogus'"),
    (['export', '-x'], "unknown option '-x'"),
    (['export', '--schedule'], "option '--schedule' needs a value"),
    (['export', '--schedule', 'gpipe', '--stages', '2', '--microbatches', '2', 'extra'],
     "export takes no file argument, got 'extra'"),
    (['check'], 'check: missing schedule file'),
    (['check', 'a.csv', 'b.csv'], 'check: expected one schedule file'),
    (['check', 'a.csv', '--comms'], 'check takes only --stages, --chunks and --microbatches'),
    (['check', 'a.csv', '--chunks', '2'], 'check: --chunks needs --stages'),
]
for args, want in USAGE:
    rc, so, se = run('schedule', *args)
    lines = se.splitlines()
    check(rc == 2 and so == '' and len(lines) == 2 and lines[0].startswith(f'ppsim schedule: {want}')
          and lines[1] == "Try 'ppsim schedule --help'.", f'{args}: {rc} {se!r}')
rc, so, se = run('schedule', '--help')
check(rc == 0 and so.startswith('Usage: ppsim schedule export') and se == '', f'--help {rc}')
rc, so, se = run('schedule', 'export', '--help')
check(rc == 0 and so.startswith('Usage: ppsim schedule export'), f'export --help {rc}')
rc, so, se = run('--help')
check(rc == 0 and 'schedule export|check' in so, 'ppsim --help lists schedule')
# A schedule that cannot run these parameters fails like any bad input.
rc, so, se = export('gpipe', 2, 2, 2)
check(rc == 1 and so == '' and se.startswith('error: pipeline.chunks:') and se.count('\n') == 1,
      f'gpipe --chunks 2: {rc} {se!r}')

print(f'{checks - failures} passed, {failures} failed')
sys.exit(1 if failures else 0)
