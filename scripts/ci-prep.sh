#!/usr/bin/env bash
# The slow installs of CI, run by .ci/run in the background while the tests
# build (they need the network and the disk, little CPU): the apt packages of
# the later steps in one apt-get call, then the Debian rootfs (mmdebstrap) and
# the Ansible venv. Every later script still checks for what it needs and
# installs what is missing itself, so this only moves the work earlier; a
# failure here fails CI (.ci/run waits for it and checks its status).
# Prints the time of each piece.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
export CARGO_TARGET_DIR
t0=$SECONDS
step() { echo "== [prep $((SECONDS - t0)) s] $*"; }

# systemd (systemd-analyze), systemd-container + mmdebstrap (the nspawn
# containers), openssh-client (Ansible), chromium + prometheus (promtool):
# without recommends, as the scripts install them.
BASE=(systemd systemd-container mmdebstrap openssh-client chromium prometheus)
# The cross step's tools, with recommends as scripts/ci-cross.sh installs them
# (its own list; a package missing here is still installed there, only later).
CROSS=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-armhf-cross libc6-dev-arm64-cross
    qemu-user musl-tools file lld binutils)
missing() { local p; for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done; }
mapfile -t need_base < <(missing "${BASE[@]}")
mapfile -t need_cross < <(missing "${CROSS[@]}")
step "apt: to install: ${need_base[*]:-} ${need_cross[*]:-}"
if [ $((${#need_base[@]} + ${#need_cross[@]})) -gt 0 ]; then
    apt-get update -qq
fi
if [ ${#need_base[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_base[@]}" >/dev/null
fi
if [ ${#need_cross[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_cross[@]}" >/dev/null
fi
step "apt done"

# Side by side (network and disk bound): the Ansible venv and the rootfs
# (cached under $CARGO_TARGET_DIR; ci-systemd.sh and ci-ansible.sh boot their
# containers from it), and the numpy venv of ci-browser.sh.
nice -n 10 scripts/ci-ansible.sh --prepare &
ansible=$!
nice -n 10 scripts/ci-browser.sh --prepare
step "numpy venv done"
wait "$ansible"
step "prepared in $((SECONDS - t0)) s"
