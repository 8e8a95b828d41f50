#!/usr/bin/env bash
# Runs scripts/check_int8_onnxruntime.py (edgemark's int8 ONNX logits against
# onnxruntime on this machine) with onnxruntime + numpy from PyPI in a venv
# under the target dir. CI step; also by hand:
#
#   scripts/check_int8_onnxruntime.sh [EDGEMARK_BINARY]
#
# Default binary: the ci-profile build the tests made. onnxruntime is pinned:
# its int8 results move with its version (and with the CPU it picks kernels for).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bin=${1:-$target/ci/edgemark}
models=${EDGEMARK_SHARED:-../shared}/models
[ -x "$bin" ] || { echo "missing edgemark binary $bin (cargo build --profile ci)" >&2; exit 1; }
[ -f "$models/mobilenetv2-int8-qdq.onnx" ] || { echo "missing $models/mobilenetv2-int8-qdq.onnx" >&2; exit 1; }
venv=$target/ort-venv
if ! "$venv/bin/python" -c 'import onnxruntime, numpy' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime==1.32.0 numpy
fi
"$venv/bin/python" scripts/check_int8_onnxruntime.py "$bin" "$models"
