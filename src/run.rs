//! The one run function shared by `edgemark run` and the daemon:
//! plan -> SUT -> scenarios (with probes) -> statistics -> records.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::accuracy::mode::{DataError, DataSession};
use crate::loadgen::calibrate::{self, QpsCalibration};
use crate::loadgen::warm_up::{WarmUpDone, warm_up};
use crate::loadgen::{Clock, Control, MonotonicClock, ScenarioRun, offline, qsl, single_stream};
use crate::plan::{DatasetSpec, EffectiveSettings, LoadGenSettings, Plan, Scenario, SutSpec};
use crate::probe::{self, ProbeSummary, Sampler, SystemInfo};
use crate::record::{Accuracy as AccuracyRecord, AccuracyDetails, Record, RunFacts, writer};
use crate::stats::{self, ScenarioResult};
use crate::sut::{self, SutInfo};

use crate::warnings::{RunWarning, Warnings};

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
    /// The untimed warm-up before it.
    pub warm_up: WarmUpDone,
    pub result: ScenarioResult,
    /// The settings this scenario ran with: the plan's, with the data set's
    /// size and a calibrated `offline_expected_qps` (then `calibration` says
    /// how it was measured).
    pub settings: EffectiveSettings,
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
    /// The accuracy run's record (`--mode accuracy|both`, run before any
    /// scenario; with its per-sample details even when the file has none),
    /// and its file if one was written.
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

/// The pipeline on a given clock (tests pass a `FakeClock`): build the SUT,
/// run the accuracy pass, then for each scenario load samples, warm up, run,
/// summarize and record.
pub fn execute_with_clock(
    plan: &Plan,
    ctx: &RunContext,
    clock: Arc<dyn Clock + Send>,
) -> Result<RunOutput, RunError> {
    let mut stage = Stage::prepare(plan, ctx, clock)?;
    // The data set is opened against the loaded model before anything runs, so
    // wrong labels fail before a single inference; accuracy runs first, like a
    // submission run; performance then uses the data set's samples as its QSL.
    let data = match &plan.dataset {
        Some(spec) => Some(DataSession::open(spec, stage.sut.as_mut())?),
        None => None,
    };
    let accuracy = match (&data, &plan.dataset) {
        (Some(d), Some(spec)) if plan.mode.runs_accuracy() => Some(stage.accuracy_pass(d, spec)?),
        _ => None,
    };
    let scenarios = if plan.mode.runs_performance() {
        &plan.scenarios[..]
    } else {
        &[]
    };
    let settings = match &data {
        Some(d) if plan.mode.runs_performance() => {
            let s = EffectiveSettings::of(&plan.settings, Some(d.samples()));
            d.feed(stage.sut.as_mut(), &qsl::loaded_set(s.settings()))?;
            s
        }
        _ => EffectiveSettings::of(&plan.settings, None),
    };
    let mut outcomes = Vec::new();
    for &scenario in scenarios {
        // Named for the panic line of abort builds (`panic_report`).
        let _doing =
            crate::panic_report::doing(format!("running {scenario:?} on {}", sut_name(&plan.sut)));
        let rec = accuracy.as_ref().map(|a| &a.accuracy);
        let (outcome, write_error) = stage.scenario(scenario, &settings, rec)?;
        outcomes.push(outcome);
        if let Some(source) = write_error {
            let output = Box::new(stage.output(outcomes, accuracy));
            return Err(RunError::Record { source, output });
        }
        if ctx.control.abort.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(stage.output(outcomes, accuracy))
}

/// What the stages of one run share: the plan, the box as probed before the
/// model loaded, the SUT, and the run's warnings so far.
struct Stage<'a> {
    plan: &'a Plan,
    ctx: &'a RunContext<'a>,
    clock: Arc<dyn Clock + Send>,
    system: SystemInfo,
    rss_before_load: Option<u64>,
    /// The caller's, the plan's and the unreadable sysfs files' warnings:
    /// every record of this run carries them.
    box_warnings: Warnings,
    /// Everything the summary lists: the box's, the setup's and each scenario's.
    warnings: Warnings,
    sut: Box<dyn sut::Sut>,
}

/// The accuracy pass: its result as persisted, and its record.
struct AccuracyPass {
    accuracy: AccuracyRecord,
    record: Record,
    path: Option<PathBuf>,
}

/// One scenario's untimed preparation and timed run, before its statistics.
struct Timed {
    warm_up: WarmUpDone,
    run: ScenarioRun,
    calibration: Option<QpsCalibration>,
    /// The settings the scenario ran with (a calibrated expected QPS).
    effective: EffectiveSettings,
    sensors: ProbeSummary,
    /// Wall-clock start and end of the timed run, Unix ns.
    wall: (u64, u64),
}

