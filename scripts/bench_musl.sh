#!/usr/bin/env bash
# musl (+ mimalloc) vs glibc: SingleStream p50 of the built-in model, the two
# binaries alternating (ABAB..., order swapped each round) so drift in clock,
# temperature or background load hits both alike. Prints every run and the
# median of each binary's p50s, and the ratio musl/glibc.
#
#   scripts/bench_musl.sh MUSL_BIN GLIBC_BIN [ROUNDS=3] [SECONDS=10] [-- RUN FLAGS...]
#
# Build both with the same profile, e.g.
#   cargo build --release --target x86_64-unknown-linux-musl --features mimalloc
#   cargo build --release
set -euo pipefail
musl=$1 glibc=$2
rounds=${3:-3}
secs=${4:-10}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
extra=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

p50() {
  "$1" run --scenario single-stream --min-duration-ms "$((secs * 1000))" \
    --results "$tmp/records" --json "${extra[@]}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["scenarios"][0]["result_50.00_percentile_latency_ns"])'
}

echo "musl:  $musl ($("$musl" --version | head -1))"
echo "glibc: $glibc ($("$glibc" --version | head -1))"
: > "$tmp/musl"; : > "$tmp/glibc"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order=(musl glibc); else order=(glibc musl); fi
  for which in "${order[@]}"; do
    v=$(p50 "${!which}")
    echo "$v" >> "$tmp/$which"
    echo "round $r $which: p50 $v ns"
  done
done
python3 - "$tmp/musl" "$tmp/glibc" <<'PY'
import statistics, sys
m = [int(x) for x in open(sys.argv[1])]
g = [int(x) for x in open(sys.argv[2])]
mm, gm = statistics.median(m), statistics.median(g)
print(f"median p50: musl {mm:.0f} ns, glibc {gm:.0f} ns, musl/glibc = {mm / gm:.3f} ({(mm / gm - 1) * 100:+.1f} %)")
PY
