//! Integration tests of `edgemark daemon`, `submit` and `status`: the real binary
//! on temporary spool/results directories, a fixture sysfs/procfs root, and
//! jobs on the synthetic SUT (`synthetic:sleep:MS`). Waits poll with short intervals and
//! time out; nothing sleeps for a fixed time.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use edgemark::daemon::spool::Outcome;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_edgemark");
/// Generous upper bound for things that take milliseconds; only hit on failure.
const TIMEOUT: Duration = Duration::from_secs(20);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/daemon")
        .join(name)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A temporary state/results/config tree, removed on drop.
struct Env {
    dir: PathBuf,
    state: PathBuf,
    results: PathBuf,
    config: PathBuf,
    root: PathBuf,
}

impl Env {
    fn new(tag: &str) -> Env {
        let dir =
            std::env::temp_dir().join(format!("edgemark-daemon-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = dir.join("root");
        copy_tree(&fixture("cool-root"), &root);
        let env = Env {
            state: dir.join("state"),
            results: dir.join("results"),
            config: dir.join("edgemark.toml"),
            root,
            dir,
        };
        env.write_config("");
        env
    }

    /// Base config (fast spool poll for tests) plus `extra` TOML.
    fn write_config(&self, extra: &str) {
        let text = format!(
            "state_dir = {:?}\nresults_dir = {:?}\nspool_poll_ms = 50\n{extra}\n",
            self.state, self.results
        );
        std::fs::write(&self.config, text).unwrap();
    }

    fn dir(&self, sub: &str) -> PathBuf {
        self.state.join(sub)
    }

    /// Drop a job the way scp users do: write a temp name, then rename.
    fn drop_job(&self, name: &str, content: &str) {
        let jobs = self.dir("jobs");
        std::fs::create_dir_all(&jobs).unwrap();
        let tmp = jobs.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(tmp, jobs.join(name)).unwrap();
    }

    fn files(&self, sub: &str, suffix: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir(sub))
            .map(|rd| {
                rd.map(|e| e.unwrap().path())
                    .filter(|p| p.to_string_lossy().ends_with(suffix))
                    .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn start(&self, envs: &[(&str, &str)]) -> Daemon {
        self.start_with(envs, false)
    }

    /// `journal`: set JOURNAL_STREAM to the log file's DEV:INODE, as systemd
    /// does when stderr is connected to the journal.
    fn start_with(&self, envs: &[(&str, &str)], journal: bool) -> Daemon {
        use std::os::unix::fs::MetadataExt;
        let log = std::fs::File::create(self.dir.join("daemon.log")).unwrap();
        let meta = log.metadata().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["daemon", "--config"])
            .arg(&self.config)
            .arg("--root")
            .arg(&self.root)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stderr(log);
        if journal {
            cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Daemon {
            child: cmd.spawn().unwrap(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The daemon process; killed on drop so a failing test leaves nothing behind.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(start.elapsed() < TIMEOUT, "daemon did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop(mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        self.wait_exit()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the tests need from a record.
#[derive(Debug)]
struct RecordView {
    aborted: bool,
    warnings: Vec<String>,
}

fn read_record(p: &Path) -> RecordView {
    let r = edgemark::record::Record::read(p).unwrap();
    RecordView {
        aborted: r.timing.aborted,
        warnings: r.warnings,
    }
}

/// Record files in the results directory (everything but `.error` files).
fn records(env: &Env) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(&env.results)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        !name.starts_with('.') && !name.ends_with(".error")
    });
    v.sort();
    v
}

/// The daemon's own account of a finished job (`done|failed/ID.outcome`).
fn outcome(p: &Path) -> Outcome {
    toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A socket standing in for systemd's notify socket.
struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn new(env: &Env) -> NotifySocket {
        let path = env.dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        NotifySocket {
            sock,
            path,
            seen: Vec::new(),
        }
    }

    /// Receive until a message satisfies `pred`; returns its index in `seen`.
    fn until(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> usize {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(msg.clone());
                if pred(&msg) {
                    return self.seen.len() - 1;
                }
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "no {what} on NOTIFY_SOCKET; got {:?}",
                self.seen
            );
        }
    }
}

// One scenario, so one record per job with the real runner too.
const QUICK_JOB: &str = "sut = \"synthetic:sleep:2\"\nscenario = \"single-stream\"\nmin_duration_ms = 30\nmin_query_count = 5\n";
const LONG_JOB: &str = "sut = \"synthetic:sleep:5\"\nmin_duration_ms = 600000\n";

#[test]
fn dropped_job_produces_a_record_and_temp_files_are_left_alone() {
    let env = Env::new("drop");
    let d = env.start(&[]);
    std::fs::create_dir_all(env.dir("jobs")).unwrap();
    // An upload still in progress must not be picked up.
    std::fs::write(env.dir("jobs").join(".half.toml.tmp"), "sut = ").unwrap();
    env.drop_job("quick.toml", QUICK_JOB);
    wait_for("job in done/", || env.files("done", ".toml").len() == 1);
    let done = &env.files("done", ".toml")[0];
    assert!(
        done.file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with("-quick.toml")
    );
    assert_eq!(
        std::fs::read_to_string(done).unwrap(),
        QUICK_JOB,
        "job file kept as submitted"
    );
    let recs = records(&env);
    assert_eq!(recs.len(), 1);
    assert!(!read_record(&recs[0]).aborted);
    let o = outcome(&env.files("done", ".outcome")[0]);
    assert_eq!(
        (o.state.as_str(), &o.records, &o.error),
        ("done", &recs, &None)
    );
    assert!(env.dir("jobs").join(".half.toml.tmp").exists());
    assert!(env.files("failed", "").is_empty() && env.files("running", "").is_empty());
    assert!(d.stop().success());
}

#[test]
fn malformed_job_fails_with_its_error_and_the_next_job_still_runs() {
    let env = Env::new("malformed");
    env.drop_job(
        "a-bad.toml",
        "sut = \"synthetic:sleep:1\"\nmin_duration_ms = \"soon\"\n",
    );
    env.drop_job(
        "b-unknown.toml",
        "sut = \"synthetic:sleep:1\"\nwarp_speed = 9\n",
    );
    env.drop_job("c-good.toml", QUICK_JOB);
    let d = env.start(&[]);
    wait_for("good job done", || env.files("done", ".toml").len() == 1);
    let errors = env.files("failed", ".error");
    assert_eq!(errors.len(), 2, "{errors:?}");
    let bad = std::fs::read_to_string(&errors[0]).unwrap();
    assert!(
        bad.contains("invalid job file") && bad.contains("min_duration_ms"),
        "{bad}"
    );
    let unknown = std::fs::read_to_string(&errors[1]).unwrap();
    assert!(unknown.contains("warp_speed"), "{unknown}");
    // The job file itself is kept beside its error, and the error is in results/ too.
    assert_eq!(env.files("failed", ".toml").len(), 2);
    let in_results = std::fs::read_dir(&env.results)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .ends_with(".error")
        })
        .count();
    assert_eq!(in_results, 2);
    assert!(d.stop().success());
}

#[test]
fn sigterm_during_a_long_job_aborts_it_at_a_query_boundary_and_exits() {
    let env = Env::new("sigterm");
    let mut d = env.start(&[]);
    let name = format!("long-sigterm-{}", std::process::id());
    env.drop_job(&format!("{name}.toml"), LONG_JOB);
    wait_for("job running", || env.files("running", ".toml").len() == 1);
    // Signalled once the worker handles SIGTERM (before that, the stop kills
    // it: the job is still filed as aborted, but without a record).
    wait_for("worker handling SIGTERM", || {
        workers(&name)
            .iter()
            .any(|w| catches_sigterm(w.split(':').next().unwrap()))
    });
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    let status = d.wait_exit();
    let took = t.elapsed();
    // The requirement (systemd's stop timeout) is about time, but a loaded CI
    // box makes any bound flaky: the behaviour is asserted (exit 0 long before
    // the 10-minute job could end, its record says aborted), the time printed.
    eprintln!("SIGTERM to exit: {took:?}");
    assert!(status.success(), "{status:?}\n{}", env.log());
    let recs = records(&env);
    assert_eq!(recs.len(), 1);
    assert!(read_record(&recs[0]).aborted);
    let o = outcome(&env.files("failed", ".outcome")[0]);
    assert_eq!((o.state.as_str(), &o.records), ("aborted", &recs));
    let err = std::fs::read_to_string(&env.files("failed", ".error")[0]).unwrap();
    assert!(err.starts_with("aborted: "), "{err}");
    assert!(env.files("running", "").is_empty());
    assert!(workers(&name).is_empty(), "{:?}", workers(&name));
}

/// Whether process `pid` has a handler for SIGTERM (`SigCgt` bit 15).
fn catches_sigterm(pid: &str) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (15 - 1)) != 0)
}

