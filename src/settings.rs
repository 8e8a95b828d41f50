//! Settings, stage one of the pipeline: raw values from a TOML file (the same keys
//! as `edgemark run`'s flags; also a daemon job file) merged with flags (flags
//! win), started from a preset, and validated into the immutable [`Plan`].
//! Every error names the field; all of them are usage errors (exit 2).
//!
//! Presets (LoadGen names; durations in ms):
//!
//! | key | official (mlperf.conf) | quick (smoke run) |
//! |---|---|---|
//! | min_duration_ms | 600000 | 2000 |
//! | max_duration_ms | 0 (none) | 0 (none) |
//! | min_query_count | 100 | 100 |
//! | max_query_count | 0 (none) | 0 (none) |
//! | performance_sample_count | 1024 (resnet50) | 1024 |
//! | total_sample_count | 50000 (ImageNet val) | 1024 |
//! | qsl_rng_seed | 2085463073848966840 | same |
//! | sample_index_rng_seed | 2747215439041700203 | same |
//! | target_percentile | 0.90 | 0.90 |
//! | offline_expected_qps | 100, calibrated unless set | 100, calibrated unless set |
//! | warm-up | 10 queries | 10 queries |
//! | max_stored_queries | 1048576 | 1048576 |
//!
//! When `offline_expected_qps` is not set (flag or file), the plan says so
//! (`calibrate_offline_qps`) and the run measures it before timing
//! (`loadgen::calibrate`); the preset's 100 is only the fallback.
//! Offline's per-model min_query_count (resnet50: 24576 samples) is not a
//! separate setting: with 600 s, `floor(1.1 * 600 * expected_qps)` exceeds 24576
//! for any expected QPS >= 38, so `official` keeps one min_query_count (100) for
//! both scenarios. Quick's 100 queries exceed the 64 SingleStream early stopping
//! needs at p90, so a quick run on a steady SUT is VALID.
//! Overriding a seed of `official` turns the plan's preset into "custom": a run
//! with other seeds does not follow the official rules.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::boards::{self, Board, CpuSet};
use crate::cli::RunArgs;
use crate::plan::{
    BoardChoice, BuiltInSpec, DatasetSpec, LoadGenSettings, Mode, ModelSpec, Pinning, Plan,
    Scenario, SutSpec, WarmUp,
};
use crate::stats::{normalize_percentile, offline_samples_per_query};

/// mlperf.conf's seeds.
pub const OFFICIAL_QSL_RNG_SEED: u64 = 2_085_463_073_848_966_840;
pub const OFFICIAL_SAMPLE_INDEX_RNG_SEED: u64 = 2_747_215_439_041_700_203;
/// Latency store reserved before timing (12 bytes a query: u64 latency + u32 index).
pub const DEFAULT_MAX_STORED_QUERIES: u64 = 1 << 20;

/// Why settings are unusable. All of them are the user's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad settings file {path}: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("invalid setting `{field}`: {why}")]
    Field { field: &'static str, why: String },
}

fn field(field: &'static str, why: impl Into<String>) -> SettingsError {
    SettingsError::Field {
        field,
        why: why.into(),
    }
}

/// Raw, unvalidated settings: every key of a TOML config/job file, each also a
/// flag of `edgemark run` (dashes there, underscores here).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub preset: Option<String>,
    /// One word, or `exec:PROGRAM` and its arguments (a string or a list).
    pub sut: Option<crate::sut::exec::spec::SutWords>,
    /// Per-query timeout of an `exec:` SUT.
    pub sut_timeout_ms: Option<u64>,
    pub scenario: Option<String>,
    pub trace: Option<bool>,
    pub model: Option<PathBuf>,
    pub input_shape: Option<Vec<String>>,
    pub inputs: Option<Vec<PathBuf>>,
    pub instances: Option<u32>,
    pub threads: Option<u32>,
    pub cpus: Option<String>,
    /// `auto` (default), `none` or a profile name (`edgemark boards`).
    pub board: Option<String>,
    pub min_duration_ms: Option<i64>,
    pub max_duration_ms: Option<i64>,
    pub min_query_count: Option<i64>,
    pub max_query_count: Option<i64>,
    pub performance_sample_count: Option<i64>,
    pub total_sample_count: Option<i64>,
    pub qsl_rng_seed: Option<u64>,
    pub sample_index_rng_seed: Option<u64>,
    pub target_percentile: Option<f64>,
    pub offline_expected_qps: Option<f64>,
    pub warmup_queries: Option<i64>,
    pub warmup_ms: Option<i64>,
    pub max_stored_queries: Option<i64>,
    pub mode: Option<String>,
    pub dataset: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    pub classes: Option<PathBuf>,
    pub preprocess: Option<String>,
}

