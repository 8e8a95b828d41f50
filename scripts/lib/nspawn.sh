# Shared by scripts/ci-systemd.sh and scripts/ci-ansible.sh (source it):
# one Debian bookworm rootfs, made once with mmdebstrap and cached as a tarball
# under target/, booted as many times as needed in systemd-nspawn containers
# with a real systemd as PID 1.
#
# Every container boots with --volatile=overlay: the extracted rootfs is the
# read-only lower layer and each container writes to its own tmpfs, so one
# extraction serves every container and none of them changes it. The
# containers share the host's network namespace (loopback only); sshd inside,
# where wanted, listens on its own 127.0.0.1 port. ns_cleanup (the callers'
# EXIT trap) stops every container started here and leaves no process behind.
#
# Needs root (nspawn), apt (mmdebstrap, systemd-container; ns_tools installs them).

NS_DIR=${NS_DIR:-${CARGO_TARGET_DIR:-target}/nspawn}
# What the rootfs holds: systemd as init, dbus for systemctl, and for the
# Ansible nodes sshd and python3 (Ansible's modules run on python).
NS_INCLUDE=systemd,systemd-sysv,dbus,openssh-server,python3
NS_SUITE=bookworm
NS_PIDS=()    # nspawn process ids, for ns_cleanup
NS_LEADERS=() # their containers' init pids
NS_LEADER=    # set by ns_boot

ns_log() { echo "   [ns] $*" >&2; }

ns_tools() {
    local need=() p
    for p in mmdebstrap systemd-container; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
}

# The cached rootfs tarball (made if missing; its name says what it holds).
ns_tarball() {
    local key tar
    key=$(echo "$NS_SUITE $NS_INCLUDE" | sha256sum | cut -c1-12)
    tar="$NS_DIR/rootfs-$NS_SUITE-$key.tar"
    if [ ! -s "$tar" ]; then
        mkdir -p "$NS_DIR"
        ns_log "mmdebstrap $NS_SUITE ($NS_INCLUDE) -> $tar"
        # Docs, man pages and locales are of no use in a test container.
        nice -n 10 mmdebstrap --quiet --format=tar --variant=minbase --include="$NS_INCLUDE" \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            "$NS_SUITE" "$tar.part" >&2 || return 1
        mv "$tar.part" "$tar"
    fi
    echo "$tar"
}

# The extracted rootfs every container boots from (read-only lower layer).
# Re-extracted when the tarball is newer. Prepared for booting as a test
# container: no /etc/hostname (nspawn's --hostname names each container), sshd
# not started at boot (ci-ansible.sh starts it on a per-node port).
ns_base() {
    local tar base
    tar=$(ns_tarball) || return 1
    base="$NS_DIR/base"
    if [ ! -e "$base/.ready" ] || [ "$tar" -nt "$base/.ready" ]; then
        rm -rf "$base"
        mkdir -p "$base"
        tar -C "$base" -xf "$tar" || return 1
        rm -f "$base/etc/hostname"
        rm -f "$base/etc/systemd/system/multi-user.target.wants/ssh.service" \
            "$base/etc/systemd/system/sshd.service"
        touch "$base/.ready"
    fi
    echo "$base"
}

# ns_boot NAME BASE [nspawn options...]: boot a container, wait until its
# systemd finished booting; sets NS_LEADER to the container's init pid (host
# view). Not in $(...): the pid lists must stay in this shell for ns_cleanup.
ns_boot() {
    local name=$1 base=$2 pid leader="" i state c
    NS_LEADER=
    shift 2
    mkdir -p "$NS_DIR/log"
    systemd-nspawn --quiet -D "$base" --boot --keep-unit --register=no \
        --volatile=overlay --machine="$name" --hostname="$name" "$@" \
        >"$NS_DIR/log/$name.console" 2>&1 </dev/null &
    pid=$!
    NS_PIDS+=("$pid")
    # The container's init is the nspawn child that is pid 1 in its namespace.
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        for c in $(pgrep -P "$pid" 2>/dev/null); do
            if grep -Eq '^NSpid:[[:space:]]+[0-9]+[[:space:]]+1$' "/proc/$c/status" 2>/dev/null; then
                leader=$c
            fi
        done
        [ -n "$leader" ] && break
        sleep 0.1
    done
    if [ -z "$leader" ]; then
        echo "FAIL: container $name did not start; console:" >&2
        tail -20 "$NS_DIR/log/$name.console" >&2
        return 1
    fi
    NS_LEADERS+=("$leader")
    # Until its bus is up systemctl cannot connect ("offline"); then --wait
    # blocks until the boot is finished.
    for i in $(seq 1 300); do
        state=$(ns_exec "$leader" timeout 60 systemctl is-system-running --wait 2>/dev/null) || true
        case "$state" in running | degraded | maintenance | stopping) break ;; esac
        sleep 0.2
    done
    if [ "$state" != running ]; then
        echo "FAIL: container $name: systemd says '$state' after booting" >&2
        ns_exec "$leader" systemctl --failed --no-pager >&2 || true
        return 1
    fi
    NS_LEADER=$leader
}

# ns_exec LEADER CMD...: run CMD inside the container (all its namespaces),
# with a clean environment so nothing of the host's leaks in.
ns_exec() {
    local leader=$1
    shift
    nsenter -t "$leader" -a -- /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# ns_put LEADER SRC DEST [MODE]: copy a host file into the container.
ns_put() {
    local leader=$1 src=$2 dest=$3 mode=${4:-0644}
    ns_exec "$leader" install -D -m "$mode" /dev/stdin "$dest" <"$src"
}

# Stop every container started here: SIGTERM to nspawn shuts the container
# down cleanly; after 20 s SIGKILL to its init (which ends everything in the
# container's pid namespace) and to nspawn. Safe to call twice.
ns_cleanup() {
    local pid i
    for pid in "${NS_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${NS_PIDS[@]}"; do
        for i in $(seq 1 200); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "container (nspawn pid $pid) did not stop in 20 s: killing it" >&2
            for i in "${NS_LEADERS[@]}"; do kill -KILL "$i" 2>/dev/null || true; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    NS_PIDS=()
    NS_LEADERS=()
}
