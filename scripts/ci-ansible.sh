#!/usr/bin/env bash
# deploy/ansible against three real systemd hosts: three Debian bookworm
# containers (systemd-nspawn, one cached rootfs, see scripts/lib/nspawn.sh),
# each with sshd on its own 127.0.0.1 port, reached over real SSH by
# ansible-core 2.19 (PyPI, in a venv under target/). ansible-lint first, then
# tests/arch.yml (the binary picked per ansible_architecture: x86_64, aarch64,
# armv7l, and unknown ones failing, on the controller with the fact
# overridden); then site.yml twice: the first run deploys, runs a job on every
# node under its systemd service (node3 as a one-shot unit instead of the
# daemon), fetches the records into per-host folders and renders the HTML
# report (checked: every node's rows); the second run must change nothing.
# Prints the time and resources of each phase. Root only.
#
#   scripts/ci-ansible.sh                 # uses target/ci/edgemark (built if stale)
#   EDGEMARK_BIN=path scripts/ci-ansible.sh
#   scripts/ci-ansible.sh --prepare       # only tools, venv and rootfs (.ci/run
#                                         # runs this in the background early)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
export CARGO_TARGET_DIR
# shellcheck source=scripts/lib/nspawn.sh
. scripts/lib/nspawn.sh

NODES=(node1 node2 node3)
# Absolute, so PATH holds whether CARGO_TARGET_DIR is relative or not.
VENV=$(realpath -m "$CARGO_TARGET_DIR")/ansible-venv
t0=$SECONDS
step() { echo "== [$((SECONDS - t0)) s] $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

step "tools (apt: mmdebstrap systemd-container openssh-client; PyPI: ansible-core 2.19, ansible-lint)"
ns_tools
command -v ssh >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client >/dev/null
}
if [ ! -x "$VENV/bin/ansible-lint" ]; then
    python3 -m venv "$VENV"
    # 2.20 needs Python 3.12; pinned below it so the resolver keeps 2.19.
    "$VENV/bin/pip" install -q 'ansible-core>=2.19,<2.20' ansible-lint
fi
export PATH="$VENV/bin:$PATH"
ansible --version | sed -n 1p
ansible-lint --version 2>/dev/null | sed -n 1p
if [ "${1:-}" = --prepare ]; then
    step "rootfs (cached tarball under $NS_DIR)"
    ns_base >/dev/null || die "no rootfs"
    step "prepared in $((SECONDS - t0)) s"
    exit 0
fi
if [ -z "${EDGEMARK_BIN:-}" ]; then
    nice -n 10 cargo build --locked --profile ci --bin edgemark
    EDGEMARK_BIN=$CARGO_TARGET_DIR/ci/edgemark
fi
[ -x "$EDGEMARK_BIN" ] || die "no binary at $EDGEMARK_BIN"
EDGEMARK_BIN=$(realpath "$EDGEMARK_BIN")

step "ansible-lint deploy/ansible"
(cd deploy/ansible && ansible-lint --offline --nocolor)

work=$(mktemp -d)
trap 'ns_cleanup; rm -rf "$work"' EXIT

step "tests/arch.yml: the binary per ansible_architecture (fact overridden, no ARM host)"
python3 scripts/lib/elf_headers.py "$work/bin"
ANSIBLE_CONFIG=deploy/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
    ansible-playbook -i localhost, deploy/ansible/tests/arch.yml \
    -e arch_test_bin_dir="$work/bin/good" -e arch_test_wrong_dir="$work/bin/wrong" >"$work/arch.log" 2>&1 || {
    tail -60 "$work/arch.log" >&2
    die "tests/arch.yml failed"
}
# The outcome of each case (the play itself asserts that all passed).
sed -n '/Print the outcomes/,/^}/p' "$work/arch.log" | grep '"ok ' | sed "s|$work/bin/||g; s/^ */   /"
grep -A1 'PLAY RECAP' "$work/arch.log" | tail -1 | sed 's/^/   /'

step "rootfs (cached tarball under $NS_DIR)"
base=$(ns_base) || die "no rootfs"
ssh-keygen -q -t ed25519 -N '' -C edgemark-ci -f "$work/id_ed25519"
# Free loopback ports for the nodes' sshd.
mapfile -t PORTS < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
for s in socks: print(s.getsockname()[1])')

step "boot ${#NODES[@]} containers (sshd on 127.0.0.1:${PORTS[*]})"
LEADERS=()
for i in "${!NODES[@]}"; do
    n=${NODES[$i]}
    name=em-an-$$-$n
    d=$work/$n
    mkdir -p "$d"
    printf 'Port %s\nListenAddress 127.0.0.1\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n' \
        "${PORTS[$i]}" >"$d/sshd.conf"
    install -m 0600 "$work/id_ed25519.pub" "$d/authorized_keys"
    tb=$SECONDS
    ns_boot "$name" "$base" \
        --bind-ro="$d/sshd.conf:/etc/ssh/sshd_config.d/edgemark-ci.conf" \
        --bind-ro="$d/authorized_keys:/root/.ssh/authorized_keys" || die "boot $n"
    LEADERS+=("$NS_LEADER")
    ns_exec "$NS_LEADER" systemctl start ssh.service || die "sshd in $n"
    echo "   $n: container $name, init pid $NS_LEADER, sshd 127.0.0.1:${PORTS[$i]}, up in $((SECONDS - tb)) s"
