//! The one run function shared by `edgemark run` and the daemon:
//! plan -> SUT -> scenarios (with probes) -> statistics -> records.

use std::path::PathBuf;

use crate::loadgen::{Control, ScenarioRun};
use crate::stats::ScenarioResult;
use crate::sut::SutInfo;

/// Where and how to run; everything that is not part of the plan itself.
#[derive(Debug)]
pub struct RunContext<'a> {
    /// Root of the filesystem the probes read (`/` in production, a fixture tree in tests).
    pub root: PathBuf,
    /// Where records go; None = do not write records.
    pub results_dir: Option<PathBuf>,
    /// Progress and abort flag shared with observers.
    pub control: &'a Control,
}

/// One scenario's raw run and its statistics.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    pub run: ScenarioRun,
    pub result: ScenarioResult,
    /// Record file written for it, if any.
    pub record_path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RunOutput {
    pub sut: SutInfo,
    pub outcomes: Vec<ScenarioOutcome>,
    /// Human-readable warnings (thermal, governor, store full, ...).
    pub warnings: Vec<String>,
}
