//! Every daemon job runs in its own worker process: the daemon re-executes its
//! own binary (`/proc/self/exe job-worker ID`), hands it the [`JobRequest`] on
//! stdin and reads progress and the outcome back from its stdout. The worker
//! runs the job through the same [`JobRunner`] (`plan_runner`, i.e.
//! `run::execute`) as `edgemark run`.
//!
//! Why a process and not a thread:
//! - A panic, abort or crash inside the inference engine (release builds are
//!   `panic = "abort"`, issue 15) ends the worker, never the daemon: the job
//!   goes to failed/ with what happened and the worker's last stderr lines,
//!   and the daemon serves the next job.
//! - The daemon never holds a job's memory: model, inputs, arenas and engine
//!   threads go with the worker, whatever the allocator keeps for reuse.
//!
//! Protocol, worker -> daemon, one JSON [`Message`] a line on the worker's
//! stdout (its fd 1 is moved there at start and fd 1 then points at stderr,
//! so nothing else the job prints can corrupt it): `Progress` while running,
//! then one `Done`. Stderr lines are forwarded to the daemon's log, and the
//! last few kept for the failure reason. SIGTERM/SIGINT to the worker (from
//! the daemon, or systemd's stop to the whole cgroup) set `Control::abort`:
//! the job stops at its next query boundary and says aborted. The worker gets
//! SIGKILL when the daemon dies (`PR_SET_PDEATHSIG`), so a killed daemon
//! leaves no job running behind its back.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::log;
use super::runner::{JobError, JobOutcome, JobRequest, JobRunner};
use super::signals::{self, WakeHandle, Waker};
use crate::error::{CommandError, ErrorKind};
use crate::loadgen::Control;

/// The hidden subcommand the daemon starts its workers with.
pub const SUBCOMMAND: &str = "job-worker";
/// What the daemon executes to start a worker: its own binary, even if the
/// file was replaced by an upgrade since (the kernel keeps the old inode).
pub const SELF_EXE: &str = "/proc/self/exe";
/// Fault injection for the daemon's tests, read by the worker: a
/// comma-separated list of `panic:NEEDLE` or `abort:NEEDLE`; a job whose id
/// contains NEEDLE panics or aborts before it runs (what a tract panic does
/// in an unwinding or an abort build).
pub const FAULT_ENV: &str = "EDGEMARK_WORKER_FAULT";
/// Stderr lines kept for a dead worker's failure reason.
const TAIL_LINES: usize = 8;
/// Longest stderr line kept (a runaway line must not fill the error file).
const TAIL_LINE_MAX: usize = 400;
/// How often the worker checks the abort flag's source and sends progress.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// One line of the worker's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Queries (or samples) completed so far, for `STATUS=`.
    Progress(u64),
    /// The job's end; the worker exits right after.
    Done(Result<JobOutcome, WireError>),
}

/// A [`JobError`] on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireError {
    pub usage: bool,
    pub message: String,
}

impl From<&JobError> for WireError {
    fn from(e: &JobError) -> WireError {
        WireError {
            usage: e.kind == ErrorKind::Usage,
            message: e.message.clone(),
        }
    }
}

impl From<WireError> for JobError {
    fn from(e: WireError) -> JobError {
        JobError {
            kind: if e.usage {
                ErrorKind::Usage
            } else {
                ErrorKind::Runtime
            },
            message: e.message,
        }
    }
}

// ---------------------------------------------------------------- worker side