done

inv=$work/inventory.ini
{
    echo "[edgemark]"
    for i in "${!NODES[@]}"; do
        extra=""
        [ "${NODES[$i]}" = node3 ] && extra=" edgemark_install_mode=oneshot"
        echo "em-an-$$-${NODES[$i]} ansible_host=127.0.0.1 ansible_port=${PORTS[$i]}$extra"
    done
    cat <<EOF

[edgemark:vars]
ansible_user=root
ansible_ssh_private_key_file=$work/id_ed25519
ansible_ssh_common_args=-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
ansible_python_interpreter=/usr/bin/python3
# The containers run Debian bookworm (glibc 2.36, as the build host): the ci
# build runs there; a release uses the static musl binaries.
edgemark_install_binaries={"x86_64": "$EDGEMARK_BIN"}
# The containers share the host's load average and sensors: no cooldown gate.
edgemark_install_board=none
edgemark_job_settings={"sut": "builtin", "scenario": "single-stream", "min_duration_ms": 1000, "min_query_count": 16}
EOF
} >"$inv"
sed 's/^/   /' "$inv"
out=$work/out
mkdir -p "$out"

# play N: one run of site.yml, its recap, wall time and the controller's peak RSS.
play() {
    local n=$1 log=$work/play$1.log ts=$SECONDS
    ANSIBLE_CONFIG=deploy/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
        /usr/bin/time -f '%e s wall, %U s user, %S s sys, max RSS %M kB (ansible-playbook process tree: largest)' \
        -o "$work/time$n" \
        ansible-playbook -i "$inv" deploy/ansible/site.yml \
        -e edgemark_collect_dest="$out/records" \
        -e edgemark_report_records="$out/records" \
        -e edgemark_report_out="$out/report.html" \
        -e edgemark_report_binary="$EDGEMARK_BIN" >"$log" 2>&1 || {
        tail -60 "$log" >&2
        die "ansible-playbook run $n failed"
    }
    echo "   run $n: $(cat "$work/time$n")"
    sed -n '/PLAY RECAP/,$p' "$log" | sed 's/^/   /'
    PLAY_SECS=$((SECONDS - ts))
}

step "site.yml, run 1: deploy, job on every node, collect, report"
play 1
for n in "${NODES[@]}"; do
    h=em-an-$$-$n
    c=$(find "$out/records/$h" -name '*.emrec' | wc -l)
    echo "   $h: $c record(s) fetched"
    [ "$c" -ge 1 ] || die "no record fetched from $h"
done
grep -q "changed=0" <(grep "em-an-$$-node1" "$work/play1.log" | tail -1) && die "run 1 changed nothing on node1?"
# The HTML page the play rendered on the controller from the fetched records.
cp "$out/report.html" "$CARGO_TARGET_DIR/ansible-fleet-report.html"
echo "   kept as $CARGO_TARGET_DIR/ansible-fleet-report.html"
python3 scripts/lib/check_fleet_html.py "$out/report.html" "$out/records" \
    "em-an-$$-node1" "em-an-$$-node2" "em-an-$$-node3" || die "the HTML report does not show every node's records"
for i in "${!NODES[@]}"; do
    L=${LEADERS[$i]}
    echo "   ${NODES[$i]}: edgemark.service $(ns_exec "$L" systemctl is-enabled edgemark.service 2>/dev/null || true)/$(ns_exec "$L" systemctl is-active edgemark.service 2>/dev/null || true), edgemark.timer $(ns_exec "$L" systemctl is-enabled edgemark.timer 2>/dev/null || true)/$(ns_exec "$L" systemctl is-active edgemark.timer 2>/dev/null || true)"
done

step "site.yml, run 2: must change nothing"
play 2
bad=$(grep -E '^(em-an-|localhost)' "$work/play2.log" | grep -v ' changed=0 ' || true)
if [ -n "$bad" ]; then
    echo "$bad" >&2
    grep -E '^changed:' "$work/play2.log" >&2 || true
    die "the second run changed something"
fi
echo "   second run: changed=0 on every host (jobs found done, no record fetched again, report unchanged)"

step "resources"
for i in "${!NODES[@]}"; do
    L=${LEADERS[$i]}
    # Sum of the container's processes' RSS (shared pages counted in each).
    kb=$(ns_exec "$L" sh -c 'cat /proc/[0-9]*/status 2>/dev/null' | awk '/^VmRSS/ {s += $2} END {print s}')
    echo "   ${NODES[$i]}: $(ns_exec "$L" sh -c 'ls /proc | grep -c "^[0-9]"') processes, RSS sum $((kb / 1024)) MB"
done
echo "   rootfs: tarball $(du -sh "$(ns_tarball)" | cut -f1), extracted $(du -sh "$base" | cut -f1) (read-only, shared by the nodes); venv $(du -sh "$VENV" | cut -f1)"

step "done in $((SECONDS - t0)) s"
