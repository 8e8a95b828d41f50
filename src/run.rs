//! The one run function shared by `edgemark run` and the daemon:
//! plan -> SUT -> scenarios (with probes) -> statistics -> records.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::accuracy::mode::{AccuracyOutput, DataError, DataSession};
use crate::loadgen::calibrate::{self, QpsCalibration};
use crate::loadgen::warm_up::warm_up;
use crate::loadgen::{Clock, Control, MonotonicClock, ScenarioRun, offline, qsl, single_stream};
use crate::plan::{LoadGenSettings, Plan, Scenario};
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
    /// The settings this scenario ran with: the plan's, except a calibrated
    /// `offline_expected_qps` (then `calibration` says how it was measured).
    pub settings: LoadGenSettings,
    pub calibration: Option<QpsCalibration>,
    /// Record file written for it, if any.
    pub record_path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RunOutput {
    pub sut: SutInfo,
    pub outcomes: Vec<ScenarioOutcome>,
    /// Human-readable warnings (thermal, governor, store full, ...).
    pub warnings: Vec<String>,
    /// Accuracy mode's result (`--mode accuracy|both`), run before any scenario.
    pub accuracy: Option<AccuracyOutput>,
}

/// Why a run failed at runtime (exit 1). Settings errors never get here: a
/// [`Plan`] is already valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("system under test: {0}")]
    Sut(#[from] crate::sut::SutError),
    #[error("data set: {0}")]
    Data(#[from] DataError),
}

impl RunError {
    /// Errors that are the user's input to fix (exit 2), found only once the
    /// model is loaded: labels that do not fit the model's classes.
    pub fn is_usage(&self) -> bool {
        matches!(self, RunError::Data(e) if e.is_usage())
    }
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
    let mut sut = sut::build(&plan.sut, clock.clone())?;
    // The data set is opened against the loaded model before anything runs, so
    // wrong labels fail before a single inference; accuracy runs first, like a
    // submission run; performance then uses the data set's samples as its QSL.
    let data = match &plan.dataset {
        Some(spec) => Some(DataSession::open(spec, sut.as_mut())?),
        None => None,
    };
    let accuracy = match &data {
        Some(d) if plan.mode.runs_accuracy() => Some(d.run_accuracy(sut.as_mut())?),
        _ => None,
    };
    let qsl_settings = match &data {
        Some(d) if plan.mode.runs_performance() => {
            let s = d.qsl_settings(&plan.settings);
            d.feed(sut.as_mut(), &qsl::loaded_set(&s))?;
            s
        }
        _ => plan.settings.clone(),
    };
    let settings = &qsl_settings;
    let scenarios = if plan.mode.runs_performance() {
        &plan.scenarios[..]
    } else {
        &[]
    };
    let mut outcomes = Vec::new();
    let mut warnings = Vec::new();
    for &scenario in scenarios {
        let loaded = qsl::loaded_set(settings);
        sut.load_samples(&loaded)?;
        let warm = warm_up(
            sut.as_mut(),
            settings.warm_up,
            &loaded,
            clock.as_ref(),
            ctx.control,
        )?;
        let calibration = match scenario {
            Scenario::Offline if plan.calibrate_offline_qps => calibrate::offline_qps(
                sut.as_mut(),
                settings,
                &loaded,
                clock.as_ref(),
                ctx.control,
            )?,
            _ => None,
        };
        let effective = calibrate::effective_settings(settings, calibration.as_ref());
        let mut run = match scenario {
            Scenario::SingleStream => {
                single_stream::run(sut.as_mut(), settings, &loaded, clock.as_ref(), ctx.control)?
            }
            Scenario::Offline => offline::run(
                sut.as_mut(),
                &effective,
                &loaded,
                clock.as_ref(),
                ctx.control,
            )?,
        };
        run.warm_up_queries = warm.queries;
        run.warm_up_ns = warm.ns;
        let result = stats::summarize(&effective, &run);
        if run.store_full {
            warnings.push(format!(
                "{scenario:?}: the latency store ({} queries) filled up and ended the run",
                settings.max_stored_queries
            ));
        }
        if let Some(c) = calibration.as_ref().filter(|c| c.capped) {
            warnings.push(format!(
                "Offline: measured {:.0} samples/s, but the query is limited to max_stored_queries ({}) samples; it may end before min_duration",
                c.measured_qps, settings.max_stored_queries
            ));
        }
        outcomes.push(ScenarioOutcome {
            run,
            result,
            settings: effective,
            calibration,
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
        accuracy,
    })
}