impl RawSettings {
    /// Reads a TOML file; unknown keys are errors so typos are caught.
    pub fn from_file(path: &Path) -> Result<RawSettings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| SettingsError::Toml {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses TOML text; the error text carries line and column.
    pub fn from_toml(text: &str) -> Result<RawSettings, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// The flags of `edgemark run` as raw settings (unset flags stay None).
    pub fn from_args(args: &RunArgs) -> RawSettings {
        let s = &args.settings;
        let m = &args.model;
        RawSettings {
            preset: s.preset.clone(),
            sut: args.sut.clone(),
            sut_timeout_ms: args.sut_timeout_ms,
            scenario: args.scenario.clone(),
            trace: args.trace.then_some(true),
            model: m.model.clone(),
            input_shape: (!m.input_shape.is_empty()).then(|| m.input_shape.clone()),
            inputs: (!m.inputs.is_empty()).then(|| m.inputs.clone()),
            instances: m.instances,
            threads: m.threads,
            cpus: m.cpus.clone(),
            board: args.board.clone(),
            min_duration_ms: s.min_duration_ms,
            max_duration_ms: s.max_duration_ms,
            min_query_count: s.min_query_count,
            max_query_count: s.max_query_count,
            performance_sample_count: s.performance_sample_count,
            total_sample_count: s.total_sample_count,
            qsl_rng_seed: s.qsl_rng_seed,
            sample_index_rng_seed: s.sample_index_rng_seed,
            target_percentile: s.target_percentile,
            offline_expected_qps: s.offline_expected_qps,
            warmup_queries: s.warmup_queries,
            warmup_ms: s.warmup_ms,
            max_stored_queries: s.max_stored_queries,
            mode: args.data.mode.clone(),
            dataset: args.data.dataset.clone(),
            labels: args.data.labels.clone(),
            classes: args.data.classes.clone(),
            preprocess: args.data.preprocess.clone(),
        }
    }

    /// `self` with every value set in `top` replaced by it (flags over file).
    pub fn overlay(mut self, top: RawSettings) -> RawSettings {
        macro_rules! take {
            ($($f:ident),*) => { $( if top.$f.is_some() { self.$f = top.$f; } )* };
        }
        // A warm-up given on top replaces the other kind given below.
        if top.warmup_queries.is_some() || top.warmup_ms.is_some() {
            self.warmup_queries = None;
            self.warmup_ms = None;
        }
        take!(
            preset,
            sut,
            sut_timeout_ms,
            scenario,
            trace,
            model,
            input_shape,
            inputs,
            instances,
            threads,
            cpus,
            board,
            min_duration_ms,
            max_duration_ms,
            min_query_count,
            max_query_count,
            performance_sample_count,
            total_sample_count,
            qsl_rng_seed,
            sample_index_rng_seed,
            target_percentile,
            offline_expected_qps,
            warmup_queries,
            warmup_ms,
            max_stored_queries,
            mode,
            dataset,
            labels,
            classes,
            preprocess
        );
        self
    }
}

/// A preset's LoadGen settings, or None for an unknown name.
pub fn preset(name: &str) -> Option<LoadGenSettings> {
    let official = LoadGenSettings {
        min_duration_ns: 600_000 * 1_000_000,
        max_duration_ns: 0,
        min_query_count: 100,
        max_query_count: 0,
        performance_sample_count: 1024,
        total_sample_count: 50_000,
        qsl_rng_seed: OFFICIAL_QSL_RNG_SEED,
        sample_index_rng_seed: OFFICIAL_SAMPLE_INDEX_RNG_SEED,
        target_percentile: 0.90,
        offline_expected_qps: 100.0,
        warm_up: WarmUp::Queries(10),
        max_stored_queries: DEFAULT_MAX_STORED_QUERIES,
    };
    match name {
        "official" => Some(official),
        "quick" => Some(LoadGenSettings {
            min_duration_ns: 2_000 * 1_000_000,
            total_sample_count: 1024,
            ..official
        }),
        _ => None,
    }
}

/// The preset used when none is named.
pub const DEFAULT_PRESET: &str = "quick";

/// `edgemark run`'s flags (and the `--config` file they name) -> plan.
pub fn plan_from(args: &RunArgs) -> Result<Plan, SettingsError> {
    let base = match &args.config {
        Some(path) => RawSettings::from_file(path)?,
        None => RawSettings::default(),
    };
    validate(base.overlay(RawSettings::from_args(args)), &args.root)
}

fn non_negative(name: &'static str, v: i64) -> Result<u64, SettingsError> {
    u64::try_from(v).map_err(|_| field(name, format!("must be >= 0, got {v}")))
}

fn positive(name: &'static str, v: i64) -> Result<u64, SettingsError> {
    match non_negative(name, v)? {
        0 => Err(field(name, "must be >= 1, got 0")),
        n => Ok(n),
    }
}

fn ms_to_ns(name: &'static str, v: i64) -> Result<u64, SettingsError> {
    non_negative(name, v)?
        .checked_mul(1_000_000)
        .ok_or_else(|| field(name, format!("{v} ms is too long")))
}

fn parse_scenarios(s: &str) -> Result<Vec<Scenario>, SettingsError> {
    match s.to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
        "single-stream" | "singlestream" => Ok(vec![Scenario::SingleStream]),
        "offline" => Ok(vec![Scenario::Offline]),
        "both" => Ok(vec![Scenario::SingleStream, Scenario::Offline]),
        _ => Err(field(
            "scenario",
            format!("expected single-stream, offline or both, got {s:?}"),
        )),
    }
}