impl<'a> Stage<'a> {
    /// Checks the results directory, probes the box and builds the SUT.
    fn prepare(
        plan: &'a Plan,
        ctx: &'a RunContext<'a>,
        clock: Arc<dyn Clock + Send>,
    ) -> Result<Self, RunError> {
        // A results directory that cannot take a file fails now, not after the
        // model loaded and the scenarios ran for minutes.
        if let Some(dir) = &ctx.results_dir {
            writer::probe_dir(dir).map_err(RunError::ResultsDir)?;
        }
        // The box as it is before the model is loaded (never timed).
        let (system, unreadable) = probe::describe(&ctx.root);
        // The caller's and the plan's warnings first; with the unreadable sysfs
        // files, every record of this run carries them.
        let mut box_warnings = Warnings::default();
        let given = ctx.warnings.iter().chain(&plan.warnings).cloned();
        box_warnings.extend(given.map(RunWarning::Given));
        box_warnings.extend(unreadable.into_iter().map(RunWarning::Box));
        let mut warnings = box_warnings.clone();
        warnings.extend(system.setup_warnings().into_iter().map(RunWarning::Box));
        let rss_before_load = probe::read_rss(&ctx.root).rss_bytes;
        let sut = sut::build(&plan.sut, clock.clone(), &ctx.root)?;
        let sut_warnings = sut.info().warnings;
        box_warnings.extend(sut_warnings.iter().cloned());
        warnings.extend(sut_warnings);
        Ok(Stage {
            plan,
            ctx,
            clock,
            system,
            rss_before_load,
            box_warnings,
            warnings,
            sut,
        })
    }

    /// Every sample of the data set once, scored, probed like a scenario so
    /// the accuracy record says what the box was doing, and recorded.
    fn accuracy_pass(
        &mut self,
        data: &DataSession,
        spec: &DatasetSpec,
    ) -> Result<AccuracyPass, RunError> {
        let wall_start_ns = writer::unix_now_ns();
        let sampler = Sampler::start(&self.ctx.root, probe::sampler::DEFAULT_PERIOD);
        // A SUT failing here (an exec: SUT crashing, hanging...) ends the run
        // with an INVALID record, as in a scenario.
        let output =
            data.run_accuracy(self.sut.as_mut())
                .map_err(|e| match e.into_sut_failure() {
                    Ok(e) => {
                        let first = self.plan.scenarios.first().copied();
                        let scenario = first.unwrap_or(Scenario::SingleStream);
                        let at = (wall_start_ns, "accuracy pass");
                        self.sut_failed(&self.plan.settings, scenario, &[], at, e)
                    }
                    Err(e) => RunError::Data(e),
                })?;
        let sensors = sampler.stop();
        let wall = (wall_start_ns, writer::unix_now_ns());
        let accuracy = AccuracyRecord::from_output(spec, &output);
        let details = AccuracyDetails::from_output(&output, &accuracy);
        let scene = self.scene(&sensors, wall, &self.box_warnings);
        let facts = Facts {
            plan: self.plan,
            settings: &self.plan.settings,
            sut: &self.sut.info(),
            scenario: None,
            warm_up: WarmUpDone::default(),
            accuracy: Some(&accuracy),
            accuracy_details: Some(&details),
        };
        let record = build_record(self.ctx, &facts, &scene);
        let mut pass = AccuracyPass {
            accuracy,
            record,
            path: None,
        };
        match write_record(self.ctx, &pass.record) {
            Ok(p) => pass.path = p,
            Err(source) => {
                let output = Box::new(self.output(Vec::new(), Some(pass)));
                return Err(RunError::Record { source, output });
            }
        }
        Ok(pass)
    }

