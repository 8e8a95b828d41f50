#!/usr/bin/env bash
# exec: SUTs from the command line (issue 14), as a user would drive them:
#   - the C SDK examples build (C99, -Wall -Werror);
#   - `edgemark sut-check` passes the C null SUT over pipes, a socketpair and
#     the spin transport (shared memory), and the Python null SUT over pipes
#     and spin;
#   - sut-check fails (exit 1) on the Python faulty SUT's crash, hang,
#     garbage and unknown id;
#   - `edgemark run` on the C null SUT's crash, hang, garbage and unknown id
#     exits 1 and leaves one INVALID record with reason "SUT error";
#   - over the spin transport, sut-check fails on the Python faulty SUT's
#     crash and hang in the spin queries, and a run on it crashing or hanging
#     mid-query (edgemark spinning) exits 1 with an INVALID record;
#   - one accuracy run through the onnxruntime example on ../shared/images:
#     top-1 13/15, onnxruntime's own figure for MobileNetV2 fp32.
# Python: the onnxruntime venv of scripts/check_int8_onnxruntime.sh (same pin,
# same place; created here when missing). CI step; also by hand:
#
#   scripts/ci-sut.sh [EDGEMARK_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bin=${1:-$target/ci/edgemark}
shared=${EDGEMARK_SHARED:-../shared}
[ -x "$bin" ] || { echo "missing edgemark binary $bin (cargo build --profile ci)" >&2; exit 1; }
[ -f "$shared/models/mobilenetv2-fp32.onnx" ] || { echo "missing $shared/models/mobilenetv2-fp32.onnx" >&2; exit 1; }
venv=$target/ort-venv
if ! "$venv/bin/python" -c 'import onnxruntime, numpy' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime==1.32.0 numpy
fi
py=$venv/bin/python
work=$target/ci-sut
rm -rf "$work"
mkdir -p "$work"
fail() { printf 'FAIL: %b\n' "$*" >&2; exit 1; }
# Processes whose command line holds $1 (read with tr: no helper carries $1).
running() {
    local f c
    for f in /proc/[0-9]*/cmdline; do
        c=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
        [[ $c != *"$1"* ]] || echo "${f%/cmdline}: $c"
    done
}

${CC:-cc} -O2 -std=c99 -Wall -Wextra -Werror -I sdk/c examples/sut/null_sut.c sdk/c/edgemark_sut.c -o "$work/null_sut"
echo "built $work/null_sut (sdk/c + examples/sut/null_sut.c)"

# Conformance: every check passes.
check_ok() {
    local out
    out=$("$bin" sut-check "$@") || fail "sut-check $*: exit $?\n$out"
    grep -q "checks passed" <<<"$out" || fail "sut-check $*: $out"
    echo "sut-check ok: $(grep 'checks passed' <<<"$out") ($*)"
}
check_ok --transport pipe "$work/null_sut"
check_ok --transport socketpair "$work/null_sut"
check_ok --transport spin "$work/null_sut"
check_ok "$py" examples/sut/null_sut.py
check_ok --transport spin "$py" examples/sut/null_sut.py

# A broken SUT: sut-check says so with exit 1 (and within its timeout).
for fault in crash hang garbage unknown-id; do
    rc=0
    out=$("$bin" sut-check --timeout 2 "$py" examples/sut/faulty_sut.py "$fault" --after 1 2>&1) || rc=$?
    [ "$rc" -eq 1 ] || fail "sut-check on faulty_sut.py $fault: exit $rc, want 1\n$out"
    grep -q "FAIL " <<<"$out" || fail "sut-check on faulty_sut.py $fault names no failed check:\n$out"
    echo "sut-check exit 1 on faulty_sut.py $fault: $(grep -m1 'FAIL ' <<<"$out" | cut -c1-110)"
done

# A run on a broken SUT: exit 1, one INVALID record (SUT error), no child left.
for fault in crash hang garbage unknown-id; do
    res=$work/results-$fault
    tag=ci-sut-$fault-$$
    rc=0
    "$bin" run --board none --scenario single-stream --min-duration-ms 200 --sut-timeout-ms 500 \
        --results "$res" --sut "exec:$work/null_sut --fault $fault --after 10 $tag" \
        >"$work/$fault.out" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || fail "run with --fault $fault: exit $rc, want 1: $(cat "$work/$fault.out")"
    csv=$("$bin" report --format csv "$res" | tail -n +2)
    [ "$(wc -l <<<"$csv")" -eq 1 ] || fail "--fault $fault: want one record, got: $csv"
    grep -q ',INVALID,SUT error,' <<<"$csv" || fail "--fault $fault: record not INVALID (SUT error): $csv"
    [ -z "$(running "$tag")" ] || fail "--fault $fault: SUT still running: $(running "$tag")"
    echo "run exit 1, INVALID (SUT error) on --fault $fault: $(grep -m1 '^edgemark: ' "$work/$fault.out" | cut -c1-100)"
done

# The spin transport's faults, through the Python SDK: sut-check's spin
# queries come after its 5 pipe SingleStream queries (--after 6: the fault
# is in the mapping's path), and runs crash or hang while edgemark spins.
for fault in crash hang; do
    rc=0
    out=$("$bin" sut-check --transport spin --timeout 2 "$py" examples/sut/faulty_sut.py "$fault" --after 6 2>&1) || rc=$?
    [ "$rc" -eq 1 ] || fail "sut-check --transport spin on faulty_sut.py $fault: exit $rc, want 1\n$out"
    grep -q "FAIL  spin queries" <<<"$out" || fail "sut-check --transport spin on faulty_sut.py $fault: the spin check should fail:\n$out"
    echo "sut-check (spin) exit 1 on faulty_sut.py $fault: $(grep -m1 'FAIL ' <<<"$out" | cut -c1-110)"
    res=$work/results-spin-$fault
    tag=ci-sut-spin-$fault-$$
    rc=0
    "$bin" run --board none --scenario single-stream --min-duration-ms 200 --sut-timeout-ms 500 \
        --sut-transport spin --results "$res" \
        --sut "exec:$py examples/sut/faulty_sut.py $fault $tag --after 50" >"$work/spin-$fault.out" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || fail "spin run on faulty_sut.py $fault: exit $rc, want 1: $(cat "$work/spin-$fault.out")"
    csv=$("$bin" report --format csv "$res" | tail -n +2)
    grep -q ',INVALID,SUT error,' <<<"$csv" || fail "spin run on faulty_sut.py $fault: record not INVALID (SUT error): $csv"
    [ -z "$(running "$tag")" ] || fail "spin run on faulty_sut.py $fault: SUT still running: $(running "$tag")"
    echo "spin run exit 1, INVALID (SUT error) on faulty_sut.py $fault: $(grep -m1 '^edgemark: ' "$work/spin-$fault.out" | cut -c1-100)"
done

# Accuracy through the onnxruntime example, scored by edgemark.
out=$("$bin" run --board none --mode accuracy --dataset "$shared/images" \
    --labels "$shared/images/labels.json" --results "$work/results-ort" \
    --sut "exec:$py examples/sut/ort_sut.py $shared/models/mobilenetv2-fp32.onnx") ||
    fail "accuracy through ort_sut.py: exit $?\n$out"
grep -q 'top-1   13/15 ' <<<"$out" || fail "accuracy through ort_sut.py: want top-1 13/15: $out"
echo "accuracy through ort_sut.py: $(grep -m1 '^  top-1 ' <<<"$out" | tr -s ' ')"
echo "exec: SUT checks passed in $((SECONDS - t0)) s"
