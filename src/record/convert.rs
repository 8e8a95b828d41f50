//! From the in-memory results of a run to the persisted [`Record`]: the only
//! place that knows both shapes.

use crate::accuracy::AccuracyResult;
use crate::accuracy::classification::ClassificationSummary;
use crate::accuracy::mode::AccuracyOutput;
use crate::loadgen::ScenarioRun;
use crate::loadgen::warm_up::WarmUpDone;
use crate::plan::SutTransport;
use crate::probe::{self, ProbeSummary, SystemInfo};
use crate::stats::{self, ScenarioResult};
use crate::warnings::{RunWarning, Warnings};
use crate::{plan, sut};

use super::schema::*;

/// Everything one record is made of, as the run stage holds it.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    pub plan: &'a plan::Plan,
    /// The settings the scenario ran with: the plan's, with Offline's expected
    /// QPS calibrated when the plan asked for it.
    pub settings: &'a plan::LoadGenSettings,
    pub sut: &'a sut::SutInfo,
    /// The scenario's run and statistics; None for the record of an accuracy
    /// run, which times no scenario.
    pub scenario: Option<(&'a ScenarioRun, &'a ScenarioResult)>,
    /// The untimed warm-up before the scenario (none for an accuracy record).
    pub warm_up: WarmUpDone,
    /// The run's accuracy result, when it had one (`--mode accuracy|both`).
    pub accuracy: Option<&'a Accuracy>,
    /// Its per-sample details: in the accuracy record only.
    pub accuracy_details: Option<&'a AccuracyDetails>,
    pub system: &'a SystemInfo,
    pub sensors: &'a ProbeSummary,
    /// VmRSS before the model was loaded.
    pub rss_before_load_bytes: Option<u64>,
    /// VmHWM after the scenario.
    pub peak_rss_bytes: Option<u64>,
    pub run_id: u64,
    /// Wall clock, Unix epoch ns.
    pub wall_start_ns: u64,
    pub wall_end_ns: u64,
    /// Warnings of the run (the record adds those it derives from the probes).
    pub warnings: &'a Warnings,
}

impl Record {
    /// Builds the record of one scenario run, or of the accuracy run when
    /// `scenario` is None. The trace is kept when the plan asks for it.
    pub fn from_run(f: &RunFacts<'_>) -> Record {
        // An accuracy record names the scenario the plan would run first, as
        // LoadGen's accuracy mode runs under a scenario (and on its cores).
        let scenario = match f.scenario {
            Some((_, res)) => res.scenario,
            None => f
                .plan
                .scenarios
                .first()
                .copied()
                .unwrap_or(plan::Scenario::SingleStream),
        };
        Record {
            tool: Tool::current(),
            run_id: f.run_id,
            wall_start_ns: f.wall_start_ns,
            wall_end_ns: f.wall_end_ns,
            host: Host::from(f.system),
            sut: Sut::of(f.sut, scenario),
            plan: Plan::of(f, scenario),
            result: f.scenario.map(|(_, res)| res.into()),
            timing: Timing::of(f),
            memory: Memory {
                rss_before_load_bytes: f.rss_before_load_bytes,
                peak_rss_bytes: f.peak_rss_bytes,
            },
            sensors: f.sensors.into(),
            warnings: record_warnings(f),
            trace: f.scenario.filter(|_| f.plan.trace).map(|(run, _)| Trace {
                issued_sample_index: run.issued_sample_index.clone(),
                latency_ns: run.latency_ns.clone(),
            }),
            accuracy: f.accuracy.cloned(),
            // Built here, after the timed run, from the stored latencies.
            latency_histogram: f
                .scenario
                .map(|(run, _)| LatencyHistogram::from_latencies(&run.latency_ns)),
            series: SensorSeries::from_probe(
                &f.sensors.series,
                &f.system.clusters,
                f.sensors.energy.as_ref(),
            ),
            power_estimate: PowerEstimate::of(f.plan, f.sensors),
            engine: Engine::of(f.sut),
            input_set: f.sut.input_set.map(|s| InputSet {
                budget_bytes: s.budget_bytes,
                distinct_samples: s.distinct_samples,
                sample_bytes: s.sample_bytes,
                loaded_samples: s.loaded_samples,
            }),
            accuracy_details: f.accuracy_details.cloned(),
            sut_transport: f
                .sut
                .engine
                .as_ref()
                .and_then(|e| e.transport)
                .map(|t| match t {
                    SutTransport::Pipes => Transport::Pipes,
                    SutTransport::SocketPair => Transport::SocketPair,
                    SutTransport::Spin => Transport::Spin,
                }),
        }
    }
}

