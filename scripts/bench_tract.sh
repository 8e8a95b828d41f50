#!/usr/bin/env bash
# Runs the tract backend benchmark (benches/tract_bench.rs) and the onnxruntime
# comparison, then prints tract/onnxruntime single-thread p50 on mobilenetv2.
# Needs: pip install onnxruntime numpy (for the comparison only).
# The dev profile builds tract at opt-level 2 in minutes; release (fat LTO) takes far longer.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
# Build niced (shared machine); measure at normal priority so niced builds of
# others take less of the cores than the benchmark.
nice -n 10 cargo bench --profile dev --bench tract_bench --no-run
cargo bench --profile dev --bench tract_bench 2>/dev/null | tee "$out"
model=${EDGEMARK_SHARED:-../shared}/models/mobilenetv2-fp32.onnx
if [ -f "$model" ] && python3 -c 'import onnxruntime' 2>/dev/null; then
    ort=$(python3 scripts/bench_ort.py "$model" --queries "${EDGEMARK_BENCH_QUERIES:-200}")
    echo "$ort"
    tract_ms=$(grep 'singlestream mobilenetv2-fp32.onnx threads=1:' "$out" | sed -E 's/.*bare tract run p50 ([0-9.]+) ms.*/\1/')
    ort_ms=$(echo "$ort" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/')
    python3 -c "print(f'tract/onnxruntime single-thread p50 on mobilenetv2-fp32.onnx: {$tract_ms}/{$ort_ms} ms = {$tract_ms/$ort_ms:.2f}x')"
else
    echo "onnxruntime comparison SKIPPED (no $model or no python onnxruntime)"
fi
rm -f "$out"
