#!/usr/bin/env bash
# Does the unit's SystemCallFilter (@system-service minus @privileged) allow
# every syscall the daemon makes? Runs the daemon under `strace -f` through an
# idle period, a simulated job, SIGHUP, a second job aborted by SIGTERM, then
# compares the syscalls seen with the expanded filter. Needs strace, python3
# and systemd-analyze. Covers the daemon itself, not a real model's engine.
# Usage: scripts/check-syscalls.sh [BINARY]
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/edgemark}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'state_dir = "%s/state"\nspool_poll_ms = 50\n[cooldown]\nmax_temp_c = 90\n' "$dir" > "$dir/c.toml"
mkdir -p "$dir/state/jobs"

# Nobody listens on the notify socket: the sendto is still made (and logged as failed).
strace -f -qq -o "$dir/trace" env NOTIFY_SOCKET=@edgemark-check-$$ WATCHDOG_USEC=200000 \
    "$bin" daemon --config "$dir/c.toml" --root "$repo/tests/fixtures/daemon/cool-root" 2>"$dir/log" &
tracer=$!
pid=""
for _ in $(seq 100); do pid=$(pgrep -P "$tracer" || true); [ -n "$pid" ] && grep -q serving "$dir/log" && break; sleep 0.05; done
printf 'sut = "synthetic:sleep:5"\nmin_duration_ms = 200\n' > "$dir/state/jobs/.a.tmp" && mv "$dir/state/jobs/.a.tmp" "$dir/state/jobs/a.toml"
for _ in $(seq 200); do grep -q "done:" "$dir/log" && break; sleep 0.05; done
kill -HUP "$pid"
for _ in $(seq 100); do grep -q reloaded "$dir/log" && break; sleep 0.05; done
printf 'sut = "synthetic:sleep:5"\nmin_duration_ms = 60000\n' > "$dir/state/jobs/b.toml"
for _ in $(seq 200); do grep -q "b started" "$dir/log" && break; sleep 0.05; done
kill -TERM "$pid"
wait "$tracer"
cat "$dir/log"

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