/// The run's warnings, then what the box's setup and the probes add (each
/// text once).
fn record_warnings(f: &RunFacts<'_>) -> Vec<String> {
    let mut warnings = f.warnings.clone();
    for w in f
        .system
        .setup_warnings()
        .into_iter()
        .chain(f.sensors.condition_warnings())
        .chain(f.sensors.warnings.iter().cloned())
    {
        warnings.push_new_text(RunWarning::Sensors(w));
    }
    warnings.texts()
}

impl Timing {
    /// Untimed phases (model load, first inference, warm-up) and how the run ended.
    fn of(f: &RunFacts<'_>) -> Timing {
        Timing {
            load_ns: f.sut.load_ns,
            first_inference_ns: f.sut.first_inference_ns,
            warm_up_queries: f.warm_up.queries,
            warm_up_ns: f.warm_up.ns,
            aborted: f.scenario.is_some_and(|(run, _)| run.aborted),
            store_full: f.scenario.is_some_and(|(run, _)| run.store_full),
        }
    }
}

impl Plan {
    /// The plan as it applies to `scenario`: the model's shapes, inputs and
    /// threads as requested, that scenario's cores, the settings it ran with.
    fn of(f: &RunFacts<'_>, scenario: plan::Scenario) -> Plan {
        let spec = &f.plan.sut;
        let built_in;
        let model_spec = match spec {
            plan::SutSpec::Model(m) => Some(m),
            plan::SutSpec::BuiltIn(b) => {
                built_in = b.to_model_spec();
                Some(&built_in)
            }
            plan::SutSpec::Synthetic(_) | plan::SutSpec::Exec(_) => None,
        };
        Plan {
            preset: f.plan.preset.clone(),
            scenario: scenario.into(),
            mode: f.plan.mode.into(),
            sut: spec.into(),
            input_shapes: model_spec
                .map(|m| m.input_shapes.clone())
                .unwrap_or_default(),
            inputs: model_spec.map(|m| m.inputs.clone()).unwrap_or_default(),
            instances: model_spec.map_or(0, |m| m.instances),
            threads: model_spec.map_or(0, |m| m.threads),
            cpus: model_spec
                .map(|m| m.cpus.for_scenario(scenario).to_vec())
                .unwrap_or_default(),
            settings: f.settings.into(),
            trace: f.plan.trace,
        }
    }
}

impl PowerEstimate {
    /// The board profile's nominal power when no sensor measured total
    /// energy (never both: a measured figure always wins).
    fn of(plan: &plan::Plan, sensors: &ProbeSummary) -> Option<PowerEstimate> {
        if sensors
            .energy
            .as_ref()
            .is_some_and(|e| e.total_uj.is_some())
        {
            return None;
        }
        let board = crate::boards::find(&plan.board.as_ref()?.name).ok()?;
        let w = board.power.nominal_load_w.filter(|w| *w > 0.0)?;
        Some(PowerEstimate {
            board: board.name.clone(),
            milliwatts: (w * 1000.0).round() as u64,
            source: board.power.nominal_load_source.clone().unwrap_or_default(),
        })
    }
}

impl Engine {
    /// The engine of an in-process SUT (tract, synthetic) or what an exec
    /// SUT said about itself; None for kinds this build does not know.
    fn of(s: &sut::SutInfo) -> Option<Engine> {
        if let Some(e) = &s.engine {
            return Some(Engine {
                name: e.name.clone(),
                version: e.version.clone(),
                command: e.command.clone(),
                protocol_version: e.protocol_version,
                round_trip_ns: e.round_trip_ns,
                stderr_tail: e.stderr_tail.clone(),
            });
        }
        let (name, version) = match s.kind.as_str() {
            "tract" => ("tract", crate::version::TRACT_VERSION),
            "synthetic" => ("synthetic", env!("CARGO_PKG_VERSION")),
            _ => return None,
        };
        Some(Engine {
            name: name.to_string(),
            version: version.to_string(),
            command: Vec::new(),
            protocol_version: 0,
            round_trip_ns: 0,
            stderr_tail: Vec::new(),
        })
    }
}

