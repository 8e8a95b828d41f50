#!/usr/bin/env bash
# Does the unit's SystemCallFilter (@system-service minus @privileged) allow
# every syscall the daemon makes? Runs the daemon under `strace -f` through an
# idle period, a simulated job, SIGHUP, an exec: SUT job (the C null SUT of
# examples/sut as the daemon's child: the unit's filter applies to it too),
# the same over the spin transport (shared memory: memfd_create, mmap), a
# last job aborted by SIGTERM, then compares the syscalls seen (strace -f: the
# child's included) with the expanded filter. With EDGEMARK_VENV (a venv with
# numpy and onnxruntime) two more exec: jobs run first: the Python null SUT
# and the onnxruntime example on ../shared's MobileNetV2 (a real engine's
# threads). Needs strace, cc, python3 and systemd-analyze.
# Usage: scripts/check-syscalls.sh [BINARY]
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/edgemark}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'state_dir = "%s/state"\nspool_poll_ms = 50\n[cooldown]\nmax_temp_c = 90\n' "$dir" > "$dir/c.toml"
mkdir -p "$dir/state/jobs"
${CC:-cc} -O2 -std=c99 -I "$repo/sdk/c" "$repo/examples/sut/null_sut.c" "$repo/sdk/c/edgemark_sut.c" -o "$dir/null_sut"

# The unit runs as its own user, never as root, with a writable HOME (its state
# directory): so does the daemon here (strace -u), HOME in the temp dir. Root
# would make libraries call what they never call under the unit (onnxruntime's
# usage log is an SQLite file in HOME, and SQLite fchown()s it when root).
# (A venv whose python lives under /root cannot run as nobody: then root.)
as_user=()
mkdir -p "$dir/home"
if [ "$(id -u)" = 0 ] && setpriv --reuid=65534 --regid=65534 --clear-groups \
    test -x "${EDGEMARK_VENV:-/}/bin/python" -o -z "${EDGEMARK_VENV:-}" 2>/dev/null; then
    as_user=(-u nobody)
    chown -R nobody "$dir"
fi
echo "daemon runs as $([ ${#as_user[@]} -gt 0 ] && echo nobody || id -un)" >&2
# Nobody listens on the notify socket: the sendto is still made (and logged as failed).
strace -f -qq -o "$dir/trace" "${as_user[@]}" env HOME="$dir/home" NOTIFY_SOCKET=@edgemark-check-$$ WATCHDOG_USEC=200000 \
    "$bin" daemon --config "$dir/c.toml" --root "$repo/tests/fixtures/daemon/cool-root" 2>"$dir/log" &
tracer=$!
pid=""
for _ in $(seq 100); do pid=$(pgrep -P "$tracer" || true); [ -n "$pid" ] && grep -q serving "$dir/log" && break; sleep 0.05; done
printf 'sut = "synthetic:sleep:5"\nmin_duration_ms = 200\n' > "$dir/state/jobs/.a.tmp" && mv "$dir/state/jobs/.a.tmp" "$dir/state/jobs/a.toml"
for _ in $(seq 200); do grep -q "done:" "$dir/log" && break; sleep 0.05; done
kill -HUP "$pid"
for _ in $(seq 100); do grep -q reloaded "$dir/log" && break; sleep 0.05; done
# done_jobs N: wait (<= 60 s) until N jobs are done.
done_jobs() { for _ in $(seq 1200); do [ "$(grep -c " done:" "$dir/log")" -ge "$1" ] && return; sleep 0.05; done; }
printf 'sut = ["exec:%s/null_sut"]\nscenario = "single-stream"\nmin_duration_ms = 200\n' "$dir" > "$dir/state/jobs/c.toml"
done_jobs 2
# The spin transport (memfd_create, mmap, poll, sched_yield; the C SUT's side too).
printf 'sut = ["exec:%s/null_sut"]\nsut_transport = "spin"\nscenario = "single-stream"\nmin_duration_ms = 200\n' "$dir" > "$dir/state/jobs/c2.toml"
done_jobs 3
jobs=3
model=${EDGEMARK_SHARED:-$repo/../shared}/models/mobilenetv2-fp32.onnx
if [ -n "${EDGEMARK_VENV:-}" ]; then
    py=$(realpath "$EDGEMARK_VENV")/bin/python
    printf 'sut = ["exec:%s", "%s/examples/sut/null_sut.py"]\nscenario = "single-stream"\nmin_duration_ms = 200\n' \
        "$py" "$repo" > "$dir/state/jobs/d.toml"
    done_jobs 4
    printf 'sut = ["exec:%s", "%s/examples/sut/ort_sut.py", "%s"]\nscenario = "single-stream"\nmin_duration_ms = 500\n' \
        "$py" "$repo" "$(realpath "$model")" > "$dir/state/jobs/e.toml"
    done_jobs 5
    jobs=5
fi
printf 'sut = "synthetic:sleep:5"\nmin_duration_ms = 60000\n' > "$dir/state/jobs/b.toml"
for _ in $(seq 200); do grep -q "b started" "$dir/log" && break; sleep 0.05; done
kill -TERM "$pid"
wait "$tracer"
cat "$dir/log"
[ "$(grep -c " done:" "$dir/log")" -ge "$jobs" ] || { echo "fewer than $jobs jobs done" >&2; exit 1; }

awk '{ l=$0; sub(/^[0-9]+ +/, "", l); if (match(l, /^[a-z_0-9]+\(/)) print substr(l, 1, RLENGTH-1) }' "$dir/trace" \
    | sort -u > "$dir/used"
python3 - "$dir/used" <<'PY'
import subprocess, sys
out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True).stdout
groups, cur = {}, None
for line in out.splitlines():
    s = line.strip()
    if line.startswith("@"):
        cur = s; groups[cur] = []
    elif cur and s and not s.startswith("#"):
        groups[cur].append(s)
def expand(g):
    r = set()
    for x in groups.get(g, []):
        r |= expand(x) if x.startswith("@") else {x}
    return r
allowed = expand("@system-service") - expand("@privileged")
used = set(open(sys.argv[1]).read().split())
bad = sorted(used - allowed)
print(f"{len(used)} distinct syscalls used; outside the filter: {bad or 'none'}")
sys.exit(1 if bad else 0)
PY
