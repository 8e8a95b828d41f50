#!/usr/bin/env bash
# Idle cost of `edgemark daemon`: resident memory and wake-ups over a window.
# Starts the daemon on an empty temporary spool (default 1 s spool poll), waits
# for it to settle, then prints VmRSS/VmHWM and the voluntary context switches
# (= times the process blocked and woke) over SECONDS; with strace installed,
# also the syscall counts for the same window (strace -c -f).
# With MODEL, the daemon first runs one job on that model (SingleStream and
# Offline, 1 s each) and the figures are those of the idle daemon after it,
# with the job worker's peak (VmHWM of the job-worker process) beside them.
# Usage: scripts/measure-idle.sh [BINARY] [SECONDS] [MODEL]
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/edgemark}
secs=${2:-10}
model=${3:-}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
printf 'state_dir = "%s/state"\n' "$dir" > "$dir/edgemark.toml"
root=$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/daemon/cool-root

"$bin" daemon --config "$dir/edgemark.toml" --root "$root" 2>"$dir/log" &
pid=$!
sleep 2
if [ -n "$model" ]; then
    mkdir -p "$dir/state/jobs"
    printf 'model = "%s"\nscenario = "both"\nmin_duration_ms = 1000\nmin_query_count = 16\n' \
        "$(realpath "$model")" > "$dir/state/jobs/.m.tmp"
    mv "$dir/state/jobs/.m.tmp" "$dir/state/jobs/model.toml"
    whwm=0
    for _ in $(seq 1200); do
        ls "$dir/state/done/"*.outcome "$dir/state/failed/"*.outcome >/dev/null 2>&1 && break
        for w in $(pgrep -P "$pid" || true); do
            h=$(awk '/^VmHWM/ {print $2}' "/proc/$w/status" 2>/dev/null || echo 0)
            [ "${h:-0}" -gt "$whwm" ] && whwm=$h
        done
        sleep 0.1
    done
    ls "$dir/state/done/"*.outcome >/dev/null 2>&1 || { cat "$dir/log"; echo "the model job did not finish" >&2; exit 1; }
    grep -E "started|worker process|done:" "$dir/log" | sed 's/^/  /'
    echo "job worker peak VmHWM (sampled every 0.1 s): $whwm kB"
    sleep 2 # the idle loop gives memory back on its first idle pass
fi
a=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/$pid/status)
sleep "$secs"
b=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/$pid/status)
grep -E '^(VmRSS|RssAnon|RssFile|VmHWM|Threads)' /proc/$pid/status
echo "wake-ups (voluntary context switches) in ${secs} s: $((b - a))"
kill -TERM "$pid"; wait "$pid" || true

if command -v strace >/dev/null; then
    "$bin" daemon --config "$dir/edgemark.toml" --root "$root" 2>/dev/null &
    pid=$!
    sleep 2
    timeout -s INT "$secs" strace -c -f -p "$pid" -o "$dir/strace" || true
    echo "syscalls in ${secs} s of idling (strace -c -f -p):"
    cat "$dir/strace"
fi
