#!/usr/bin/env bash
# The units under a real systemd: boot a Debian bookworm container
# (systemd-nspawn, systemd 252 as PID 1), install edgemark the way
# docs/daemon.md says, and check what the units promise:
#   sysusers/tmpfiles, READY + STATUS=idle, a built-in model job end to end,
#   reload, the hardening (a denied write), `systemd-analyze security` online,
#   an exec: SUT job (the C null SUT as a child of the job worker, under the filter),
#   the service with each board drop-in (systemd/dropins/) running such a job,
#   idle RSS after a real-model job, the timer firing edgemark-run@, SIGTERM
#   mid-job (job aborted, stop within TimeoutStopSec), watchdog restart of a
#   SIGSTOPped daemon.
# Prints each check's result and time; exits 1 at the first failure, with the
# service's journal. Root only (nspawn). Installs what it needs from apt.
#
#   scripts/ci-systemd.sh                  # uses target/ci/edgemark (built if stale)
#   EDGEMARK_BIN=path scripts/ci-systemd.sh
#   IDLE_ANON_MAX_KB=4096 IDLE_RSS_HARD_KB=12288 IDLE_RSS_MAX_KB=8192  # idle memory limits
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
export CARGO_TARGET_DIR
# shellcheck source=scripts/lib/nspawn.sh
. scripts/lib/nspawn.sh

SHARED=${EDGEMARK_SHARED:-../shared}
MODEL=$SHARED/models/mobilenetv2-fp32.onnx
IDLE_RSS_MAX_KB=${IDLE_RSS_MAX_KB:-8192}   # the target, reported
IDLE_RSS_HARD_KB=${IDLE_RSS_HARD_KB:-12288} # fails above this
IDLE_ANON_MAX_KB=${IDLE_ANON_MAX_KB:-4096}  # the job's memory, given back
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
t0=$SECONDS
tc=$SECONDS
step() { echo "== [$((SECONDS - t0)) s] $*"; }
L= # the container's init pid
cx() { ns_exec "$L" "$@"; }

die() {
    echo "FAIL: $*" >&2
    if [ -n "$L" ]; then
        echo "--- journal (edgemark*) ---" >&2
        cx journalctl --no-pager -o short-monotonic -n 60 -u 'edgemark*' >&2 || true
        cx systemctl status --no-pager edgemark.service >&2 || true
    fi
    exit 1
}
# Any command failing outside a check's own test still fails loudly.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
begin() { tc=$SECONDS; echo "-- check: $*"; }
ok() { echo "   PASS ($((SECONDS - tc)) s): $*"; }
# prop UNIT PROPERTY: one `systemctl show` value.
prop() { cx systemctl show -p "$2" --value "$1"; }
# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
    local secs=$1 what=$2 end
    shift 2
    end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || die "$what: not within $secs s"
        sleep 0.2
    done
}
job_state() { # job_state NAME: the state of the newest finished job NAME ("" if none)
    cx edgemark status --json --last 100 | python3 -c '
import json, sys
name = sys.argv[1]
for f in json.load(sys.stdin)["finished"]:
    if f["id"].endswith("-" + name):
        print(f["state"]); break' "$1"
}
job_is() { [ "$(job_state "$1")" = "$2" ]; }
status_is() { [ "$(prop edgemark.service StatusText)" = "$1" ]; }
status_has() { prop edgemark.service StatusText | grep -q "$1"; }
active() { [ "$(prop edgemark.service ActiveState)" = active ]; }
journal_has() { cx journalctl -u edgemark.service --no-pager -o cat | grep -q "$1"; }
journal_line() { cx journalctl -u edgemark.service --no-pager -o cat | grep -m1 "$1"; }
ran_once() { [ "$(prop "$1" ExecMainExitTimestampMonotonic)" -gt 0 ]; }
pid_changed() { local p; p=$(prop edgemark.service MainPID); [ "$p" != 0 ] && [ "$p" != "$1" ]; }
# as_service CMD...: run CMD in the running service's mount and user
# namespaces as its user, i.e. with the view and rights the daemon has.
as_service() {
    local mp uid gid
    mp=$(prop edgemark.service MainPID)
    uid=$(cx id -u edgemark)
    gid=$(cx id -g edgemark)
    cx nsenter -t "$mp" -m -U -S "$uid" -G "$gid" "$@"
}

