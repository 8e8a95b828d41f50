//! The persisted record, schema version 4 (versions 1 to 3 are still read,
//! see [`RecordV1`], [`RecordV2`] and [`RecordV3`]). These types are the file format:
//! field order is wire order (postcard is not self-describing), enums are
//! append-only, times are integer nanoseconds. They are separate from the
//! in-memory types (`plan`, `stats`, `sut`, `probe`) so that those can change
//! without silently changing the files; `convert.rs` maps one onto the other.
//!
//! Any change here changes the golden bytes in `tests.rs`: add fields only in
//! a new schema version, with a decoder for the old one.
//!
//! Version 2 (accuracy in records): `result` became optional (an accuracy-only
//! run has no scenario result) and `accuracy` was appended. Every nested type
//! is unchanged, so the version 1 reader is [`RecordV1`], the old top level.
//!
//! Version 3 (distributions, power estimate, engine facts): five fields
//! appended at the end of `Record` (`latency_histogram`, `series`,
//! `power_estimate`, `engine`, `input_set`); every older nested type is
//! unchanged, so the version 2 reader is [`RecordV2`], the old top level.
//!
//! Version 4 (per-sample accuracy details): `accuracy_details` appended at
//! the end of `Record`; every older nested type is unchanged, so the version
//! 3 reader is [`RecordV3`], the old top level. `sut_transport` was appended
//! in the same version (before any version 4 record was released).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub tool: Tool,
    /// Random per scenario run; also in the file name.
    pub run_id: u64,
    /// Wall clock (Unix epoch ns) at the scenario's start and end.
    pub wall_start_ns: u64,
    pub wall_end_ns: u64,
    pub host: Host,
    pub sut: Sut,
    pub plan: Plan,
    /// The scenario's performance result; None in the record of an accuracy
    /// run (`--mode accuracy`, or the accuracy part of `--mode both`).
    pub result: Option<Results>,
    pub timing: Timing,
    pub memory: Memory,
    pub sensors: Sensors,
    pub warnings: Vec<String>,
    /// Only with `--trace`.
    pub trace: Option<Trace>,
    /// The run's accuracy result (`--mode accuracy|both`): in the accuracy
    /// record and, with `--mode both`, in every performance record of the run.
    pub accuracy: Option<Accuracy>,
    /// Version 3. The timed latencies as a log-linear histogram (always
    /// kept, unlike the trace); None in an accuracy record.
    pub latency_histogram: Option<LatencyHistogram>,
    /// Version 3. Sensors over the run (temperature, frequency, power),
    /// downsampled; None when the box has no sensor or the run was too short
    /// for one point.
    pub series: Option<SensorSeries>,
    /// Version 3. Nominal power of the board profile when no sensor measured
    /// energy: per-watt figures from it are always labelled "estimated".
    pub power_estimate: Option<PowerEstimate>,
    /// Version 3. The inference engine that ran (in-process tract, an exec SUT, ...).
    pub engine: Option<Engine>,
    /// Version 3. The input samples held in memory (input budget).
    pub input_set: Option<InputSet>,
    /// Version 4. The accuracy run's per-sample details (misclassified and
    /// failed samples, the class names they mention): only in an accuracy
    /// record, and kept in the file only with `--trace` (on ImageNet's 50 000
    /// images they would dwarf the record); the run's own summary always has
    /// them.
    pub accuracy_details: Option<AccuracyDetails>,
    /// Version 4. How edgemark talked to an exec: SUT (the spin transport's
    /// round trip is ~40x shorter than the pipes'); None for in-process engines.
    pub sut_transport: Option<Transport>,
}

/// The top level of a schema version 3 record: version 4 without
/// `accuracy_details`. Decoded only; read as a [`Record`] with it None.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordV3 {
    pub tool: Tool,
    pub run_id: u64,
    pub wall_start_ns: u64,
    pub wall_end_ns: u64,
    pub host: Host,
    pub sut: Sut,
    pub plan: Plan,
    pub result: Option<Results>,
    pub timing: Timing,
    pub memory: Memory,
    pub sensors: Sensors,
    pub warnings: Vec<String>,
    pub trace: Option<Trace>,
    pub accuracy: Option<Accuracy>,
    pub latency_histogram: Option<LatencyHistogram>,
    pub series: Option<SensorSeries>,
    pub power_estimate: Option<PowerEstimate>,
    pub engine: Option<Engine>,
    pub input_set: Option<InputSet>,
}

