#!/usr/bin/env bash
# run_all.sh - one regime of the GPU validation runs, time-boxed, on the
# borrowed GPU machine (repository root as the working directory).
#
#   bash tools/gpu/run_all.sh compute      # compute-bound regime
#   bash tools/gpu/run_all.sh overhead     # overhead-bound regime
#   bash tools/gpu/run_all.sh smoke        # ~1-2 min: every schedule once, tiny,
#                                          # one launch (a crash stops the rest)
#   bash tools/gpu/run_all.sh --dry-run compute   # print the plan; runs nothing
#
# Writes $OUT/<regime>/ (OUT defaults to ./gpu-out): run.log (environment,
# every command line, all output), profile.yaml, profile.json, profile.csv,
# p2p.csv, measure.csv, measure.jsonl - 7 files, under the device tool's
# limit of 8 per command. One command per regime: each must finish inside the
# tool's 10 minutes, so the whole script stops launching at BUDGET_S (default
# 510 s; 240 s for smoke) and every launch runs under `timeout` with at most
# 2.5 times its even share of what is left.
#
# Environment: RANKS (default: GPUs present, at most 4), BUDGET_S, OUT,
# CHUNKS (stages per rank of the looped schedules, default 2), PROFILE_EXTRA
# and MEASURE_EXTRA (more options for profile.py / measure.py, e.g.
# MEASURE_EXTRA='--stage-meta static').
set -u

DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
REGIME="${1:-}"
case "$REGIME" in
  compute|overhead|smoke) ;;
  *) echo "usage: $0 [--dry-run] compute|overhead|smoke" >&2; exit 2 ;;
esac

HERE="$(cd "$(dirname "$0")" && pwd)"
if [ "$REGIME" = smoke ]; then BUDGET_S="${BUDGET_S:-240}"; else BUDGET_S="${BUDGET_S:-510}"; fi
CHUNKS="${CHUNKS:-2}"
OUT="${OUT:-$PWD/gpu-out}"
D="$OUT/$REGIME"
SCHEDULES="ScheduleGPipe Schedule1F1B ScheduleInterleaved1F1B ScheduleInterleavedZeroBubble ScheduleZBVZeroBubble ScheduleDualPipeV ScheduleLoopedBFS"
MIN_LAUNCH_S=40        # a launch needs this much left to be worth starting
PROFILE_CAP_S=180      # the profile never takes more than this

# NVLink multicast stays off (the device machine's rule: it can take the
# host's shared GPUs down); set here too in case a launcher clears it.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}"

if [ "$DRY" = 1 ]; then
  RANKS="${RANKS:-2}"
else
  NGPU="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
  RANKS="${RANKS:-$(( NGPU < 4 ? NGPU : 4 ))}"
fi

TORCHRUN=(python3 -m torch.distributed.run --standalone --nproc-per-node="$RANKS")
if [ "$REGIME" = smoke ]; then
  M=$(( 2 * RANKS ))   # DualPipeV needs microbatches >= 2 x ranks
  PROFILE=(python3 "$HERE/profile.py" --regime overhead --warmup 1 --repeats 3 --p2p-warmup 1 --p2p-repeats 3 --out-dir "$D")
  MEASURE_ARGS=(--regime overhead --microbatches "$M" --warmup 1 --steps 2 --chunks "$CHUNKS" --out-dir "$D")
else
  PROFILE=(python3 "$HERE/profile.py" --regime "$REGIME" --out-dir "$D")
  MEASURE_ARGS=(--regime "$REGIME" --chunks "$CHUNKS" --out-dir "$D")
fi
# extra options, word-split: e.g. MEASURE_EXTRA='--stage-meta static'
# shellcheck disable=SC2206
PROFILE+=(${PROFILE_EXTRA:-})
# shellcheck disable=SC2206
MEASURE_ARGS+=(${MEASURE_EXTRA:-})

if [ "$DRY" = 1 ]; then
  echo "# dry run: regime $REGIME, RANKS=$RANKS, BUDGET_S=$BUDGET_S, output $D"
  echo "+ nvidia-smi; nvidia-smi topo -m; python3 -c 'import torch; print(torch.__version__)'"
  echo "+ timeout $PROFILE_CAP_S ${TORCHRUN[*]} ${PROFILE[*]:1}"
  if [ "$REGIME" = smoke ]; then
    echo "+ timeout <left> ${TORCHRUN[*]} $HERE/measure.py ${MEASURE_ARGS[*]} --schedules all --time-budget-s <left-25>"
  else
    for s in $SCHEDULES; do
      echo "+ timeout <left> ${TORCHRUN[*]} $HERE/measure.py ${MEASURE_ARGS[*]} --schedules $s --time-budget-s <left-25>"
    done
  fi
  python3 "${PROFILE[@]:1}" --dry-run || exit 1
  python3 "$HERE/measure.py" "${MEASURE_ARGS[@]}" --ranks "$RANKS" --dry-run || exit 1
  if [ "$REGIME" = smoke ]; then exit 0; fi
  python3 "$HERE/common.py" plan --regime "$REGIME" --ranks "$RANKS" --chunks "$CHUNKS" --budget-s "$BUDGET_S"
  exit $?
fi

mkdir -p "$D" || exit 1
LOG="$D/run.log"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!
left() { echo $(( BUDGET_S - SECONDS )); }
say() { echo "[$(date -u +%H:%M:%S) +${SECONDS}s] $*"; }
run() {  # run LIMIT_S CMD...: print the command line, run it under timeout
  local lim="$1"; shift
  say "+ timeout $lim $*"
  timeout --signal=TERM --kill-after=20 "$lim" "$@"
  local rc=$?
  say "exit status $rc"
  return $rc
}