step "tools"
ns_tools
command -v python3 >/dev/null || die "python3 missing"
if [ -z "${EDGEMARK_BIN:-}" ]; then
    # CI's `cargo test --profile ci` built it already; this only checks it is fresh.
    nice -n 10 cargo build --locked --profile ci --bin edgemark
    EDGEMARK_BIN=$CARGO_TARGET_DIR/ci/edgemark
fi
[ -x "$EDGEMARK_BIN" ] || die "no binary at $EDGEMARK_BIN"
if [ ! -f "$MODEL" ]; then
    [ "${CI:-}" = true ] && die "missing $MODEL (CI has ../shared beside the clone)"
    echo "WARNING: $MODEL missing: the real-model idle RSS check will FAIL" >&2
fi

step "rootfs (cached tarball under $NS_DIR)"
base=$(ns_base) || die "no rootfs"
du -sh "$base" | sed 's/^/   /'

name=edgemark-sd-$$
step "boot container $name"
trap ns_cleanup EXIT
tb=$SECONDS
ns_boot "$name" "$base" || die "boot"
L=$NS_LEADER
echo "   booted in $((SECONDS - tb)) s: $(cx systemctl --version | sed -n 1,1p)"

step "install (binary, units, sysusers, tmpfiles, config, jobs, model, C null SUT)"
stage=$(mktemp -d)
trap 'ns_cleanup; rm -rf "$stage"' EXIT
# The C null SUT (examples/sut), static so the container needs no libc of ours.
${CC:-cc} -static -O2 -std=c99 -I sdk/c examples/sut/null_sut.c sdk/c/edgemark_sut.c -o "$stage/null_sut" ||
    die "cannot build the static C null SUT (cc -static; Debian: libc6-dev)"
cat >"$stage/edgemark.toml" <<'EOF'
state_dir = "/var/lib/edgemark"
results_dir = "/var/lib/edgemark/results"
spool_poll_ms = 500
# No cooldown gate: the host's load average is the container's too.
board = "none"
EOF
cat >"$stage/builtin.toml" <<'EOF'
sut = "builtin"
scenario = "single-stream"
min_duration_ms = 500
min_query_count = 16
EOF
cat >"$stage/long.toml" <<'EOF'
sut = "builtin"
scenario = "single-stream"
min_duration_ms = 30000
min_query_count = 16
EOF
# Long enough (1.5 s) to catch the child while it runs.
cat >"$stage/nullsut.toml" <<'EOF'
sut = ["exec:/usr/lib/edgemark/null_sut"]
scenario = "single-stream"
min_duration_ms = 1500
min_query_count = 16
EOF
cat >"$stage/mobilenet.toml" <<'EOF'
model = "/usr/share/edgemark/mobilenetv2-fp32.onnx"
scenario = "both"
min_duration_ms = 1000
min_query_count = 16
EOF
# The timer's own trigger is 03:30 nightly; this drop-in adds one that fires
# 2 s after the timer starts, so the test sees the timer start the service.
cat >"$stage/timer-now.conf" <<'EOF'
[Timer]
OnActiveSec=2s
RandomizedDelaySec=0
EOF
ns_put "$L" "$EDGEMARK_BIN" /usr/bin/edgemark 0755
for u in edgemark.service edgemark-run@.service edgemark.timer; do
    ns_put "$L" "systemd/$u" "/usr/lib/systemd/system/$u"
