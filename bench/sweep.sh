#!/bin/sh
# bench/sweep.sh - issue 7's sweep figure: configurations per second for a
# 10,000-point sweep of scenarios/quickstart.yaml (4 schedules x 25
# microbatch counts x 10 link bandwidths x 10 latencies, 8 stages), serial
# (--jobs 1, the baseline) and on every core, and the scaling between them;
# the two CSVs must be byte-identical.
# Usage: sh bench/sweep.sh [PPSIM] (default build/src/ppsim), from the repository root.
set -eu
P=${1:-build/src/ppsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mbs=$(seq -s, 8 8 200)
G="--grid pipeline.schedule=1f1b,gpipe,zb-h1,zb-h2 --grid pipeline.microbatches=$mbs
   --grid cluster.link.bandwidth_bytes_per_s=1e9,2e9,5e9,1e10,2e10,5e10,1e11,2e11,5e11,1e12
   --grid cluster.link.latency_ms=0,0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.5"
cores=$(nproc)
run() { # jobs -> seconds
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$P" sweep scenarios/quickstart.yaml $G --jobs "$1" --no-progress -o "$tmp/j$1.csv" \
        --summary "$tmp/j$1.sum"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
t1=$(run 1)
tn=$(run "$cores")
n=$(($(wc -l < "$tmp/j1.csv") - 1))
cmp -s "$tmp/j1.csv" "$tmp/j$cores.csv" && same=identical || same=DIFFERENT
awk -v n="$n" -v a="$t1" -v b="$tn" -v c="$cores" -v s="$same" 'BEGIN {
    printf "sweep of %d configurations: --jobs 1 %.2f s (%.0f configurations/s); --jobs %d %.2f s (%.0f configurations/s); scaling %.2fx on %d cores; CSVs %s\n",
        n, a, n / a, c, b, n / b, a / b, c, s }'
