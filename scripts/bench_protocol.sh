#!/usr/bin/env bash
# What the exec: SUT protocol costs (issue 14): SingleStream p50 of
#   - edgemark's in-process synthetic:null SUT (no protocol: the floor),
#   - the C null SUT (examples/sut/null_sut.c) over pipes and over a socketpair,
#   - the Python null SUT (examples/sut/null_sut.py, the Python SDK),
#   - real MLPerf LoadGen (PyPI mlcommons-loadgen) with a Python null SUT,
# all on one core (taskset), the five alternating within each round, medians
# over the rounds. A benchmark, never a test.
#
#   scripts/bench_protocol.sh [--rounds N] [--cpu C] [--seconds S] [--bin PATH]
#
# Needs cc, and a Python with numpy and mlcommons-loadgen: $EDGEMARK_VENV
# (default ./target/bench-venv, created with pip from PyPI when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 cpu=1 seconds=2 bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--cpu C] [--seconds S] [--bin PATH]" >&2; exit 2 ;;
    esac
done
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
if [ -z "$bin" ]; then
    cargo build -q --profile bench-fast --bin edgemark
    bin=$target/bench-fast/edgemark
fi
venv=${EDGEMARK_VENV:-target/bench-venv}
if ! "$venv/bin/python" -c 'import numpy, mlperf_loadgen' 2>/dev/null; then
    echo "creating $venv (numpy, mlcommons-loadgen from PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy mlcommons-loadgen >&2
fi
py=$venv/bin/python
work=$target/bench-protocol
mkdir -p "$work/results"
${CC:-cc} -O2 -std=c99 -I sdk/c examples/sut/null_sut.c sdk/c/edgemark_sut.c -o "$work/null_sut"

# p50 in ns of one edgemark SingleStream run (its --json), extra env first.
em_p50() {
    env "$@" taskset -c "$cpu" "$bin" run --scenario single-stream --json \
        --min-duration-ms $((seconds * 1000)) --results "$work/results" --sut "$SUT" 2>/dev/null |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["scenarios"][0]["result_50.00_percentile_latency_ns"])'
}
declare -A all
names=(synthetic:null c-null/pipes c-null/socketpair python-null loadgen+python-null)
for r in $(seq 1 "$rounds"); do
    SUT=synthetic:null; all[synthetic:null]+=" $(em_p50 X=1)"
    SUT="exec:$work/null_sut"; all[c-null/pipes]+=" $(em_p50 EDGEMARK_SUT_TRANSPORT=pipes)"
    all[c-null/socketpair]+=" $(em_p50 EDGEMARK_SUT_TRANSPORT=socketpair)"
    SUT="exec:$py examples/sut/null_sut.py"; all[python-null]+=" $(em_p50 X=1)"
    lg=$(taskset -c "$cpu" "$py" scripts/loadgen_null.py --seconds "$seconds" | awk '/^p50_ns/ {print $2}')
    all[loadgen+python-null]+=" $lg"
    echo "round $r: $(for n in "${names[@]}"; do printf '%s %s  ' "$n" "$(echo ${all[$n]} | awk '{print $NF}')"; done)" >&2
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
floor=$(echo ${all[synthetic:null]} | median)
printf 'SingleStream p50, cpu %s, %s s runs, median of %s alternating rounds (load %s)\n' "$cpu" "$seconds" "$rounds" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %12s %14s\n' sut "p50 us" "vs floor us"
for n in "${names[@]}"; do
    m=$(echo ${all[$n]} | median)
    awk -v n="$n" -v m="$m" -v f="$floor" 'BEGIN {printf "%-22s %12.2f %14.2f\n", n, m / 1000, (m - f) / 1000}'
done
# The issue's two targets, stated with the figures above.
c=$(echo ${all[c-null/pipes]} | median) p=$(echo ${all[python-null]} | median) l=$(echo ${all[loadgen+python-null]} | median)
awk -v c="$c" -v f="$floor" -v p="$p" -v l="$l" 'BEGIN {
    d = (c - f) / 1000
    printf "target: C null over pipes <= 5 us above synthetic:null: %.2f us, %s\n", d, d <= 5 ? "met" : "NOT met"
    printf "target: Python null p50 below LoadGen + Python null p50: %.2f vs %.2f us, %s\n", p / 1000, l / 1000, p < l ? "met" : "NOT met"
}'
