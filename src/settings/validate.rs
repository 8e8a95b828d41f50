//! Raw settings -> [`Plan`], checking every field and their relations. Pure:
//! the box (board profile, allowed CPUs) comes in resolved as a [`Host`], and
//! the data set's files are checked afterwards (`settings::check_files`).

use super::board::{Host, board_pinning};
use super::presets::{
    DEFAULT_PRESET, OFFICIAL_QSL_RNG_SEED, OFFICIAL_SAMPLE_INDEX_RNG_SEED, preset,
};
use super::raw::RawSettings;
use super::{SettingsError, field};
use crate::boards::CpuSet;
use crate::plan::{
    BoardChoice, BuiltInSpec, DatasetSpec, LoadGenSettings, Mode, ModelSpec, Pinning, Plan,
    PreprocessAdjust, Scenario, SutSpec, WarmUp,
};
use crate::stats::normalize_percentile;

/// The plan `raw` describes on `host`.
pub fn plan(raw: RawSettings, host: &Host) -> Result<Plan, SettingsError> {
    let (settings, plan_preset) = loadgen_settings(&raw)?;
    let scenarios = match &raw.scenario {
        Some(text) => parse_scenarios(text)?,
        None => vec![Scenario::SingleStream, Scenario::Offline],
    };
    if scenarios.contains(&Scenario::Offline) {
        check_offline_fits(&settings)?;
    }
    let mut warnings = host.warnings.clone();
    // Only models are pinned (a synthetic SUT has no workers to place), and
    // `cpus` replaces the board's choice.
    let is_model = raw
        .sut_word()
        .is_none_or(|s| !s.starts_with("synthetic:") && !s.starts_with("exec:"));
    let board_pins = match host.board {
        Some((b, detected)) if is_model && raw.cpus.is_none() => {
            board_pinning(b, detected, &host.allowed_cpus, &mut warnings)?
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
        settings,
        board: host.board.map(|(b, detected)| BoardChoice {
            name: b.name.clone(),
            detected,
        }),
        warnings,
    })
}

/// The preset's LoadGen settings with the raw values applied and checked, and
/// the plan's preset name ("custom" once an official seed is changed).
fn loadgen_settings(raw: &RawSettings) -> Result<(LoadGenSettings, String), SettingsError> {
    let preset_name = raw.preset.as_deref().unwrap_or(DEFAULT_PRESET);
    let mut s = preset(preset_name).ok_or_else(|| {
        field(
            "preset",
            format!("unknown preset {preset_name:?}; expected official or quick"),
        )
    })?;
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
    let official = preset_name == "official";
    let changed = |given: Option<u64>, seed: u64| official && given.is_some_and(|g| g != seed);
    let plan_preset = if changed(raw.qsl_rng_seed, OFFICIAL_QSL_RNG_SEED)
        || changed(raw.sample_index_rng_seed, OFFICIAL_SAMPLE_INDEX_RNG_SEED)
    {
        "custom".to_string()
    } else {
        preset_name.to_string()
    };
    s.qsl_rng_seed = raw.qsl_rng_seed.unwrap_or(s.qsl_rng_seed);
    s.sample_index_rng_seed = raw.sample_index_rng_seed.unwrap_or(s.sample_index_rng_seed);
    apply_rates(raw, &mut s)?;
    check_limits(&s)?;
    Ok((s, plan_preset))
}

/// Percentile, expected QPS, warm-up and store size.
fn apply_rates(raw: &RawSettings, s: &mut LoadGenSettings) -> Result<(), SettingsError> {
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
    Ok(())
}

/// Relations between the settings: maxima above minima, the store big enough.
fn check_limits(s: &LoadGenSettings) -> Result<(), SettingsError> {
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
    Ok(())
}