/// `cpus`: a Linux CPU list (`0-3,5`), sorted; `all` = not pinned (empty).
fn parse_cpus(s: &str) -> Result<Vec<u32>, SettingsError> {
    match CpuSet::parse(s) {
        Ok(CpuSet::All) => Ok(Vec::new()),
        Ok(CpuSet::List(cpus)) => Ok(cpus),
        Err(why) => Err(field(
            "cpus",
            format!("{why}; expected a list like 0-3 or 4,5,6,7, or all"),
        )),
    }
}

fn parse_shape(s: &str) -> Result<(String, Vec<u64>), SettingsError> {
    let bad = || {
        field(
            "input_shape",
            format!("expected NAME=D1,D2,... like input=1,3,224,224, got {s:?}"),
        )
    };
    let (name, dims) = s.split_once('=').ok_or_else(bad)?;
    if name.trim().is_empty() {
        return Err(bad());
    }
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<u64>().map_err(|_| bad()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.trim().to_string(), dims))
}

impl RawSettings {
    /// The SUT's first word (`synthetic:...`, `builtin`, `model`, `exec:...`).
    fn sut_word(&self) -> Option<&str> {
        self.sut.as_ref().and_then(|w| w.first())
    }
}

fn sut_spec(raw: &RawSettings, board_pins: Option<&Pinning>) -> Result<SutSpec, SettingsError> {
    if let Some(crate::sut::exec::spec::SutWords(words)) = &raw.sut {
        let inputs = raw.inputs.iter().flatten();
        let inputs = inputs.map(|p| p.to_string_lossy().into_owned()).collect();
        if let Some(exec) = crate::sut::exec::spec::parse(words, inputs, raw.sut_timeout_ms) {
            if raw.model.is_some() {
                return Err(field(
                    "model",
                    "an exec: SUT loads its own model (give it in its arguments); drop `model`",
                ));
            }
            return exec.map(SutSpec::Exec).map_err(|e| field("sut", e));
        }
        if words.len() != 1 {
            return Err(field(
                "sut",
                format!("only exec:PROGRAM takes arguments, got {words:?}"),
            ));
        }
    }
    if raw.sut_timeout_ms.is_some() {
        return Err(field("sut_timeout_ms", "applies to exec: SUTs only"));
    }
    if let Some(sut) = raw.sut_word() {
        if let Some(spec) = sut.strip_prefix("synthetic:") {
            crate::sut::synthetic::Service::parse(spec).map_err(|e| field("sut", e.to_string()))?;
            if raw.model.is_some() {
                return Err(field(
                    "model",
                    "a synthetic SUT runs no model; drop `model` or `sut`",
                ));
            }
            return Ok(SutSpec::Synthetic(spec.to_string()));
        }
        if sut != "builtin" && sut != "model" {
            return Err(field(
                "sut",
                format!("expected synthetic:SPEC, exec:PROGRAM, builtin or model, got {sut:?}"),
            ));
        }
    }
    // `cpus` given: both scenarios on those cores; else the board's defaults.
    let cpus = match (&raw.cpus, board_pins) {
        (Some(c), _) => Pinning::both(parse_cpus(c)?),
        (None, Some(p)) => p.clone(),
        (None, None) => Pinning::default(),
    };
    let inputs: Vec<String> = raw
        .inputs
        .iter()
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let Some(path) = &raw.model else {
        if raw.sut_word() == Some("model") {
            return Err(field("model", "`sut = \"model\"` needs a model path"));
        }
        if raw.input_shape.as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(field(
                "input_shape",
                "the built-in model's input shape is fixed (1x3x224x224); input_shape needs `model`",
            ));
        }
        return Ok(SutSpec::BuiltIn(BuiltInSpec {
            inputs,
            instances: raw.instances.unwrap_or(0),
            threads: raw.threads.unwrap_or(0),
            cpus,
        }));
    };
    if raw.sut_word() == Some("builtin") {
        return Err(field("model", "the built-in SUT takes no model path"));
    }
    let input_shapes = raw
        .input_shape
        .iter()
        .flatten()
        .map(|s| parse_shape(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SutSpec::Model(ModelSpec {
        path: path.to_string_lossy().into_owned(),
        input_shapes,
        inputs,
        instances: raw.instances.unwrap_or(0),
        threads: raw.threads.unwrap_or(0),
        cpus,
    }))
}