impl Accuracy {
    /// The persisted form of an accuracy run over the data set `spec`.
    pub fn from_output(spec: &plan::DatasetSpec, out: &AccuracyOutput) -> Accuracy {
        Accuracy::from_result(
            &out.dataset,
            spec.labels.clone(),
            spec.preprocess_label(),
            &out.result,
        )
    }

    /// The persisted form of a classification run over the data set folder
    /// `dataset` (its labels file and preprocessing as given).
    pub fn from_result(
        dataset: &str,
        labels: Option<String>,
        preprocess: String,
        r: &AccuracyResult<ClassificationSummary>,
    ) -> Accuracy {
        let s = &r.summary;
        let n = |x: usize| x as u64;
        let c = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Accuracy {
            dataset: dataset.to_string(),
            labels,
            preprocess,
            samples: n(r.samples),
            scored: n(s.scored),
            unscored: n(s.unscored),
            failed: r
                .failed
                .iter()
                .map(|f| FailedSample {
                    sample: f.sample.clone(),
                    reason: f.reason.clone(),
                })
                .collect(),
            top1: n(s.top1),
            top5: n(s.top5),
            num_classes: n(s.num_classes),
            worst_classes: s
                .worst_classes
                .iter()
                .map(|w| ClassScore {
                    class: c(w.class),
                    samples: c(w.samples),
                    top1_correct: c(w.top1_correct),
                    confused_with: w.confused_with.iter().map(|&(p, k)| (c(p), c(k))).collect(),
                })
                .collect(),
            load_ns: r.load_ns,
            inference_ns: r.inference_ns,
        }
    }
}

impl AccuracyDetails {
    /// The per-sample part of an accuracy run: its misclassified samples and
    /// the names (`--classes`) of every class they or `accuracy`'s worst
    /// classes mention.
    pub fn from_output(out: &AccuracyOutput, accuracy: &Accuracy) -> AccuracyDetails {
        Self::from_result(&out.result, out.class_names.as_deref(), accuracy)
    }

    /// The same from a classification run and the class names (`--classes`).
    pub fn from_result(
        r: &AccuracyResult<ClassificationSummary>,
        names: Option<&[String]>,
        accuracy: &Accuracy,
    ) -> AccuracyDetails {
        let c = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        let misclassified: Vec<Misclassified> = (r.summary.misclassified.iter())
            .map(|m| Misclassified {
                sample: m.sample.clone(),
                accept: m.accept.iter().map(|&x| c(x)).collect(),
                top5: m.top5.iter().map(|&x| c(x)).collect(),
                score_bits: m.score.to_bits(),
            })
            .collect();
        let mut mentioned = std::collections::BTreeSet::new();
        for w in &accuracy.worst_classes {
            mentioned.insert(w.class);
            mentioned.extend(w.confused_with.iter().map(|&(p, _)| p));
        }
        mentioned.extend(misclassified.iter().filter_map(|m| m.top5.first().copied()));
        let names = names.unwrap_or_default();
        let class_names = mentioned
            .into_iter()
            .filter_map(|k| Some((k, names.get(k as usize)?.clone())))
            .collect();
        AccuracyDetails {
            misclassified,
            class_names,
        }
    }
}

impl From<plan::Scenario> for Scenario {
    fn from(s: plan::Scenario) -> Self {
        match s {
            plan::Scenario::SingleStream => Scenario::SingleStream,
            plan::Scenario::Offline => Scenario::Offline,
        }
    }
}

impl From<plan::Mode> for Mode {
    fn from(m: plan::Mode) -> Self {
        match m {
            plan::Mode::Performance => Mode::Performance,
            plan::Mode::Accuracy => Mode::Accuracy,
            plan::Mode::Both => Mode::Both,
        }
    }
}

impl From<plan::WarmUp> for WarmUp {
    fn from(w: plan::WarmUp) -> Self {
        match w {
            plan::WarmUp::Queries(n) => WarmUp::Queries(n),
            plan::WarmUp::DurationNs(ns) => WarmUp::DurationNs(ns),
        }
    }
}