impl From<RecordV3> for Record {
    fn from(r: RecordV3) -> Record {
        Record {
            tool: r.tool,
            run_id: r.run_id,
            wall_start_ns: r.wall_start_ns,
            wall_end_ns: r.wall_end_ns,
            host: r.host,
            sut: r.sut,
            plan: r.plan,
            result: r.result,
            timing: r.timing,
            memory: r.memory,
            sensors: r.sensors,
            warnings: r.warnings,
            trace: r.trace,
            accuracy: r.accuracy,
            latency_histogram: r.latency_histogram,
            series: r.series,
            power_estimate: r.power_estimate,
            engine: r.engine,
            input_set: r.input_set,
            accuracy_details: None,
            sut_transport: None,
        }
    }
}

/// The top level of a schema version 2 record: version 3 without the five
/// appended fields. Decoded only; read as a [`Record`] with them None.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordV2 {
    pub tool: Tool,
    pub run_id: u64,
    pub wall_start_ns: u64,
    pub wall_end_ns: u64,
    pub host: Host,
    pub sut: Sut,
    pub plan: Plan,
    pub result: Option<Results>,
    pub timing: Timing,
    pub memory: Memory,
    pub sensors: Sensors,
    pub warnings: Vec<String>,
    pub trace: Option<Trace>,
    pub accuracy: Option<Accuracy>,
}

impl From<RecordV2> for Record {
    fn from(r: RecordV2) -> Record {
        Record::from(RecordV3 {
            tool: r.tool,
            run_id: r.run_id,
            wall_start_ns: r.wall_start_ns,
            wall_end_ns: r.wall_end_ns,
            host: r.host,
            sut: r.sut,
            plan: r.plan,
            result: r.result,
            timing: r.timing,
            memory: r.memory,
            sensors: r.sensors,
            warnings: r.warnings,
            trace: r.trace,
            accuracy: r.accuracy,
            latency_histogram: None,
            series: None,
            power_estimate: None,
            engine: None,
            input_set: None,
        })
    }
}

/// The top level of a schema version 1 record: `result` always present, no
/// `accuracy`. Decoded only; read as a [`Record`] with `accuracy: None`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordV1 {
    pub tool: Tool,
    pub run_id: u64,
    pub wall_start_ns: u64,
    pub wall_end_ns: u64,
    pub host: Host,
    pub sut: Sut,
    pub plan: Plan,
    pub result: Results,
    pub timing: Timing,
    pub memory: Memory,
    pub sensors: Sensors,
    pub warnings: Vec<String>,
    pub trace: Option<Trace>,
}

impl From<RecordV1> for Record {
    fn from(r: RecordV1) -> Record {
        Record::from(RecordV2 {
            tool: r.tool,
            run_id: r.run_id,
            wall_start_ns: r.wall_start_ns,
            wall_end_ns: r.wall_end_ns,
            host: r.host,
            sut: r.sut,
            plan: r.plan,
            result: Some(r.result),
            timing: r.timing,
            memory: r.memory,
            sensors: r.sensors,
            warnings: r.warnings,
            trace: r.trace,
            accuracy: None,
        })
    }
}

/// A latency distribution in HdrHistogram-style log-linear buckets: values
/// below `2^precision_bits` ns each have their own bucket; above, every power
/// of two is split into `2^precision_bits` equal buckets. A bucket is at most
/// `2^-precision_bits` of its lower edge wide, so its midpoint is within
/// `2^-(precision_bits+1)` of any value in it (7 bits: 0.39 %). See
/// `record::histogram` for the index arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Sub-buckets per power of two = 2^precision_bits (written 7; lowered
    /// only if a very wide distribution would not fit the size budget).
    pub precision_bits: u8,
    /// Non-empty buckets in ascending order as (index gap, count): the gap is
    /// the bucket index minus the previous non-empty bucket's index (the
    /// first: its index), so both are short varints.
    pub buckets: Vec<(u32, u64)>,
}

