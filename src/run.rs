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
use crate::probe::{self, ProbeSummary, Sampler, SystemInfo};
use crate::record::{Accuracy as AccuracyRecord, Record, RunFacts, writer};
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
    /// The caller's warnings (daemon: the cooldown gate gave up waiting): every
    /// record of the run carries them.
    pub warnings: Vec<String>,
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
    /// The scenario's record: what every summary and export renders.
    pub record: Record,
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
    /// The accuracy run's record, and its file if one was written.
    pub accuracy_record: Option<Record>,
    pub accuracy_record_path: Option<PathBuf>,
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
    /// The SUT failed during a scenario; the scenario is recorded INVALID.
    #[error("system under test: {source}{}", recorded_note(record))]
    SutFailed {
        source: crate::sut::SutError,
        record: Option<PathBuf>,
    },
    /// Found before anything ran: the results directory cannot take a file.
    #[error("{0}")]
    ResultsDir(writer::WriteError),
    /// A record could not be written (disk full, I/O error): the run stopped
    /// there. `output` holds what was measured, so the caller can still show
    /// it; the records written before this one are intact.
    #[error("{source}")]
    Record {
        source: writer::WriteError,
        output: Box<RunOutput>,
    },
}

fn recorded_note(record: &Option<PathBuf>) -> String {
    match record {
        Some(p) => format!("\nrecorded as INVALID: {}", p.display()),
        None => String::new(),
    }
}