/// `edgemark job-worker` processes (the daemon's job workers) whose command
/// line names a job containing `needle`.
fn workers(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(" job-worker ") && cmd.contains(needle) {
            found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    found
}

/// Release builds abort on a panic (issue 15); jobs run in worker processes
/// so that a panic, an abort or the OOM killer ends one job, not the daemon.
/// Here the worker panics (as in this unwinding test build: exit 101), aborts
/// (SIGABRT, as a panic does in an abort build without edgemark's hook) or
/// is SIGKILLed mid-job: each job goes to failed/ with what happened and the
/// worker's last stderr lines, and the next job runs.
#[test]
fn a_job_whose_worker_panics_aborts_or_is_killed_fails_and_the_next_job_runs() {
    let env = Env::new("worker-death");
    let tag = std::process::id();
    let fault = format!("panic:a-boom-{tag},abort:b-bang-{tag}");
    let d = env.start(&[("EDGEMARK_WORKER_FAULT", fault.as_str())]);
    env.drop_job(&format!("a-boom-{tag}.toml"), QUICK_JOB);
    wait_for("panicking job failed", || {
        env.files("failed", ".toml").len() == 1
    });
    env.drop_job(&format!("b-bang-{tag}.toml"), QUICK_JOB);
    wait_for("aborting job failed", || {
        env.files("failed", ".toml").len() == 2
    });
    let long = format!("c-oom-{tag}");
    env.drop_job(&format!("{long}.toml"), LONG_JOB);
    wait_for("long job's worker", || workers(&long).len() == 1);
    let pid: i32 = workers(&long)[0]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_for("killed job failed", || {
        env.files("failed", ".toml").len() == 3
    });
    env.drop_job(&format!("d-fine-{tag}.toml"), QUICK_JOB);
    wait_for("next job done", || env.files("done", ".toml").len() == 1);

    let errors: Vec<String> = env
        .files("failed", ".error")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    eprintln!("---- failed/*.error:\n{}", errors.join(""));
    assert!(
        errors[0].starts_with("failed: the job's worker process exited with status 101 before reporting an outcome; its last stderr lines: ")
            && errors[0].contains("panicked at ")
            && errors[0].contains("EDGEMARK_WORKER_FAULT asked this job to panic")
            && !errors[0].contains("stack backtrace"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("failed: the job's worker process was killed by SIGABRT (signal 6) (it aborted) before reporting an outcome; its last stderr lines: ")
            && errors[1].contains("asked this job to abort"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("failed: the job's worker process was killed by SIGKILL (signal 9)"),
        "{}",
        errors[2]
    );
    for o in env.files("failed", ".outcome") {
        assert_eq!(outcome(&o).state, "failed");
    }
    assert!(
        env.files("done", ".toml")[0]
            .to_string_lossy()
            .ends_with(&format!("-d-fine-{tag}.toml"))
    );
    assert_eq!(records(&env).len(), 1, "only the good job wrote a record");
    let log = env.log();
    assert!(
        log.contains("asked this job to panic"),
        "the worker's stderr reaches the log:\n{log}"
    );
    assert!(d.stop().success(), "{log}");
}

#[test]
fn kill_9_during_a_job_then_restart_marks_it_interrupted() {
    let env = Env::new("kill9");
    let mut d = env.start(&[]);
    let name = format!("long-kill9-{}", std::process::id());
    env.drop_job(&format!("{name}.toml"), LONG_JOB);
    wait_for("job running", || env.files("running", ".toml").len() == 1);
    wait_for("worker started", || !workers(&name).is_empty());
    d.child.kill().unwrap();
    d.wait_exit();
    // PR_SET_PDEATHSIG: the job does not run on behind a dead daemon.
    wait_for("worker gone with the daemon", || workers(&name).is_empty());
    assert_eq!(
        env.files("running", ".toml").len(),
        1,
        "a killed daemon cannot move anything"
    );
    env.drop_job("next.toml", QUICK_JOB);
    let d = env.start(&[]);
    wait_for("next job done", || env.files("done", ".toml").len() == 1);
    let failed = env.files("failed", ".toml");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .to_string_lossy()
            .ends_with(&format!("-{name}.toml"))
    );
    let err = std::fs::read_to_string(&env.files("failed", ".error")[0]).unwrap();
    assert!(err.starts_with("interrupted: "), "{err}");
    assert!(env.log().contains("interrupted"), "{}", env.log());
    assert!(d.stop().success());
}

#[test]
fn sighup_picks_up_a_changed_config() {
    let env = Env::new("sighup");
    let mut notify = NotifySocket::new(&env);
    let d = env.start(&[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    notify.until("READY=1", |m| m == "READY=1");
    let other = env.dir.join("results-2");
    std::fs::write(
        &env.config,
        format!(
            "state_dir = {:?}\nresults_dir = {other:?}\nspool_poll_ms = 50\n",
            env.state
        ),
    )
    .unwrap();
    d.signal(Signal::SIGHUP);
    let reloading = notify.until("RELOADING=1", |m| {
        m.starts_with("RELOADING=1\nMONOTONIC_USEC=")
    });
    let ready = notify.until("READY=1 after reload", |m| m == "READY=1");
    assert!(reloading < ready);
    env.drop_job("after-hup.toml", QUICK_JOB);
    wait_for("job done", || env.files("done", ".toml").len() == 1);
    let in_new: Vec<_> = std::fs::read_dir(&other).unwrap().collect();
    assert_eq!(in_new.len(), 1, "record goes to the reloaded results_dir");
    assert!(records(&env).is_empty());
    assert!(d.stop().success());
}

#[test]
fn bad_config_on_sighup_keeps_the_old_one() {
    let env = Env::new("badhup");
    let mut notify = NotifySocket::new(&env);
    let d = env.start(&[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    notify.until("READY=1", |m| m == "READY=1");
    std::fs::write(&env.config, "state_dir = 5\n").unwrap();
    d.signal(Signal::SIGHUP);
    notify.until("READY=1 after reload", |m| m == "READY=1");
    env.drop_job("still.toml", QUICK_JOB);
    wait_for("job done under the old config", || records(&env).len() == 1);
    assert!(
        env.log().contains("keeping the old config"),
        "{}",
        env.log()
    );
    assert!(d.stop().success());
}

#[test]
fn sd_notify_messages_arrive_in_order() {
    let env = Env::new("notify");
    let mut notify = NotifySocket::new(&env);
    let d = env.start(&[
        ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
        ("WATCHDOG_USEC", "100000"),
    ]);
    let ready = notify.until("READY=1", |m| m == "READY=1");
    let idle = notify.until("STATUS=idle", |m| m == "STATUS=idle");
    env.drop_job(
        "progress.toml",
        "sut = \"synthetic:sleep:5\"\nmin_duration_ms = 1500\n",
    );
    let running = notify.until("a progress status", |m| {
        m.starts_with("STATUS=running job ") && m.ends_with('%') && m.contains("-progress: ")
    });
    let watchdog = notify.until("WATCHDOG=1", |m| m == "WATCHDOG=1");
    let idle_again = notify.until("STATUS=idle after the job", |m| m == "STATUS=idle");
    let mut d = d;
    d.signal(Signal::SIGTERM);
    let stopping = notify.until("STOPPING=1", |m| m == "STOPPING=1");
    assert!(d.wait_exit().success());
    assert_eq!(ready, 0, "READY=1 first: {:?}", notify.seen);
    assert!(ready < idle && idle < running && running < idle_again && idle_again < stopping);
    assert!(watchdog > ready);
    // Progress rises from 0 towards 99 as the job runs.
    let pcts: Vec<u32> = notify
        .seen
        .iter()
        .filter_map(|m| {
            m.strip_prefix("STATUS=running job ")?
                .rsplit_once(": ")?
                .1
                .strip_suffix('%')?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        pcts.len() >= 2 && pcts.windows(2).all(|w| w[0] <= w[1]),
        "{pcts:?}"
    );
    assert!(*pcts.last().unwrap() >= 50, "{pcts:?}");
}

#[test]
fn cooldown_waits_for_the_box_to_cool_then_runs_without_warning() {
    let env = Env::new("cool");
    copy_tree(&fixture("hot-root"), &env.root);
    env.write_config(
        "[cooldown]\nmax_temp_c = 60\nmax_loadavg1 = 3.0\nmax_wait_s = 600\npoll_ms = 50",
    );
    let mut notify = NotifySocket::new(&env);
    let d = env.start(&[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    env.drop_job("cool.toml", QUICK_JOB);
    notify.until("cooling down status", |m| {
        m == "STATUS=cooling down: 72 C load 2.50"
    });
    assert!(
        records(&env).is_empty() && env.files("jobs", ".toml").len() == 1,
        "job waits, unclaimed"
    );
    std::fs::write(
        env.root.join("sys/class/thermal/thermal_zone1/temp"),
        "50000\n",
    )
    .unwrap();
    wait_for("job done after cooling", || {
        env.files("done", ".toml").len() == 1
    });
    let rec = read_record(&records(&env)[0]);
    assert!(
        !rec.warnings.iter().any(|w| w.contains("cooldown")),
        "{rec:?}"
    );
    assert!(d.stop().success());
}

#[test]
fn cooldown_gives_up_after_max_wait_and_the_record_says_so() {
    let env = Env::new("hot");
    copy_tree(&fixture("hot-root"), &env.root);
    env.write_config("[cooldown]\nmax_temp_c = 60\nmax_wait_s = 0.3\npoll_ms = 50");
    let d = env.start(&[]);
    env.drop_job("hot.toml", QUICK_JOB);
    wait_for("job done after max wait", || {
        env.files("done", ".toml").len() == 1
    });
    // "after 0.3 s" or a little more: the gate re-checks after each poll.
    let gave_up = |w: &String| {
        w.starts_with("cooldown gate gave up after 0.") && w.contains(" s: 71.5 C at ")
    };
    let rec = read_record(&records(&env)[0]);
    assert_eq!(
        rec.warnings.iter().filter(|w| gave_up(w)).count(),
        1,
        "{rec:?}"
    );
    let o = outcome(&env.files("done", ".outcome")[0]);
    assert!(o.warnings.iter().any(gave_up), "{o:?}");
    assert!(d.stop().success());
}

#[test]
fn sigterm_while_cooling_down_leaves_the_job_queued() {
    let env = Env::new("coolterm");
    copy_tree(&fixture("hot-root"), &env.root);
    // A 10-minute poll: exiting at all within TIMEOUT shows the wait is
    // interrupted by the signal rather than waited out.
    env.write_config("[cooldown]\nmax_temp_c = 60\nmax_wait_s = 600\npoll_ms = 600000");
    let mut notify = NotifySocket::new(&env);
    let mut d = env.start(&[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
    env.drop_job("waiting.toml", QUICK_JOB);
    notify.until("cooling down status", |m| {
        m.starts_with("STATUS=cooling down: ")
    });
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    assert!(d.wait_exit().success());
    eprintln!("SIGTERM while cooling down to exit: {:?}", t.elapsed());
    assert_eq!(env.files("jobs", ".toml").len(), 1);
    assert!(env.files("running", "").is_empty() && env.files("failed", "").is_empty());
}

#[test]
fn at_boot_schedule_runs_once_per_boot() {
    let env = Env::new("boot");
    let job = env.dir.join("boot-job.toml");
    std::fs::write(&job, QUICK_JOB).unwrap();
    env.write_config(&format!(
        "[[schedule]]\nname = \"smoke\"\njob = {job:?}\nat_boot = true"
    ));
    let run = |expect_done: usize| {
        let mut notify = NotifySocket::new(&env);
        let d = env.start(&[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);
        // Due runs are queued before READY=1.
        notify.until("READY=1", |m| m == "READY=1");
        wait_for("scheduled jobs done", || {
            env.files("jobs", ".toml").is_empty() && env.files("running", ".toml").is_empty()
        });
        assert!(d.stop().success());
        std::fs::remove_file(&notify.path).unwrap();
        assert_eq!(
            env.files("done", ".toml").len(),
            expect_done,
            "{}",
            env.log()
        );
    };
    run(1);
    run(1); // same boot: not repeated
    std::fs::write(
        env.root.join("proc/sys/kernel/random/boot_id"),
        "ffffffff-2222\n",
    )
    .unwrap();
    run(2); // rebooted: runs again
    let names: Vec<_> = env.files("done", ".toml");
    assert!(
        names[1]
            .to_string_lossy()
            .contains("sched-smoke-boot-ffffffff"),
        "{names:?}"
    );
}

#[test]
fn bad_config_exits_2_with_the_path() {
    let env = Env::new("badcfg");
    std::fs::write(&env.config, "spool_poll_ms = \"fast\"\n").unwrap();
    let mut d = env.start(&[]);
    let st = d.wait_exit();
    assert_eq!(st.code(), Some(2));
    assert!(
        env.log().contains(&env.config.display().to_string()),
        "{}",
        env.log()
    );
}

#[test]
fn submit_validates_and_queues_atomically_and_status_lists_it() {
    let env = Env::new("submit");
    let jobs = env.dir("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let good = env.dir.join("good.toml");
    std::fs::write(&good, QUICK_JOB).unwrap();
    let bad = env.dir.join("bad.toml");
    std::fs::write(&bad, "sut = 3\n").unwrap();
    let submit = |f: &Path| {
        Command::new(BIN)
            .arg("submit")
            .arg(f)
            .arg("--spool")
            .arg(&jobs)
            .output()
            .unwrap()
    };
    let out = submit(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
    assert!(
        std::fs::read_dir(&jobs).unwrap().next().is_none(),
        "nothing queued, no temp left"
    );
    assert!(submit(&good).status.success());
    assert!(submit(&good).status.success());
    let queued: Vec<_> = std::fs::read_dir(&jobs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.iter().any(|n| n == "good-2.toml"));
    let out = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&env.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("queued (2):") && text.contains("good-2.toml"),
        "{text}"
    );
    // And the daemon runs what was submitted.
    let d = env.start(&[]);
    wait_for("both done", || env.files("done", ".toml").len() == 2);
    assert!(d.stop().success());
    let out = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&env.config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("queued (0):") && text.matches("done ").count() == 2,
        "{text}"
    );
    let recs = records(&env);
    assert_eq!(recs.len(), 2);
    for r in recs {
        assert!(text.contains(&r.display().to_string()), "{text}");
    }
}

#[test]
fn log_lines_carry_journald_priorities_only_when_stderr_is_the_journal() {
    let env = Env::new("journal");
    env.drop_job("bad.toml", "sut = 1\n");
    let d = env.start_with(&[], true);
    wait_for("bad job failed", || {
        env.files("failed", ".error").len() == 1
    });
    assert!(d.stop().success());
    let log = env.log();
    assert!(
        log.lines()
            .all(|l| l.starts_with("<3>") || l.starts_with("<4>") || l.starts_with("<6>")),
        "{log}"
    );
    assert!(log.lines().any(|l| l.starts_with("<6>serving ")), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("<3>job ") && l.contains("invalid job file")),
        "{log}"
    );
    // Inherited JOURNAL_STREAM that does not match stderr: plain lines.
    let d = env.start(&[("JOURNAL_STREAM", "1:1")]);
    wait_for("daemon log", || env.log().contains("serving"));
    assert!(d.stop().success());
    let log = env.log();
    assert!(log.starts_with("edgemark daemon: serving "), "{log}");
}

/// The results disk fills up under the daemon: the job that cannot write its
/// record goes to failed/ with the reason naming the file, leaves no partial
/// or temp file, the earlier record stays intact, and once there is room
/// again the next job runs (the daemon kept serving). Needs root (tmpfs).
#[test]
fn full_results_disk_fails_the_job_and_the_daemon_keeps_serving() {
    if !common::can_mount("daemon full_results_disk") {
        return;
    }
    let env = Env::new("diskfull");
    // Declared after env: unmounted before env removes its tree.
    let fs = common::Tmpfs::mount_at(env.results.clone(), 256 * 1024, "");
    // Traced: ~20 KB a record, more than the page left free below.
    let job = "sut = \"synthetic:null\"\nscenario = \"single-stream\"\ntrace = true\n\
               min_duration_ms = 1\nmin_query_count = 4000\n";
    let d = env.start(&[]);
    env.drop_job("a-fits.toml", job);
    wait_for("first job done", || env.files("done", ".toml").len() == 1);
    let earlier = records(&env);
    assert_eq!(earlier.len(), 1);
    let earlier_bytes = std::fs::read(&earlier[0]).unwrap();

    let filler = fs.fill_leaving(4096);
    env.drop_job("b-full.toml", job);
    wait_for("second job failed", || {
        env.files("failed", ".toml").len() == 1
    });
    let err = std::fs::read_to_string(&env.files("failed", ".error")[0]).unwrap();
    eprintln!("---- daemon, disk full mid-write: failed/*.error:\n{err}");
    assert!(
        err.starts_with("failed: ")
            && err.contains(&format!("cannot write record {}/", env.results.display()))
            && err.contains("No space left on device"),
        "{err}"
    );
    let o = outcome(&env.files("failed", ".outcome")[0]);
    assert_eq!(o.state, "failed");
    assert!(o.records.is_empty(), "{o:?}");
    let mut want = vec![earlier[0].clone(), filler.clone()];
    want.sort();
    assert_eq!(records(&env), want, "no partial record");
    assert_eq!(std::fs::read(&earlier[0]).unwrap(), earlier_bytes);
    let temps: Vec<String> = fs
        .names()
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");

    std::fs::remove_file(&filler).unwrap();
    env.drop_job("c-room-again.toml", job);
    wait_for("third job done", || env.files("done", ".toml").len() == 2);
    assert_eq!(records(&env).len(), 2);
    let log = env.log();
    eprintln!("---- daemon log:\n{log}");
    assert!(d.stop().success(), "{log}");
}

/// Processes whose command line contains `needle`, the daemon's excepted.
fn running(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) && !cmd.contains(BIN) {
            found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    found
}

/// An exec: SUT that crashes mid-job: the job goes to failed/ with the
/// reason (the crash, the SUT's stderr, the INVALID record written), no SUT
/// process is left, and the daemon runs the next exec: job as if nothing
/// happened.
#[test]
fn a_failed_exec_job_goes_to_failed_and_the_next_job_runs() {
    let Some(sut) = common::c_null_sut() else {
        return;
    };
    let env = Env::new("exec-fault");
    let tag = format!("tag-daemon-crash-{}", std::process::id());
    env.drop_job(
        "a-crash.toml",
        &format!(
            "sut = [\"exec:{}\", \"--fault\", \"crash\", \"--after\", \"20\", \"{tag}\"]\n\
             scenario = \"single-stream\"\nmin_duration_ms = 100\nsut_timeout_ms = 2000\n",
            sut.display()
        ),
    );
    env.drop_job(
        "b-good.toml",
        &format!(
            "sut = [\"exec:{}\", \"--busy-us\", \"10\"]\n\
             scenario = \"single-stream\"\nmin_duration_ms = 100\n",
            sut.display()
        ),
    );
    let d = env.start(&[]);
    wait_for("good exec job done", || {
        env.files("done", ".toml").len() == 1
    });
    assert!(
        env.files("done", ".toml")[0]
            .to_string_lossy()
            .ends_with("-b-good.toml")
    );
    let failed = env.files("failed", ".toml");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].to_string_lossy().ends_with("-a-crash.toml"));
    let err = std::fs::read_to_string(&env.files("failed", ".error")[0]).unwrap();
    assert!(
        err.contains("crashed (SIGSEGV, signal 11)")
            && err.contains("null_sut: query 21: now doing 'crash'")
            && err.contains("recorded as INVALID: "),
        "{err}"
    );
    let o = outcome(&env.files("failed", ".outcome")[0]);
    assert_eq!(o.state, "failed");
    assert!(
        o.error.as_deref().unwrap_or("").contains("SIGSEGV"),
        "{o:?}"
    );
    // Two records: the crashed job's INVALID one and the good job's VALID one.
    let recs: Vec<edgemark::record::Record> = records(&env)
        .iter()
        .map(|p| edgemark::record::Record::read(p).unwrap())
        .collect();
    assert_eq!(recs.len(), 2);
    let valid: Vec<bool> = recs
        .iter()
        .map(|r| r.result.as_ref().unwrap().valid)
        .collect();
    assert!(valid.contains(&true) && valid.contains(&false), "{valid:?}");
    let bad = recs
        .iter()
        .find(|r| !r.result.as_ref().unwrap().valid)
        .unwrap();
    assert_eq!(
        bad.result.as_ref().unwrap().invalid_reasons,
        [edgemark::record::InvalidReason::SutError]
    );
    assert!(running(&tag).is_empty(), "{:?}", running(&tag));
    let log = env.log();
    assert!(d.stop().success(), "{log}");
}
