//! The one run function shared by `edgemark run` and the daemon:
//! plan -> SUT -> scenarios (with probes) -> statistics -> records.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::loadgen::warm_up::warm_up;
use crate::loadgen::{Clock, Control, MonotonicClock, ScenarioRun, offline, qsl, single_stream};
use crate::plan::{Mode, Plan, Scenario};
use crate::stats::{self, ScenarioResult};
use crate::sut::{self, SutInfo};

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

/// Why a run failed at runtime (exit 1). Settings errors never get here: a
/// [`Plan`] is already valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("system under test: {0}")]
    Sut(#[from] crate::sut::SutError),
    #[error("{0:?} mode is not supported by this build yet")]
    Mode(crate::plan::Mode),
}

/// Runs the plan on the monotonic clock.
pub fn execute(plan: &Plan, ctx: &RunContext) -> Result<RunOutput, RunError> {
    execute_with_clock(plan, ctx, Arc::new(MonotonicClock::new()))
}

/// The pipeline on a given clock (tests pass a `FakeClock`): build the SUT, then
/// for each scenario load samples, warm up, run, summarize.
pub fn execute_with_clock(
    plan: &Plan,
    ctx: &RunContext,
    clock: Arc<dyn Clock + Send>,
) -> Result<RunOutput, RunError> {
    if plan.mode != Mode::Performance {
        return Err(RunError::Mode(plan.mode));
    }
    let settings = &plan.settings;
    let mut sut = sut::build(&plan.sut, clock.clone())?;
    let mut outcomes = Vec::new();
    let mut warnings = Vec::new();
    for &scenario in &plan.scenarios {
        let loaded = qsl::loaded_set(settings);
        sut.load_samples(&loaded)?;
        let warm = warm_up(
            sut.as_mut(),
            settings.warm_up,
            &loaded,
            clock.as_ref(),
            ctx.control,
        )?;
        let mut run = match scenario {
            Scenario::SingleStream => {
                single_stream::run(sut.as_mut(), settings, &loaded, clock.as_ref(), ctx.control)?
            }
            Scenario::Offline => {
                offline::run(sut.as_mut(), settings, &loaded, clock.as_ref(), ctx.control)?
            }
        };
        run.warm_up_queries = warm.queries;
        run.warm_up_ns = warm.ns;
        let result = stats::summarize(settings, &run);
        if run.store_full {
            warnings.push(format!(
                "{scenario:?}: the latency store ({} queries) filled up and ended the run",
                settings.max_stored_queries
            ));
        }
        outcomes.push(ScenarioOutcome {
            run,
            result,
            record_path: None,
        });
        if ctx.control.abort.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(RunOutput {
        sut: sut.info(),
        outcomes,
        warnings,
    })
}
