//! `edgemark daemon`: serve benchmark jobs from a spool directory, one at a
//! time, when the box is cool and quiet; plus the `submit` and `status`
//! commands users run beside it.
//!
//! One main thread owns all state: it sleeps on [`signals::Waker`] between
//! deadlines (spool poll, watchdog, status refresh), so an idle daemon wakes
//! once per `spool_poll_ms` at most. A job runs in its own worker process
//! ([`worker`]: this binary re-executed, running the job through the same
//! [`runner::JobRunner`] as `edgemark run`) while the main thread keeps
//! answering signals, the watchdog and `STATUS=`; a worker that panics, aborts
//! or crashes fails its job, not the daemon. SIGTERM/SIGINT reach the worker
//! (`Control::abort` there), the job stops at its next query boundary and is
//! recorded as aborted; SIGHUP re-reads the config between jobs.

pub mod client;
pub mod config;
pub mod cooldown;
pub mod log;
pub mod memory;
pub mod notify;
pub mod plan_runner;
pub mod runner;
pub mod schedule;
pub mod signals;
pub mod spool;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use crate::cli::DaemonArgs;
use crate::error::{CommandError, ErrorKind};
use crate::loadgen::Control;
use config::DaemonConfig;
use notify::Notifier;
use runner::{JobError, JobOutcome, JobRequest, JobRunner};
use signals::Waker;
use spool::{Claimed, Outcome, Spool};
use worker::Worker;

/// How long a stopping daemon waits for a job to reach a query boundary. Jobs
/// with sub-second queries stop well within systemd's expectations; a model
/// whose single query takes longer than this is cut off (job marked aborted).
const ABORT_GRACE: Duration = Duration::from_secs(5);
/// `STATUS=` progress refresh while a job runs.
const PROGRESS_PERIOD: Duration = Duration::from_secs(1);

/// Entry point of `edgemark daemon`. Errors are logged here (journal
/// format), so the returned error carries only the exit code's kind.
pub fn main(args: DaemonArgs) -> Result<(), CommandError> {
    memory::configure_allocator();
    let (config_path, must_exist) = match &args.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(config::DEFAULT_CONFIG), false),
    };
    let cfg = match load_config(&config_path, must_exist, &args) {
        Ok(c) => c,
        Err(e) => {
            log::error(&e.to_string());
            return Err(CommandError::reported(ErrorKind::Usage));
        }
    };
    let waker = match Waker::install() {
        Ok(w) => w,
        Err(e) => {
            log::error(&format!("cannot install signal handlers: {e}"));
            return Err(CommandError::reported(ErrorKind::Runtime));
        }
    };
    let mut d = Daemon {
        spool: Spool::new(&cfg.state_dir),
        cfg,
        config_path,
        must_exist,
        args,
        runner: plan_runner::default_runner(),
        worker_exe: PathBuf::from(worker::SELF_EXE),
        notifier: Notifier::from_env(),
        waker,
        watchdog: notify::watchdog_interval().map(|i| (i, Instant::now())),
        status: String::new(),
        sched_state: schedule::ScheduleState::default(),
        boot_id: None,
        trimmed: false,
    };
    match d.serve() {
        Ok(()) => Ok(()),
        Err(e) => {
            log::error(&e.to_string());
            d.notifier.send(&format!("STOPPING=1\nSTATUS=failed: {e}"));
            Err(CommandError::reported(ErrorKind::Runtime))
        }
    }
}

fn load_config(
    path: &std::path::Path,
    must_exist: bool,
    args: &DaemonArgs,
) -> Result<DaemonConfig, config::ConfigError> {
    let mut cfg = DaemonConfig::load(path, must_exist)?;
    if let Some(root) = &args.root {
        cfg.root = root.clone();
    }
    cfg.apply_board();
    Ok(cfg)
}

struct Daemon {
    cfg: DaemonConfig,
    config_path: PathBuf,
    must_exist: bool,
    args: DaemonArgs,
    spool: Spool,
    /// Checks job files; the jobs themselves run in worker processes.
    runner: Arc<dyn JobRunner>,
    /// The binary started as each job's worker (`worker`).
    worker_exe: PathBuf,
    notifier: Notifier,
    waker: Waker,
    /// Ping period and time of the last `WATCHDOG=1`.
    watchdog: Option<(Duration, Instant)>,
    /// Last `STATUS=` sent, so an idle daemon does not resend it every tick.
    status: String,
    sched_state: schedule::ScheduleState,
    boot_id: Option<String>,
    /// Code pages dropped since the last job (see `memory`).
    trimmed: bool,
}

