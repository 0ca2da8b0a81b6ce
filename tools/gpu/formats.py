"""formats.py - the harness's output formats (torch-free): numbers as
ppsim's strict readers take them, ppsim's per-layer YAML, the CSV contracts
(measure.csv is what `ppsim calibrate` reads; tools/gpu/README.md documents
every column: change both together), PyTorch's op-order CSV, and files that
are written whole or appended in one piece."""
import csv
import io
import json
import math
import os
import re


def fmt_num(x):
    """A number as ppsim's strict YAML/CSV readers take it: finite, written
    in plain or exponent notation, integers without a fraction."""
    if isinstance(x, bool):
        raise ValueError(f'not a number: {x!r}')
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f'not a finite number: {x!r}')
    return '%.9g' % x


_PLAIN = re.compile(r'^[A-Za-z_][A-Za-z0-9_.-]*$')


def yaml_str(s):
    s = str(s)
    if _PLAIN.match(s) and s.lower() not in ('true', 'false', 'null', 'yes', 'no', 'on', 'off'):
        return s
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


LAYER_KEYS = ('forward_ms', 'backward_input_ms', 'backward_weight_ms', 'activation_bytes',
              'output_bytes', 'parameter_bytes')


def costmodel_yaml(name, source, comments, embed, block, head, count):
    """ppsim's per-layer YAML (docs/scenario.md "Per-layer cost model",
    src/costmodel_yaml.c): layers embed, `count` copies of block (a uniform
    entry named block.0 ... block.N-1), head. Each layer is a mapping with the
    LAYER_KEYS, all finite and non-negative."""
    def fields(d, indent):
        out = []
        for k in LAYER_KEYS:
            v = d[k]
            if (isinstance(v, float) and not math.isfinite(v)) or v < 0:
                raise ValueError(f'{k} must be finite and non-negative, got {v!r}')
            if k.endswith('_bytes'):
                v = int(round(v))
            out.append(f'{indent}{k}: {fmt_num(v)}')
        # The backward as one op, when it was timed apart from its split
        # halves (src/costmodel.h): full-backward schedules run it.
        if d.get('fused_backward_ms') is not None:
            v = d['fused_backward_ms']
            if not math.isfinite(v) or v < 0:
                raise ValueError(f'fused_backward_ms must be finite and non-negative, got {v!r}')
            out.append(f'{indent}fused_backward_ms: {fmt_num(float(v))}')
        return out

    if not isinstance(count, int) or count < 1:
        raise ValueError(f'count must be a positive integer, got {count!r}')
    lines = [f'# {c}' if c else '#' for c in comments]
    lines += [f'name: {yaml_str(name)}', f'source: {yaml_str(source)}', 'layers:']
    lines += ['  - name: embed'] + fields(embed, '    ')
    lines += ['  - uniform:', f'      count: {count}', '      name: block'] + fields(block, '      ')
    lines += ['  - name: head'] + fields(head, '    ')
    return '\n'.join(lines) + '\n'


# The measurement CSV of measure.py, read by `ppsim calibrate` (issue 9 §2).
# One row per (configuration, rank). The first 20 columns are the contract;
# the last four are extras a reader may ignore. tools/gpu/README.md documents
# every column: change both together.
MEASURE_COLUMNS = (
    'schedule', 'ranks', 'stages_per_rank', 'microbatches', 'microbatch_size', 'hidden',
    'heads', 'ffn', 'seq', 'layers', 'dtype', 'step_ms_median', 'step_ms_min', 'step_ms_max',
    'repeats', 'rank', 'peak_memory_bytes', 'torch_version', 'gpu_name', 'driver',
    'torch_schedule', 'vocab', 'optimizer', 'resident_memory_bytes')

PROFILE_COLUMNS = (
    'layer', 'kind', 'hidden', 'heads', 'ffn', 'seq', 'microbatch_size', 'vocab', 'dtype',
    'split_method', 'forward_ms', 'backward_input_ms', 'backward_weight_ms', 'backward_ms',
    'activation_bytes', 'output_bytes', 'parameter_bytes', 'repeats', 'rank',
    'torch_version', 'gpu_name', 'driver')

P2P_COLUMNS = (
    'src_rank', 'dst_rank', 'bytes', 'one_way_ms_median', 'one_way_ms_min', 'one_way_ms_max',
    'repeats', 'torch_version', 'gpu_name', 'driver')

