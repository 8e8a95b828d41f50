#!/usr/bin/env bash
# Fuzzes edgemark's parsers of untrusted bytes with cargo-fuzz (libFuzzer,
# nightly; see fuzz/Cargo.toml and src/fuzzing.rs). Not a CI step: CI replays
# the committed corpora on stable (tests/fuzz_corpus.rs).
#
#   scripts/fuzz.sh [-t SECONDS] [--merge] [--no-build] [TARGET...]
#
# Each target runs for SECONDS (default 300) in one niced process with a
# memory cap (-rss_limit_mb, -malloc_limit_mb: a parser that allocates more
# than that for any input is a finding) and a per-input timeout (a hang is a
# finding). Inputs it finds interesting go to target/fuzz/corpus/TARGET (not
# committed); --merge then minimises fuzz/corpus/TARGET (committed) against
# them. Crashes land in fuzz/artifacts/TARGET/. Prints executions per target.
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
limits=(-rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=10 -max_len=65536)
log=target/fuzz/logs
mkdir -p "$log"
printf '%-14s %12s %9s %8s %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
    work=target/fuzz/corpus/$t
    mkdir -p "$work" "fuzz/artifacts/$t"
    status=ok
    nice -n 19 "$bin/$t" "$work" "fuzz/corpus/$t" "${limits[@]}" \
        -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" >"$log/$t.log" 2>&1 || status="FAILED (see $log/$t.log)"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log/$t.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log/$t.log" | tail -1)
    if [ "$merge" = 1 ] && [ "$status" = ok ]; then
        fresh=target/fuzz/merged/$t
        rm -rf "$fresh" && mkdir -p "$fresh"
        nice -n 19 "$bin/$t" -merge=1 "$fresh" "fuzz/corpus/$t" "$work" "${limits[@]}" \
            >"$log/$t.merge.log" 2>&1
        rm -rf "fuzz/corpus/$t" && mv "$fresh" "fuzz/corpus/$t"
    fi
    printf '%-14s %12s %9s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" \
        "$(find "fuzz/corpus/$t" -type f | wc -l)" "$status"
done