/// Why the daemon's state directories are unusable: it stops (or, on a
/// reload, keeps the old config). A runtime failure of the box, never a job's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum StateError {
    #[error("cannot create spool: {0}")]
    Spool(std::io::Error),
    #[error("cannot create results dir {}: {source}", path.display())]
    Results {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot recover running/: {0}")]
    Recover(std::io::Error),
    /// Guessing would repeat or skip scheduled runs: a human has to look.
    #[error("schedule state unreadable ({0}); fix or remove it")]
    Schedule(schedule::ScheduleError),
}

/// Why a job ended, as the spool records it.
enum Finish {
    Ran(Result<JobOutcome, JobError>),
    /// Stopping, and the worker did not record the abort itself (it did not
    /// reach a query boundary in time, or died first): why.
    Aborted(String),
}

impl Daemon {
    fn serve(&mut self) -> Result<(), StateError> {
        self.prepare_state()?;
        if let Ok(id) = schedule::read_boot_id(&self.cfg.root) {
            self.boot_id = Some(id);
        } else if self.cfg.schedule.iter().any(|e| e.at_boot) {
            log::warn("boot id unreadable: at_boot schedule entries will not run");
        }
        log::info(&format!(
            "serving {} (results in {})",
            self.spool.jobs.display(),
            self.cfg.results_dir.display()
        ));
        if let Some(note) = &self.cfg.board_note {
            log::info(note);
        }
        // Due runs are queued before READY=1, so "ready" means the spool is current.
        self.run_schedule();
        self.notifier.send("READY=1");
        self.set_status("idle");
        while !signals::term_requested() {
            if signals::take_hup() {
                self.reload();
            }
            self.run_schedule();
            let next = match self.spool.pending() {
                Ok(p) => p.into_iter().next(),
                Err(e) => {
                    log::error(&format!("cannot list jobs: {e}"));
                    None
                }
            };
            match next {
                Some(job) => {
                    self.process(job);
                    self.trimmed = false;
                }
                None => {
                    self.set_status("idle");
                    if !self.trimmed {
                        self.trimmed = true;
                        // Jobs run in worker processes: what is freed here is
                        // the daemon's own (spool listings, the job's report).
                        memory::release_heap();
                        if let Err(e) = memory::release_code_pages() {
                            log::warn(&format!("cannot release idle code pages: {e}"));
                        }
                        if let Some(kb) = memory::resident_kb() {
                            log::info(&format!(
                                "idle, memory given back: VmRSS {kb} kB ({})",
                                memory::ALLOCATOR
                            ));
                        }
                    }
                    self.pause(self.cfg.spool_poll);
                }
            }
        }
        log::info("stopping on signal");
        self.notifier.send("STOPPING=1");
        Ok(())
    }

    /// Create the spool and results directories and recover interrupted jobs.
    fn prepare_state(&mut self) -> Result<(), StateError> {
        self.spool = Spool::new(&self.cfg.state_dir);
        self.spool.create_dirs().map_err(StateError::Spool)?;
        std::fs::create_dir_all(&self.cfg.results_dir).map_err(|source| StateError::Results {
            path: self.cfg.results_dir.clone(),
            source,
        })?;
        let ids = self
            .spool
            .recover_interrupted(Some(&self.cfg.results_dir))
            .map_err(StateError::Recover)?;
        for id in ids {
            log::warn(&format!(
                "job {id} was interrupted by a previous stop; moved to failed/"
            ));
        }
        let path = schedule::state_path(&self.cfg.state_dir);
        self.sched_state = schedule::ScheduleState::load(&path).map_err(StateError::Schedule)?;
        Ok(())
    }

    fn reload(&mut self) {
        let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
            .unwrap_or(0);
        self.notifier
            .send(&format!("RELOADING=1\nMONOTONIC_USEC={mono}"));
        match load_config(&self.config_path, self.must_exist, &self.args) {
            Ok(cfg) => {
                let old = std::mem::replace(&mut self.cfg, cfg);
                match self.prepare_state() {
                    Ok(()) => {
                        log::info(&format!("reloaded {}", self.config_path.display()));
                        if let Some(note) = &self.cfg.board_note {
                            log::info(note);
                        }
                    }
                    Err(e) => {
                        log::error(&format!("new config unusable ({e}); keeping the old one"));
                        self.cfg = old;
                        self.spool = Spool::new(&self.cfg.state_dir);
                        if let Err(e) = self.prepare_state() {
                            log::error(&e.to_string());
                        }
                    }
                }
            }
            Err(e) => log::error(&format!("{e}; keeping the old config")),
        }
        self.notifier.send("READY=1");
        self.status.clear();
    }

