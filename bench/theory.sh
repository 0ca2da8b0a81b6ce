#!/bin/sh
# bench/theory.sh - issue 6's performance figures, each against a baseline
# measured in the same run:
#   1. `ppsim staleness --stages 128` (exact delay statistics, N = 1280)
#      against replaying the same unit-time plan with `ppsim simulate`;
#   2. one E3-size converge run (PD, S = 16, N = 600, d = 512, n = 600, one
#      step size, f logged every time step and every update) against its
#      replay alone.
# Usage: sh bench/theory.sh [PPSIM] (default build/src/ppsim); run from the
# repository root. Prints seconds (best of 3) and the ratios.
set -eu
P=${1:-build/src/ppsim}
S4=scenarios/validation/pipedream-theory-s4.yaml
E3=scenarios/paper/e3-nesterov-s16.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

best() { # best wall time of 3 runs of "$@", seconds
    b=
    for _ in 1 2 3; do
        t0=$(date +%s.%N)
        "$@" > /dev/null
        t1=$(date +%s.%N)
        b=$(awk -v a="$t0" -v z="$t1" -v b="$b" 'BEGIN { t = z - a; print (b == "" || t < b) ? t : b }')
    done
    echo "$b"
}

big="--set pipeline.stages=128 --set cluster.devices=128 --set model.uniform.count=128 --set pipeline.microbatches=1280"
t_st=$(best "$P" staleness --stages 128 -f json)
# shellcheck disable=SC2086
t_sim=$(best "$P" simulate "$S4" $big -f json)
awk -v a="$t_st" -v b="$t_sim" 'BEGIN { printf "staleness --stages 128: %.3f s; replay alone %.3f s; ratio %.2fx; target < 1 s: %s\n", a, b, a / b, a < 1 ? "met" : "MISSED" }'

t_cv=$(best "$P" converge "$E3" --set "converge.methods=[{method: pd, gamma: 0.00390625}]" -f csv)
t_rp=$(best "$P" simulate "$E3" -f json)
awk -v a="$t_cv" -v b="$t_rp" 'BEGIN { printf "converge E3, one PD run: %.3f s; replay alone %.3f s; ratio %.1fx\n", a, b, a / b }'
t_all=$(best "$P" converge "$E3")
printf 'converge E3, whole comparison (4 methods x 10-11 step sizes): %.3f s\n' "$t_all"
