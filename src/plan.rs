//! The validated, immutable plan of a run: what `settings` produces and every later
//! stage (scenario, statistics, record) reads. Nothing downstream mutates it.

use serde::{Deserialize, Serialize};

/// The two LoadGen scenarios edgemark implements. Persisted: append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scenario {
    SingleStream,
    Offline,
}

/// LoadGen's test modes. Persisted: append-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    Performance,
    Accuracy,
    /// Accuracy, then performance on the same SUT (LoadGen's submission run).
    Both,
}

impl Mode {
    pub fn runs_accuracy(self) -> bool {
        matches!(self, Mode::Accuracy | Mode::Both)
    }
    pub fn runs_performance(self) -> bool {
        matches!(self, Mode::Performance | Mode::Both)
    }
}

/// Warm-up before timing: a number of queries or a duration. Never timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WarmUp {
    Queries(u64),
    DurationNs(u64),
}

/// LoadGen's settings after validation. Times are integer nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadGenSettings {
    pub min_duration_ns: u64,
    /// 0 = no limit.
    pub max_duration_ns: u64,
    pub min_query_count: u64,
    /// 0 = no limit.
    pub max_query_count: u64,
    pub performance_sample_count: u64,
    pub total_sample_count: u64,
    pub qsl_rng_seed: u64,
    pub sample_index_rng_seed: u64,
    /// SingleStream target percentile in (0, 1), e.g. 0.90.
    pub target_percentile: f64,
    pub offline_expected_qps: f64,
    pub warm_up: WarmUp,
    /// Size of the latency store reserved before timing; a SingleStream run ends
    /// when it is full (reported), so memory never grows with duration.
    pub max_stored_queries: u64,
}

impl LoadGenSettings {
    /// Offline's samples per query: `max(min_query_count, floor(1.1 * min_duration_s
    /// * expected_qps))`, in double as LoadGen.
    pub fn offline_samples_per_query(&self) -> u64 {
        let min_duration_s = self.min_duration_ns as f64 / 1e9;
        let by_qps = (1.1 * min_duration_s * self.offline_expected_qps).floor();
        let by_qps = if by_qps.is_finite() && by_qps > 0.0 {
            by_qps as u64
        } else {
            0
        };
        self.min_query_count.max(by_qps)
    }
}

/// The settings a scenario runs with: the plan's (never changed after
/// validation), plus what the run learned on the way, kept apart and typed so
/// a reader sees which values were derived and from what. Made by the run's
/// scenario stage: [`EffectiveSettings::of`] once the data set is open, then
/// [`EffectiveSettings::calibrated`] per Offline scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveSettings {
    /// The plan's settings with the derived values below applied.
    settings: LoadGenSettings,
    /// Samples in the data set that feeds the QSL: `total_sample_count`, and
    /// the cap of `performance_sample_count`. None: the plan's sizes.
    pub dataset_samples: Option<u64>,
    /// Offline's expected QPS as calibrated. None: the plan's.
    pub calibrated_offline_qps: Option<f64>,
}

impl EffectiveSettings {
    /// The plan's settings, with the QSL sized by a data set of
    /// `dataset_samples` when one feeds performance.
    pub fn of(plan: &LoadGenSettings, dataset_samples: Option<u64>) -> Self {
        let mut settings = plan.clone();
        if let Some(n) = dataset_samples {
            settings.total_sample_count = n;
            settings.performance_sample_count = plan.performance_sample_count.min(n);
        }
        EffectiveSettings {
            settings,
            dataset_samples,
            calibrated_offline_qps: None,
        }
    }

    /// These settings with Offline's expected QPS as calibrated (None: as they are).
    pub fn calibrated(&self, offline_expected_qps: Option<f64>) -> Self {
        let mut e = self.clone();
        if let Some(q) = offline_expected_qps {
            e.settings.offline_expected_qps = q;
            e.calibrated_offline_qps = Some(q);
        }
        e
    }

    pub fn settings(&self) -> &LoadGenSettings {
        &self.settings
    }
}