/// Sensor readings over the run on a uniform time grid: point i covers
/// `[start_ns + i*step_ns, start_ns + (i+1)*step_ns)` after `wall_start_ns`
/// and is the mean of the samples in it (the previous point's value when a
/// step had none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorSeries {
    /// Offset of the first point from `wall_start_ns` (the sampler starts
    /// with the scenario), ns.
    pub start_ns: u64,
    pub step_ns: u64,
    pub tracks: Vec<SeriesTrack>,
}

/// Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quantity {
    /// A thermal zone; `sensor` = its index (`host.thermal_zones`); 0.1 °C.
    TemperatureDeciCelsius,
    /// A CPU cluster's current frequency; `sensor` = its first CPU; MHz.
    FrequencyMhz,
    /// Power; `sensor` = the rail's index in `sensors.energy.rails`, or
    /// `u32::MAX` for the total (the rails with `in_total`); mW.
    PowerMilliwatts,
    /// Raspberry Pi `get_throttled` "now" bits (OR over the step); `sensor` 0.
    ThrottleBits,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesTrack {
    pub quantity: Quantity,
    pub sensor: u32,
    /// Points in the quantity's unit, stored as zig-zag varint differences
    /// from the previous point (the first from 0): slow sensors cost about a
    /// byte a point.
    #[serde(with = "delta_i64")]
    pub values: Vec<i64>,
}

/// A power figure that was not measured: the board profile's nominal power
/// under load. Every per-watt figure made from it is labelled "estimated".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerEstimate {
    /// The board profile (`boards/NAME.toml`) the figure is from.
    pub board: String,
    /// Nominal whole-board power under CPU load, mW.
    pub milliwatts: u64,
    /// Where the nominal figure comes from (the profile's `source` note).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    pub name: String,
    pub version: String,
    pub command: Vec<String>,
    /// 0 = in-process engine
    pub protocol_version: u32,
    /// median null round trip measured before timing; 0 in-process
    pub round_trip_ns: u64,
    /// last lines of the SUT's stderr (exec SUTs, on failure)
    pub stderr_tail: Vec<String>,
}

/// How an exec: SUT's protocol travelled (docs/sut-protocol.md). Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transport {
    Pipes,
    SocketPair,
    Spin,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Pipes => "pipe",
            Transport::SocketPair => "socketpair",
            Transport::Spin => "spin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSet {
    pub budget_bytes: u64,
    pub distinct_samples: u64,
    pub sample_bytes: u64,
    pub loaded_samples: u64,
}

/// A classification accuracy run over a data set (every sample once).
/// Fractions are not stored: top-1 = `top1 / scored`, top-5 = `top5 / scored`
/// ([`Accuracy::top1_fraction`]), so they can never disagree with the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accuracy {
    /// The data set folder as given on the command line.
    pub dataset: String,
    /// The labels file as given.
    pub labels: Option<String>,
    /// Preprocessing preset (`imagenet-torch`, `imagenet-tf`, `raw-u8`).
    pub preprocess: String,
    /// Samples in the data set, each issued once.
    pub samples: u64,
    /// Samples with a label, failed ones included (as wrong): the
    /// denominator of top-1/top-5.
    pub scored: u64,
    /// Samples run without a label (not counted).
    pub unscored: u64,
    /// Samples that could not be read or decoded: counted as wrong.
    pub failed: Vec<FailedSample>,
    pub top1: u64,
    pub top5: u64,
    /// Classes of the model's output.
    pub num_classes: u64,
    /// Up to 10 classes with a top-1 miss, worst first.
    pub worst_classes: Vec<ClassScore>,
    /// Accuracy run's totals: image load + preprocessing, and inference.
    pub load_ns: u64,
    pub inference_ns: u64,
}

