#!/usr/bin/env bash
# What the exec: SUT protocol costs (issue 14): SingleStream p50 of
#   - edgemark's in-process synthetic:null SUT (no protocol: the floor),
#   - the C null SUT (examples/sut/null_sut.c) over pipes and over a socketpair,
#   - the Python null SUT (examples/sut/null_sut.py, the Python SDK),
#   - real MLPerf LoadGen (PyPI mlcommons-loadgen) with a Python null SUT,
# all on one core (taskset -c C); then with two cores (--spin-cpus E,S):
#   - the C and the Python null SUTs over the spin transport, edgemark pinned
#     to E and the SUT to S (taskset in its exec: command line),
#   - real LoadGen + the Python null SUT allowed both cores (the same budget),
# all eight alternating within each round, medians over the rounds. A
# benchmark, never a test.
#
#   scripts/bench_protocol.sh [--rounds N] [--cpu C] [--spin-cpus E,S] [--seconds S] [--bin PATH]
#
# Needs cc, and a Python with numpy and mlcommons-loadgen: $EDGEMARK_VENV
# (default ./target/bench-venv, created with pip from PyPI when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 cpu=1 spin_cpus=0,1 seconds=2 bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --spin-cpus) spin_cpus=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--cpu C] [--spin-cpus E,S] [--seconds S] [--bin PATH]" >&2; exit 2 ;;
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

em_cpu=${spin_cpus%,*} sut_cpu=${spin_cpus#*,}
[ "$em_cpu" != "$sut_cpu" ] || { echo "--spin-cpus: two different cores, got $spin_cpus" >&2; exit 2; }
# p50 in ns of one edgemark SingleStream run (its --json) with edgemark on
# cores $CPUS, extra env first. The latency store holds every query of a run
# (the spin rows make ~7 million a second).
em_p50() {
    env "$@" taskset -c "$CPUS" "$bin" run --scenario single-stream --json \
        --min-duration-ms $((seconds * 1000)) --max-stored-queries $((seconds * 8000000)) \
        --results "$work/results" --sut "$SUT" 2>/dev/null |
        "$py" -c 'import json,sys; print(json.load(sys.stdin)["scenarios"][0]["result_50.00_percentile_latency_ns"])'
}
lg_p50() {
    taskset -c "$1" "$py" scripts/loadgen_null.py --seconds "$seconds" | awk '/^p50_ns/ {print $2}'
}
declare -A all
names=(synthetic:null c-null/pipes c-null/socketpair python-null loadgen+python-null
    c-null/spin python-null/spin loadgen+python-null/2cpu)
for r in $(seq 1 "$rounds"); do
    CPUS=$cpu
    SUT=synthetic:null; all[synthetic:null]+=" $(em_p50 X=1)"
    SUT="exec:$work/null_sut"; all[c-null/pipes]+=" $(em_p50 EDGEMARK_SUT_TRANSPORT=pipes)"
    all[c-null/socketpair]+=" $(em_p50 EDGEMARK_SUT_TRANSPORT=socketpair)"
    SUT="exec:$py examples/sut/null_sut.py"; all[python-null]+=" $(em_p50 X=1)"
    all[loadgen+python-null]+=" $(lg_p50 "$cpu")"
    # Two cores: edgemark on one, the SUT (taskset in its command) on the other.
    CPUS=$em_cpu
    SUT="exec:taskset -c $sut_cpu $work/null_sut"; all[c-null/spin]+=" $(em_p50 EDGEMARK_SUT_TRANSPORT=spin)"
    SUT="exec:taskset -c $sut_cpu $py examples/sut/null_sut.py"; all[python-null/spin]+=" $(em_p50 EDGEMARK_SUT_TRANSPORT=spin)"
    all[loadgen+python-null/2cpu]+=" $(lg_p50 "$spin_cpus")"
    echo "round $r: $(for n in "${names[@]}"; do printf '%s %s  ' "$n" "$(echo ${all[$n]} | awk '{print $NF}')"; done)" >&2
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
floor=$(echo ${all[synthetic:null]} | median)
printf 'SingleStream p50, one core: cpu %s; two cores (spin, loadgen/2cpu): edgemark cpu %s + SUT cpu %s; %s s runs, median of %s alternating rounds (load %s)\n' \
    "$cpu" "$em_cpu" "$sut_cpu" "$seconds" "$rounds" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %12s %14s\n' sut "p50 us" "vs floor us"
for n in "${names[@]}"; do
    m=$(echo ${all[$n]} | median)
    awk -v n="$n" -v m="$m" -v f="$floor" 'BEGIN {printf "%-26s %12.2f %14.2f\n", n, m / 1000, (m - f) / 1000}'
done
# The issue's two targets, stated with the figures above.
c=$(echo ${all[c-null/pipes]} | median) p=$(echo ${all[python-null]} | median) l=$(echo ${all[loadgen+python-null]} | median)
ps=$(echo ${all[python-null/spin]} | median) l2=$(echo ${all[loadgen+python-null/2cpu]} | median)
awk -v c="$c" -v f="$floor" -v p="$p" -v l="$l" -v ps="$ps" -v l2="$l2" 'BEGIN {
    d = (c - f) / 1000
    printf "target: C null over pipes <= 5 us above synthetic:null: %.2f us, %s\n", d, d <= 5 ? "met" : "NOT met"
    printf "target: Python null p50 below LoadGen + Python null p50, one core, pipes: %.2f vs %.2f us, %s\n", p / 1000, l / 1000, p < l ? "met" : "NOT met"
    printf "target: Python null p50 below LoadGen + Python null p50, two cores, spin vs LoadGen on both cores: %.2f vs %.2f us, %s\n", ps / 1000, l2 / 1000, ps < l2 ? "met" : "NOT met"
}'