impl From<&plan::SutSpec> for SutSpec {
    fn from(s: &plan::SutSpec) -> Self {
        match s {
            plan::SutSpec::Synthetic(spec) => SutSpec::Synthetic(spec.clone()),
            plan::SutSpec::Model(m) => SutSpec::Model(m.path.clone()),
            plan::SutSpec::BuiltIn(_) => SutSpec::BuiltIn,
            plan::SutSpec::Exec(e) => SutSpec::Exec(e.command.clone()),
        }
    }
}

impl From<&plan::LoadGenSettings> for Settings {
    fn from(s: &plan::LoadGenSettings) -> Self {
        Settings {
            min_duration_ns: s.min_duration_ns,
            max_duration_ns: s.max_duration_ns,
            min_query_count: s.min_query_count,
            max_query_count: s.max_query_count,
            performance_sample_count: s.performance_sample_count,
            total_sample_count: s.total_sample_count,
            qsl_rng_seed: s.qsl_rng_seed,
            sample_index_rng_seed: s.sample_index_rng_seed,
            target_percentile: s.target_percentile,
            offline_expected_qps: s.offline_expected_qps,
            warm_up: s.warm_up.into(),
            max_stored_queries: s.max_stored_queries,
        }
    }
}

impl From<stats::InvalidReason> for InvalidReason {
    fn from(r: stats::InvalidReason) -> Self {
        use stats::InvalidReason as S;
        match r {
            S::MinDurationNotMet => InvalidReason::MinDurationNotMet,
            S::MinQueriesNotMet => InvalidReason::MinQueriesNotMet,
            S::EarlyStoppingNotMet => InvalidReason::EarlyStoppingNotMet,
            S::OfflineExpectedQpsTooLow => InvalidReason::OfflineExpectedQpsTooLow,
            S::Aborted => InvalidReason::Aborted,
            S::LatencyStoreFull => InvalidReason::LatencyStoreFull,
            S::SutError => InvalidReason::SutError,
        }
    }
}

/// Back to the statistics' reason, whose `explain` has LoadGen's advice.
impl From<InvalidReason> for stats::InvalidReason {
    fn from(r: InvalidReason) -> Self {
        use stats::InvalidReason as S;
        match r {
            InvalidReason::MinDurationNotMet => S::MinDurationNotMet,
            InvalidReason::MinQueriesNotMet => S::MinQueriesNotMet,
            InvalidReason::EarlyStoppingNotMet => S::EarlyStoppingNotMet,
            InvalidReason::OfflineExpectedQpsTooLow => S::OfflineExpectedQpsTooLow,
            InvalidReason::Aborted => S::Aborted,
            InvalidReason::LatencyStoreFull => S::LatencyStoreFull,
            InvalidReason::SutError => S::SutError,
        }
    }
}

impl From<&stats::EarlyStopping> for EarlyStopping {
    fn from(e: &stats::EarlyStopping) -> Self {
        EarlyStopping {
            percentile: e.percentile,
            min_queries: e.min_queries,
            met: e.met,
            t: e.t,
            estimate_ns: e.estimate_ns,
        }
    }
}

impl From<&ScenarioResult> for Results {
    fn from(r: &ScenarioResult) -> Self {
        let p = &r.percentiles;
        Results {
            query_count: r.query_count,
            sample_count: r.sample_count,
            duration_ns: r.duration_ns,
            min_ns: r.min_ns,
            max_ns: r.max_ns,
            mean_ns: r.mean_ns,
            p50_ns: p.p50,
            p90_ns: p.p90,
            p95_ns: p.p95,
            p97_ns: p.p97,
            p99_ns: p.p99,
            p999_ns: p.p999,
            target_percentile_ns: r.target_percentile_ns,
            early_stopping_90: r.early_stopping_90.as_ref().map(Into::into),
            early_stopping_99: r.early_stopping_99.as_ref().map(Into::into),
            qps_with_overhead: r.qps_with_overhead,
            qps_without_overhead: r.qps_without_overhead,
            samples_per_second: r.samples_per_second,
            min_duration_met: r.min_duration_met,
            min_queries_met: r.min_queries_met,
            valid: r.valid,
            invalid_reasons: r.invalid_reasons.iter().map(|&x| x.into()).collect(),
        }
    }
}