/// Version 4. What an accuracy run saw per sample, beyond the counts of
/// [`Accuracy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccuracyDetails {
    /// Scored samples whose top-1 was not accepted, and failed ones (empty
    /// `top5`), in run order.
    pub misclassified: Vec<Misclassified>,
    /// (class, name from `--classes`) of every class `worst_classes` and
    /// `misclassified` mention, ascending; empty without `--classes`.
    pub class_names: Vec<(u32, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misclassified {
    pub sample: String,
    /// The classes the labels accept for it.
    pub accept: Vec<u32>,
    /// The model's five best classes, best first; empty for a failed sample.
    pub top5: Vec<u32>,
    /// The predicted class's dequantised score, as the bits of its f32: an
    /// integer that gives back exactly the value the run printed (NaN for a
    /// failed sample).
    pub score_bits: u32,
}

impl Misclassified {
    pub fn score(&self) -> f32 {
        f32::from_bits(self.score_bits)
    }
}

impl AccuracyDetails {
    /// The name `--classes` gave `class`, if any.
    pub fn class_name(&self, class: u32) -> Option<&str> {
        let i = self.class_names.binary_search_by_key(&class, |(c, _)| *c);
        i.ok().map(|i| self.class_names[i].1.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedSample {
    pub sample: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassScore {
    pub class: u32,
    pub samples: u32,
    pub top1_correct: u32,
    /// (predicted class, count), most frequent first.
    pub confused_with: Vec<(u32, u32)>,
}

impl Accuracy {
    pub fn top1_fraction(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.top1 as f64 / self.scored as f64)
    }

    pub fn top5_fraction(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.top5 as f64 / self.scored as f64)
    }

    /// Samples that reached the model (the failed ones did not).
    pub fn ran(&self) -> u64 {
        self.samples.saturating_sub(self.failed.len() as u64)
    }

    /// Mean (load, inference) nanoseconds per sample that ran.
    pub fn per_sample_ns(&self) -> (u64, u64) {
        let n = self.ran().max(1);
        (self.load_ns / n, self.inference_ns / n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// edgemark's version (Cargo.toml).
    pub version: String,
    pub git_hash: String,
    /// Target triple the binary was built for.
    pub target: String,
    /// Inference engine version ("" when built without it).
    pub tract_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub board: Option<String>,
    pub cpu_model: Option<String>,
    pub cores: u32,
    pub clusters: Vec<Cluster>,
    pub kernel: Option<String>,
    pub mem_total_bytes: Option<u64>,
    pub cpufreq: Vec<CpuFreqPolicy>,
    pub thermal_zones: Vec<ThermalZone>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub max_freq_khz: u64,
    pub cpus: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuFreqPolicy {
    pub cpu: u32,
    pub governor: Option<String>,
    pub min_khz: Option<u64>,
    pub max_khz: Option<u64>,
    pub hw_max_khz: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThermalZone {
    pub index: u32,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sut {
    /// "synthetic", "tract".
    pub kind: String,
    pub description: String,
    pub model: Option<Model>,
    pub instances: u32,
    /// Intra-op threads of the SingleStream instance.
    pub threads: u32,
    /// Intra-op threads of each Offline instance.
    pub offline_threads: u32,
    /// Cores the workers were pinned to; empty = not pinned.
    pub cpus: Vec<u32>,
}

/// Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelFormat {
    Onnx,
    Tflite,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: [u8; 32],
    pub format: ModelFormat,
    pub built_in: bool,
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub dtype: String,
}

/// Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scenario {
    SingleStream,
    Offline,
}

/// Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    Performance,
    Accuracy,
    Both,
}

impl Mode {
    /// The name reports and exports use.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Performance => "performance",
            Mode::Accuracy => "accuracy",
            Mode::Both => "both",
        }
    }
}

/// Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WarmUp {
    Queries(u64),
    DurationNs(u64),
}

/// Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SutSpec {
    Synthetic(String),
    Model(String),
    BuiltIn,
    /// An external SUT: its command line (`exec:`).
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub preset: String,
    /// The scenario this record is about.
    pub scenario: Scenario,
    pub mode: Mode,
    pub sut: SutSpec,
    /// `name=dims` overrides, as given.
    pub input_shapes: Vec<(String, Vec<u64>)>,
    pub inputs: Vec<String>,
    /// As requested (0 = default); `Sut` says what ran.
    pub instances: u32,
    pub threads: u32,
    pub cpus: Vec<u32>,
    pub settings: Settings,
    pub trace: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub min_duration_ns: u64,
    pub max_duration_ns: u64,
    pub min_query_count: u64,
    pub max_query_count: u64,
    pub performance_sample_count: u64,
    pub total_sample_count: u64,
    pub qsl_rng_seed: u64,
    pub sample_index_rng_seed: u64,
    pub target_percentile: f64,
    pub offline_expected_qps: f64,
    pub warm_up: WarmUp,
    pub max_stored_queries: u64,
}

/// Append-only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvalidReason {
    MinDurationNotMet,
    MinQueriesNotMet,
    EarlyStoppingNotMet,
    OfflineExpectedQpsTooLow,
    Aborted,
    LatencyStoreFull,
    SutError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub query_count: u64,
    pub sample_count: u64,
    pub duration_ns: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub mean_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p95_ns: u64,
    pub p97_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub target_percentile_ns: u64,
    pub early_stopping_90: Option<EarlyStopping>,
    pub early_stopping_99: Option<EarlyStopping>,
    pub qps_with_overhead: f64,
    pub qps_without_overhead: f64,
    pub samples_per_second: f64,
    pub min_duration_met: bool,
    pub min_queries_met: bool,
    pub valid: bool,
    pub invalid_reasons: Vec<InvalidReason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    pub percentile: f64,
    pub min_queries: u64,
    pub met: bool,
    pub t: u64,
    pub estimate_ns: Option<u64>,
}