    /// One scenario: drive it, summarize it, record it. A record that could
    /// not be written is returned beside the outcome, which still holds it.
    fn scenario(
        &mut self,
        scenario: Scenario,
        settings: &EffectiveSettings,
        accuracy: Option<&AccuracyRecord>,
    ) -> Result<(ScenarioOutcome, Option<writer::WriteError>), RunError> {
        let timed = self.drive(scenario, settings)?;
        let result = stats::summarize(timed.effective.settings(), &timed.run);
        // The record: the box's warnings and this scenario's; from_run adds the probes'.
        let own = scenario_warnings(scenario, settings.settings(), &timed);
        self.warnings.extend(own.iter().cloned());
        let mut record_warnings = self.box_warnings.clone();
        record_warnings.extend(own);
        let scene = self.scene(&timed.sensors, timed.wall, &record_warnings);
        let facts = Facts {
            plan: self.plan,
            settings: timed.effective.settings(),
            sut: &self.sut.info(),
            scenario: Some((&timed.run, &result)),
            warm_up: timed.warm_up,
            // With --mode both every performance record carries the accuracy
            // result, so one file is enough to compare speed and accuracy.
            accuracy,
            accuracy_details: None,
        };
        let record = build_record(self.ctx, &facts, &scene);
        let (record_path, write_error) = match write_record(self.ctx, &record) {
            Ok(p) => (p, None),
            Err(e) => (None, Some(e)),
        };
        // The summary shows what the probes saw too, named by scenario.
        let sensors = &timed.sensors;
        for text in
            (sensors.condition_warnings().into_iter()).chain(sensors.warnings.iter().cloned())
        {
            self.warnings
                .push_once(RunWarning::Probe { scenario, text });
        }
        let outcome = ScenarioOutcome {
            run: timed.run,
            warm_up: timed.warm_up,
            result,
            settings: timed.effective,
            calibration: timed.calibration,
            record,
            record_path,
        };
        Ok((outcome, write_error))
    }

    /// Loads the samples, warms up, calibrates Offline's query size when the
    /// plan asks, then runs the timed scenario with the sensors sampling.
    fn drive(&mut self, scenario: Scenario, base: &EffectiveSettings) -> Result<Timed, RunError> {
        let settings = base.settings();
        let loaded = qsl::loaded_set(settings);
        let (clock, control) = (self.clock.clone(), self.ctx.control);
        // A SUT that fails (an external one crashing, hanging, ...) ends the
        // run, and the scenario is recorded INVALID with what happened.
        let pass = format!("{scenario:?}");
        let failed = |stage: &Self, e| {
            let at = (writer::unix_now_ns(), pass.as_str());
            stage.sut_failed(settings, scenario, &loaded, at, e)
        };
        self.sut
            .load_samples(&loaded)
            .map_err(|e| failed(self, e))?;
        let sut = self.sut.as_mut();
        let warm = warm_up(sut, settings.warm_up, &loaded, clock.as_ref(), control)
            .map_err(|e| failed(self, e))?;
        let calibration = match scenario {
            Scenario::Offline if self.plan.calibrate_offline_qps => {
                let sut = self.sut.as_mut();
                calibrate::offline_qps(sut, settings, &loaded, clock.as_ref(), control)
                    .map_err(|e| failed(self, e))?
            }
            _ => None,
        };
        let effective = base.calibrated(calibration.as_ref().map(|c| c.expected_qps));
        // Sensors sample on their own thread, started and stopped outside the timed loop.
        let wall_start_ns = writer::unix_now_ns();
        let sampler = Sampler::start(&self.ctx.root, probe::sampler::DEFAULT_PERIOD);
        let sut = self.sut.as_mut();
        let outcome = match scenario {
            Scenario::SingleStream => {
                single_stream::run(sut, settings, &loaded, clock.as_ref(), control)
            }
            Scenario::Offline => {
                offline::run(sut, effective.settings(), &loaded, clock.as_ref(), control)
            }
        };
        let sensors = sampler.stop();
        let run = outcome.map_err(|e| failed(self, e))?;
        let wall = (wall_start_ns, writer::unix_now_ns());
        Ok(Timed {
            warm_up: warm,
            run,
            calibration,
            effective,
            sensors,
            wall,
        })
    }