/// `edgemark job-worker ID`: read the request from stdin, run it, report on
/// stdout (see the module comment). Exit code: 0 done (or aborted), else the
/// error's kind; the daemon reads the outcome from the report, not the code.
pub fn serve(runner: &dyn JobRunner) -> Result<(), CommandError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("edgemark job-worker: {what}: {e}");
        CommandError::reported(ErrorKind::Runtime)
    };
    // `ps`/`top` and /proc/PID/comm: not "exe" (we were started as /proc/self/exe).
    let _ = nix::sys::prctl::set_name(c"edgemark-job");
    // First, so that a stop request from the start on becomes an abort.
    let waker = Waker::install().map_err(|e| fail("cannot install signal handlers", &e))?;
    // The report channel: a close-on-exec copy of stdout (an exec: SUT must
    // not hold it open), then stdout becomes stderr for everything else.
    // SAFETY: F_DUPFD_CLOEXEC on fd 1 returns a new descriptor we own.
    let report = unsafe { nix::libc::fcntl(1, nix::libc::F_DUPFD_CLOEXEC, 3) };
    if report < 0 {
        return Err(fail("cannot copy stdout", &std::io::Error::last_os_error()));
    }
    // SAFETY: `report` is a fresh descriptor nothing else owns.
    let report = File::from(unsafe { OwnedFd::from_raw_fd(report) });
    nix::unistd::dup2_stdout(std::io::stderr()).map_err(|e| fail("cannot redirect stdout", &e))?;
    let report = Arc::new(Mutex::new(report));

    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| fail("cannot read the job request", &e))?;
    let req: JobRequest = serde_json::from_str(&text).map_err(|e| fail("bad job request", &e))?;
    let _doing = crate::panic_report::doing(format!("running job {}", req.id));
    inject_fault(&req.id);

    let control = Arc::new(Control::default());
    let done = Arc::new(AtomicBool::new(false));
    {
        let (control, done, report) = (control.clone(), done.clone(), report.clone());
        std::thread::Builder::new()
            .name("job-progress".into())
            .spawn(move || progress_loop(&waker, &control, &done, &report))
            .map_err(|e| fail("cannot start the progress thread", &e))?;
    }
    let result = runner.run(&req, &control);
    done.store(true, Ordering::SeqCst);
    let code = result.as_ref().err().map(|e| e.kind);
    send(
        &report,
        &Message::Done(result.map_err(|e| WireError::from(&e))),
    );
    match code {
        None => Ok(()),
        Some(kind) => Err(CommandError::reported(kind)),
    }
}

/// Pass SIGTERM/SIGINT on to the run as `Control::abort`, report progress.
fn progress_loop(waker: &Waker, control: &Control, done: &AtomicBool, report: &Mutex<File>) {
    let mut last = u64::MAX;
    while !done.load(Ordering::SeqCst) {
        if signals::term_requested() {
            control.abort.store(true, Ordering::SeqCst);
        }
        let n = control.completed.load(Ordering::Relaxed);
        if n != last {
            last = n;
            send(report, &Message::Progress(n));
        }
        waker.wait(PROGRESS_TICK);
    }
}

fn send(report: &Mutex<File>, m: &Message) {
    let mut line = serde_json::to_string(m).unwrap_or_default();
    line.push('\n');
    let mut f = report.lock().unwrap_or_else(|e| e.into_inner());
    // A daemon gone away cannot be told anything; the job's records are on disk.
    let _ = f.write_all(line.as_bytes());
}