/// The data set keys, checked before anything runs: the folder exists, labels
/// and class names parse (errors name the file), labels fit the class names,
/// and accuracy mode has what it needs. Labels against the model's own class
/// count are checked once the model is loaded, still before any timing.
fn dataset_spec(
    raw: &RawSettings,
    mode: Mode,
    sut: &SutSpec,
) -> Result<Option<DatasetSpec>, SettingsError> {
    let Some(dir) = &raw.dataset else {
        if mode.runs_accuracy() {
            return Err(field(
                "dataset",
                format!("{mode:?} mode needs a data set (--dataset DIR --labels FILE)"),
            ));
        }
        for (name, given) in [
            ("labels", raw.labels.is_some()),
            ("classes", raw.classes.is_some()),
            ("preprocess", raw.preprocess.is_some()),
        ] {
            if given {
                return Err(field(name, "needs a data set (--dataset DIR)"));
            }
        }
        return Ok(None);
    };
    if raw.inputs.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(field(
            "inputs",
            "give --inputs (.npy samples) or --dataset, not both",
        ));
    }
    match sut {
        SutSpec::Synthetic(_) => {
            return Err(field(
                "dataset",
                "a synthetic SUT computes nothing to feed or score; drop `dataset` or `sut`",
            ));
        }
        SutSpec::BuiltIn(_) if mode.runs_accuracy() => {
            return Err(field(
                "mode",
                "the built-in model has seeded weights (performance only); accuracy needs --model",
            ));
        }
        _ => {}
    }
    if !dir.is_dir() {
        return Err(field(
            "dataset",
            format!("{} is not a folder", dir.display()),
        ));
    }
    let labels = match &raw.labels {
        Some(path) => Some(
            crate::dataset::labels::Labels::load(path)
                .map_err(|e| field("labels", e.to_string()))?,
        ),
        None if mode.runs_accuracy() => {
            return Err(field(
                "labels",
                format!("{mode:?} mode needs the ground truth (--labels FILE)"),
            ));
        }
        None => None,
    };
    if let Some(path) = &raw.classes {
        let names = crate::dataset::labels::load_class_names(path)
            .map_err(|e| field("classes", e.to_string()))?;
        if let Some(l) = &labels {
            l.check_classes(names.len())
                .map_err(|e| field("labels", format!("{e} (from {})", path.display())))?;
        }
    }
    let preprocess = raw
        .preprocess
        .clone()
        .unwrap_or_else(|| "imagenet-torch".to_string());
    preprocess
        .parse::<crate::dataset::image::Preset>()
        .map_err(|e| field("preprocess", e.to_string()))?;
    let text = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    Ok(Some(DatasetSpec {
        dir: dir.to_string_lossy().into_owned(),
        labels: text(&raw.labels),
        classes: text(&raw.classes),
        preprocess,
    }))
}