impl RunError {
    /// Usage for the user's input to fix, found only once the model is
    /// loaded (labels that do not fit the model's classes); else runtime.
    pub fn kind(&self) -> crate::error::ErrorKind {
        match self {
            RunError::Data(e) if e.is_usage() => crate::error::ErrorKind::Usage,
            _ => crate::error::ErrorKind::Runtime,
        }
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
    // A results directory that cannot take a file fails now, not after the
    // model loaded and the scenarios ran for minutes.
    if let Some(dir) = &ctx.results_dir {
        writer::probe_dir(dir).map_err(RunError::ResultsDir)?;
    }
    // The box as it is before the model is loaded (never timed).
    let (system, mut warnings) = probe::describe(&ctx.root);
    // The caller's and the plan's warnings first; with the unreadable sysfs
    // files, every record of this run carries them.
    warnings.splice(0..0, ctx.warnings.iter().chain(&plan.warnings).cloned());
    let box_warnings = warnings.clone();
    warnings.extend(system.setup_warnings());
    let rss_before_load = probe::read_rss(&ctx.root).rss_bytes;
    let mut sut = sut::build(&plan.sut, clock.clone(), &ctx.root)?;
    // The data set is opened against the loaded model before anything runs, so
    // wrong labels fail before a single inference; accuracy runs first, like a
    // submission run; performance then uses the data set's samples as its QSL.
    let data = match &plan.dataset {
        Some(spec) => Some(DataSession::open(spec, sut.as_mut())?),
        None => None,
    };
    let mut accuracy = None;
    let mut accuracy_record = None;
    let mut accuracy_full_record = None;
    let mut accuracy_record_path = None;
    if let (Some(d), Some(spec)) = (&data, &plan.dataset)
        && plan.mode.runs_accuracy()
    {
        // Probed like a scenario, so the accuracy record says what the box was doing.
        let wall_start_ns = writer::unix_now_ns();
        let sampler = Sampler::start(&ctx.root, probe::sampler::DEFAULT_PERIOD);
        // A SUT failing here (an exec: SUT crashing, hanging...) ends the run
        // with an INVALID record, as in a scenario.
        let out = d
            .run_accuracy(sut.as_mut())
            .map_err(|e| match e.into_sut_failure() {
                Ok(e) => {
                    let scene = Scene {
                        system: &system,
                        sensors: &ProbeSummary::default(),
                        rss_before_load,
                        wall: (wall_start_ns, writer::unix_now_ns()),
                        warnings: &box_warnings,
                    };
                    let first = plan.scenarios.first().copied();
                    let scenario = first.unwrap_or(Scenario::SingleStream);
                    sut_failed(
                        ctx,
                        plan,
                        &plan.settings,
                        sut.as_ref(),
                        scenario,
                        &[],
                        &scene,
                        e,
                        "accuracy pass",
                    )
                }
                Err(e) => RunError::Data(e),
            })?;
        let sensors = sampler.stop();
        let wall_end_ns = writer::unix_now_ns();
        let rec = AccuracyRecord::from_output(spec, &out);
        let scene = Scene {
            system: &system,
            sensors: &sensors,
            rss_before_load,
            wall: (wall_start_ns, wall_end_ns),
            warnings: &box_warnings,
        };
        let facts = Facts {
            plan,
            settings: &plan.settings,
            sut: &sut.info(),
            scenario: None,
            accuracy: Some(&rec),
        };
        let record = build_record(ctx, &facts, &scene);
        match write_record(ctx, &record) {
            Ok(p) => accuracy_record_path = p,
            Err(source) => {
                return Err(RunError::Record {
                    source,
                    output: Box::new(RunOutput {
                        sut: sut.info(),
                        outcomes: Vec::new(),
                        warnings,
                        accuracy: Some(out),
                        accuracy_record: Some(record),
                        accuracy_record_path: None,
                    }),
                });
            }
        }
        accuracy_full_record = Some(record);
        accuracy = Some(out);
        accuracy_record = Some(rec);
    }
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
    for &scenario in scenarios {
        let loaded = qsl::loaded_set(settings);
        // A SUT that fails (an external one crashing, hanging, ...) ends the
        // run, and the scenario is recorded INVALID with what happened.
        let failed = |e: crate::sut::SutError, sut: &dyn sut::Sut| {
            let scene = Scene {
                system: &system,
                sensors: &ProbeSummary::default(),
                rss_before_load,
                wall: (writer::unix_now_ns(), writer::unix_now_ns()),
                warnings: &box_warnings,
            };
            let pass = format!("{scenario:?}");
            sut_failed(
                ctx, plan, settings, sut, scenario, &loaded, &scene, e, &pass,
            )
        };
        sut.load_samples(&loaded)
            .map_err(|e| failed(e, sut.as_ref()))?;
        let warm = warm_up(
            sut.as_mut(),
            settings.warm_up,
            &loaded,
            clock.as_ref(),
            ctx.control,
        )
        .map_err(|e| failed(e, sut.as_ref()))?;
        let calibration = match scenario {
            Scenario::Offline if plan.calibrate_offline_qps => {
                calibrate::offline_qps(sut.as_mut(), settings, &loaded, clock.as_ref(), ctx.control)
                    .map_err(|e| failed(e, sut.as_ref()))?
            }
            _ => None,
        };
        let effective = calibrate::effective_settings(settings, calibration.as_ref());
        // Sensors sample on their own thread, started and stopped outside the timed loop.
        let wall_start_ns = writer::unix_now_ns();
        let sampler = Sampler::start(&ctx.root, probe::sampler::DEFAULT_PERIOD);
        let outcome = match scenario {
            Scenario::SingleStream => {
                single_stream::run(sut.as_mut(), settings, &loaded, clock.as_ref(), ctx.control)
            }
            Scenario::Offline => offline::run(
                sut.as_mut(),
                &effective,
                &loaded,
                clock.as_ref(),
                ctx.control,
            ),
        };
        let sensors = sampler.stop();
        let mut run = outcome.map_err(|e| failed(e, sut.as_ref()))?;
        let wall_end_ns = writer::unix_now_ns();
        run.warm_up_queries = warm.queries;
        run.warm_up_ns = warm.ns;
        let result = stats::summarize(&effective, &run);
        let before = warnings.len();
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
        // The record: the box's warnings and this scenario's; from_run adds the probes'.
        let own: Vec<String> = box_warnings
            .iter()
            .chain(&warnings[before..])
            .cloned()
            .collect();
        let scene = Scene {
            system: &system,
            sensors: &sensors,
            rss_before_load,
            wall: (wall_start_ns, wall_end_ns),
            warnings: &own,
        };
        let facts = Facts {
            plan,
            settings: &effective,
            sut: &sut.info(),
            scenario: Some((&run, &result)),
            // With --mode both every performance record carries the accuracy
            // result, so one file is enough to compare speed and accuracy.
            accuracy: accuracy_record.as_ref(),
        };
        let record = build_record(ctx, &facts, &scene);
        let (record_path, write_error) = match write_record(ctx, &record) {
            Ok(p) => (p, None),
            Err(e) => (None, Some(e)),
        };
        // The summary shows what the probes saw too, named by scenario.
        for w in sensors
            .condition_warnings()
            .into_iter()
            .chain(sensors.warnings.iter().cloned())
        {
            let w = format!("{scenario:?}: {w}");
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        outcomes.push(ScenarioOutcome {
            run,
            result,
            settings: effective,
            calibration,
            record,
            record_path,
        });
        if let Some(source) = write_error {
            return Err(RunError::Record {
                source,
                output: Box::new(RunOutput {
                    sut: sut.info(),
                    outcomes,
                    warnings,
                    accuracy,
                    accuracy_record: accuracy_full_record,
                    accuracy_record_path,
                }),
            });
        }
        if ctx.control.abort.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(RunOutput {
        sut: sut.info(),
        outcomes,
        warnings,
        accuracy,
        accuracy_record: accuracy_full_record,
        accuracy_record_path,
    })
}

/// Records the scenario (or accuracy pass, named by `pass`) a SUT failed in
/// as INVALID (reason `SutError`, the failure and the SUT's last stderr lines
/// as warnings) and returns the error that ends the run.
#[allow(clippy::too_many_arguments)]
fn sut_failed(
    ctx: &RunContext,
    plan: &Plan,
    settings: &LoadGenSettings,
    sut: &dyn sut::Sut,
    scenario: Scenario,
    loaded: &[usize],
    scene: &Scene,
    e: crate::sut::SutError,
    pass: &str,
) -> RunError {
    let run = ScenarioRun {
        scenario,
        loaded_set: loaded.to_vec(),
        issued_sample_index: Vec::new(),
        latency_ns: Vec::new(),
        start_ns: 0,
        duration_ns: 0,
        warm_up_queries: 0,
        warm_up_ns: 0,
        aborted: false,
        store_full: false,
    };
    let mut result = stats::summarize(settings, &run);
    // The one reason that matters: the others (no queries, no duration) follow from it.
    result.valid = false;
    result.invalid_reasons = vec![stats::InvalidReason::SutError];
    let mut info = sut.info();
    let mut warnings = scene.warnings.to_vec();
    let first = e.to_string();
    warnings.push(format!(
        "{pass}: the SUT failed: {}",
        first.lines().next().unwrap_or_default()
    ));
    if let Some(f) = e.fault() {
        warnings.extend(f.stderr_tail.iter().map(|l| format!("SUT stderr: {l}")));
        if let Some(engine) = info.engine.as_mut() {
            engine.stderr_tail = f.stderr_tail.clone();
        }
    }
    let facts = Facts {
        plan,
        settings,
        sut: &info,
        scenario: Some((&run, &result)),
        accuracy: None,
    };
    let scene = Scene {
        warnings: &warnings,
        ..*scene
    };
    let record = write_record(ctx, &build_record(ctx, &facts, &scene))
        .ok()
        .flatten();
    RunError::SutFailed { source: e, record }
}

/// What the probes saw around one scenario.
struct Scene<'a> {
    system: &'a SystemInfo,
    sensors: &'a ProbeSummary,
    rss_before_load: Option<u64>,
    /// Wall-clock start and end, Unix ns.
    wall: (u64, u64),
    warnings: &'a [String],
}

/// What a record is made of besides the probes.
struct Facts<'a> {
    plan: &'a Plan,
    settings: &'a LoadGenSettings,
    sut: &'a SutInfo,
    scenario: Option<(&'a ScenarioRun, &'a ScenarioResult)>,
    accuracy: Option<&'a AccuracyRecord>,
}

/// Writes a record when the context has a results directory. A record that
/// cannot be written fails the run (the caller still gets the figures
/// through [`RunError::Record`]).
fn write_record(ctx: &RunContext, record: &Record) -> Result<Option<PathBuf>, writer::WriteError> {
    let Some(dir) = &ctx.results_dir else {
        return Ok(None);
    };
    writer::write_record(dir, record).map(Some)
}

/// The record of a scenario (or of the accuracy run when `scenario` is None).
fn build_record(ctx: &RunContext, f: &Facts, scene: &Scene) -> Record {
    Record::from_run(&RunFacts {
        plan: f.plan,
        settings: f.settings,
        sut: f.sut,
        scenario: f.scenario,
        accuracy: f.accuracy,
        system: scene.system,
        sensors: scene.sensors,
        rss_before_load_bytes: scene.rss_before_load,
        peak_rss_bytes: probe::read_rss(&ctx.root).peak_rss_bytes,
        run_id: writer::random_run_id(),
        wall_start_ns: scene.wall.0,
        wall_end_ns: scene.wall.1,
        warnings: scene.warnings,
    })
}