done
ns_put "$L" systemd/edgemark.sysusers.conf /usr/lib/sysusers.d/edgemark.conf
ns_put "$L" systemd/edgemark.tmpfiles.conf /usr/lib/tmpfiles.d/edgemark.conf
ns_put "$L" "$stage/edgemark.toml" /etc/edgemark/edgemark.toml
ns_put "$L" "$stage/builtin.toml" /etc/edgemark/jobs/default.toml
ns_put "$L" "$stage/null_sut" /usr/lib/edgemark/null_sut 0755
for d in systemd/dropins/*.conf; do ns_put "$L" "$d" "/root/dropins/$(basename "$d")"; done
for j in builtin long mobilenet nullsut; do ns_put "$L" "$stage/$j.toml" "/root/$j.toml"; done
ns_put "$L" "$stage/timer-now.conf" /etc/systemd/system/edgemark.timer.d/ci-now.conf
[ -f "$MODEL" ] && ns_put "$L" "$MODEL" /usr/share/edgemark/mobilenetv2-fp32.onnx
cx systemctl daemon-reload
cx edgemark --version | sed -n 1,3p | sed 's/^/   /' || die "the binary does not run in the bookworm rootfs (glibc too new?)"
cx test -e /bin/kill && echo "   (/bin/kill exists here)" || echo "   (no /bin/kill in this image: the old ExecReload=/bin/kill failed 203/EXEC)"

begin "sysusers + tmpfiles create the user and the spool"
cx systemd-sysusers
cx systemd-tmpfiles --create edgemark.conf
pw=$(cx getent passwd edgemark) || die "no user edgemark after systemd-sysusers"
echo "   $pw"
[ "$(echo "$pw" | cut -d: -f6)" = /var/lib/edgemark ] || die "home of edgemark is not /var/lib/edgemark"
for d in "/var/lib/edgemark 750" "/var/lib/edgemark/jobs 2770" "/var/lib/edgemark/results 750"; do
    set -- $d
    got=$(cx stat -c '%a %U:%G' "$1")
    echo "   $1: $got"
    [ "$got" = "$2 edgemark:edgemark" ] || die "$1 is '$got', want '$2 edgemark:edgemark'"
done
ok "user and dirs as the units expect"

begin "start: active with READY=1 and STATUS=idle"
cx systemctl start edgemark.service || die "systemctl start"
wait_for 10 "STATUS=idle" status_is idle
pid0=$(prop edgemark.service MainPID)
echo "   $(prop edgemark.service ActiveState)/$(prop edgemark.service SubState), MainPID $pid0, STATUS=\"$(prop edgemark.service StatusText)\", user $(cx stat -c %U "/proc/$pid0")"
active || die "not active"
ok "Type=notify start returned (READY=1 seen), status idle"

begin "a built-in model job submitted with edgemark submit runs to done"
cx edgemark submit /root/builtin.toml | sed 's/^/   /' || die "edgemark submit"
wait_for 10 "job picked up" status_has "running job"
echo "   STATUS=\"$(prop edgemark.service StatusText)\""
wait_for 120 "builtin job done" job_is builtin done
cx edgemark status --last 1 | sed 's/^/   /'
n=$(cx sh -c 'ls /var/lib/edgemark/results/*.emrec | wc -l')
[ "$n" -ge 1 ] || die "no record in /var/lib/edgemark/results"
cx edgemark report /var/lib/edgemark/results 2>&1 | sed -n 1,8p | sed 's/^/   /'
ok "done, $n record(s)"

begin "systemctl reload edgemark (ExecReload through edgemark itself)"
cx sed -i 's/^spool_poll_ms = 500/spool_poll_ms = 400/' /etc/edgemark/edgemark.toml
cx systemctl reload edgemark.service || die "systemctl reload"
wait_for 10 "'reloaded' in the journal" journal_has '^reloaded /etc/edgemark/edgemark.toml'
[ "$(prop edgemark.service MainPID)" = "$pid0" ] || die "reload changed the main pid"
active || die "not active after reload"
echo "   journal: $(journal_line '^reloaded')"
ok "reloaded, same pid $pid0, still active"

begin "hardening: the daemon cannot write outside its state directory"
# A reload whose results_dir is outside StateDirectory= makes the daemon itself
# try to create it: ProtectSystem=strict denies that, and it keeps its old config.
cx sed -i 's|^results_dir = .*|results_dir = "/var/lib/escape"|' /etc/edgemark/edgemark.toml
cx systemctl reload edgemark.service || die "systemctl reload"
wait_for 10 "the denied write in the journal" journal_has 'cannot create results dir /var/lib/escape'
echo "   journal: $(journal_line 'cannot create results dir /var/lib/escape')"
cx test ! -e /var/lib/escape || die "/var/lib/escape was created"
# The same from inside the service's own namespaces, as its user.
for p in /etc/edgemark/x /usr/bin/x /var/lib/escape /var/tmp/../lib/x; do
    if as_service touch "$p" 2>"$stage/err"; then
        die "the service's user could write $p in its namespace"
    fi
    echo "   touch $p as the service: $(tail -1 "$stage/err")"
done
as_service touch /var/lib/edgemark/results/.write-test ||
    die "the state directory is not writable in the service's namespace"
cx rm -f /var/lib/edgemark/results/.write-test
echo "   touch /var/lib/edgemark/results/.write-test as the service: allowed"
cx sed -i 's|^results_dir = .*|results_dir = "/var/lib/edgemark/results"|' /etc/edgemark/edgemark.toml
cx systemctl reload edgemark.service
active || die "not active"
ok "writes outside the state directory denied, inside allowed"

begin "systemd-analyze security (online, in the container) <= $MAX_EXPOSURE"
for u in edgemark.service edgemark-run@default.service; do
    line=$(cx systemd-analyze security --no-pager "$u" | grep 'Overall exposure level') || die "no exposure for $u"
    level=$(echo "$line" | sed -E 's/.*: ([0-9.]+) .*/\1/')
    echo "   $u: $line"
    awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }' || die "$u exposure $level > $MAX_EXPOSURE"