    /// What the probes saw around one pass, with the warnings its record carries.
    fn scene<'s>(
        &'s self,
        sensors: &'s ProbeSummary,
        wall: (u64, u64),
        warnings: &'s Warnings,
    ) -> Scene<'s> {
        Scene {
            system: &self.system,
            sensors,
            rss_before_load: self.rss_before_load,
            wall,
            warnings,
        }
    }

    /// The run's output so far (also what a failed record write still shows).
    fn output(&self, outcomes: Vec<ScenarioOutcome>, accuracy: Option<AccuracyPass>) -> RunOutput {
        let (accuracy_record, accuracy_record_path) = match accuracy {
            Some(a) => (Some(a.record), a.path),
            None => (None, None),
        };
        RunOutput {
            sut: self.sut.info(),
            outcomes,
            warnings: self.warnings.texts(),
            accuracy_record,
            accuracy_record_path,
        }
    }

    /// Records the scenario (or accuracy pass) a SUT failed in as INVALID
    /// (reason `SutError`, the failure and the SUT's last stderr lines as
    /// warnings) and returns the error that ends the run. `at` is when the
    /// pass started and its name.
    fn sut_failed(
        &self,
        settings: &LoadGenSettings,
        scenario: Scenario,
        loaded: &[usize],
        (wall_start_ns, pass): (u64, &str),
        e: crate::sut::SutError,
    ) -> RunError {
        let run = ScenarioRun::empty(scenario, loaded);
        let mut result = stats::summarize(settings, &run);
        // The one reason that matters: the others (no queries, no duration) follow from it.
        result.valid = false;
        result.invalid_reasons = vec![stats::InvalidReason::SutError];
        let mut info = self.sut.info();
        let mut warnings = self.box_warnings.clone();
        let first = e.to_string();
        warnings.push(RunWarning::SutFailed {
            pass: pass.to_string(),
            error: first.lines().next().unwrap_or_default().to_string(),
        });
        if let Some(f) = e.fault() {
            let tail = f.stderr_tail.iter().cloned();
            warnings.extend(tail.map(RunWarning::SutStderr));
            if let Some(engine) = info.engine.as_mut() {
                engine.stderr_tail = f.stderr_tail.clone();
            }
        }
        let facts = Facts {
            plan: self.plan,
            settings,
            sut: &info,
            scenario: Some((&run, &result)),
            warm_up: WarmUpDone::default(),
            accuracy: None,
            accuracy_details: None,
        };
        let sensors = ProbeSummary::default();
        let scene = self.scene(&sensors, (wall_start_ns, writer::unix_now_ns()), &warnings);
        let record = write_record(self.ctx, &build_record(self.ctx, &facts, &scene))
            .ok()
            .flatten();
        RunError::SutFailed { source: e, record }
    }
}

/// This scenario's own warnings: the latency store filled up, Offline's
/// calibrated query capped by the store.
/// The SUT in a few words, for the panic line.
fn sut_name(sut: &SutSpec) -> String {
    match sut {
        SutSpec::Synthetic(s) => format!("synthetic:{s}"),
        SutSpec::Model(m) => format!("model {}", m.path),
        SutSpec::BuiltIn(_) => "the built-in model".into(),
        SutSpec::Exec(e) => format!("exec:{}", e.command.first().map_or("", |s| s.as_str())),
    }
}

fn scenario_warnings(
    scenario: Scenario,
    settings: &LoadGenSettings,
    timed: &Timed,
) -> Vec<RunWarning> {
    let max_stored_queries = settings.max_stored_queries;
    let mut own = Vec::new();
    if timed.run.store_full {
        own.push(RunWarning::StoreFull {
            scenario,
            max_stored_queries,
        });
    }
    if let Some(c) = timed.calibration.as_ref().filter(|c| c.capped) {
        own.push(RunWarning::CalibrationCapped {
            measured_qps: c.measured_qps,
            max_stored_queries,
        });
    }
    own
}

/// What the probes saw around one scenario.
struct Scene<'a> {
    system: &'a SystemInfo,
    sensors: &'a ProbeSummary,
    rss_before_load: Option<u64>,
    /// Wall-clock start and end, Unix ns.
    wall: (u64, u64),
    warnings: &'a Warnings,
}

/// What a record is made of besides the probes.
struct Facts<'a> {
    plan: &'a Plan,
    settings: &'a LoadGenSettings,
    sut: &'a SutInfo,
    scenario: Option<(&'a ScenarioRun, &'a ScenarioResult)>,
    warm_up: WarmUpDone,
    accuracy: Option<&'a AccuracyRecord>,
    accuracy_details: Option<&'a AccuracyDetails>,
}

/// Writes a record when the context has a results directory. A record that
/// cannot be written fails the run (the caller still gets the figures
/// through [`RunError::Record`]). The per-sample accuracy details go into
/// the file only with `--trace`, like the per-query trace: a fleet keeps
/// many records, and on a large data set the details would dwarf them.
fn write_record(ctx: &RunContext, record: &Record) -> Result<Option<PathBuf>, writer::WriteError> {
    let Some(dir) = &ctx.results_dir else {
        return Ok(None);
    };
    if record.accuracy_details.is_some() && !record.plan.trace {
        let persisted = Record {
            accuracy_details: None,
            ..record.clone()
        };
        return writer::write_record(dir, &persisted).map(Some);
    }
    writer::write_record(dir, record).map(Some)
}

/// The record of a scenario (or of the accuracy run when `scenario` is None).
fn build_record(ctx: &RunContext, f: &Facts, scene: &Scene) -> Record {
    Record::from_run(&RunFacts {
        plan: f.plan,
        settings: f.settings,
        sut: f.sut,
        scenario: f.scenario,
        warm_up: f.warm_up,
        accuracy: f.accuracy,
        accuracy_details: f.accuracy_details,
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