    fn run_schedule(&mut self) {
        if self.cfg.schedule.is_empty() {
            return;
        }
        let due = schedule::due(
            &self.cfg.schedule,
            &self.sched_state,
            SystemTime::now(),
            self.boot_id.as_deref(),
        );
        let path = schedule::state_path(&self.cfg.state_dir);
        for d in due {
            match schedule::enqueue(&self.spool, &mut self.sched_state, &path, &d) {
                Ok(()) => log::info(&format!("schedule {:?}: queued {}", d.name, d.file_name)),
                Err(e) => log::error(&e.to_string()),
            }
        }
    }

    fn set_status(&mut self, s: &str) {
        if self.status != s {
            self.status = s.to_owned();
            self.notifier.status(s);
        }
    }

    /// Sleep up to `d`, pinging the watchdog on time; returns early on any wake-up
    /// (signal, finished job).
    fn pause(&mut self, d: Duration) {
        self.ping_watchdog();
        let mut wait = d;
        if let Some((period, last)) = self.watchdog {
            wait = wait.min((last + period).saturating_duration_since(Instant::now()));
        }
        self.waker.wait(wait);
        self.ping_watchdog();
    }

    fn ping_watchdog(&mut self) {
        if let Some((period, last)) = self.watchdog
            && last.elapsed() >= period
        {
            self.notifier.send("WATCHDOG=1");
            self.watchdog = Some((period, Instant::now()));
        }
    }

    /// Cooldown gate. Ok(warnings for the record) to go; Err(()) when stopping.
    fn cooldown(&mut self) -> Result<Vec<String>, ()> {
        let start = Instant::now();
        let mut logged_problems = false;
        loop {
            let Some(cfg) = self.cfg.cooldown.clone() else {
                return Ok(Vec::new());
            };
            let reading = cooldown::read(&self.cfg.root, &cfg.zones);
            if !logged_problems {
                for p in &reading.problems {
                    log::warn(&format!("cooldown sensor: {p}"));
                }
                logged_problems = true;
            }
            let blockers = cooldown::blockers(&cfg, &reading);
            if blockers.is_empty() {
                return Ok(Vec::new());
            }
            let waited = start.elapsed();
            if waited >= cfg.max_wait {
                let w = format!(
                    "cooldown gate gave up after {:.1} s: {}",
                    waited.as_secs_f64(),
                    blockers.join(", ")
                );
                log::warn(&w);
                return Ok(vec![w]);
            }
            self.set_status(&cooldown::status_line(&reading));
            self.pause(cfg.poll.min(cfg.max_wait - waited));
            if signals::term_requested() {
                return Err(());
            }
            if signals::take_hup() {
                self.reload();
            }
        }
    }

