//! The seam between the daemon and the benchmark pipeline. The daemon only
//! knows [`JobRunner`]: check a job file, run it under a [`Control`] (progress
//! counter and abort flag), get back the records written.
//!
//! The binary uses `plan_runner::PlanRunner` (`plan_runner::default_runner`),
//! which depends on this seam and never the other way round: the daemon's
//! state machine stays independent of the pipeline.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::loadgen::Control;

/// Everything a job needs besides its own TOML. Serialized to the job's
/// worker process (`worker`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    /// Spool id (`YYYYmmddTHHMMSSZ-name`), for naming and logs.
    pub id: String,
    pub toml: String,
    /// Root the probes read sysfs/procfs under.
    pub root: PathBuf,
    pub results_dir: PathBuf,
    /// Daemon-side warnings that belong in the record (e.g. cooldown timed out).
    pub warnings: Vec<String>,
}

/// What a job's TOML promises, for the `STATUS=` progress percentage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JobShape {
    /// Minimum run time over all scenarios (ns); 0 = unknown.
    pub expected_ns: u64,
    /// Minimum number of queries over all scenarios; 0 = unknown.
    pub expected_queries: u64,
}

/// A job that ran to its end or to an abort at a query boundary. Serialized
/// back from the job's worker process.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobOutcome {
    /// Stopped early by `Control::abort`; records say so.
    pub aborted: bool,
    pub records: Vec<PathBuf>,
    /// All warnings that went into the records (the request's and the run's).
    pub warnings: Vec<String>,
    /// One line for the log, e.g. "SingleStream p90 5.1 ms VALID".
    pub summary: String,
}

/// Why a job could not be checked or run: a bad job file (usage; `submit`
/// refuses it, the daemon files it as failed) or a failure while running.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    pub kind: ErrorKind,
    pub message: String,
}

impl JobError {
    pub fn usage(e: impl std::fmt::Display) -> JobError {
        JobError {
            kind: ErrorKind::Usage,
            message: e.to_string(),
        }
    }

    pub fn runtime(e: impl std::fmt::Display) -> JobError {
        JobError {
            kind: ErrorKind::Runtime,
            message: e.to_string(),
        }
    }
}

/// Runs a job on a worker thread while the daemon's main loop keeps serving
/// signals, watchdog and status; hence `Send + Sync` and `&self`.
pub trait JobRunner: Send + Sync {
    /// Parse and validate a job file without running it (bad jobs go straight
    /// to `failed/`; `edgemark submit` refuses them). `root` is where the
    /// job's board is detected, as for the run.
    fn check(&self, job_toml: &str, root: &std::path::Path) -> Result<JobShape, JobError>;
    /// Run the job. Must poll `control.abort` at every query boundary and bump
    /// `control.completed` per query. Err = nothing usable was measured.
    fn run(&self, req: &JobRequest, control: &Control) -> Result<JobOutcome, JobError>;
}

/// Progress in percent for `STATUS=`: the further of time and query count,
/// capped at 99 because runs may go past their minimums (early stopping).
pub fn percent(shape: &JobShape, elapsed_ns: u64, completed: u64) -> Option<u32> {
    let by = |done: u64, total: u64| (total > 0).then(|| done as f64 / total as f64);
    let f = match (
        by(elapsed_ns, shape.expected_ns),
        by(completed, shape.expected_queries),
    ) {
        (None, None) => return None,
        (a, b) => a.unwrap_or(0.0).max(b.unwrap_or(0.0)),
    };
    Some(((f * 100.0) as u32).min(99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_takes_the_further_measure_and_never_says_100() {
        let s = JobShape {
            expected_ns: 10_000,
            expected_queries: 100,
        };
        assert_eq!(percent(&s, 4_200, 10), Some(42));
        assert_eq!(percent(&s, 1_000, 50), Some(50));
        assert_eq!(percent(&s, 50_000, 500), Some(99));
        assert_eq!(percent(&JobShape::default(), 5, 5), None);
    }
}
