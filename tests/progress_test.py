#!/usr/bin/env python3
"""Progress bars (issue 8: sweeps and plans report progress). `ppsim plan`
draws the DP's progress on stderr, as `ppsim sweep` draws its own, only when
stderr is a terminal and not with --no-progress. The bar never touches stdout
or the -o files: a run with the bar and one without give the same bytes.
--time-limit and Ctrl-C stop the DP itself (exit 3 / 130, nothing written),
the bar's line ended before the error.

A pseudo-terminal stands in for the terminal: the child's stderr is the pty's
slave end, its stdout a pipe."""
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

PPSIM = os.path.abspath(sys.argv[1])
PROFILES = '../models/pipedream/profiles'
failures = []
checks = 0
# Long enough (tens of DP chunks) that the bar is drawn before the end too.
PLAN = ['plan', '-f', f'{PROFILES}/densenet121/graph.txt', '-n', '8', '4', '-b', '1e9', '1e9']
BAR = re.compile(rb'\r\[[# ]{30}\] +(\d+)%  ETA \d+ s ')
# sweep's bar also counts configurations and their rate.
SWEEP_BAR = re.compile(rb'\r\[[# ]{30}\] +(\d+)%  (\d+)/(\d+)  [0-9.]+/s  ETA \d+ s ')


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def run_pipe(args):
    p = subprocess.run([PPSIM, *args], capture_output=True)
    return p.returncode, p.stdout, p.stderr