impl From<&sut::TensorInfo> for Tensor {
    fn from(t: &sut::TensorInfo) -> Self {
        Tensor {
            name: t.name.clone(),
            shape: t.shape.clone(),
            dtype: t.dtype.clone(),
        }
    }
}

impl From<&sut::ModelInfo> for Model {
    fn from(m: &sut::ModelInfo) -> Self {
        Model {
            file_name: m.file_name.clone(),
            size_bytes: m.size_bytes,
            sha256: m.sha256,
            format: match m.format {
                sut::ModelFormat::Onnx => ModelFormat::Onnx,
                sut::ModelFormat::Tflite => ModelFormat::Tflite,
            },
            built_in: m.built_in,
            inputs: m.inputs.iter().map(Into::into).collect(),
            outputs: m.outputs.iter().map(Into::into).collect(),
        }
    }
}

impl Sut {
    /// The SUT as one scenario saw it: that scenario's cores.
    fn of(s: &sut::SutInfo, scenario: plan::Scenario) -> Self {
        Sut {
            kind: s.kind.clone(),
            description: s.description.clone(),
            model: s.model.as_ref().map(Into::into),
            instances: s.instances,
            threads: s.threads,
            offline_threads: s.offline_threads,
            cpus: s.cpus.for_scenario(scenario).to_vec(),
        }
    }
}

impl From<&SystemInfo> for Host {
    fn from(s: &SystemInfo) -> Self {
        Host {
            hostname: s.hostname.clone().unwrap_or_default(),
            board: s.board.clone(),
            cpu_model: s.cpu_model.clone(),
            cores: s.cores,
            clusters: s
                .clusters
                .iter()
                .map(|c| Cluster {
                    max_freq_khz: c.max_freq_khz,
                    cpus: c.cpus.clone(),
                })
                .collect(),
            kernel: s.kernel.clone(),
            mem_total_bytes: s.mem_total_bytes,
            cpufreq: s
                .cpufreq
                .iter()
                .map(|p| CpuFreqPolicy {
                    cpu: p.cpu,
                    governor: p.governor.clone(),
                    min_khz: p.min_khz,
                    max_khz: p.max_khz,
                    hw_max_khz: p.hw_max_khz,
                })
                .collect(),
            thermal_zones: s
                .thermal_zones
                .iter()
                .map(|z| ThermalZone {
                    index: z.index,
                    kind: z.kind.clone(),
                })
                .collect(),
        }
    }
}

impl From<probe::EnergySource> for EnergySource {
    fn from(s: probe::EnergySource) -> Self {
        match s {
            probe::EnergySource::Rapl => EnergySource::Rapl,
            probe::EnergySource::HwmonEnergy => EnergySource::HwmonEnergy,
            probe::EnergySource::Ina3221 => EnergySource::Ina3221,
            probe::EnergySource::HwmonPower => EnergySource::HwmonPower,
        }
    }
}

impl From<&ProbeSummary> for Sensors {
    fn from(p: &ProbeSummary) -> Self {
        Sensors {
            period_ns: p.period_ns,
            samples: p.samples,
            zones: p
                .zones
                .iter()
                .map(|z| ZoneTemps {
                    index: z.index,
                    kind: z.kind.clone(),
                    min_millicelsius: z.min_millicelsius,
                    max_millicelsius: z.max_millicelsius,
                })
                .collect(),
            cores: p
                .cores
                .iter()
                .map(|c| CoreFreqs {
                    cpu: c.cpu,
                    min_khz: c.min_khz,
                    max_khz: c.max_khz,
                })
                .collect(),
            throttle: p.throttle.map(|t| Throttle {
                first: t.first,
                last: t.last,
                now_seen: t.now_seen,
            }),
            energy: p.energy.as_ref().map(|e| Energy {
                source: e.source.into(),
                total_uj: e.total_uj,
                span_ns: e.span_ns,
                rails: e
                    .rails
                    .iter()
                    .map(|r| Rail {
                        label: r.label.clone(),
                        energy_uj: r.energy_uj,
                        in_total: r.in_total,
                    })
                    .collect(),
            }),
        }
    }
}