fn inject_fault(id: &str) {
    let Ok(spec) = std::env::var(FAULT_ENV) else {
        return;
    };
    for one in spec.split(',') {
        let Some((what, needle)) = one.split_once(':') else {
            continue;
        };
        if needle.is_empty() || !id.contains(needle) {
            continue;
        }
        match what {
            "panic" => panic!("{FAULT_ENV} asked this job to panic"),
            "abort" => {
                eprintln!("edgemark job-worker: {FAULT_ENV} asked this job to abort");
                std::process::abort()
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- daemon side

/// A running worker process, seen from the daemon.
pub struct Worker {
    child: Child,
    reader: Option<JoinHandle<Option<Message>>>,
    stderr: Option<JoinHandle<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    terminated: bool,
}

impl Worker {
    /// Start `exe job-worker ID` and hand it `req`. Progress lands in
    /// `control.completed`; `wake` is woken when the worker's output ends.
    pub fn spawn(
        exe: &Path,
        req: &JobRequest,
        control: Arc<Control>,
        wake: [WakeHandle; 2],
    ) -> std::io::Result<Worker> {
        let mut cmd = Command::new(exe);
        if let Some(arg0) = std::env::args_os().next() {
            // `ps` shows `edgemark job-worker ID`, not /proc/self/exe.
            cmd.arg0(arg0);
        }
        cmd.arg(SUBCOMMAND)
            .arg(&req.id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The notify socket belongs to the daemon (NotifyAccess=main).
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID");
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // If the daemon dies (even by SIGKILL) its job goes with it.
                nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let [wake_out, wake_err] = wake;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let reader = std::thread::Builder::new()
            .name("job-report".into())
            .spawn(move || read_report(stdout, &control, &wake_out));
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let stderr = {
            let tail = tail.clone();
            let id = req.id.clone();
            std::thread::Builder::new()
                .name("job-stderr".into())
                .spawn(move || {
                    collect_stderr(stderr, &id, &tail);
                    wake_err.wake();
                })
        };
        let (reader, stderr) = match (reader, stderr) {
            (Ok(r), Ok(s)) => (r, s),
            (Err(e), _) | (_, Err(e)) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        // The request, then EOF. A worker that died at once makes this fail;
        // its death is what gets reported, from try_finish.
        if let Some(mut stdin) = child.stdin.take() {
            let text = serde_json::to_string(req).map_err(std::io::Error::other)?;
            let _ = stdin.write_all(text.as_bytes());
        }
        Ok(Worker {
            child,
            reader: Some(reader),
            stderr: Some(stderr),
            tail,
            terminated: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some` once the worker has exited: its outcome, or why it has none.
    pub fn try_finish(&mut self) -> Option<Result<JobOutcome, JobError>> {
        let status = match self.child.try_wait() {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(e) => {
                return Some(Err(JobError::runtime(format!(
                    "cannot wait for the job's worker process: {e}"
                ))));
            }
        };
        Some(self.finish(status))
    }

    /// Ask the worker to stop at its next query boundary (SIGTERM, once).
    pub fn terminate(&mut self) {
        if !self.terminated {
            self.terminated = true;
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        }
    }

    /// SIGKILL the worker and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        if let Ok(status) = self.child.wait() {
            let _ = self.finish(status);
        }
    }

    fn finish(&mut self, status: ExitStatus) -> Result<JobOutcome, JobError> {
        // The worker is gone, so its pipes end now (its exec: SUT children
        // die with it), but do not hang on a stray holder of its stderr.
        let limit = Instant::now() + Duration::from_secs(2);
        while Instant::now() < limit
            && !(self.reader.as_ref().is_none_or(|h| h.is_finished())
                && self.stderr.as_ref().is_none_or(|h| h.is_finished()))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let report = match self.reader.take() {
            Some(h) if h.is_finished() => h.join().ok().flatten(),
            _ => None,
        };
        if self.stderr.as_ref().is_some_and(|h| h.is_finished()) {
            let _ = self.stderr.take().map(JoinHandle::join);
        }
        let tail: Vec<String> = self
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        match report {
            Some(Message::Done(r)) => r.map_err(JobError::from),
            _ => Err(JobError::runtime(died_message(status, &tail))),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Read report lines until EOF; returns the last `Done` (or None).
fn read_report(out: ChildStdout, control: &Control, wake: &WakeHandle) -> Option<Message> {
    let mut done = None;
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Message>(&line) {
            Ok(Message::Progress(n)) => control.completed.store(n, Ordering::Relaxed),
            Ok(m @ Message::Done(_)) => done = Some(m),
            Err(e) => log::warn(&format!("bad line from the job's worker ({e}): {line}")),
        }
    }
    wake.wake();
    done
}

/// Forward the worker's stderr to the daemon's log, keeping the last lines.
fn collect_stderr(err: std::process::ChildStderr, id: &str, tail: &Mutex<VecDeque<String>>) {
    let mut r = BufReader::new(err);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match r.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut line = String::from_utf8_lossy(&raw).trim_end().to_string();
        if line.is_empty() {
            continue;
        }
        log::info(&format!("job {id}: {line}"));
        // A backtrace (RUST_BACKTRACE) stays in the log; the tail keeps the
        // lines that say what happened.
        if is_backtrace_line(&line) {
            continue;
        }
        if line.len() > TAIL_LINE_MAX {
            let mut cut = TAIL_LINE_MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" [...]");
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

/// Lines of Rust's panic backtrace: `stack backtrace:`, `  12: fn`,
/// `      at file:line`, and the note about omitted details.
fn is_backtrace_line(line: &str) -> bool {
    let t = line.trim_start();
    line == "stack backtrace:"
        || t.starts_with("at ") && line.starts_with("  ")
        || t.starts_with("note: Some details are omitted")
        || t.starts_with("note: run with `RUST_BACKTRACE=1`")
        || t.split_once(": ")
            .is_some_and(|(n, _)| line.starts_with(' ') && n.parse::<u32>().is_ok())
}

/// Why a worker that sent no outcome ended, with its last stderr lines.
pub fn died_message(status: ExitStatus, tail: &[String]) -> String {
    let how = match (status.signal(), status.code()) {
        (Some(sig), _) => {
            let name = Signal::try_from(sig)
                .map(|s| s.as_str())
                .unwrap_or("unknown signal");
            let why = match Signal::try_from(sig) {
                Ok(Signal::SIGABRT) => " (it aborted)",
                Ok(Signal::SIGKILL) => " (the kernel's out-of-memory killer, or a stop)",
                _ => "",
            };
            format!("was killed by {name} (signal {sig}){why}")
        }
        (None, Some(code)) => format!("exited with status {code}"),
        (None, None) => "ended".to_string(),
    };
    let mut m = format!("the job's worker process {how} before reporting an outcome");
    if tail.is_empty() {
        m.push_str("; it wrote nothing to stderr");
    } else {
        m.push_str("; its last stderr lines: ");
        m.push_str(&tail.join(" | "));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_one_json_line_each() {
        let done = Message::Done(Ok(JobOutcome {
            aborted: true,
            records: vec!["/r/a.emrec".into()],
            warnings: vec!["w\nx".into()],
            summary: "SingleStream 10 queries VALID".into(),
        }));
        for m in [
            Message::Progress(42),
            done,
            Message::Done(Err(WireError {
                usage: true,
                message: "bad key".into(),
            })),
        ] {
            let line = serde_json::to_string(&m).unwrap();
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(serde_json::from_str::<Message>(&line).unwrap(), m);
        }
        let e = JobError::from(WireError {
            usage: true,
            message: "m".into(),
        });
        assert_eq!(e.kind, ErrorKind::Usage);
    }

    #[test]
    fn backtrace_lines_are_told_from_messages() {
        for l in [
            "stack backtrace:",
            "   0: __rustc::rust_begin_unwind",
            "  12: edgemark::main",
            "             at ./src/main.rs:3:5",
            "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ] {
            assert!(is_backtrace_line(l), "{l}");
        }
        for l in [
            "thread 'main' (7) panicked at src/daemon/worker.rs:1:2:",
            "EDGEMARK_WORKER_FAULT asked this job to panic",
            "edgemark: internal error while running job x: panicked: 3: boom",
            "at the end",
        ] {
            assert!(!is_backtrace_line(l), "{l}");
        }
    }

    #[test]
    fn a_dead_worker_is_named_with_its_signal_and_last_lines() {
        let abort = ExitStatus::from_raw(6);
        let m = died_message(abort, &["a".into(), "panicked at x.rs:1:2".into()]);
        assert_eq!(
            m,
            "the job's worker process was killed by SIGABRT (signal 6) (it aborted) before \
             reporting an outcome; its last stderr lines: a | panicked at x.rs:1:2"
        );
        let exit1 = ExitStatus::from_raw(1 << 8);
        assert_eq!(
            died_message(exit1, &[]),
            "the job's worker process exited with status 1 before reporting an outcome; \
             it wrote nothing to stderr"
        );
    }
}
