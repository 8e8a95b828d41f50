#!/usr/bin/env bash
# Check the systemd units: `systemd-analyze verify` on every unit, and
# `systemd-analyze security --offline=true` exposure <= MAX_EXPOSURE for the
# services; then the same two checks for each board drop-in
# (systemd/dropins/*.conf, docs/engines.md) applied to both services, with its
# exposure printed. CI calls this; needs systemd-analyze >= 252 (Debian:
# apt-get install systemd).
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
services=(edgemark.service edgemark-run@default.service)
# verify_units LABEL: `systemd-analyze verify` on every unit in $root.
verify_units() {
    local out fail=0
    out=$(systemd-analyze verify --root="$root" --man=no "${units[@]}" 2>&1) || fail=1
    if [ -n "$out" ] || [ $fail -ne 0 ]; then
        echo "systemd-analyze verify failed ($1):" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "verify OK ($1): ${units[*]}"
}
# exposure LABEL: each service's exposure in $root (drop-ins included), <= max.
exposure() {
    local u line level
    for u in "${services[@]}"; do
        line=$(systemd-analyze security --offline=true --root="$root" --no-pager "$u" 2>&1 |
            grep 'Overall exposure level') || {
            echo "no exposure figure for $u ($1)" >&2; exit 1; }
        level=$(echo "$line" | sed -E 's/.*: ([0-9.]+) .*/\1/')
        echo "$u$2: exposure $level (max $MAX_EXPOSURE)"
        awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }' || {
            echo "$u ($1): exposure $level above $MAX_EXPOSURE" >&2; exit 1; }
    done
}
verify_units "units as shipped"
exposure "units as shipped" ""

# Each board drop-in on both services, one at a time, where docs/engines.md
# installs it.
for d in systemd/dropins/*.conf; do
    name=$(basename "$d")
    for u in edgemark.service edgemark-run@.service; do
        mkdir -p "$root/etc/systemd/system/$u.d"
        cp "$d" "$root/etc/systemd/system/$u.d/50-$name"
    done
    verify_units "with $name"
    exposure "with $name" " + $name"
    rm -f "$root"/etc/systemd/system/*.service.d/50-"$name"
done
