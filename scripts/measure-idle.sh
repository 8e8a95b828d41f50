#!/usr/bin/env bash
# Idle cost of `edgemark daemon`: resident memory and wake-ups over a window.
# Starts the daemon on an empty temporary spool (default 1 s spool poll), waits
# for it to settle, then prints VmRSS/VmHWM and the voluntary context switches
# (= times the process blocked and woke) over SECONDS; with strace installed,
# also the syscall counts for the same window (strace -c -f).
# Usage: scripts/measure-idle.sh [BINARY] [SECONDS]
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/edgemark}
secs=${2:-10}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
printf 'state_dir = "%s/state"\n' "$dir" > "$dir/edgemark.toml"
root=$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/daemon/cool-root

"$bin" daemon --config "$dir/edgemark.toml" --root "$root" 2>"$dir/log" &
pid=$!
sleep 2
a=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/$pid/status)
sleep "$secs"
b=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/$pid/status)
grep -E '^(VmRSS|VmHWM|Threads)' /proc/$pid/status
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