say "run_all.sh $REGIME: RANKS=$RANKS BUDGET_S=$BUDGET_S CHUNKS=$CHUNKS OUT=$D"
say "command: $0 $*"
echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "== uname: $(uname -a)"
echo "== nvidia-smi"; nvidia-smi 2>&1
echo "== nvidia-smi topo -m"; nvidia-smi topo -m 2>&1
echo "== nvidia-smi --query-gpu"
nvidia-smi --query-gpu=index,name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit,temperature.gpu --format=csv 2>&1
echo "== python3: $(command -v python3) $(python3 --version 2>&1)"
echo "== python3 -c 'import torch; print(torch.__version__)'"
python3 -c 'import torch; print(torch.__version__)' 2>&1
python3 -c 'import torch, torch.distributed.pipelining as p; print("cuda", torch.version.cuda, "nccl", torch.cuda.nccl.version(), "devices", torch.cuda.device_count()); print("schedules", sorted(n for n in dir(p) if n.startswith("Schedule")))' 2>&1
echo "== git: $(git rev-parse HEAD 2>/dev/null || echo 'no .git in this copy')"
git status --short 2>/dev/null | head -20
echo "== environment"; env | grep -E '^(NCCL_|TORCH_|CUDA_|NVSHMEM_|OMP_|PYTORCH_)' | sort

if [ "$RANKS" -lt 1 ]; then say "no GPU found: nothing to run"; exit 1; fi
[ "$REGIME" != smoke ] && python3 "$HERE/common.py" plan --regime "$REGIME" --ranks "$RANKS" --chunks "$CHUNKS" --budget-s "$BUDGET_S"

# 1. per-layer profile and p2p (all ranks: every GPU profiles, 0-1 ping-pong)
lim=$(left); [ "$lim" -gt "$PROFILE_CAP_S" ] && lim=$PROFILE_CAP_S
if [ "$lim" -lt 10 ]; then  # (timeout 0 would mean no limit at all)
  say "skip profile: ${lim}s left of ${BUDGET_S}s"
else
  run "$lim" "${TORCHRUN[@]}" "${PROFILE[@]:1}" || say "profile failed (see above)"
fi

# 2. training steps, one launch per schedule (a crash loses only that one)
if [ "$RANKS" -lt 2 ]; then
  say "only $RANKS GPU: every stage of a schedule runs on it (no p2p)"
fi
{
  if [ "$REGIME" = smoke ]; then LIST=all; else LIST="$SCHEDULES"; fi
  nleft=$(echo "$LIST" | wc -w)
  for s in $LIST; do
    lim=$(left)
    # A fair share (2.5x the even split of what is left), so that one slow
    # or hung schedule cannot starve the ones after it.
    share=$(( lim * 5 / (2 * nleft) ))
    [ "$nleft" -gt 1 ] && [ "$share" -gt "$MIN_LAUNCH_S" ] && [ "$share" -lt "$lim" ] && lim=$share
    nleft=$(( nleft - 1 ))
    if [ "$lim" -lt "$MIN_LAUNCH_S" ]; then
      say "skip $s: ${lim}s left of ${BUDGET_S}s"
      printf '{"reason":"time budget: %ss left of %ss before its launch","regime":"%s","torch_schedule":"%s","type":"skip"}\n' \
        "$lim" "$BUDGET_S" "$REGIME" "$s" >> "$D/measure.jsonl"
      continue
    fi
    if ! run "$lim" "${TORCHRUN[@]}" "$HERE/measure.py" "${MEASURE_ARGS[@]}" --schedules "$s" \
           --time-budget-s $(( lim - 25 )); then
      printf '{"reason":"launch failed (exit status or timeout): see run.log","regime":"%s","torch_schedule":"%s","type":"launch_failed"}\n' \
        "$REGIME" "$s" >> "$D/measure.jsonl"
    fi
  done
}

# 3. summary (no torch needed)
say "summary"
python3 - "$D" "$HERE" <<'PY'
import os, sys, json
sys.path.insert(0, sys.argv[2])
import formats as F
d = sys.argv[1]
p = os.path.join(d, 'measure.csv')
if os.path.exists(p):
    rows = F.read_csv_checked(open(p).read(), F.MEASURE_COLUMNS)
    print(f'{"schedule":<18} {"P":>2} {"V":>2} {"m":>3} {"step_ms_med":>12} {"min":>10} {"max":>10}  peak_GB by rank')
    seen = {}
    for r in rows:
        k = (r['schedule'], r['ranks'], r['stages_per_rank'], r['microbatches'])
        seen.setdefault(k, [r, []])[1].append(round(int(r['peak_memory_bytes']) / 1e9, 2))
    for (s, P, V, m), (r, peaks) in seen.items():
        print(f'{s:<18} {P:>2} {V:>2} {m:>3} {float(r["step_ms_median"]):>12.3f} '
              f'{float(r["step_ms_min"]):>10.3f} {float(r["step_ms_max"]):>10.3f}  {peaks}')
j = os.path.join(d, 'measure.jsonl')
if os.path.exists(j):
    for line in open(j):
        o = json.loads(line)
        if o.get('type') in ('skip', 'error', 'launch_failed'):
            print(f'{o["type"]}: {o.get("torch_schedule")} m={o.get("microbatches", "-")}: {o.get("reason")}')
files = sorted(os.listdir(d))
print(f'{len(files)} files in {d}: ' + ', '.join(f'{f} ({os.path.getsize(os.path.join(d, f))} B)' for f in files))
if len(files) > 8:
    print('WARNING: more than 8 files: the device tool returns at most 8')
PY
say "done in ${SECONDS}s"
exec 1>&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit 0