/// The whole validated plan of one `run` (or one daemon job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Preset the settings started from ("official", "quick", or "custom").
    pub preset: String,
    pub scenarios: Vec<Scenario>,
    pub mode: Mode,
    pub settings: LoadGenSettings,
    /// The SUT spec: "synthetic:SPEC", or a model path for the tract backend.
    pub sut: SutSpec,
    /// Keep issued sample indices and per-sample latencies in outputs.
    pub trace: bool,
    /// The user gave no `offline_expected_qps`: before the timed Offline query the
    /// run measures throughput (untimed) and uses an effective copy of `settings`
    /// with the calibrated value (see `loadgen::calibrate`); `settings` keeps the preset's.
    pub calibrate_offline_qps: bool,
    /// Real samples (`--dataset`): scored in accuracy mode, and the QSL samples
    /// of performance mode instead of random tensors. Checked to exist by settings.
    pub dataset: Option<DatasetSpec>,
    /// The board profile whose defaults apply; None = no profile (`--board none`
    /// or none detected).
    pub board: Option<BoardChoice>,
    /// What settings decided that the user should know (e.g. a detected board's
    /// pinning that this process may not use); every record of the run carries them.
    pub warnings: Vec<String>,
}

/// A data set as validated by settings: the folder exists, the labels and class
/// names parse, the preprocessing preset is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Folder of JPEG/PNG images or of preprocessed `.npy` tensors.
    pub dir: String,
    /// Ground truth (val_map.txt style, JSON or CSV); required for accuracy.
    pub labels: Option<String>,
    /// Class names, one per line (only for output).
    pub classes: Option<String>,
    /// imagenet-torch, imagenet-tf or raw-u8.
    pub preprocess: String,
    /// The user's changes to the preset's numbers (`--mean`, `--crop`, ...).
    pub adjust: PreprocessAdjust,
}

impl DatasetSpec {
    /// The preprocessing as records name it: the preset, then any adjustment
    /// (e.g. `imagenet-tf mean=127,127,127 std=128,128,128`).
    pub fn preprocess_label(&self) -> String {
        let a = &self.adjust;
        let mut out = self.preprocess.clone();
        let ch = |v: [f32; 3]| format!("{},{},{}", v[0], v[1], v[2]);
        if let Some(m) = a.mean {
            out += &format!(" mean={}", ch(m));
        }
        if let Some(s) = a.std {
            out += &format!(" std={}", ch(s));
        }
        if let Some(r) = a.resize {
            out += &format!(" resize={r}");
        }
        if let Some((w, h)) = a.crop {
            out += &format!(" crop={w}x{h}");
        }
        if let Some(r) = a.crop_rounding {
            out += &format!(" crop-rounding={r}");
        }
        out
    }
}

/// Overrides of a preprocessing preset's numbers; None = the preset's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreprocessAdjust {
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    /// Short side after resizing.
    pub resize: Option<u32>,
    /// (width, height) of the centre crop.
    pub crop: Option<(u32, u32)>,
    pub crop_rounding: Option<CropRounding>,
}

/// Where a centre crop goes when the margin is odd: `(in - out) / 2` rounded
/// half to even (torchvision's `CenterCrop`: `int(round(x))`) or truncated
/// (TF's `central_crop` and MLPerf's reference preprocessing: `int(x)`). On
/// butterfly.jpg (355x256 after resize, crop 224) that is offset 66 vs 65.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CropRounding {
    HalfEven,
    Truncate,
}

impl CropRounding {
    /// The crop's offset along one axis.
    pub fn offset(self, in_size: usize, out_size: usize) -> usize {
        let margin = in_size - out_size;
        match self {
            CropRounding::HalfEven => (margin as f64 / 2.0).round_ties_even() as usize,
            CropRounding::Truncate => margin / 2,
        }
    }
}

impl std::fmt::Display for CropRounding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CropRounding::HalfEven => "half-even",
            CropRounding::Truncate => "truncate",
        })
    }
}

impl std::str::FromStr for CropRounding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "half-even" => Ok(CropRounding::HalfEven),
            "truncate" => Ok(CropRounding::Truncate),
            _ => Err(format!("expected half-even or truncate, got {s:?}")),
        }
    }
}

/// Which system under test to build. Persisted in records: append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SutSpec {
    /// `synthetic:SPEC`, the spec kept as the user wrote it (e.g. "busy:1").
    Synthetic(String),
    /// A model file run by tract.
    Model(ModelSpec),
    /// The model compiled into the binary, and how to run it.
    BuiltIn(BuiltInSpec),
    /// An external SUT process speaking the SUT protocol (`exec:PROGRAM ARGS...`).
    Exec(ExecSpec),
}

/// An external SUT: the command to start and what to feed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecSpec {
    /// Program and arguments (the program as given after `exec:`).
    pub command: Vec<String>,
    /// `.npy` files or a folder of them; empty = seeded random tensors.
    pub inputs: Vec<String>,
    /// Per-query timeout: a query without an answer this long is a hang.
    pub timeout_ms: u64,
    /// How the protocol travels (`sut_transport`); None = the
    /// `EDGEMARK_SUT_TRANSPORT` environment variable, else pipes.
    #[serde(default)]
    pub transport: Option<SutTransport>,
}

