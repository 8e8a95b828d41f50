#!/usr/bin/env bash
# Check the systemd units: `systemd-analyze verify` on every unit, and
# `systemd-analyze security --offline=true` exposure <= MAX_EXPOSURE for the
# services. CI calls this; needs systemd-analyze >= 252 (Debian: apt-get install systemd).
#
# verify insists that ExecStart= binaries exist, so it runs against a throwaway
# root holding the host's stock units, a stub /usr/bin/edgemark and the units
# under test in /etc/systemd/system. Any verify output (warnings about unknown
# keys included) fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}

command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (apt-get install systemd)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
for d in /usr/lib/systemd/system /lib/systemd/system; do
    if [ -d "$d" ]; then cp -a "$d" "$root/usr/lib/systemd/"; break; fi
done
printf '#!/bin/sh\nexit 0\n' > "$root/usr/bin/edgemark"
chmod +x "$root/usr/bin/edgemark"
cp systemd/*.service systemd/*.timer "$root/etc/systemd/system/"

units=()
for f in systemd/*.service systemd/*.timer; do units+=("$(basename "$f")"); done
units+=(edgemark-run@default.service) # the instance the timer starts
fail=0
out=$(systemd-analyze verify --root="$root" --man=no "${units[@]}" 2>&1) || fail=1
if [ -n "$out" ] || [ $fail -ne 0 ]; then
    echo "systemd-analyze verify failed:" >&2
    echo "$out" >&2
    exit 1
fi
echo "verify OK: ${units[*]}"

for f in systemd/*.service; do
    line=$(systemd-analyze security --offline=true --no-pager "$f" 2>&1 | grep 'Overall exposure level') || {
        echo "no exposure figure for $f" >&2; exit 1; }
    level=$(echo "$line" | sed -E 's/.*: ([0-9.]+) .*/\1/')
    echo "$(basename "$f"): exposure $level (max $MAX_EXPOSURE)"
    awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }' || {
        echo "$f: exposure $level above $MAX_EXPOSURE" >&2; exit 1; }
done