_INT_COLS = {'ranks', 'stages_per_rank', 'microbatches', 'microbatch_size', 'hidden', 'heads',
             'ffn', 'seq', 'layers', 'repeats', 'rank', 'peak_memory_bytes', 'vocab',
             'resident_memory_bytes', 'activation_bytes', 'output_bytes', 'parameter_bytes',
             'src_rank', 'dst_rank', 'bytes'}
_MS_COLS_POSITIVE = {'step_ms_median', 'step_ms_min', 'step_ms_max', 'forward_ms', 'backward_ms',
                     'one_way_ms_median', 'one_way_ms_min', 'one_way_ms_max'}
_MS_COLS_NONNEG = {'backward_input_ms', 'backward_weight_ms'}


def _cell(col, v):
    if col in _INT_COLS:
        if isinstance(v, float):
            if not v.is_integer():
                raise ValueError(f'{col}: expected an integer, got {v!r}')
            v = int(v)
        if not isinstance(v, int) or v < 0:
            raise ValueError(f'{col}: expected a non-negative integer, got {v!r}')
        return str(v)
    if col in _MS_COLS_POSITIVE or col in _MS_COLS_NONNEG:
        s = fmt_num(float(v))
        if float(v) < 0 or (col in _MS_COLS_POSITIVE and float(v) <= 0):
            raise ValueError(f'{col}: expected a {"positive" if col in _MS_COLS_POSITIVE else "non-negative"} time, got {v!r}')
        return s
    s = str(v)
    if '\n' in s:
        raise ValueError(f'{col}: no newlines in a cell')
    return s


def csv_text(columns, rows, header=True):
    """rows: dicts with exactly `columns` as keys. C locale numbers, '\\n'
    line ends, fields quoted only when they must be."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    if header:
        w.writerow(columns)
    for r in rows:
        if set(r) != set(columns):
            missing = [c for c in columns if c not in r]
            extra = [c for c in r if c not in columns]
            raise ValueError(f'row keys differ from the columns: missing {missing}, extra {extra}')
        w.writerow([_cell(c, r[c]) for c in columns])
    return buf.getvalue()


def read_csv_checked(text, columns):
    """Read a CSV written by csv_text and check it against `columns`: the
    header exactly, integers, positive times. Returns the rows as dicts of
    strings; raises ValueError naming the line and column."""
    rd = csv.reader(io.StringIO(text))
    try:
        head = next(rd)
    except StopIteration:
        raise ValueError('empty file') from None
    if tuple(head) != tuple(columns):
        missing = [c for c in columns if c not in head]
        raise ValueError(f'line 1: header differs from the contract (missing: {missing}, '
                         f'got {len(head)} columns, want {len(columns)})')
    rows = []
    for ln, rec in enumerate(rd, start=2):
        if len(rec) != len(columns):
            raise ValueError(f'line {ln}: {len(rec)} fields, want {len(columns)}')
        row = dict(zip(columns, rec))
        for c, v in row.items():
            if c in _INT_COLS and not re.fullmatch(r'[0-9]+', v):
                raise ValueError(f'line {ln}: {c}: expected a non-negative integer, got {v!r}')
            if c in _MS_COLS_POSITIVE | _MS_COLS_NONNEG:
                try:
                    x = float(v)
                except ValueError:
                    raise ValueError(f'line {ln}: {c}: expected a number, got {v!r}') from None
                if not math.isfinite(x) or x < 0 or (c in _MS_COLS_POSITIVE and x <= 0):
                    raise ValueError(f'line {ln}: {c}: expected a positive finite time, got {v!r}')
        rows.append(row)
    return rows


def pipeline_order_csv(order):
    """A schedule's op order as PyTorch's _dump_csv writes it (one row per
    rank in rank order, str(action) per cell, '' for an idle slot): the CSV
    `ppsim schedule check` and `pipeline.schedule_file` read. `order` maps a
    rank to a list of action strings or None."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    for r in sorted(order, key=int):
        w.writerow(['' if a is None else str(a) for a in order[r]])
    return buf.getvalue()


def write_atomic(path, text):
    """Write a whole file or nothing (a killed run leaves the old one)."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w', newline='') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_text(path, text):
    """Append in one write: records of several processes do not interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode('utf-8'))
    finally:
        os.close(fd)


def append_csv_rows(path, columns, rows):
    """Append rows to a CSV, writing the header when the file is new or
    empty and refusing one whose header is not `columns`."""
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    if not new:
        with open(path, newline='') as f:
            head = f.readline().rstrip('\r\n')
        if head != ','.join(columns):
            raise ValueError(f'{path}: existing header differs from the columns')
    append_text(path, csv_text(columns, rows, header=new))


def json_line(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':'), allow_nan=False) + '\n'


def finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None