    /// Gate, claim, check and run one queued job, then file it as done or failed.
    fn process(&mut self, job: PathBuf) {
        let Ok(warnings) = self.cooldown() else {
            return;
        };
        let claimed = match self.spool.claim(&job, SystemTime::now()) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                // Cannot move it (permissions?): say so once per poll and back off.
                log::error(&format!("cannot claim job: {e}"));
                self.pause(self.cfg.spool_poll);
                return;
            }
        };
        let text = match std::fs::read(&claimed.path) {
            Ok(b) => String::from_utf8(b).map_err(|_| "job file is not UTF-8 text".to_string()),
            Err(e) => Err(format!("cannot read {}: {e}", claimed.path.display())),
        };
        let shape = text
            .and_then(|t| {
                let shape = self.runner.check(&t, &self.cfg.root);
                shape.map(|s| (t, s)).map_err(|e| e.message)
            })
            .map_err(|e| format!("invalid job file: {e}"));
        let (text, shape) = match shape {
            Ok(x) => x,
            Err(e) => {
                log::error(&format!("job {}: {e}", claimed.id));
                self.file(&claimed, failed_outcome("failed", e, Vec::new()));
                return;
            }
        };
        log::info(&format!("job {} started", claimed.id));
        let req = JobRequest {
            id: claimed.id.clone(),
            toml: text,
            root: self.cfg.root.clone(),
            results_dir: self.cfg.results_dir.clone(),
            warnings,
        };
        let finish = self.run_job(req, &shape);
        let outcome = match finish {
            Finish::Ran(Ok(o)) if !o.aborted => {
                log::info(&format!("job {} done: {}", claimed.id, o.summary));
                Outcome {
                    state: "done".into(),
                    records: o.records,
                    warnings: o.warnings,
                    error: None,
                    summary: o.summary,
                }
            }
            Finish::Ran(Ok(o)) => {
                log::warn(&format!("job {} aborted: {}", claimed.id, o.summary));
                let mut out = failed_outcome(
                    "aborted",
                    "stopped by SIGTERM/SIGINT at a query boundary; records say aborted".into(),
                    o.warnings,
                );
                out.records = o.records;
                out.summary = o.summary;
                out
            }
            Finish::Ran(Err(e)) => {
                log::error(&format!("job {} failed: {e}", claimed.id));
                failed_outcome("failed", e.message, Vec::new())
            }
            Finish::Aborted(e) => {
                log::error(&format!("job {} aborted: {e}", claimed.id));
                failed_outcome("aborted", e, Vec::new())
            }
        };
        self.file(&claimed, outcome);
    }

    fn file(&mut self, claimed: &Claimed, outcome: Outcome) {
        if let Err(e) = self
            .spool
            .finish(claimed, &outcome, Some(&self.cfg.results_dir))
        {
            // It stays in running/ and is recovered as interrupted on the next start.
            log::error(&format!("cannot file job {}: {e}", claimed.id));
        }
    }

    fn run_job(&mut self, req: JobRequest, shape: &runner::JobShape) -> Finish {
        let control = Arc::new(Control::default());
        let wake = match (self.waker.handle(), self.waker.handle()) {
            (Ok(a), Ok(b)) => [a, b],
            (Err(e), _) | (_, Err(e)) => {
                return Finish::Ran(Err(JobError::runtime(format!(
                    "cannot create wake handle: {e}"
                ))));
            }
        };
        let id = req.id.clone();
        let mut worker = match Worker::spawn(&self.worker_exe, &req, Arc::clone(&control), wake) {
            Ok(w) => w,
            Err(e) => {
                return Finish::Ran(Err(JobError::runtime(format!(
                    "cannot start the job's worker process ({} {}): {e}",
                    self.worker_exe.display(),
                    worker::SUBCOMMAND
                ))));
            }
        };
        log::info(&format!("job {id}: worker process {}", worker.pid()));
        let start = Instant::now();
        let mut abort_deadline: Option<Instant> = None;
        loop {
            if let Some(r) = worker.try_finish() {
                return match r {
                    // Stopping, and the worker died without an outcome (e.g.
                    // the stop signal came before it had installed its
                    // handlers): the job was stopped, not broken.
                    Err(e) if abort_deadline.is_some() => Finish::Aborted(format!(
                        "stopped by SIGTERM/SIGINT before the job could record it: {e}"
                    )),
                    r => Finish::Ran(r),
                };
            }
            if signals::term_requested() && abort_deadline.is_none() {
                // systemd signals the whole cgroup, the worker included; a
                // terminal or `kill` reaches the daemon only: pass it on.
                worker.terminate();
                abort_deadline = Some(Instant::now() + ABORT_GRACE);
                self.set_status(&format!("stopping: aborting job {id}"));
            }
            if let Some(deadline) = abort_deadline {
                let now = Instant::now();
                if now >= deadline {
                    worker.kill();
                    return Finish::Aborted(format!(
                        "stopping, and the job did not reach a query boundary within {} s; \
                         its worker process was killed",
                        ABORT_GRACE.as_secs()
                    ));
                }
                self.pause((deadline - now).min(PROGRESS_PERIOD));
                continue;
            }
            let done = control.completed.load(Ordering::Relaxed);
            let elapsed = start.elapsed().as_nanos() as u64;
            let status = match runner::percent(shape, elapsed, done) {
                Some(p) => format!("running job {id}: {p}%"),
                None => format!("running job {id}: {done} queries"),
            };
            self.set_status(&status);
            self.pause(PROGRESS_PERIOD);
        }
    }
}

fn failed_outcome(state: &str, error: String, warnings: Vec<String>) -> Outcome {
    Outcome {
        state: state.into(),
        records: Vec::new(),
        warnings,
        error: Some(error),
        summary: String::new(),
    }
}