done
ok "both services at or below $MAX_EXPOSURE"

begin "an exec: SUT job: the C null SUT runs as the job worker's child under the seccomp filter"
# The unit's SystemCallFilter= (and NoNewPrivileges=, the namespaces) are
# inherited by every child: the SUT process must be able to run under them.
cx edgemark submit /root/nullsut.toml | sed 's/^/   /' || die "submit"
# The child's /proc status as the container sees it (minbase has no procps):
# "PID Seccomp NoNewPrivs Uid PPid" of the process named null_sut, if any.
sut_status() {
    cx python3 -c '
import os
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        if open(f"/proc/{p}/comm").read().strip() != "null_sut":
            continue
        st = dict(l.split(":", 1) for l in open(f"/proc/{p}/status"))
    except OSError:
        continue
    print(p, *(st[k].split()[0] for k in ("Seccomp", "NoNewPrivs", "Uid", "PPid")))
    break'
}
sut_seen() { [ -n "$(sut_status)" ]; }
wait_for 60 "the null SUT child running" sut_seen
read -r sp seccomp nnp uid ppid <<<"$(sut_status)" || true
echo "   null_sut pid $sp, parent $ppid ($(cx cat "/proc/$ppid/comm" 2>/dev/null || echo gone)), uid $uid (edgemark is $(cx id -u edgemark)): Seccomp $seccomp, NoNewPrivs $nnp"
[ "${seccomp:-}" = 2 ] || die "the SUT child runs without the seccomp filter (Seccomp '${seccomp:-}')"
[ "${nnp:-}" = 1 ] || die "the SUT child has NoNewPrivs '${nnp:-}'"
wait_for 60 "nullsut job done" job_is nullsut done
rec=$(cx edgemark status --json --last 100 | python3 -c '
import json, sys
for f in json.load(sys.stdin)["finished"]:
    if f["id"].endswith("-nullsut"):
        print(" ".join(f["records"])); break')
[ -n "$rec" ] || die "the nullsut job lists no record"
set -- $rec
verdict=$(cx edgemark report --format json "$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["records"][0]
print("VALID" if r["valid"] else "INVALID %s" % r["invalid_reasons"], "model", r["model"], r["query_count"], "queries, p50", r["p50_ns"], "ns")')
echo "   record $(basename "$1"): $verdict"
case "$verdict" in VALID*) ;; *) die "the exec: SUT job's record is not VALID: $verdict" ;; esac
ok "done, VALID; the child ran with Seccomp 2 (filter) and NoNewPrivs 1"

