#!/bin/sh
# seeds.sh PPSIM OUTDIR - gather the raw seed inputs of every fuzz target into
# OUTDIR/<target>/ (docs/robustness.md): the shipped scenarios and models,
# ../shared/profiles/pipedream, the bad-input corpus, schedule CSVs exported
# by PPSIM, and a sweep CSV. The committed corpus is these after libFuzzer's
# -merge=1 (only inputs that add coverage are kept).
set -eu
ppsim=$1
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
for t in scenario costmodel_yaml graph schedcsv converge sweep csvtab meas calib; do
    mkdir -p "$out/$t"
done
cp_all() { # target files...
    t=$1
    shift
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "$out/$t/$(echo "$f" | tr '/' '_')"
    done
    return 0
}
cp_all scenario $(find scenarios tests/good tests/bad -name '*.yaml' | sort)
cp_all converge $(grep -rl '^converge:' scenarios tests/bad tests/good | sort) \
    $(find tests/bad/converge -type f | sort)
cp_all sweep $(grep -rl '^sweep:' scenarios tests/bad tests/good | sort)
cp_all costmodel_yaml $(find models tests/bad/model -name '*.yaml' | sort)
cp_all graph $(find ../shared/profiles/pipedream models/pipedream/profiles -name '*.txt' | sort) \
    $(find tests/bad/graph tests/bad/plan tests/good/plan -type f | sort) tests/bad/cycle_graph.txt
cp_all schedcsv $(find tests/bad/schedule tests/bad/csv -type f | sort)
cp_all meas $(find validation tests/data tests/bad/calib -name '*.csv' | sort)
cp_all calib $(find models/calibration tests/bad/calib -name '*.yaml' | sort)
for s in gpipe 1f1b interleaved-1f1b looped-bfs zb-h1 zb-h2 zb-v v-half v-min interleaved-zb \
         dualpipev naive; do
    for comms in "" --comms; do
        c=1
        case $s in interleaved-1f1b|looped-bfs|interleaved-zb) c=2 ;; zb-v|v-half|v-min|dualpipev) c=2 ;; esac
        "$ppsim" schedule export --schedule $s --stages 4 --microbatches 8 --chunks $c $comms \
            -o "$out/schedcsv/export_${s}${comms}.csv" 2>/dev/null || true
    done
done
# Sweep grid lines (--grid and --where arguments, one per line).
printf 'pipeline.microbatches=8,16,24\npipeline.schedule=1f1b,gpipe,zb-h1\nmicrobatches >= stages\n' \
    >"$out/sweep/grid_lines.txt"
printf 'pipeline.partition=[1,2],[2,1]\ncluster.link={bandwidth_bytes_per_s: 1e9, latency_ms: 0}\nstages != 2\n' \
    >"$out/sweep/grid_flow.txt"
"$ppsim" sweep scenarios/quickstart.yaml --grid pipeline.microbatches=4,8 \
    --grid pipeline.schedule=1f1b,gpipe -o "$out/csvtab/sweep.csv" --summary /dev/null \
    >/dev/null 2>&1 || true
cp_all csvtab $(find tests/golden tests/plot -name '*.csv' | sort) $(find "$out/schedcsv" -name '*.csv' | sort | head -4)