/// Untimed phases and how the timed one ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub load_ns: u64,
    pub first_inference_ns: u64,
    pub warm_up_queries: u64,
    pub warm_up_ns: u64,
    pub aborted: bool,
    pub store_full: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// VmRSS just before the model was loaded.
    pub rss_before_load_bytes: Option<u64>,
    /// VmHWM after the scenario.
    pub peak_rss_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sensors {
    pub period_ns: u64,
    pub samples: u32,
    pub zones: Vec<ZoneTemps>,
    pub cores: Vec<CoreFreqs>,
    /// Raspberry Pi `get_throttled` words.
    pub throttle: Option<Throttle>,
    pub energy: Option<Energy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneTemps {
    pub index: u32,
    pub kind: String,
    pub min_millicelsius: i64,
    pub max_millicelsius: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreFreqs {
    pub cpu: u32,
    pub min_khz: u64,
    pub max_khz: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub first: u32,
    pub last: u32,
    pub now_seen: u32,
}

/// Append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnergySource {
    Rapl,
    HwmonEnergy,
    Ina3221,
    HwmonPower,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Energy {
    pub source: EnergySource,
    pub total_uj: Option<u64>,
    pub span_ns: u64,
    pub rails: Vec<Rail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rail {
    pub label: String,
    pub energy_uj: u64,
    pub in_total: bool,
}

/// Per-sample trace, in issue order. Latencies are stored as zig-zag varint
/// deltas from the previous latency (first from 0): Offline completion times
/// rise steadily, so deltas are short; SingleStream costs the same as plain
/// varints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub issued_sample_index: Vec<u32>,
    #[serde(with = "delta")]
    pub latency_ns: Vec<u64>,
}

mod delta {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut prev = 0u64;
        s.collect_seq(v.iter().map(|&x| {
            // Wrapping keeps every u64 exactly round-trippable.
            let d = x.wrapping_sub(prev) as i64;
            prev = x;
            d
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let deltas = Vec::<i64>::deserialize(d)?;
        let mut prev = 0u64;
        Ok(deltas
            .into_iter()
            .map(|d| {
                prev = prev.wrapping_add(d as u64);
                prev
            })
            .collect())
    }
}

mod delta_i64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[i64], s: S) -> Result<S::Ok, S::Error> {
        let mut prev = 0i64;
        s.collect_seq(v.iter().map(|&x| {
            // Wrapping keeps every i64 exactly round-trippable.
            let d = x.wrapping_sub(prev);
            prev = x;
            d
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
        let deltas = Vec::<i64>::deserialize(d)?;
        let mut prev = 0i64;
        Ok(deltas
            .into_iter()
            .map(|d| {
                prev = prev.wrapping_add(d);
                prev
            })
            .collect())
    }
}