def run_tty(args):
    """stderr on a pseudo-terminal; returns (status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([PPSIM, *args], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()))
    reader.start()
    err = b''
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    reader.join()
    return p.wait(), out[0], err.replace(b'\r\n', b'\n')  # the pty's ONLCR


tmp = tempfile.mkdtemp()

# plan: the bar on a terminal, nothing on a pipe, the same stdout and files.
d_tty, d_pipe, d_off = (os.path.join(tmp, x) for x in ('tty', 'pipe', 'off'))
rc_t, out_t, err_t = run_tty(PLAN + ['-o', d_tty])
rc_p, out_p, err_p = run_pipe(PLAN + ['-o', d_pipe])
rc_o, out_o, err_o = run_tty(PLAN + ['-o', d_off, '--no-progress'])
check(rc_t == rc_p == rc_o == 0, f'plan status: tty {rc_t}, pipe {rc_p}, --no-progress {rc_o}')
pcts = [int(m) for m in BAR.findall(err_t)]
check(len(pcts) >= 2, f'plan on a terminal draws the bar more than once: {err_t[-300:]!r}')
check(pcts == sorted(pcts) and pcts[-1:] == [100], f'plan bar goes up to 100%: {pcts}')
check(err_t.endswith(b'100%  ETA 0 s \n'), f'the finished bar ends its line: {err_t[-80:]!r}')
check(err_t.count(b'\n') == 1, f'one line on the terminal, redrawn: {err_t!r}')
check(err_p == b'', f'no bar when stderr is not a terminal: {err_p[-200:]!r}')
check(err_o == b'', f'no bar with --no-progress: {err_o[-200:]!r}')
check(out_t != b'' and out_t == out_p == out_o, 'plan stdout is the same bytes with the bar')
for name in ('gpus=32.txt', 'stage_to_num_ranks.txt'):
    with open(os.path.join(d_tty, name), 'rb') as f1, open(os.path.join(d_pipe, name), 'rb') as f2:
        check(f1.read() == f2.read(), f'plan -o {name} is the same bytes with the bar')
check(sorted(os.listdir(d_tty)) == sorted(os.listdir(d_pipe)), 'the same -o files')

# JSON too (its provenance must not record the terminal).
rc_t, out_t, _ = run_tty(PLAN + ['--format', 'json'])
rc_p, out_p, _ = run_pipe(PLAN + ['--format', 'json'])
check(rc_t == rc_p == 0 and out_t == out_p, 'plan --format json is the same bytes with the bar')

# An infeasible plan needs a second (memory) pass: the bar still ends at 100%
# on one line, before the reason.
INF = PLAN + ['--straight_pipeline', '--use_memory_constraint', '-s', '1e5']
rc_t, out_t, err_t = run_tty(INF)
rc_p, out_p, err_p = run_pipe(INF)
check(rc_t == rc_p == 3 and out_t == out_p, f'infeasible plan: {rc_t} {rc_p}')
lines = err_t.split(b'\n')
check(len(lines) == 3 and BAR.search(lines[0]) and lines[0].endswith(b'100%  ETA 0 s ')
      and lines[1] == err_p.rstrip(b'\n') and lines[2] == b'',
      f'infeasible: the bar line, then the reason as without it: {err_t[-400:]!r}')

# --time-limit stops the DP itself (the pipedream objective), exit 3, no files;
# the bar's line is ended before the error.
BIG = ['plan', '-f', f'{PROFILES}/gnmt_large/graph.txt', '-n', '16', '8', '-b', '1e9', '1e9']
d_stop = os.path.join(tmp, 'stop')
# 1 s on the terminal: the bar must be drawn first, on a loaded machine too.
rc, out, err = run_tty(BIG + ['--time-limit', '1', '-o', d_stop])
want = b'error: time limit of %s s reached while solving the partition DP; nothing was written\n'
check(rc == 3 and out == b'' and err.endswith(b'\n' + want % b'1') and BAR.search(err),
      f'plan --time-limit on a terminal: {rc} {err[-300:]!r}')
check(not os.path.exists(d_stop), 'a stopped plan writes nothing')
want %= b'0.3'
rc, out, err = run_pipe(BIG + ['--time-limit', '0.3'])
check(rc == 3 and out == b'' and err == want, f'plan --time-limit: {rc} {err!r}')

# Ctrl-C in the DP: exit 130, nothing written.
p = subprocess.Popen([PPSIM, *BIG, '-o', d_stop], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(1.0)
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=120)
check(p.returncode == 130 and out == b'' and
      err == b'error: interrupted while solving the partition DP; nothing was written\n',
      f'plan SIGINT: {p.returncode} {err!r}')
check(not os.path.exists(d_stop), 'an interrupted plan writes nothing')

# sweep follows the same convention.
SW = ['sweep', '../scenarios/quickstart.yaml', '--grid', 'pipeline.microbatches=8,16,24',
      '--summary', os.devnull, '-j', '1']
rc_t, out_t, err_t = run_tty(SW)
rc_p, out_p, err_p = run_pipe(SW)
check(rc_t == rc_p == 0 and out_t == out_p and out_t.count(b'\n') == 4, 'sweep stdout with the bar')
check(re.search(rb'\r\[#{30}\] 100%  3/3  [0-9.]+/s  ETA 0 s \n$', err_t) and err_p == b'',
      f'sweep bar only on a terminal, ending its line at 3/3: {err_t!r} {err_p!r}')

# A stopped sweep (-j 1: the bar is drawn after each of its first
# configurations, ~10 ms each, ~10 s in all): the bar's line is ended before
# the error, which starts a line of its own; exit 3, nothing written.
SW_BIG = ['sweep', '../scenarios/quickstart.yaml', '--grid',
          'pipeline.microbatches=' + ','.join(str(m) for m in range(2000, 10001, 10)),
          '--summary', os.devnull, '-j', '1', '--time-limit']
sw_out = os.path.join(tmp, 'stopped.csv')
want = b'error: time limit of %s s reached before all 801 configurations ran; nothing was written\n'
rc, out, err = run_tty(SW_BIG + ['1', '-o', sw_out])
check(rc == 3 and out == b'' and SWEEP_BAR.search(err) and err.endswith(b' s \n' + want % b'1'),
      f'sweep --time-limit on a terminal: the error on its own line: {rc} {err[-300:]!r}')
check(not os.path.exists(sw_out), 'a stopped sweep writes nothing')
rc, out, err = run_pipe(SW_BIG + ['0.3', '-o', sw_out])
check(rc == 3 and out == b'' and err == want % b'0.3' and not os.path.exists(sw_out),
      f'sweep --time-limit: {rc} {err!r}')

shutil.rmtree(tmp)
print(f'{checks} checks, {len(failures)} failures')
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
