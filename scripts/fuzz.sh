#!/usr/bin/env bash
# Fuzzes edgemark's parsers of untrusted bytes with cargo-fuzz (libFuzzer,
# nightly, AddressSanitizer; see fuzz/Cargo.toml and src/fuzzing.rs). Not a CI
# step: CI replays the committed corpora on stable (tests/fuzz_corpus.rs).
#
#   scripts/fuzz.sh [-t SECONDS] [--merge] [--no-build] [TARGET[:SECONDS]...]
#
# Each target runs for SECONDS (default 300; TARGET:SECONDS overrides it for
# one target), one niced process at a time, with a memory cap
# (-rss_limit_mb, -malloc_limit_mb: a parser that allocates more than that for
# any input is a finding) and a per-input timeout (a hang is a finding).
# Inputs it finds interesting go to target/fuzz/corpus/TARGET (not
# committed); --merge then minimises fuzz/corpus/TARGET (committed) against
# them, keeping files of at most 64 KiB so the CI replay stays seconds.
# Crashes land in fuzz/artifacts/TARGET/. Prints executions, exec/s, seconds
# and corpus sizes per target, and the total.
#
# libFuzzer's timeout is wall-clock, and /work/quiet.py (benchmarks on the
# shared box) SIGSTOPs the fuzzer: an input that "timed out" is run again on
# its own, and only one that still takes longer than the timeout is a finding;
# otherwise fuzzing goes on for the rest of the target's time.
#
# Measured (2026-12-04, 2 shared cores, ASan, nice 19; see the commit): see
# docs/record-format.md "Testing" for the per-target figures.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=300
merge=0
build=1
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    -t) secs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    --no-build) build=0; shift ;;
    *) targets+=("$1"); shift ;;
    esac
done
all=(record settings_toml daemon_config board_profile npy jpeg image labels onnx tflite)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
# One build of every target, the model loaders included (tract feature).
[ "$build" = 0 ] || (cd fuzz && nice -n 10 cargo +nightly fuzz build -O --features tract >/dev/null)
bin=fuzz/target/x86_64-unknown-linux-gnu/release

# 1 GiB resident and 512 MiB in one allocation: far above what any valid
# input of these sizes needs; the boxes edgemark runs on have 1-8 GB.
limits=(-rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=10)
# Inputs up to 64 KiB, except TFLite: 256 KiB so a real model
# (field/face_detection_short_range.tflite, 229,714 B: 120 operators of 8
# kinds through the rewrite pass) seeds it whole; a truncated flatbuffer is
# rejected before anything interesting runs.
max_len() { case "$1" in tflite) echo 262144 ;; *) echo 65536 ;; esac; }
# Extra seeds read from outside the repository when present (not committed:
# too large for the CI replay).
extra_seeds() {
    case "$1" in
    tflite) ls ../shared/models/field/face_detection_short_range.tflite 2>/dev/null || true ;;
    esac
}
log=target/fuzz/logs
mkdir -p "$log"
stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }
total=0
rows=()
header() { printf '%-14s %12s %8s %6s %7s %9s %s\n' target executions exec/s secs work committed result; }
header
for spec in "${targets[@]}"; do
    t=${spec%%:*}
    s=$secs
    [ "$spec" = "$t" ] || s=${spec#*:}
    work=target/fuzz/corpus/$t
    mkdir -p "$work" "fuzz/artifacts/$t"
    for f in $(extra_seeds "$t"); do cp -n "$f" "$work/" || true; done
    ml=$(max_len "$t")
    status=ok
    execs=0
    spurious=0
    start=$(date +%s)
    run=0
    while :; do
        left=$((start + s - $(date +%s)))
        [ "$left" -gt 5 ] || break
        run=$((run + 1))
        l="$log/$t.$run.log"
        rc=0
        nice -n 19 "$bin/$t" "$work" "fuzz/corpus/$t" "${limits[@]}" -max_len="$ml" \
            -max_total_time="$left" -print_final_stats=1 \
            -artifact_prefix="fuzz/artifacts/$t/" >"$l" 2>&1 || rc=$?
        n=$(stat_of number_of_executed_units "$l")
        # A run ended by a finding may not print final stats: its last status line.
        [ -n "$n" ] || n=$(grep -o '^#[0-9]*' "$l" | tail -1 | tr -d '#')
        execs=$((execs + ${n:-0}))
        [ "$rc" != 0 ] || break
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$l" | tail -1)
        if grep -q 'ERROR: libFuzzer: timeout' "$l" && [ -n "$art" ] &&
            nice -n 19 "$bin/$t" "${limits[@]}" "$art" >"$l.recheck" 2>&1; then
            spurious=$((spurious + 1))
            mkdir -p "$log/spurious/$t" && mv "$art" "$log/spurious/$t/"
            continue
        fi
        status="FINDING ${art:-?} (see $l)"
        break
    done
    took=$(($(date +%s) - start))
    if [ "$merge" = 1 ] && [ "$status" = ok ]; then
        fresh=target/fuzz/merged/$t
        rm -rf "$fresh" && mkdir -p "$fresh"
        nice -n 19 "$bin/$t" -merge=1 "$fresh" "fuzz/corpus/$t" "$work" "${limits[@]}" \
            -max_len="$ml" >"$log/$t.merge.log" 2>&1
        find "$fresh" -type f -size +64k -delete
        rm -rf "fuzz/corpus/$t" && mv "$fresh" "fuzz/corpus/$t"
    fi
    rate=$((execs / (took > 0 ? took : 1)))
    [ "$spurious" = 0 ] || status="$status ($spurious timeouts after pauses, not reproduced)"
    total=$((total + execs))
    rows+=("$(printf '%-14s %12s %8s %6s %7s %9s %s' "$t" "$execs" "$rate" "$took" \
        "$(find "$work" -type f | wc -l)" "$(find "fuzz/corpus/$t" -type f | wc -l)" \
        "$status")")
    printf '%s\n' "${rows[-1]}"
done
echo
header
printf '%s\n' "${rows[@]}"
echo "total executions: $total"