/// Raw settings -> plan, checking every field and their relations. `root` is the
/// filesystem `board = "auto"` detects the board in (`/`, or a fixture tree).
pub fn validate(raw: RawSettings, root: &Path) -> Result<Plan, SettingsError> {
    let preset_name = raw
        .preset
        .clone()
        .unwrap_or_else(|| DEFAULT_PRESET.to_string());
    let mut s = preset(&preset_name).ok_or_else(|| {
        field(
            "preset",
            format!("unknown preset {preset_name:?}; expected official or quick"),
        )
    })?;
    let mut plan_preset = preset_name.clone();

    if let Some(v) = raw.min_duration_ms {
        s.min_duration_ns = ms_to_ns("min_duration_ms", v)?;
    }
    if let Some(v) = raw.max_duration_ms {
        s.max_duration_ns = ms_to_ns("max_duration_ms", v)?;
    }
    if let Some(v) = raw.min_query_count {
        s.min_query_count = non_negative("min_query_count", v)?;
    }
    if let Some(v) = raw.max_query_count {
        s.max_query_count = non_negative("max_query_count", v)?;
    }
    if let Some(v) = raw.performance_sample_count {
        s.performance_sample_count = positive("performance_sample_count", v)?;
    }
    if let Some(v) = raw.total_sample_count {
        s.total_sample_count = positive("total_sample_count", v)?;
    }
    for (key, given, official) in [
        ("qsl", raw.qsl_rng_seed, OFFICIAL_QSL_RNG_SEED),
        (
            "sample_index",
            raw.sample_index_rng_seed,
            OFFICIAL_SAMPLE_INDEX_RNG_SEED,
        ),
    ] {
        if let Some(seed) = given {
            if preset_name == "official" && seed != official {
                plan_preset = "custom".into();
            }
            if key == "qsl" {
                s.qsl_rng_seed = seed;
            } else {
                s.sample_index_rng_seed = seed;
            }
        }
    }
    if let Some(p) = raw.target_percentile {
        s.target_percentile = normalize_percentile(p).ok_or_else(|| {
            field(
                "target_percentile",
                format!("must be in (0, 1) or (0, 100) as a percentage, got {p}"),
            )
        })?;
    }
    if let Some(q) = raw.offline_expected_qps {
        if !(q.is_finite() && q > 0.0) {
            return Err(field(
                "offline_expected_qps",
                format!("must be > 0, got {q}"),
            ));
        }
        s.offline_expected_qps = q;
    }
    match (raw.warmup_queries, raw.warmup_ms) {
        (Some(_), Some(_)) => {
            return Err(field(
                "warmup_ms",
                "give warmup_queries or warmup_ms, not both",
            ));
        }
        (Some(n), None) => s.warm_up = WarmUp::Queries(non_negative("warmup_queries", n)?),
        (None, Some(ms)) => s.warm_up = WarmUp::DurationNs(ms_to_ns("warmup_ms", ms)?),
        (None, None) => {}
    }
    if let Some(v) = raw.max_stored_queries {
        s.max_stored_queries = positive("max_stored_queries", v)?;
    }

    if s.max_duration_ns != 0 && s.max_duration_ns < s.min_duration_ns {
        return Err(field(
            "max_duration_ms",
            format!(
                "{} ms is below min_duration_ms ({} ms)",
                s.max_duration_ns / 1_000_000,
                s.min_duration_ns / 1_000_000
            ),
        ));
    }
    if s.max_query_count != 0 && s.max_query_count < s.min_query_count {
        return Err(field(
            "max_query_count",
            format!(
                "{} is below min_query_count ({})",
                s.max_query_count, s.min_query_count
            ),
        ));
    }
    if s.max_stored_queries < s.min_query_count {
        return Err(field(
            "max_stored_queries",
            format!(
                "{} cannot hold min_query_count ({}) queries",
                s.max_stored_queries, s.min_query_count
            ),
        ));
    }

    let scenarios = match &raw.scenario {
        Some(text) => parse_scenarios(text)?,
        None => vec![Scenario::SingleStream, Scenario::Offline],
    };
    if scenarios.contains(&Scenario::Offline) {
        let spq = offline_samples_per_query(&s);
        if spq > s.max_stored_queries {
            return Err(field(
                "offline_expected_qps",
                format!(
                    "Offline would issue {spq} samples (max(min_query_count, 1.1 x min_duration x \
                     expected QPS)), more than max_stored_queries ({})",
                    s.max_stored_queries
                ),
            ));
        }
    }

    let mut warnings = Vec::new();
    let board = choose_board(raw.board.as_deref(), root, &mut warnings)?;
    // Only models are pinned (a synthetic SUT has no workers to place), and
    // `cpus` replaces the board's choice.
    let is_model = raw
        .sut_word()
        .is_none_or(|s| !s.starts_with("synthetic:") && !s.starts_with("exec:"));
    let board_pins = match &board {
        Some((b, detected)) if is_model && raw.cpus.is_none() => {
            board_pinning(b, *detected, &boards::allowed_cpus(), &mut warnings)?
        }
        _ => None,
    };
    let sut = sut_spec(&raw, board_pins.as_ref())?;
    let mode = match raw.mode.as_deref() {
        None | Some("performance") => Mode::Performance,
        Some("accuracy") => Mode::Accuracy,
        Some("both") => Mode::Both,
        Some(other) => {
            return Err(field(
                "mode",
                format!("expected performance, accuracy or both, got {other:?}"),
            ));
        }
    };
    let dataset = dataset_spec(&raw, mode, &sut)?;
    Ok(Plan {
        preset: plan_preset,
        scenarios,
        mode,
        dataset,
        sut,
        trace: raw.trace.unwrap_or(false),
        calibrate_offline_qps: raw.offline_expected_qps.is_none(),
        settings: s,
        board: board.map(|(b, detected)| BoardChoice {
            name: b.name.clone(),
            detected,
        }),
        warnings,
    })
}