/// How an exec: SUT's protocol travels (docs/sut-protocol.md, "Process and
/// channel"). scripts/bench_protocol.sh measures all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SutTransport {
    /// Two pipes (edgemark -> SUT, SUT -> edgemark). The default.
    Pipes,
    /// One AF_UNIX stream socketpair, the same fd both ways in the SUT.
    SocketPair,
    /// Pipes for everything but SingleStream queries, which go through a
    /// shared mapping both sides spin on (two busy cores for the lowest
    /// round trip).
    Spin,
}

impl SutTransport {
    /// The words `sut_transport`, `sut-check --transport` and
    /// `EDGEMARK_SUT_TRANSPORT` take.
    pub fn parse(s: &str) -> Option<SutTransport> {
        match s {
            "pipe" | "pipes" => Some(SutTransport::Pipes),
            "socketpair" | "socket" => Some(SutTransport::SocketPair),
            "spin" => Some(SutTransport::Spin),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SutTransport::Pipes => "pipe",
            SutTransport::SocketPair => "socketpair",
            SutTransport::Spin => "spin",
        }
    }
}

/// How to run the built-in model: a [`ModelSpec`] without what the built-in
/// model fixes itself (its path and its input shapes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuiltInSpec {
    /// `.npy` files or a folder of them; empty = seeded random tensors.
    pub inputs: Vec<String>,
    /// Offline instances (0 = one per online core / per pinned cpu).
    pub instances: u32,
    /// Intra-op threads (0 = the scenario's default).
    pub threads: u32,
    /// Cores to pin each scenario's workers to.
    pub cpus: Pinning,
}

impl BuiltInSpec {
    /// The same run options as a model spec; the tract backend reads an empty
    /// `path` as the built-in model.
    pub fn to_model_spec(&self) -> ModelSpec {
        ModelSpec {
            path: String::new(),
            input_shapes: Vec::new(),
            inputs: self.inputs.clone(),
            instances: self.instances,
            threads: self.threads,
            cpus: self.cpus.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub path: String,
    /// `name=1,3,224,224` overrides for dynamic dims, in the order given.
    pub input_shapes: Vec<(String, Vec<u64>)>,
    /// `.npy` files or a folder of them; empty = seeded random tensors.
    pub inputs: Vec<String>,
    /// Offline instances (0 = one per online core / per pinned cpu).
    pub instances: u32,
    /// Intra-op threads (0 = the scenario's default).
    pub threads: u32,
    /// Cores to pin each scenario's workers to.
    pub cpus: Pinning,
}

/// Cores per scenario: `--cpus` sets both; without it a board profile may set
/// them apart (big cores for SingleStream's latency, every core for Offline's
/// throughput). Empty = not pinned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinning {
    pub single_stream: Vec<u32>,
    pub offline: Vec<u32>,
}

impl Pinning {
    /// The same cores for both scenarios.
    pub fn both(cpus: Vec<u32>) -> Pinning {
        Pinning {
            single_stream: cpus.clone(),
            offline: cpus,
        }
    }

    pub fn for_scenario(&self, scenario: Scenario) -> &[u32] {
        match scenario {
            Scenario::SingleStream => &self.single_stream,
            Scenario::Offline => &self.offline,
        }
    }
}

/// The board profile a plan took its defaults from (`--board`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardChoice {
    /// Profile name (`edgemark boards`).
    pub name: String,
    /// Found by `--board auto` (true) or named by the user (false).
    pub detected: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_settings_size_the_qsl_by_the_data_set_and_take_the_calibrated_qps() {
        let plan = crate::settings::preset("quick").unwrap();
        let as_planned = EffectiveSettings::of(&plan, None);
        assert_eq!(as_planned.settings(), &plan);
        // 18 images: the QSL is the data set, and the performance set fits in it.
        let e = EffectiveSettings::of(&plan, Some(18));
        assert_eq!(e.settings().total_sample_count, 18);
        assert_eq!(
            e.settings().performance_sample_count,
            plan.performance_sample_count.min(18)
        );
        assert_eq!(e.dataset_samples, Some(18));
        let c = e.calibrated(Some(1500.0));
        assert_eq!(c.settings().offline_expected_qps, 1500.0);
        assert_eq!(c.calibrated_offline_qps, Some(1500.0));
        assert_eq!(c.settings().total_sample_count, 18);
        // Not calibrated: as they were; the plan's own settings never change.
        assert_eq!(e.calibrated(None), e);
        assert_eq!(plan, crate::settings::preset("quick").unwrap());
    }
}