begin "the service with each board drop-in: starts, runs an exec: SUT job, settings applied"
# No GPU/NPU here: this checks the drop-ins are valid for a real systemd 252
# (groups exist, NoExecPaths= mounts, DeviceAllow= of absent nodes skipped)
# and that an exec: job still runs under them. The minbase rootfs has no udev,
# whose package creates group render on a full image: without it a drop-in
# naming it fails to start (216/GROUP, docs/engines.md), so add it as udev would.
cx getent group render >/dev/null || cx groupadd --system render
for d in systemd/dropins/*.conf; do
    n=$(basename "$d" .conf)
    cx mkdir -p /etc/systemd/system/edgemark.service.d
    cx cp "/root/dropins/$n.conf" "/etc/systemd/system/edgemark.service.d/50-$n.conf"
    cx systemctl daemon-reload
    cx systemctl restart edgemark.service || die "restart with $n.conf"
    wait_for 10 "idle with $n.conf" status_is idle
    cx sed 's/min_duration_ms = 1500/min_duration_ms = 300/' /root/nullsut.toml >"$stage/j.toml"
    ns_put "$L" "$stage/j.toml" "/root/null-$n.toml"
    cx edgemark submit "/root/null-$n.toml" >/dev/null || die "submit with $n.conf"
    wait_for 60 "null-$n job done" job_is "null-$n" done
    pd=$(prop edgemark.service PrivateDevices) mdwe=$(prop edgemark.service MemoryDenyWriteExecute)
    groups=$(prop edgemark.service SupplementaryGroups) nx=$(prop edgemark.service NoExecPaths)
    echo "   $n: job done; PrivateDevices=$pd MemoryDenyWriteExecute=$mdwe SupplementaryGroups=$groups NoExecPaths=$nx"
    [ "$pd" = no ] || die "$n.conf: PrivateDevices=$pd"
    cx rm "/etc/systemd/system/edgemark.service.d/50-$n.conf"
done
cx systemctl daemon-reload
cx systemctl restart edgemark.service
wait_for 10 "idle without drop-ins" status_is idle
[ "$(prop edgemark.service PrivateDevices)" = yes ] || die "PrivateDevices not back to yes"
ok "$(ls systemd/dropins/*.conf | wc -l) drop-ins: the service started and ran an exec: job with each"

begin "idle memory after a real-model (MobileNetV2) job: given back"
[ -f "$MODEL" ] || die "missing $MODEL"
cx edgemark submit /root/mobilenet.toml | sed 's/^/   /' || die "submit"
wait_for 300 "mobilenet job done" job_is mobilenet done
wait_for 10 "idle again" status_is idle
sleep 2 # the idle loop releases the heap and code pages on its first idle pass
mp=$(prop edgemark.service MainPID)
st() { cx awk -v k="$1:" '$1 == k {print $2}' "/proc/$mp/status"; }
rss=$(st VmRSS) hwm=$(st VmHWM) anon=$(st RssAnon) file=$(st RssFile)
echo "   $(cx edgemark --version | grep -i alloc || true)"
echo "   journal: $(cx journalctl -u edgemark.service --no-pager -o cat | grep 'memory given back' | tail -1)"
echo "   daemon pid $mp, idle after the job: VmRSS $rss kB = RssAnon $anon kB + RssFile $file kB (+shmem); peak VmHWM $hwm kB"
# The job's memory is anonymous: that is what must come back (before the
# give-back it stayed at 25-47 MB on this build). File pages are the binary's
# code the idle loop runs: larger for the ci build (edgemark at opt-level 0)
# than for a release build, so the 8 MB target is reported, and only a clear
# miss (> IDLE_RSS_HARD_KB) fails.
[ "$anon" -le "$IDLE_ANON_MAX_KB" ] || die "idle RssAnon $anon kB > $IDLE_ANON_MAX_KB kB: the job's memory was not given back"
[ "$rss" -le "$IDLE_RSS_HARD_KB" ] || die "idle VmRSS $rss kB > $IDLE_RSS_HARD_KB kB"
if [ "$rss" -le "$IDLE_RSS_MAX_KB" ]; then verdict="within the $IDLE_RSS_MAX_KB kB target"; else verdict="OVER the $IDLE_RSS_MAX_KB kB target (ci build's code pages)"; fi
ok "RssAnon $anon kB <= $IDLE_ANON_MAX_KB kB; VmRSS $rss kB $verdict (peak $hwm kB)"

begin "edgemark.timer fires edgemark-run@default.service"
before=$(cx sh -c 'ls /var/lib/edgemark/results/*.emrec | wc -l')
cx systemctl start edgemark.timer
wait_for 120 "edgemark-run@default ran" ran_once edgemark-run@default.service
res=$(prop edgemark-run@default.service Result)
code=$(prop edgemark-run@default.service ExecMainStatus)
after=$(cx sh -c 'ls /var/lib/edgemark/results/*.emrec | wc -l')
cx systemctl list-timers --all --no-pager edgemark.timer | sed -n 1,2p | sed 's/^/   /'
echo "   edgemark-run@default: Result=$res ExecMainStatus=$code, records $before -> $after"
[ "$res" = success ] && [ "$code" = 0 ] || die "edgemark-run@default failed"
[ "$after" -gt "$before" ] || die "the timer's run wrote no record"
cx systemctl stop edgemark.timer
ok "timer started the one-shot run, it wrote its record"

begin "SIGTERM mid-job: job recorded aborted, stop within TimeoutStopSec"
cx edgemark submit /root/long.toml | sed 's/^/   /'
# Past model loading and warm-up (under a third of the run), into timed queries.
wait_for 60 "long job a third done" status_has 'running job .*: [3-9][0-9]%'
echo "   STATUS=\"$(prop edgemark.service StatusText)\""
limit=$(prop edgemark.service TimeoutStopUSec)
ts=$(date +%s%N)
cx systemctl stop edgemark.service
stop_ms=$((($(date +%s%N) - ts) / 1000000))
res=$(prop edgemark.service Result)
echo "   systemctl stop took $stop_ms ms (TimeoutStopSec=$limit), Result=$res"
[ "$res" = success ] || die "stop Result=$res (timeout or kill?)"
st=$(job_state long)
echo "   job long: $st; $(cx sh -c 'cat /var/lib/edgemark/failed/*-long.error' 2>/dev/null | sed -n 1,1p)"
[ "$st" = aborted ] || die "job long is '$st', want aborted"
nrec=$(cx sh -c 'grep -c "\.emrec" /var/lib/edgemark/failed/*-long.outcome' || true)
echo "   its outcome lists ${nrec:-0} record(s) (written at the query boundary, marked aborted)"
[ "${nrec:-0}" -ge 1 ] || die "the aborted job left no record"
ok "stopped in $stop_ms ms, job aborted"

begin "watchdog: a SIGSTOPped daemon is killed and restarted"
cx systemctl start edgemark.service
wait_for 10 "idle" status_is idle
echo "   WatchdogSec=$(prop edgemark.service WatchdogUSec) RestartSec=$(prop edgemark.service RestartUSec)"
p1=$(prop edgemark.service MainPID)
r1=$(prop edgemark.service NRestarts)
cx systemctl kill --signal=SIGSTOP --kill-who=main edgemark.service
ts=$SECONDS
wait_for 90 "a new main pid" pid_changed "$p1"
wait_for 20 "active again" status_is idle
p2=$(prop edgemark.service MainPID)
echo "   pid $p1 stopped -> pid $p2 active after $((SECONDS - ts)) s; NRestarts $r1 -> $(prop edgemark.service NRestarts)"
cx journalctl -u edgemark.service --no-pager -o cat | grep -Ei 'watchdog' | tail -2 | sed 's/^/   /'
journal_has 'atchdog timeout' || die "no watchdog timeout in the journal"
ok "watchdog restart in $((SECONDS - ts)) s"

step "all checks passed in $((SECONDS - t0)) s"
