#!/usr/bin/env bash
# Single-thread p50 of edgemark (.onnx and .tflite), onnxruntime and LiteRT
# (ai-edge-litert) on the shared MobileNetV2 fp32 and int8 models, all on the
# same core (taskset), engines alternating within each round; the table shows
# the median over rounds of each engine's p50 and its ratio to the faster peer.
# Benchmark figures only (never a test).
#
#   scripts/bench_engines.sh [--rounds N] [--queries N] [--cpu C] [--threads N] [--bin PATH]
#                            [--ab-env VAR=VALUE]
#
# --ab-env adds edgemark run again with VAR=VALUE in its environment (e.g.
# EDGEMARK_NO_FP32=1: a graph pass switched off), alternating with the other
# engines in every round: columns "edgemark.onnx[B]" and "edgemark.tflite[B]".
#
# Needs a Python with onnxruntime, ai-edge-litert and numpy: $EDGEMARK_VENV
# (default ./target/bench-venv, created with pip from PyPI when missing).
# Builds edgemark with the bench-fast profile unless --bin is given.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 queries=200 cpu="" threads=1 bin="" abenv=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --queries) queries=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --ab-env) abenv=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--queries N] [--cpu C] [--threads N] [--bin PATH] [--ab-env VAR=VALUE]" >&2; exit 2 ;;
    esac
done
shared=${EDGEMARK_SHARED:-../shared}
models=$shared/models
for m in mobilenetv2-fp32.onnx mobilenetv2-fp32.tflite mobilenetv2-int8-qdq.onnx mobilenetv2-int8.tflite; do
    [ -f "$models/$m" ] || { echo "missing $models/$m (set EDGEMARK_SHARED)" >&2; exit 1; }
done
venv=${EDGEMARK_VENV:-target/bench-venv}
if ! "$venv/bin/python" -c 'import onnxruntime, ai_edge_litert, numpy' 2>/dev/null; then
    echo "creating $venv (onnxruntime, ai-edge-litert, numpy from PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime ai-edge-litert numpy >&2
fi
py=$venv/bin/python
if [ -z "$bin" ]; then
    nice -n 10 cargo build -q --profile bench-fast --bin edgemark >&2
    bin=target/bench-fast/edgemark
fi
# The last allowed core by default: away from core 0's interrupts.
[ -n "$cpu" ] || cpu=$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')
pin="taskset -c $cpu"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# edgemark's SingleStream p50 (ms) from its JSON output.
edgemark_p50() {
    $pin env ${2:-} "$bin" run --model "$1" --scenario single-stream --threads "$threads" \
        --min-query-count "$queries" --max-query-count "$queries" --min-duration-ms 0 \
        --warmup-queries 10 --results "$tmp/results" --json >"$tmp/out.json" 2>"$tmp/err" \
        || { cat "$tmp/err" >&2; return 1; }
    python3 - "$tmp/out.json" <<'PY'
import json, re, sys
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if re.fullmatch(r"result_50(\.0+)?_percentile_latency_ns", k):
                return v
            r = find(v)
            if r is not None:
                return r
    elif isinstance(o, list):
        for v in o:
            r = find(v)
            if r is not None:
                return r
    return None
v = find(json.load(open(sys.argv[1])))
if v is None:
    sys.exit("no p50 in edgemark's JSON output")
print(f"{v / 1e6:.3f}")
PY
}
peer_p50() {
    $pin "$py" scripts/bench_peer.py "$1" "$2" --queries "$queries" --threads "$threads" 2>/dev/null \
        | sed -n 's/^p50_ms //p'
}

engines="edgemark.onnx edgemark.tflite onnxruntime litert"
[ -z "$abenv" ] || engines="$engines edgemark.onnx[B] edgemark.tflite[B]"
for r in $(seq 1 "$rounds"); do
    for kind in fp32 int8; do
        onnx=$models/mobilenetv2-$kind.onnx
        [ "$kind" = int8 ] && onnx=$models/mobilenetv2-int8-qdq.onnx
        tfl=$models/mobilenetv2-$kind.tflite
        for e in $engines; do
            case $e in
                edgemark.onnx) v=$(edgemark_p50 "$onnx") ;;
                edgemark.tflite) v=$(edgemark_p50 "$tfl") ;;
                onnxruntime) v=$(peer_p50 ort "$onnx") ;;
                litert) v=$(peer_p50 litert "$tfl") ;;
                "edgemark.onnx[B]") v=$(edgemark_p50 "$onnx" "$abenv") ;;
                "edgemark.tflite[B]") v=$(edgemark_p50 "$tfl" "$abenv") ;;
            esac
            echo "round $r $kind $e p50 ${v:-FAILED} ms" >&2
            echo "$kind $e ${v:-nan}" >>"$tmp/all"
        done
    done
done
[ -z "$abenv" ] || echo "[B]: edgemark with $abenv" >&2
python3 - "$tmp/all" "$cpu" "$threads" "$queries" "$rounds" \
    "$("$py" -c 'import onnxruntime; print(onnxruntime.__version__)')" \
    "$("$py" -c 'from importlib.metadata import version; print(version("ai-edge-litert"))')" <<'PY'
import statistics, sys
path, cpu, threads, queries, rounds, ortv, litv = sys.argv[1:]
vals = {}
for line in open(path):
    kind, eng, v = line.split()
    vals.setdefault((kind, eng), []).append(float(v))
med = {k: statistics.median(v) for k, v in vals.items()}
engines = ["edgemark.onnx", "edgemark.tflite", "onnxruntime", "litert"]
engines += [e for e in ["edgemark.onnx[B]", "edgemark.tflite[B]"] if any(k[1] == e for k in vals)]
print(f"p50 ms, threads={threads}, cpu {cpu}, {queries} queries, median of {rounds} alternating rounds "
      f"(onnxruntime {ortv}, ai-edge-litert {litv})")
print(f"{'model':<18}" + "".join(f"{e:>19}" for e in engines) + f"{'best peer':>11}{'.onnx/peer':>12}{'.tflite/peer':>14}")
for kind in ["fp32", "int8"]:
    row = [med.get((kind, e), float("nan")) for e in engines]
    peer = min(row[2], row[3])
    print(f"mobilenetv2 {kind:<6}" + "".join(f"{v:>19.3f}" for v in row)
          + f"{peer:>11.3f}{row[0] / peer:>12.2f}{row[1] / peer:>14.2f}")
if len(engines) > 4:
    for kind in ["fp32", "int8"]:
        for a, b in [("edgemark.onnx", "edgemark.onnx[B]"), ("edgemark.tflite", "edgemark.tflite[B]")]:
            va, vb = med.get((kind, a)), med.get((kind, b))
            if va and vb:
                print(f"{kind} {a}: A/B = {va / vb:.2f} ({va:.3f} / {vb:.3f} ms)")
for e in ["edgemark.onnx", "edgemark.tflite"]:
    f, i = med.get(("fp32", e)), med.get(("int8", e))
    if f and i:
        print(f"{e}: int8/fp32 = {i / f:.2f}")
PY