/// `board`: `auto` (the default) detects the profile under `root`; `none` uses
/// none; anything else must name a built-in profile. A box whose identity files
/// cannot be read runs without a profile, with a warning: detection is a
/// convenience and must not stop a benchmark.
fn choose_board(
    choice: Option<&str>,
    root: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<(&'static Board, bool)>, SettingsError> {
    let choice = choice.unwrap_or("auto");
    if choice == "none" {
        return Ok(None);
    }
    let detected = choice == "auto";
    match boards::resolve(choice, root) {
        Ok(b) => Ok(b.map(|b| (b, detected))),
        Err(e) if detected => {
            warnings.push(format!("board detection failed, no profile applied: {e}"));
            Ok(None)
        }
        Err(e) => Err(field("board", format!("{e}; or auto, none"))),
    }
}

/// A board's per-scenario cores, checked against the CPUs this process may use.
/// A detected board whose cores are not all allowed (a container pinned to a
/// subset, say) runs unpinned with a warning; a board the user named is a usage
/// error, since the run would not be what they asked for.
pub fn board_pinning(
    board: &Board,
    detected: bool,
    allowed: &[u32],
    warnings: &mut Vec<String>,
) -> Result<Option<Pinning>, SettingsError> {
    let list = |set: &CpuSet| match set {
        CpuSet::All => Vec::new(),
        CpuSet::List(c) => c.clone(),
    };
    let pins = Pinning {
        single_stream: list(&board.pin.single_stream),
        offline: list(&board.pin.offline),
    };
    let all_allowed = pins
        .single_stream
        .iter()
        .chain(&pins.offline)
        .all(|c| allowed.contains(c));
    if all_allowed || allowed.is_empty() {
        return Ok(Some(pins));
    }
    let why = format!(
        "board {} pins SingleStream to cpus {} and Offline to {}, but this process may run on cpus {} only",
        board.name,
        board.pin.single_stream,
        board.pin.offline,
        CpuSet::List(allowed.to_vec()),
    );
    if detected {
        warnings.push(format!("{why}: not pinned (pass --cpus to pin)"));
        Ok(None)
    } else {
        Err(field(
            "board",
            format!("{why}; pass --cpus, or --board none or auto"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings checks do not depend on the box: no board profile applies.
    fn validate_bare(raw: RawSettings) -> Result<Plan, SettingsError> {
        validate(
            raw,
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bare")),
        )
    }

    fn raw(toml: &str) -> RawSettings {
        RawSettings::from_toml(toml).unwrap()
    }

    fn err_field(r: RawSettings) -> &'static str {
        match validate_bare(r).unwrap_err() {
            SettingsError::Field { field, .. } => field,
            e => panic!("not a field error: {e}"),
        }
    }

    #[test]
    fn default_is_quick_both_scenarios_builtin() {
        let p = validate_bare(RawSettings::default()).unwrap();
        assert_eq!(p.preset, "quick");
        assert_eq!(p.settings.min_duration_ns, 2_000_000_000);
        assert_eq!(p.settings.min_query_count, 100);
        assert_eq!(p.scenarios, vec![Scenario::SingleStream, Scenario::Offline]);
        assert_eq!(p.sut, SutSpec::BuiltIn(BuiltInSpec::default()));
    }

    #[test]
    fn builtin_model_takes_instances_threads_cpus() {
        let p = validate_bare(raw("instances = 3
threads = 2
cpus = \"0,1\""))
        .unwrap();
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!("{:?}", p.sut)
        };
        assert_eq!(
            (b.instances, b.threads, b.cpus.clone()),
            (3, 2, Pinning::both(vec![0, 1]))
        );
        let m = b.to_model_spec();
        assert!(m.path.is_empty());
        assert_eq!(
            (m.instances, m.threads, m.cpus),
            (3, 2, Pinning::both(vec![0, 1]))
        );
        assert_eq!(
            err_field(raw("input_shape = [\"x=1,3,8,8\"]")),
            "input_shape"
        );
    }

    #[test]
    fn official_preset_has_mlperf_conf_values() {
        let p = validate_bare(raw("preset = \"official\"")).unwrap();
        assert_eq!(p.settings.min_duration_ns, 600_000_000_000);
        assert_eq!(p.settings.qsl_rng_seed, 2085463073848966840);
        assert_eq!(p.settings.sample_index_rng_seed, 2747215439041700203);
        assert_eq!(p.preset, "official");
        let p = validate_bare(raw("preset = \"official\"\nqsl_rng_seed = 1")).unwrap();
        assert_eq!(p.preset, "custom");
    }

    #[test]
    fn flags_win_over_file() {
        let file = raw("min_duration_ms = 5000\nmin_query_count = 300\nwarmup_queries = 3");
        let flags = RawSettings {
            min_duration_ms: Some(7000),
            warmup_ms: Some(50),
            ..RawSettings::default()
        };
        let p = validate_bare(file.overlay(flags)).unwrap();
        assert_eq!(p.settings.min_duration_ns, 7_000_000_000);
        assert_eq!(p.settings.min_query_count, 300);
        assert_eq!(p.settings.warm_up, WarmUp::DurationNs(50_000_000));
    }

    #[test]
    fn bad_values_name_their_field() {
        assert_eq!(err_field(raw("min_duration_ms = -1")), "min_duration_ms");
        assert_eq!(
            err_field(raw("performance_sample_count = 0")),
            "performance_sample_count"
        );
        assert_eq!(err_field(raw("preset = \"fast\"")), "preset");
        assert_eq!(
            err_field(raw("target_percentile = 100")),
            "target_percentile"
        );
        assert_eq!(err_field(raw("target_percentile = 0")), "target_percentile");
        assert_eq!(err_field(raw("scenario = \"server\"")), "scenario");
        assert_eq!(err_field(raw("sut = \"synthetic:busy:x\"")), "sut");
        assert_eq!(
            err_field(raw("offline_expected_qps = 0.0")),
            "offline_expected_qps"
        );
        assert_eq!(err_field(raw("max_query_count = 5")), "max_query_count");
        assert_eq!(
            err_field(raw("min_duration_ms = 5000\nmax_duration_ms = 10")),
            "max_duration_ms"
        );
        assert_eq!(
            err_field(raw("max_stored_queries = 10")),
            "max_stored_queries"
        );
        assert_eq!(
            err_field(raw("offline_expected_qps = 1e9")),
            "offline_expected_qps"
        );
        assert_eq!(err_field(raw("model = \"m.onnx\"\ncpus = \"3-1\"")), "cpus");
    }

    #[test]
    fn unknown_and_malformed_toml_are_errors_with_line() {
        let e = RawSettings::from_toml("min_duration_ms = 1\nmin_durration_ms = 2").unwrap_err();
        assert!(
            e.contains("min_durration_ms") && e.contains("line 2"),
            "{e}"
        );
        let e = RawSettings::from_toml("a = = 1").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn model_spec_parses_shapes_and_cpus() {
        let p = validate_bare(raw(
            "model = \"m.onnx\"\ninput_shape = [\"x=1,3,224,224\"]\ncpus = \"0-2,5\"\nthreads = 2",
        ))
        .unwrap();
        let SutSpec::Model(m) = p.sut else { panic!() };
        assert_eq!(
            m.input_shapes,
            vec![("x".to_string(), vec![1, 3, 224, 224])]
        );
        assert_eq!(m.cpus, Pinning::both(vec![0, 1, 2, 5]));
        assert_eq!(m.threads, 2);
    }

    #[test]
    fn data_set_keys_from_toml_are_checked() {
        let here = env!("CARGO_MANIFEST_DIR");
        assert_eq!(
            err_field(raw("mode = \"both\"\nmodel = \"m.onnx\"")),
            "dataset"
        );
        assert_eq!(err_field(raw("mode = \"slow\"")), "mode");
        assert_eq!(
            err_field(raw("model = \"m.onnx\"\ndataset = \"/nonexistent\"")),
            "dataset"
        );
        assert_eq!(err_field(raw("labels = \"l.txt\"")), "labels");
        let missing_labels = format!(
            "mode = \"accuracy\"\nmodel = \"m.onnx\"\ndataset = \"{here}\"\nlabels = \"/nonexistent.txt\""
        );
        assert_eq!(err_field(raw(&missing_labels)), "labels");
        let both_inputs = format!("model = \"m.onnx\"\ndataset = \"{here}\"\ninputs = [\"x.npy\"]");
        assert_eq!(err_field(raw(&both_inputs)), "inputs");
        let synthetic = format!("sut = \"synthetic:null\"\ndataset = \"{here}\"");
        assert_eq!(err_field(raw(&synthetic)), "dataset");

        let p = validate_bare(raw(&format!(
            "model = \"m.onnx\"\ndataset = \"{here}\"\npreprocess = \"imagenet-tf\""
        )))
        .unwrap();
        assert_eq!(p.mode, Mode::Performance);
        let d = p.dataset.unwrap();
        assert_eq!(
            (d.dir.as_str(), d.preprocess.as_str()),
            (here, "imagenet-tf")
        );
        assert_eq!(d.labels, None);
    }

    #[test]
    fn percent_or_fraction() {
        let p = validate_bare(raw("target_percentile = 99")).unwrap();
        assert_eq!(p.settings.target_percentile, 0.99);
        let p = validate_bare(raw("target_percentile = 0.95")).unwrap();
        assert_eq!(p.settings.target_percentile, 0.95);
    }

    use crate::boards::fixture_root as board_root;

    #[test]
    fn a_board_s_cores_apply_per_scenario_when_this_process_may_use_them() {
        let rk = boards::find("rk3588").unwrap();
        let all: Vec<u32> = (0..8).collect();
        let mut w = Vec::new();
        let p = board_pinning(rk, true, &all, &mut w).unwrap().unwrap();
        assert_eq!(p.single_stream, vec![4, 5, 6, 7]);
        assert_eq!(p.offline, all);
        assert!(w.is_empty());
        // The x86 profile pins nothing ("all").
        let x86 = boards::find("x86-64-mini-pc").unwrap();
        let p = board_pinning(x86, true, &[0, 1], &mut w).unwrap().unwrap();
        assert_eq!(p, Pinning::default());
    }

    #[test]
    fn a_board_s_cores_this_process_may_not_use_warn_if_detected_and_fail_if_named() {
        let rk = boards::find("rk3588").unwrap();
        let mut w = Vec::new();
        // Detected (e.g. in a container limited to 0-1): unpinned, with a warning.
        assert_eq!(board_pinning(rk, true, &[0, 1], &mut w).unwrap(), None);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("rk3588") && w[0].contains("4-7") && w[0].contains("0-1"),
            "{}",
            w[0]
        );
        // Named with --board: the run would not be what was asked for.
        let e = board_pinning(rk, false, &[0, 1], &mut w).unwrap_err();
        assert!(
            matches!(e, SettingsError::Field { field: "board", .. }),
            "{e}"
        );
    }

    #[test]
    fn board_auto_detects_through_the_root_and_cpus_override_it() {
        let root = board_root("rk3588-rock5b");
        let p = validate(RawSettings::default(), &root).unwrap();
        assert_eq!(
            p.board,
            Some(BoardChoice {
                name: "rk3588".into(),
                detected: true
            })
        );
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!("{:?}", p.sut)
        };
        let allowed = boards::allowed_cpus();
        if (0..8).all(|c| allowed.contains(&c)) {
            assert_eq!(b.cpus.single_stream, vec![4, 5, 6, 7]);
            assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        } else {
            // This box has fewer cores than an RK3588: detected, not pinned, said.
            assert_eq!(b.cpus, Pinning::default());
            assert!(p.warnings[0].contains("rk3588"), "{:?}", p.warnings);
        }
        // --cpus wins over the board, for both scenarios.
        let p = validate(raw("cpus = \"0\""), &root).unwrap();
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!()
        };
        assert_eq!(b.cpus, Pinning::both(vec![0]));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // `none`: no profile at all; a synthetic SUT keeps the board but pins nothing.
        let p = validate(raw("board = \"none\""), &root).unwrap();
        assert_eq!(p.board, None);
        let p = validate(raw("sut = \"synthetic:null\""), &root).unwrap();
        assert_eq!(p.board.unwrap().name, "rk3588");
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // No profile fits an empty tree.
        assert_eq!(
            validate(RawSettings::default(), &board_root("empty"))
                .unwrap()
                .board,
            None
        );
    }

    #[test]
    fn a_named_board_must_exist() {
        let e = validate_bare(raw("board = \"rpi9\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`board`") && e.contains("rpi9") && e.contains("rk3588"),
            "{e}"
        );
        let p = validate_bare(raw("board = \"x86-64-mini-pc\"")).unwrap();
        assert_eq!(
            p.board,
            Some(BoardChoice {
                name: "x86-64-mini-pc".into(),
                detected: false
            })
        );
    }

    #[test]
    fn cpus_all_means_unpinned_and_bad_lists_are_errors() {
        let p = validate_bare(raw("cpus = \"all\"")).unwrap();
        let SutSpec::BuiltIn(b) = &p.sut else {
            panic!()
        };
        assert_eq!(b.cpus, Pinning::default());
        for bad in ["", "3-1", "a", "1,,x"] {
            let r = raw(&format!("cpus = \"{bad}\""));
            assert_eq!(err_field(r), "cpus", "{bad:?}");
        }
    }
}