/// The Offline query must fit the latency store reserved before timing.
fn check_offline_fits(s: &LoadGenSettings) -> Result<(), SettingsError> {
    let spq = s.offline_samples_per_query();
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
    Ok(())
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

/// `sut = 'exec:PROGRAM ARGS...'`: the external SUT (docs/sut-protocol.md).
fn exec_sut(raw: &RawSettings) -> Result<Option<SutSpec>, SettingsError> {
    let Some(crate::sut::exec::spec::SutWords(words)) = &raw.sut else {
        return Ok(None);
    };
    let inputs = raw.inputs.iter().flatten();
    let inputs = inputs.map(|p| p.to_string_lossy().into_owned()).collect();
    let Some(exec) = crate::sut::exec::spec::parse(
        words,
        inputs,
        raw.sut_timeout_ms,
        raw.sut_transport.as_deref(),
    ) else {
        if words.len() != 1 {
            return Err(field(
                "sut",
                format!("only exec:PROGRAM takes arguments, got {words:?}"),
            ));
        }
        return Ok(None);
    };
    if raw.model.is_some() {
        return Err(field(
            "model",
            "an exec: SUT loads its own model (give it in its arguments); drop `model`",
        ));
    }
    exec.map(|e| Some(SutSpec::Exec(e)))
        .map_err(|e| field("sut", e.to_string()))
}

/// `sut = synthetic:SPEC`, or None for the tract SUT (built-in model or a file).
fn synthetic_sut(raw: &RawSettings) -> Result<Option<SutSpec>, SettingsError> {
    if raw.sut_timeout_ms.is_some() {
        return Err(field("sut_timeout_ms", "applies to exec: SUTs only"));
    }
    if raw.sut_transport.is_some() {
        return Err(field("sut_transport", "applies to exec: SUTs only"));
    }
    let Some(sut) = raw.sut_word() else {
        return Ok(None);
    };
    if let Some(spec) = sut.strip_prefix("synthetic:") {
        crate::sut::synthetic::Service::parse(spec).map_err(|e| field("sut", e.to_string()))?;
        if raw.model.is_some() {
            return Err(field(
                "model",
                "a synthetic SUT runs no model; drop `model` or `sut`",
            ));
        }
        return Ok(Some(SutSpec::Synthetic(spec.to_string())));
    }
    if sut != "builtin" && sut != "model" {
        return Err(field(
            "sut",
            format!("expected synthetic:SPEC, exec:PROGRAM, builtin or model, got {sut:?}"),
        ));
    }
    Ok(None)
}

fn sut_spec(raw: &RawSettings, board_pins: Option<&Pinning>) -> Result<SutSpec, SettingsError> {
    if let Some(exec) = exec_sut(raw)? {
        return Ok(exec);
    }
    if let Some(synthetic) = synthetic_sut(raw)? {
        return Ok(synthetic);
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

/// The data set keys that need a data set, in the order they are checked.
const DATASET_KEYS: [&str; 8] = [
    "labels",
    "classes",
    "preprocess",
    "mean",
    "std",
    "resize",
    "crop",
    "crop_rounding",
];

fn dataset_keys_given(raw: &RawSettings) -> [bool; 8] {
    [
        raw.labels.is_some(),
        raw.classes.is_some(),
        raw.preprocess.is_some(),
        raw.mean.is_some(),
        raw.std.is_some(),
        raw.resize.is_some(),
        raw.crop.is_some(),
        raw.crop_rounding.is_some(),
    ]
}

/// The data set keys and their relations to the mode and the SUT (the files
/// themselves are read by `settings::check_files`). Labels against the model's
/// own class count are checked once the model is loaded, still before timing.
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
        if let Some((name, _)) = DATASET_KEYS
            .iter()
            .zip(dataset_keys_given(raw))
            .find(|(_, given)| *given)
        {
            return Err(field(name, "needs a data set (--dataset DIR)"));
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
    if raw.labels.is_none() && mode.runs_accuracy() {
        return Err(field(
            "labels",
            format!("{mode:?} mode needs the ground truth (--labels FILE)"),
        ));
    }
    let preprocess = raw
        .preprocess
        .clone()
        .unwrap_or_else(|| "imagenet-torch".to_string());
    preprocess
        .parse::<crate::dataset::image::Preset>()
        .map_err(|e| field("preprocess", e.to_string()))?;
    let text =
        |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    Ok(Some(DatasetSpec {
        dir: dir.to_string_lossy().into_owned(),
        labels: text(&raw.labels),
        classes: text(&raw.classes),
        preprocess,
        adjust: preprocess_adjust(raw)?,
    }))
}

/// `mean`, `std`, `resize`, `crop`, `crop_rounding`: finite means, non-zero
/// stds, a resize that can hold the crop.
fn preprocess_adjust(raw: &RawSettings) -> Result<PreprocessAdjust, SettingsError> {
    let mean = raw.mean.map(|c| c.0);
    if let Some(m) = mean.filter(|m| m.iter().any(|v| !v.is_finite())) {
        return Err(field("mean", format!("must be finite, got {m:?}")));
    }
    let std = raw.std.map(|c| c.0);
    if let Some(s) = std.filter(|s| s.iter().any(|&v| v == 0.0 || !v.is_finite())) {
        return Err(field(
            "std",
            format!("must be finite and non-zero, got {s:?}"),
        ));
    }
    if raw.resize == Some(0) {
        return Err(field("resize", "must be >= 1, got 0"));
    }
    let crop = raw.crop.map(|c| (c.width, c.height));
    if let (Some(r), Some((w, h))) = (raw.resize, crop)
        && r < w.min(h)
    {
        return Err(field(
            "resize",
            format!("short side {r} is smaller than the crop {w}x{h}"),
        ));
    }
    Ok(PreprocessAdjust {
        mean,
        std,
        resize: raw.resize,
        crop,
        crop_rounding: raw.crop_rounding,
    })
}
